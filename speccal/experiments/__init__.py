"""Training runs, their evaluation and the paper-style result tables.

A run is a folder, and this package is the only code that reads or writes its files; other
modules (plotting, the command line) take the objects and arrays it returns.

- ``config.json``: :meth:`RunConfig.save` writes it, :meth:`RunConfig.load` reads it;
- ``split.json`` (the seeded 4:1:1 case split), ``train.log``, ``history.csv`` and
  ``checkpoints/``: written by :func:`train_run`, read back by ``train_run(resume=True)`` and
  :func:`evaluate_run` (the current checkpoint: :func:`latest_checkpoint`);
- ``.lock``: the lock :func:`train_run` and :func:`evaluate_run` hold (:class:`RunLock`), so
  that one process at a time works in a run folder;
- ``metrics.json``, ``per_volume.csv``, ``reliability.npz``, ``spectrum.npz`` and
  ``example.npz``: written by :func:`save_run` (which :func:`evaluate_run` calls), read by
  :func:`load_run` (all of them, as a :class:`RunResult`) and :func:`read_results`
  (``metrics.json`` of several runs, for :func:`results_table`).

JSON files are standard JSON (a non-finite number is the string ``"inf"``, ``"-inf"`` or
``"nan"``, read back as a float), and every file is written to a temporary name and switched
in with :func:`os.replace`. A new kind of run file gets its writer and reader here, built on
the private helpers ``write_json``/``read_json``, ``write_csv``/``read_csv`` and
``write_npz``/``read_npz`` of ``speccal/experiments/_run_folder.py``.

:func:`score_predictions` writes the same results (but ``spectrum.npz``) through
:func:`save_run` for probability maps saved by another framework. :func:`results_table`
compares runs (methods as columns); :func:`compare_runs` and :func:`paired_comparison_table`
add intervals and paired tests against a reference method (reading ``per_volume.csv`` with
:func:`read_per_volume`). TensorFlow is imported only when a run is trained or evaluated.
"""

from speccal._names import SEGMENTATION_METRICS, TABLE_CALIBRATION_METRICS
from speccal.experiments._checkpoint import Checkpoint, CheckpointError, latest_checkpoint
from speccal.experiments._compare import RunComparison, compare_runs, paired_comparison_table
from speccal.experiments._config import RunConfig
from speccal.experiments._evaluate import evaluate_run
from speccal.experiments._lock import RunInUseError, RunLock
from speccal.experiments._run_folder import (
    RunResult,
    load_run,
    read_per_volume,
    read_results,
    save_run,
)
from speccal.experiments._score import score_predictions
from speccal.experiments._tables import (
    check_comparable,
    column_labels,
    results_table,
    summarize,
)
from speccal.experiments._train import NonFiniteLossError, train_run

__all__ = [
    "SEGMENTATION_METRICS",
    "TABLE_CALIBRATION_METRICS",
    "Checkpoint",
    "CheckpointError",
    "NonFiniteLossError",
    "RunComparison",
    "RunConfig",
    "RunInUseError",
    "RunLock",
    "RunResult",
    "check_comparable",
    "column_labels",
    "compare_runs",
    "evaluate_run",
    "latest_checkpoint",
    "load_run",
    "paired_comparison_table",
    "read_per_volume",
    "read_results",
    "results_table",
    "save_run",
    "score_predictions",
    "summarize",
    "train_run",
]
