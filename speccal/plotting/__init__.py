"""Displays and figures (matplotlib, imported lazily inside the functions).

numpy only; importing this package never imports TensorFlow or matplotlib.
"""

from speccal.plotting._figures import (
    confidence_colormap,
    plot_boundary_experiment,
    plot_confidence_map,
    plot_hotspots,
    plot_metric_distributions,
    plot_power_spectra,
    plot_radar,
    plot_run_reliability,
    plot_segmentation,
    radar_scores,
)
from speccal.plotting._ranks import (
    RankTable,
    aggregate_ranks,
    plot_rank_heatmap,
    plot_rank_totals,
)
from speccal.plotting._reliability import ReliabilityDisplay
from speccal.plotting._report import save_figures
from speccal.plotting._runs import HIGHER_IS_BETTER, RunResult, load_run, save_run

__all__ = [
    "HIGHER_IS_BETTER",
    "RankTable",
    "ReliabilityDisplay",
    "RunResult",
    "aggregate_ranks",
    "confidence_colormap",
    "load_run",
    "plot_boundary_experiment",
    "plot_confidence_map",
    "plot_hotspots",
    "plot_metric_distributions",
    "plot_power_spectra",
    "plot_radar",
    "plot_rank_heatmap",
    "plot_rank_totals",
    "plot_run_reliability",
    "plot_segmentation",
    "radar_scores",
    "save_figures",
    "save_run",
]
