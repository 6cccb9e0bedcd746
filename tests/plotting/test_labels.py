"""Every figure speccal draws names what it shows: each axis with tick labels has a label, and
each colour-mapped image has a labelled colour bar (its own, or one of the same scale).

Exempt, as a reader needs no scale for them: the angular axis of a polar (radar) Axes, whose
tick labels name the spokes; grey-scale background images (the anatomy under a confidence
map); label maps in the segmentation colours (classes, not a quantity).
"""

import numpy as np
import pytest
from matplotlib.figure import Figure
from test_seeds import fake_run

from speccal.experiments import load_run
from speccal.metrics import calibration_by_distance
from speccal.plotting import (
    ReliabilityDisplay,
    aggregate_ranks,
    plot_boundary_experiment,
    plot_calibration_by_distance,
    plot_confidence_map,
    plot_hotspots,
    plot_metric_distributions,
    plot_power_spectra,
    plot_radar,
    plot_rank_heatmap,
    plot_rank_totals,
    plot_run_reliability,
    plot_segmentation,
    save_figures,
)

#: Colour maps that carry no quantity: background anatomy and class colours.
UNSCALED_COLORMAPS = {"gray", "speccal_segmentation"}


def unlabelled(fig):
    """What a reader of ``fig`` cannot name, one sentence each (empty: all labelled)."""
    fig.canvas.draw()  # tick labels get their text when drawn
    problems = []
    for i, ax in enumerate(fig.axes):
        where = f"Axes {i} ({ax.get_title()!r})"
        if not ax.axison:
            continue
        for name, axis in (("x", ax.xaxis), ("y", ax.yaxis)):
            if not axis.get_visible() or (name == "x" and ax.name == "polar"):
                continue
            ticks = [t.get_text() for t in axis.get_ticklabels() if t.get_visible()]
            ticks = [t for t in ticks if t]
            if ticks and not axis.get_label().get_text():
                problems.append(f"{where}: the {name} axis has tick labels but no label")
    images = [image for ax in fig.axes for image in ax.images]
    labelled_scales = {
        (image.cmap.name, *image.get_clim())
        for image in images
        if image.colorbar is not None
        and (image.colorbar.ax.get_ylabel() or image.colorbar.ax.get_xlabel())
    }
    for image in images:
        scale = (image.cmap.name, *image.get_clim())
        if image.cmap.name not in UNSCALED_COLORMAPS and scale not in labelled_scales:
            problems.append(f"an image in {image.axes.get_title()!r} has no labelled colour bar")
    return problems


def test_unlabelled_finds_each_kind_of_gap():
    fig = Figure()
    ax, image_ax = fig.subplots(1, 2)
    ax.plot([0, 1], [0, 1])
    ax.set_xlabel("x")
    image_ax.imshow(np.eye(3))
    image_ax.set_axis_off()
    assert unlabelled(fig) == [
        "Axes 0 (''): the y axis has tick labels but no label",
        "an image in '' has no labelled colour bar",
    ]
    ax.set_ylabel("y")
    fig.colorbar(image_ax.images[0], ax=image_ax, label="value")
    assert unlabelled(fig) == []


def _runs(root, methods=("ce", "cespectral"), seeds=(0,)):
    return [load_run(fake_run(root, m, s)) for m in methods for s in seeds]


def _distance_results():
    y_true = np.zeros((20, 18), dtype=int)
    y_true[5:14, 4:12] = 1
    return {
        name: calibration_by_distance(
            y_true, np.where(y_true[..., None] == np.arange(2), p, 1 - p), edges=(0, 1, 2, np.inf)
        )
        for name, p in (("sharp", 0.95), ("soft", 0.7))
    }


def _reliability(**kwargs):
    rng = np.random.default_rng(0)
    y_prob = rng.dirichlet(np.ones(3), size=300)
    return ReliabilityDisplay.from_predictions(rng.integers(0, 3, 300), y_prob, **kwargs)


_RANK_RESULTS = {
    ("ce", "d1"): {"dice": 0.7, "ece": 0.05},
    ("fl", "d1"): {"dice": 0.8, "ece": 0.01},
    ("ours", "d1"): {"dice": 0.9, "ece": 0.02},
}
_MAP = np.random.default_rng(1).uniform(size=(12, 10))

#: name -> function of a run folder root, returning something with a figure.
FIGURES = {
    "confidence_map": lambda root: plot_confidence_map(_MAP),
    "confidence_map_over_image": lambda root: plot_confidence_map(
        _MAP, image=_MAP[::-1], label=(_MAP > 0.5).astype(int)
    ),
    "segmentation": lambda root: plot_segmentation((_MAP > 0.5).astype(int)),
    "run_reliability": lambda root: plot_run_reliability(_runs(root)[0]).ax_,
    "reliability_bars": lambda root: _reliability().ax_,
    "reliability_line": lambda root: _reliability(kind="line").ax_,
    "reliability_per_class": lambda root: _reliability(per_class=True).ax_,
    "reliability_overlay": lambda root: (
        ReliabilityDisplay.overlay([_reliability(), _reliability()])[0].ax_
    ),
    "boundary_experiment": lambda root: plot_boundary_experiment(alphas=(1.0, 0.5), size=16)[0],
    "power_spectra": lambda root: plot_power_spectra(
        {"a": (np.linspace(0, 0.5, 4), [4.0, 3.0, 2.0, 1.0])}
    ),
    "calibration_by_distance": lambda root: plot_calibration_by_distance(_distance_results()),
    "radar": lambda root: plot_radar(_RANK_RESULTS, ("dice", "ece")),
    "distributions_points": lambda root: plot_metric_distributions(
        {"a": [0.8, 0.9], "b": [0.7, 0.75]}
    ),
    "distributions_histogram": lambda root: plot_metric_distributions(
        {"a": np.linspace(0.5, 0.9, 30)}, kind="hist"
    ),
    "distributions_kde": lambda root: plot_metric_distributions(
        {"a": np.linspace(0.5, 0.9, 30)}, kind="kde"
    ),
    "rank_totals": lambda root: plot_rank_totals(aggregate_ranks(_RANK_RESULTS, ("dice", "ece"))),
    "rank_heatmap": lambda root: plot_rank_heatmap(
        aggregate_ranks(_RANK_RESULTS, ("dice", "ece"))
    ),
    "hotspots": lambda root: plot_hotspots(_MAP, _MAP[::-1])[0],
}


@pytest.mark.parametrize("name", FIGURES)
def test_every_axis_of_a_figure_is_labelled(pyplot, tmp_path, name):
    fig = FIGURES[name](tmp_path).figure
    assert unlabelled(fig) == []


def test_every_figure_of_save_figures_is_labelled(tmp_path, monkeypatch):
    drawn = {}
    monkeypatch.setattr(Figure, "savefig", lambda fig, path, **kw: drawn.update({path.name: fig}))
    runs = _runs(tmp_path, seeds=(0, 1))
    save_figures(runs, tmp_path / "figures", dpi=30)
    assert {"fig1_boundary_experiment.png", "fig7_ranks.png", "fig8_hotspots_acdc.png"} <= set(
        drawn
    )
    problems = {name: unlabelled(fig) for name, fig in drawn.items()}
    assert {name: p for name, p in problems.items() if p} == {}
