import numpy as np
import pytest
from run_folders import METRICS, save_fake_run

from speccal import analysis
from speccal.experiments import load_run
from speccal.plotting import (
    aggregate_ranks,
    confidence_colormap,
    plot_boundary_experiment,
    plot_confidence_map,
    plot_hotspots,
    plot_metric_distributions,
    plot_power_spectra,
    plot_radar,
    plot_rank_heatmap,
    plot_rank_totals,
    plot_run_reliability,
    plot_segmentation,
    radar_scores,
)


@pytest.fixture
def runs(tmp_path, rng):
    return [
        load_run(save_fake_run(tmp_path / m, rng, method=m)) for m in ("ce", "fl", "cespectral")
    ]


# ---------------------------------------------------------------- Fig. 2a / Fig. 1


def test_confidence_colormap_runs_blue_to_orange():
    from matplotlib.colors import to_rgba

    cmap = confidence_colormap()
    np.testing.assert_allclose(cmap(0.0), to_rgba("#2166ac"), atol=1e-2)
    np.testing.assert_allclose(cmap(1.0), to_rgba("#f28e2b"), atol=1e-2)


def test_plot_confidence_map_draws_the_slice(pyplot, rng):
    volume = rng.uniform(size=(6, 7, 5))
    ax = plot_confidence_map(volume, slice_index=2, axis=0, vmin=0, vmax=1)
    np.testing.assert_array_equal(ax.images[-1].get_array(), volume[2].T)
    assert ax.images[-1].get_clim() == (0, 1)
    ax = plot_confidence_map(volume)  # middle slice along the last axis
    np.testing.assert_array_equal(ax.images[-1].get_array(), volume[:, :, 2].T)


def test_plot_confidence_map_from_run(pyplot, runs):
    run = runs[1]
    ax = plot_confidence_map(run)
    assert ax.get_title() == "fl"
    np.testing.assert_array_equal(ax.images[0].get_array(), run.example["image"].T)
    np.testing.assert_array_equal(ax.images[1].get_array(), run.example["confidence"].T)
    assert ax.images[1].cmap.name == "speccal_confidence"
    assert len(ax.collections) >= 1  # the label contour


def test_plot_confidence_map_errors(pyplot):
    with pytest.raises(ValueError, match=r"`image` must have the shape of `confidence` \(3, 3\)"):
        plot_confidence_map(np.eye(3), image=np.ones((2, 2)))
    with pytest.raises(ValueError, match="`confidence` must be a 2D map or a 3D volume"):
        plot_confidence_map(np.ones(4))
    with pytest.raises(ValueError, match=r"`slice_index` must be in \[-3, 3\); got 3"):
        plot_confidence_map(np.ones((3, 3, 3)), slice_index=3)


def test_plot_segmentation_colours_and_prediction(pyplot, runs):
    from matplotlib.colors import to_rgba

    labels = np.array([[0, 1], [2, 3]])
    ax = plot_segmentation(labels)
    image = ax.images[0]
    np.testing.assert_array_equal(image.get_array(), labels.T)
    rgba = image.to_rgba(image.get_array())
    for k, colour in enumerate(["black", "#2ca02c", "#9467bd", "#ff7f0e"]):
        np.testing.assert_allclose(rgba[labels.T == k][0], to_rgba(colour), atol=1e-2)
    ax = plot_segmentation(runs[2])
    assert ax.get_title() == "cespectral"
    want = runs[2].example["probability"].argmax(-1)
    np.testing.assert_array_equal(ax.images[0].get_array(), want.T)
    with pytest.raises(ValueError, match=r"`segmentation` must hold integer labels in \[0, 10\)"):
        plot_segmentation(np.array([[0, -1]]))


def test_plot_run_reliability_draws_the_run_bins(pyplot, runs):
    run = runs[0]
    display = plot_run_reliability(run)
    filled = run.reliability["bin_count"] > 0
    heights = np.array([bar.get_height() for bar in display.bars_[0]])
    np.testing.assert_allclose(heights, np.where(filled, run.reliability["bin_accuracy"], 0))
    assert display.label == "ce" and display.score == pytest.approx(run.metric("ece"))
    display = plot_run_reliability(runs[1], ax=display.ax_, kind="line", histogram=False)
    assert "fl" in [line.get_label().split(",")[0] for line in display.ax_.get_lines()]
    with pytest.raises(TypeError, match="`run` must be a RunResult; got dict"):
        plot_run_reliability({})


def test_plot_boundary_experiment(pyplot):
    res = analysis.boundary_confidence_experiment((1.0, 0.7, 0.5), size=32)
    axes = plot_boundary_experiment(res)
    assert len(axes) == 4
    assert [a.get_title() for a in axes[:3]] == ["α = 1", "α = 0.7", "α = 0.5"]
    np.testing.assert_array_equal(axes[1].images[0].get_array(), res.maps[1].T)
    for line, power in zip(axes[3].get_lines(), res.spectra, strict=True):
        np.testing.assert_array_equal(line.get_ydata(), power)


# ----------------------------------------------------------------------------- Fig. 3


def test_plot_power_spectra(pyplot, runs):
    f = np.linspace(0, 0.5, 4)
    ax = plot_power_spectra({"a": (f, [4.0, 3.0, 2.0, 1.0]), "b": (f, [1.0, 1.0, 1.0, 1.0])})
    assert ax.get_yscale() == "log"
    assert [line.get_label() for line in ax.get_lines()] == ["a", "b"]
    np.testing.assert_array_equal(ax.get_lines()[0].get_ydata(), [4.0, 3.0, 2.0, 1.0])
    ax = plot_power_spectra(runs, xscale="log")
    assert [line.get_label() for line in ax.get_lines()] == ["ce", "fl", "cespectral"]
    np.testing.assert_array_equal(ax.get_lines()[2].get_ydata(), runs[2].spectrum["power"])
    assert ax.get_xscale() == "log"


def test_power_spectra_past_the_colour_cycle_change_line_style(pyplot):
    f = [0.0, 0.1, 0.2, 0.3]
    ax = plot_power_spectra({f"m{i}": (f, [4.0, 3.0, 2.0, 1.0 + i]) for i in range(12)})
    styles = [line.get_linestyle() for line in ax.get_lines()]
    assert styles == ["-"] * 10 + ["--"] * 2
    pairs = {(line.get_color(), line.get_linestyle()) for line in ax.get_lines()}
    assert len(pairs) == 12


def test_plot_power_spectra_errors(pyplot, runs):
    f = np.linspace(0, 0.5, 3)
    with pytest.raises(ValueError, match=r"`spectra\['a'\]` power must be positive on a log"):
        plot_power_spectra({"a": (f, [1.0, 0.0, 1.0])})
    with pytest.raises(ValueError, match=r"`spectra\['a'\]` must be \(frequencies, power\)"):
        plot_power_spectra({"a": (f, [1.0, 2.0])})
    with pytest.raises(ValueError, match="`spectra` must hold one run per method; got 'ce'"):
        plot_power_spectra([runs[0], runs[0]])
    with pytest.raises(TypeError, match="`spectra` must be a mapping or a sequence of RunResult"):
        plot_power_spectra([(f, f)])
    with pytest.raises(ValueError, match=r"`xscale` must be one of \[.*'symlog'.*\]; got 'lin'"):
        plot_power_spectra(runs, xscale="lin")
    with pytest.raises(ValueError, match="`yscale` must be one of .*; got 'lg'"):
        plot_power_spectra(runs, yscale="lg")


# ----------------------------------------------------------------------------- Fig. 5


def test_radar_scores_orient_every_axis_larger_is_better():
    results = {
        "ce": {"dice": 0.80, "hd95": 10.0, "ece": 0.030},
        "fl": {"dice": 0.85, "hd95": 6.0, "ece": 0.020},
        "ours": {"dice": 0.90, "hd95": 8.0, "ece": 0.010},
    }
    methods, scores = radar_scores(results, ("dice", "hd95", "ece"), floor=0.2)
    assert methods == ["ce", "fl", "ours"]
    want = np.empty((3, 3))
    for j, (metric, higher) in enumerate([("dice", True), ("hd95", False), ("ece", False)]):
        v = np.array([results[m][metric] for m in methods])
        frac = (v - v.min()) / (v.max() - v.min()) if higher else (v.max() - v) / np.ptp(v)
        want[:, j] = 0.2 + 0.8 * frac
    np.testing.assert_allclose(scores, want)
    # ties score 1, infinite distances count as the worst value
    _, s = radar_scores({"a": {"asd": np.inf, "sce": 0.1}, "b": {"asd": 1.0, "sce": 0.1}},
                        ("asd", "sce"), floor=0.0)  # fmt: skip
    np.testing.assert_allclose(s, [[0.0, 1.0], [1.0, 1.0]])


def test_plot_radar_draws_closed_polygons(pyplot, runs):
    ax = plot_radar(runs)
    _, scores = radar_scores(runs)
    lines = ax.get_lines()
    assert [line.get_label() for line in lines] == ["ce", "fl", "cespectral"]
    for line, s in zip(lines, scores, strict=True):
        np.testing.assert_allclose(line.get_ydata(), np.append(s, s[0]))
        np.testing.assert_allclose(line.get_xdata()[[0, -1]], [0.0, 0.0])
    labels = [t.get_text() for t in ax.get_xticklabels()]
    assert labels == ["DSC", "HD95 ↓", "ASD ↓", "ECE ↓", "SCE ↓", "TACE ↓"]
    assert ax.get_ylim() == (0.0, 1.0)


def test_radar_errors(pyplot):
    with pytest.raises(ValueError, match="`ax` must be a polar Axes; got a 'rectilinear' Axes"):
        plot_radar({"a": {"dice": 1.0}}, ("dice",), ax=pyplot.subplots()[1])
    with pytest.raises(ValueError, match="`higher_is_better` must say whether larger 'iou'"):
        radar_scores({"a": {"iou": 1.0}}, ("iou",))
    assert radar_scores({"a": {"iou": 1.0}}, ("iou",), higher_is_better={"iou": True})[1] == 1
    with pytest.raises(ValueError, match="`results` lacks metric 'ece' for method 'a'"):
        radar_scores({"a": {"dice": 1.0}}, ("dice", "ece"))
    with pytest.raises(ValueError, match="got NaN for method 'a', metric 'dice'"):
        radar_scores({"a": {"dice": np.nan}}, ("dice",))
    with pytest.raises(ValueError, match=r"`floor` must be in \[0, 1\); got 1"):
        radar_scores({"a": {"dice": 1.0}}, ("dice",), floor=1)


# ----------------------------------------------------------------------------- Fig. 7


def _brute_force_ranks(values, higher):
    """Rank 1 = best; ties share the mean of the positions they occupy."""
    key = -values if higher else values
    ranks = np.empty(len(values))
    for i, v in enumerate(key):
        better = (key < v).sum()
        ties = (key == v).sum()
        ranks[i] = better + (ties + 1) / 2
    return ranks


def test_aggregate_ranks_sum_per_pair_ranks(rng):
    methods, datasets = ["ce", "fl", "ls", "ours"], ["acdc", "flare2021"]
    results = {}
    for m in methods:
        for d in datasets:
            results[m, d] = {
                k: float(v) for k, v in zip(METRICS, rng.uniform(size=6), strict=True)
            }
    results["fl", "acdc"]["dice"] = results["ls", "acdc"]["dice"]  # a tie
    table = aggregate_ranks(results)
    assert table.methods == tuple(methods)
    assert table.columns == tuple((d, m) for d in datasets for m in METRICS)
    for j, (d, metric) in enumerate(table.columns):
        v = np.array([results[m, d][metric] for m in methods])
        np.testing.assert_allclose(table.ranks[:, j], _brute_force_ranks(v, metric == "dice"))
    np.testing.assert_allclose(table.totals, table.ranks.sum(axis=1))
    assert table.ranks[1, 0] == table.ranks[2, 0] and table.ranks[1, 0] % 1 == 0.5


def test_aggregate_ranks_from_runs(tmp_path, rng):
    runs = [
        load_run(save_fake_run(tmp_path / f"{m}_{d}", rng, method=m, dataset=d))
        for m in ("ce", "ours")
        for d in ("acdc", "promise12")
    ]
    table = aggregate_ranks(runs, ("dice", "ece"))
    want = [
        _brute_force_ranks(np.array([r.metric(metric) for r in runs if r.dataset == d]), higher)
        for d in ("acdc", "promise12")
        for metric, higher in (("dice", True), ("ece", False))
    ]
    np.testing.assert_allclose(table.ranks, np.array(want).T)
    with pytest.raises(ValueError, match=r"one run per \(method, dataset\); got \('ce', 'acdc'\)"):
        aggregate_ranks(runs + runs[:1])
    with pytest.raises(ValueError, match=r"every method on every dataset; missing \[\('ours'"):
        aggregate_ranks(runs[:3])


def test_aggregate_ranks_errors():
    with pytest.raises(ValueError, match=r"got NaN for 'a' on \('d', 'dice'\)"):
        aggregate_ranks({("a", "d"): {"dice": np.nan}}, ("dice",))
    with pytest.raises(ValueError, match=r"`results\[\('a', 'd'\)\]` lacks metric 'ece'"):
        aggregate_ranks({("a", "d"): {"dice": 1.0}}, ("dice", "ece"))
    with pytest.raises(TypeError, match="`results` must be a mapping"):
        aggregate_ranks([{"dice": 1.0}])
    # a key "ce" used to be split silently into method "c" on dataset "e"
    with pytest.raises(ValueError, match=r"keys must be \(method, dataset\) pairs; got 'ce'"):
        aggregate_ranks({"ce": {"dice": 1.0}}, ("dice",))


def test_aggregate_ranks_of_a_single_run(runs):
    table = aggregate_ranks(runs[0], ("dice", "ece"))
    assert table.methods == ("ce",) and table.columns == (("acdc", "dice"), ("acdc", "ece"))
    assert table.ranks.tolist() == [[1.0, 1.0]]


def test_plot_rank_heatmap_and_totals(pyplot):
    results = {
        ("ce", "d1"): {"dice": 0.7, "ece": 0.05},
        ("fl", "d1"): {"dice": 0.8, "ece": 0.01},
        ("ours", "d1"): {"dice": 0.9, "ece": 0.02},
    }
    table = aggregate_ranks(results, ("dice", "ece"))
    ax = plot_rank_heatmap(table)
    np.testing.assert_array_equal(ax.images[0].get_array(), [[3, 3], [2, 1], [1, 2]])
    assert [t.get_text() for t in ax.get_yticklabels()] == ["ce", "fl", "ours"]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["d1 DSC", "d1 ECE"]
    assert [t.get_text() for t in ax.texts] == ["3", "3", "2", "1", "1", "2"]
    ax = plot_rank_totals(table)
    widths = {
        t.get_text(): p.get_width() for t, p in zip(ax.get_yticklabels(), ax.patches, strict=True)
    }
    assert widths == {"ce": 6.0, "fl": 3.0, "ours": 3.0}
    assert [t.get_text() for t in ax.get_yticklabels()][-1] in ("fl", "ours")  # best on top


# ----------------------------------------------------------------------------- Fig. 6


def _scott_kde(values, grid):
    """Gaussian kernel density with Scott's bandwidth, written out."""
    n = values.size
    h = values.std(ddof=1) * n ** (-1 / 5)
    z = (grid[:, None] - values[None, :]) / h
    return np.exp(-0.5 * z**2).sum(axis=1) / (n * h * np.sqrt(2 * np.pi))


def test_plot_metric_distributions_kde_and_means(pyplot, runs):
    ax = plot_metric_distributions(runs, "ece")
    curves = [line for line in ax.get_lines() if line.get_label() in ("ce", "fl", "cespectral")]
    assert len(curves) == 3
    for line, run in zip(curves, runs, strict=True):
        v = run.per_volume_values("ece")
        np.testing.assert_allclose(line.get_ydata(), _scott_kde(v, line.get_xdata()), rtol=1e-8)
    means = [line.get_xdata()[0] for line in ax.get_lines() if line.get_linestyle() == "--"]
    np.testing.assert_allclose(means, [r.per_volume_values("ece").mean() for r in runs])
    assert ax.get_xlabel() == "ECE"


def test_plot_metric_distributions_histogram(pyplot):
    values = {"a": np.array([0.1, 0.2, 0.2, 0.4]), "b": np.array([0.3])}
    ax = plot_metric_distributions(values, "dice", kind="hist", bins=3)
    assert ax.get_xlabel() == "DSC"
    step = ax.patches[0].get_xy()
    edges = np.histogram_bin_edges([0.1, 0.2, 0.2, 0.4, 0.3], bins=3)
    density, _ = np.histogram(values["a"], bins=edges, density=True)
    np.testing.assert_allclose(np.unique(step[:, 1]), np.unique(np.append(density, 0.0)))
    with pytest.raises(ValueError, match=r"`kind='kde'` needs two distinct values .* \['b'\]"):
        plot_metric_distributions(values, kind="kde")
    with pytest.raises(ValueError, match="`kind` must be one of"):
        plot_metric_distributions(values, kind="violin")


def test_plot_metric_distributions_few_volumes_are_points_not_a_density(pyplot):
    values = {"a": np.array([0.7, 0.9]), "b": np.array([0.5, 0.6, 0.8])}
    ax = plot_metric_distributions(values, "dice")  # "auto": fewer than 5 volumes
    points = [line for line in ax.get_lines() if line.get_marker() == "o"]
    np.testing.assert_allclose(points[0].get_xdata(), values["a"])
    np.testing.assert_allclose(points[1].get_ydata(), [1, 1, 1])
    means = [line.get_xdata()[0] for line in ax.get_lines() if line.get_linestyle() == "--"]
    np.testing.assert_allclose(means, [0.8, np.mean(values["b"])])
    assert [t.get_text() for t in ax.get_yticklabels()] == ["a", "b"]
    assert "density" not in ax.get_ylabel() and ax.get_xlabel() == "DSC"
    five = {"a": np.linspace(0.5, 0.9, 5)}
    assert plot_metric_distributions(five, "dice").get_ylabel() == "density"


def test_plot_metric_distributions_drops_non_finite_with_warning(pyplot):
    with pytest.warns(UserWarning, match="a: dropped 1 non-finite values of 4"):
        ax = plot_metric_distributions({"a": [1.0, 2.0, np.inf, 4.0]}, "hd95")
    assert ax.get_lines()[1].get_xdata()[0] == pytest.approx(7 / 3)
    with (
        pytest.warns(UserWarning, match="dropped 1 non-finite values of 1"),
        pytest.raises(ValueError, match=r"`values\['a'\]` must hold at least one finite"),
    ):
        plot_metric_distributions({"a": [np.nan]}, "hd95")


# ----------------------------------------------------------------------------- Fig. 8


def test_plot_hotspots_panels(pyplot, rng):
    base, ours = rng.normal(size=(16, 20)), rng.normal(size=(16, 20))
    axes = plot_hotspots(base, ours, bands=4, high_band=1)
    assert len(axes) == 3
    spec = analysis.high_pass_spectrum(base, bands=4, high_band=1)
    np.testing.assert_allclose(axes[0].images[0].get_array(), np.log10(1 + spec).T)
    recon = analysis.high_pass_reconstruction(base, bands=4, high_band=1)
    np.testing.assert_allclose(axes[1].images[0].get_array(), recon.T)
    np.testing.assert_allclose(axes[2].images[0].get_array(), (base - ours).T)
    lo, hi = axes[2].images[0].get_clim()
    assert lo == -hi and axes[2].images[0].cmap.name == "RdBu_r"


def test_plot_hotspots_from_runs_and_errors(pyplot, runs):
    axes = plot_hotspots(runs[0])
    assert len(axes) == 2
    recon = analysis.high_pass_reconstruction(runs[0].example["confidence"])
    np.testing.assert_allclose(axes[1].images[0].get_array(), recon.T)
    _, panes = pyplot.subplots(1, 2)
    with pytest.raises(ValueError, match="`ax` must be None or a sequence of 3 Axes; got 2"):
        plot_hotspots(runs[0], runs[1], ax=panes)
    with pytest.raises(ValueError, match="`ours` must have the shape of `baseline`"):
        plot_hotspots(np.ones((4, 4)), np.ones((4, 5)))
