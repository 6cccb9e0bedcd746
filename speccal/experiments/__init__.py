"""Training runs, their evaluation and the paper-style result tables.

A run is a directory: ``config.json`` (:class:`RunConfig`), ``split.json``, ``train.log``,
``history.csv`` and ``checkpoint/`` from :func:`train_run`; ``metrics.json``,
``per_volume.csv``, ``reliability.npz``, ``spectrum.npz`` and ``example.npz`` from
:func:`evaluate_run`. :func:`results_table` compares runs (methods as columns). TensorFlow is
imported only when a run is trained or evaluated.
"""

from speccal._names import SEGMENTATION_METRICS, TABLE_CALIBRATION_METRICS
from speccal.experiments._config import RunConfig
from speccal.experiments._evaluate import evaluate_run
from speccal.experiments._tables import read_results, results_table, summarize
from speccal.experiments._train import loss_variables, train_run

__all__ = [
    "TABLE_CALIBRATION_METRICS",
    "SEGMENTATION_METRICS",
    "RunConfig",
    "evaluate_run",
    "loss_variables",
    "read_results",
    "results_table",
    "summarize",
    "train_run",
]
