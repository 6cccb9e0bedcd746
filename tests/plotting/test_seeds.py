"""Figures with several seeds per method: bands, pooled bins, grouping."""

import numpy as np
import pytest

from speccal.experiments import RunResult, load_run, save_run
from speccal.plotting import reliability_band, save_figures
from speccal.plotting._seeds import group_seeds, mean_spectrum, plot_pooled_reliability

N_BINS = 15


def fake_run(root, method, seed, *, lam=None, n_volumes=4, frequencies=8):
    rng = np.random.default_rng(seed + (0 if lam is None else 100))
    count = rng.integers(0, 30, size=(n_volumes, N_BINS)).astype(float)
    confidence = count * np.linspace(0.05, 0.95, N_BINS)
    hits = np.floor(count * rng.uniform(0.3, 1.0, size=count.shape))
    sums = np.stack([count, confidence, hits], axis=1)
    total = sums.sum(0)
    with np.errstate(invalid="ignore"):
        reliability = {
            "bin_count": total[0],
            "bin_confidence": total[1] / total[0],
            "bin_accuracy": total[2] / total[0],
            "volume_bin_sums": sums,
        }
    names = ("dice", "hd95", "asd", "ece", "sce", "tace")
    shape = (12, 10)
    return save_run(
        root / f"{method}{lam}_{seed}",
        metrics={
            "method": method,
            "dataset": "acdc",
            "seed": seed,
            "loss_params": {} if lam is None else {"lam": lam},
            **dict(zip(names, rng.uniform(0.1, 0.9, 6), strict=True)),
        },
        per_volume={
            "case_id": [f"c{i}" for i in range(n_volumes)],
            "dice": rng.uniform(0.5, 1.0, n_volumes),
            "ece": rng.uniform(0.0, 0.1, n_volumes),
        },
        reliability=reliability,
        spectrum={
            "frequencies": np.linspace(0, 0.5, frequencies),
            "power": rng.uniform(0.1, 1.0, frequencies),
        },
        example={
            "image": rng.normal(size=shape),
            "label": rng.integers(0, 3, size=shape),
            "confidence": rng.uniform(0.4, 1.0, size=shape),
            "probability": rng.dirichlet(np.ones(3), size=shape),
        },
    )


def test_reliability_band_equals_a_loop_over_the_documented_draws():
    rng = np.random.default_rng(0)
    count = rng.integers(0, 6, size=(7, N_BINS)).astype(float)
    count[:, -1] = 0  # a bin empty everywhere
    count[1:, 0] = 0  # a bin filled in one volume only
    hits = np.floor(count * 0.6)
    sums = np.stack([count, count * 0.5, hits], axis=1)
    low, high = reliability_band(sums, n_resamples=300, confidence_level=0.9, random_state=4)
    draws = np.random.default_rng(4).integers(0, 7, size=(300, 7))
    for b in range(N_BINS - 1):
        accuracies = [
            hits[row, b].sum() / count[row, b].sum() for row in draws if count[row, b].sum() > 0
        ]
        np.testing.assert_allclose([low[b], high[b]], np.quantile(accuracies, [0.05, 0.95]))
    assert np.isnan(low[-1]) and np.isnan(high[-1])
    with pytest.raises(ValueError, match=r"`volume_bin_sums` must be of shape \(n_volumes, 3"):
        reliability_band(sums[0])


def test_mean_spectrum_and_sd_over_seeds(tmp_path):
    runs = [load_run(fake_run(tmp_path, "ce", s)) for s in range(3)]
    frequencies, mean, sd = mean_spectrum(runs)
    powers = np.array([run.spectrum["power"] for run in runs])
    np.testing.assert_allclose(mean, powers.mean(0))
    np.testing.assert_allclose(sd, powers.std(0, ddof=1))
    coarse = load_run(fake_run(tmp_path, "ce", 9, frequencies=5))
    grid, mean, _ = mean_spectrum([runs[0], coarse])
    np.testing.assert_allclose(grid, np.linspace(0, 0.5, 5))
    expected = np.interp(grid, runs[0].spectrum["frequencies"], runs[0].spectrum["power"])
    np.testing.assert_allclose(mean, (expected + coarse.spectrum["power"]) / 2)


def test_pooled_reliability_sums_the_seeds_and_draws_a_band(tmp_path, pyplot):
    runs = [load_run(fake_run(tmp_path, "ce", s)) for s in range(2)]
    _, ax = pyplot.subplots()
    display = plot_pooled_reliability(runs, "ce", ax)
    sums = np.concatenate([run.reliability["volume_bin_sums"] for run in runs]).sum(0)
    np.testing.assert_allclose(display.bin_count, sums[0])
    filled = sums[0] > 0
    np.testing.assert_allclose(display.bin_accuracy[filled], sums[2][filled] / sums[0][filled])
    assert display.score == pytest.approx(np.abs(sums[2] - sums[1]).sum() / sums[0].sum())
    assert display.label == "ce (2 runs)"
    assert any(c.get_label() == "95% case bootstrap" for c in ax.containers)


def test_groups_split_loss_settings_and_refuse_a_repeated_seed(tmp_path):
    runs = [
        load_run(fake_run(tmp_path, "cespectral", s, lam=lam))
        for lam in (0.1, 0.5)
        for s in (0, 1)
    ]
    groups = group_seeds(runs)
    assert {label: len(group) for label, group in groups.items()} == {
        "cespectral (lam=0.1)": 2,
        "cespectral (lam=0.5)": 2,
    }
    with pytest.raises(
        ValueError, match=r"one run per method and seed; got 'cespectral \(lam=0.1"
    ):
        group_seeds([*runs, runs[0]])


def test_save_figures_accepts_several_seeds_per_method(tmp_path):
    runs = [load_run(fake_run(tmp_path, m, s)) for m in ("ce", "cespectral") for s in (0, 1, 2)]
    written, skipped = save_figures(runs, tmp_path / "figs", dpi=30)
    names = sorted(path.name for path in written)
    assert "fig7_ranks.png" in names and not skipped
    assert {f"fig{n}_acdc.png" for n in ("3_power_spectra", "5_radar", "6_distributions")} <= set(
        names
    )
    assert all(isinstance(run, RunResult) for run in runs)
