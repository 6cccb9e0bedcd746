"""Displays and figures (matplotlib, imported lazily inside the functions).

The figures take arrays, mappings and :class:`speccal.experiments.RunResult` objects; reading
and writing run folders is :mod:`speccal.experiments`' job (:func:`~speccal.experiments.load_run`).
numpy only; importing this package never imports TensorFlow or matplotlib.
"""

from speccal._names import HIGHER_IS_BETTER
from speccal.plotting._distance import plot_calibration_by_distance
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
from speccal.plotting._seeds import reliability_band

__all__ = [
    "HIGHER_IS_BETTER",
    "RankTable",
    "ReliabilityDisplay",
    "aggregate_ranks",
    "confidence_colormap",
    "plot_boundary_experiment",
    "plot_calibration_by_distance",
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
    "reliability_band",
    "save_figures",
]
