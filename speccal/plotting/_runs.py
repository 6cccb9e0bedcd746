"""Reading the run directories that ``speccal evaluate`` writes.

A run directory holds ``metrics.json`` (summary metrics, method, dataset, protocol),
``per_volume.csv`` (one row per test case), ``reliability.npz`` (per-bin statistics),
``spectrum.npz`` (mean radial PSD of the test max-logit maps) and ``example.npz`` (slices of one
test case). :func:`load_run` reads them into a :class:`RunResult` that every figure accepts.
"""

import csv
import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from speccal._names import HIGHER_IS_BETTER, metric_label

__all__ = [
    "HIGHER_IS_BETTER",
    "RunResult",
    "load_run",
    "metric_direction",
    "metric_label",
    "save_run",
]

#: Files of a run directory and the keys each must hold (``None``: a CSV, checked apart).
RUN_FILES = {
    "metrics.json": ("method", "dataset", "ece", "sce", "tace", "dice", "hd95", "asd"),
    "per_volume.csv": None,
    "reliability.npz": ("bin_count", "bin_confidence", "bin_accuracy"),
    "spectrum.npz": ("frequencies", "power"),
    "example.npz": ("image", "label", "confidence", "probability"),
}


def metric_direction(metric, higher_is_better=None):
    """Whether larger values of ``metric`` are better.

    Parameters
    ----------
    metric : str
        A metric key such as ``"dice"`` or ``"ece"``.
    higher_is_better : mapping of str to bool, optional
        Overrides and additions to :data:`HIGHER_IS_BETTER`.

    Returns
    -------
    bool

    Raises
    ------
    ValueError
        If the metric is unknown and not in ``higher_is_better``.
    """
    table = {**HIGHER_IS_BETTER, **dict(higher_is_better or {})}
    if metric not in table:
        raise ValueError(
            f"`higher_is_better` must say whether larger {metric!r} is better; it is not one "
            f"of the known metrics {sorted(table)}."
        )
    return bool(table[metric])


@dataclass(frozen=True)
class RunResult:
    """The evaluation results of one run directory (see :func:`load_run`).

    Attributes
    ----------
    path : pathlib.Path
        The run directory.
    metrics : dict
        Contents of ``metrics.json``.
    per_volume : dict of str to ndarray
        Columns of ``per_volume.csv``: numeric columns as float arrays, others as str arrays.
    reliability : dict of str to ndarray
        ``bin_count``, ``bin_confidence``, ``bin_accuracy`` of ``reliability.npz``.
    spectrum : dict of str to ndarray
        ``frequencies`` and ``power`` of ``spectrum.npz``.
    example : dict of str to ndarray
        ``image``, ``label``, ``confidence`` and ``probability`` slices of one test case.

    Examples
    --------
    :func:`load_run` builds it from a run directory; the fields can also be given directly:

    >>> from pathlib import Path
    >>> from speccal.plotting import RunResult
    >>> run = RunResult(path=Path("runs/ce"), metrics={"method": "ce", "dataset": "acdc",
    ...     "dice": [0.8, 0.9]}, per_volume={}, reliability={}, spectrum={}, example={})
    >>> run.method, run.dataset, round(run.metric("dice"), 2)
    ('ce', 'acdc', 0.85)
    """

    path: Path
    metrics: dict
    per_volume: dict = field(repr=False)
    reliability: dict = field(repr=False)
    spectrum: dict = field(repr=False)
    example: dict = field(repr=False)

    @property
    def method(self):
        """The training method (loss name) of the run."""
        return str(self.metrics["method"])

    @property
    def dataset(self):
        """The dataset the run was evaluated on."""
        return str(self.metrics["dataset"])

    def metric(self, name):
        """A summary metric as one float; a per-class list is averaged.

        Raises
        ------
        ValueError
            If ``metrics.json`` has no such key or its value is not numeric.
        """
        if name not in self.metrics:
            raise ValueError(
                f"`name` must be a metric of {self.path / 'metrics.json'}; got {name!r} "
                f"(available: {sorted(self.metrics)})."
            )
        try:
            return float(np.mean(np.asarray(self.metrics[name], dtype=np.float64)))
        except (TypeError, ValueError) as exc:
            raise ValueError(
                f"{self.path / 'metrics.json'}: {name!r} must be a number or a list of "
                f"numbers; got {self.metrics[name]!r}."
            ) from exc

    def per_volume_values(self, name):
        """One value per test volume of a metric from ``per_volume.csv``.

        The column ``name`` is used when present; otherwise the per-class columns
        ``name_*`` (e.g. ``dice_1``, ``dice_2``) are averaged row by row.

        Raises
        ------
        ValueError
            If the CSV has neither the column nor per-class columns for it.
        """
        columns = self.per_volume
        if name in columns and columns[name].dtype.kind == "f":
            return columns[name]
        parts = [v for k, v in columns.items() if k.startswith(f"{name}_") and v.dtype.kind == "f"]
        if not parts:
            raise ValueError(
                f"`name` must be a numeric column of {self.path / 'per_volume.csv'}; got "
                f"{name!r} (available: {sorted(columns)})."
            )
        return np.mean(parts, axis=0)


def _read_json(path):
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path} is not valid JSON: {exc}.") from exc
    if not isinstance(data, dict):
        raise ValueError(f"{path} must hold a JSON object; got {type(data).__name__}.")
    return data


def _read_npz(path):
    try:
        with np.load(path, allow_pickle=False) as data:
            return {key: data[key] for key in data.files}
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise ValueError(f"{path} is not a readable .npz file: {exc}.") from exc


def _read_csv(path):
    with path.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    if not rows or "case_id" not in rows[0]:
        raise ValueError(f"{path} must have a header with `case_id` and at least one row.")
    columns = {}
    for name in rows[0]:
        values = [row[name] for row in rows]
        if None in values:
            raise ValueError(f"{path}: rows must have as many fields as the header.")
        try:
            if name == "case_id":  # identifiers stay text, even "001"
                raise ValueError(name)
            columns[name] = np.array([float(v) for v in values])
        except ValueError:
            columns[name] = np.array(values, dtype=str)
    return columns


def load_run(run_dir):
    """Read the results of ``speccal evaluate RUN_DIR``.

    Parameters
    ----------
    run_dir : str or path-like
        A run directory holding ``metrics.json``, ``per_volume.csv``, ``reliability.npz``,
        ``spectrum.npz`` and ``example.npz``.

    Returns
    -------
    run : RunResult

    Raises
    ------
    FileNotFoundError
        If the directory or one of the files is missing (the message names the file).
    ValueError
        If a file cannot be parsed or lacks a required key (the message names the file).

    Examples
    --------
    >>> from speccal.plotting import load_run
    >>> run = load_run("runs/brats_cespectral")  # doctest: +SKIP
    >>> run.method, run.metric("ece")  # doctest: +SKIP
    ('cespectral', 0.0015)
    """
    root = Path(run_dir)
    if not root.is_dir():
        raise FileNotFoundError(f"`run_dir` must be a run directory; got {str(run_dir)!r}.")
    loaded = {}
    for name, keys in RUN_FILES.items():
        path = root / name
        if not path.is_file():
            raise FileNotFoundError(
                f"{path} is missing: run `speccal evaluate {root}` to write it."
            )
        reader = {".json": _read_json, ".npz": _read_npz, ".csv": _read_csv}[path.suffix]
        loaded[name] = reader(path)
        missing = [key for key in keys or () if key not in loaded[name]]
        if missing:
            raise ValueError(f"{path} must hold the keys {list(keys)}; missing {missing}.")
    return RunResult(
        path=root,
        metrics=loaded["metrics.json"],
        per_volume=loaded["per_volume.csv"],
        reliability=loaded["reliability.npz"],
        spectrum=loaded["spectrum.npz"],
        example=loaded["example.npz"],
    )


def save_run(run_dir, *, metrics, per_volume, reliability, spectrum, example):
    """Write evaluation results in the run-directory layout that :func:`load_run` reads.

    Parameters
    ----------
    run_dir : str or path-like
        Folder to write into; created when missing.
    metrics : mapping
        Summary metrics (JSON-serialisable), with at least ``method``, ``dataset``, ``ece``,
        ``sce``, ``tace``, ``dice``, ``hd95``, ``asd``.
    per_volume : mapping of str to sequence
        Columns of ``per_volume.csv``, ``case_id`` first; all of one length.
    reliability : mapping of str to array-like
        ``bin_count``, ``bin_confidence``, ``bin_accuracy``.
    spectrum : mapping of str to array-like
        ``frequencies`` and ``power``.
    example : mapping of str to array-like
        ``image``, ``label``, ``confidence`` (max probability) and ``probability``
        ``(..., n_classes)`` slices of one test case.

    Returns
    -------
    run_dir : pathlib.Path

    Raises
    ------
    ValueError
        If a required key is missing or the per-volume columns differ in length.

    Examples
    --------
    >>> import numpy as np, tempfile
    >>> from speccal.plotting import load_run, save_run
    >>> d = save_run(tempfile.mkdtemp(), metrics={"method": "ce", "dataset": "acdc",
    ...     "ece": 0.01, "sce": 0.02, "tace": 0.03, "dice": 0.9, "hd95": 3.0, "asd": 1.0},
    ...     per_volume={"case_id": ["a"], "dice": [0.9]},
    ...     reliability={"bin_count": [1], "bin_confidence": [0.9], "bin_accuracy": [1.0]},
    ...     spectrum={"frequencies": [0.0, 0.5], "power": [1.0, 0.1]},
    ...     example={"image": np.ones((4, 4)), "label": np.zeros((4, 4), int),
    ...              "confidence": np.ones((4, 4)), "probability": np.ones((4, 4, 1))})
    >>> load_run(d).method
    'ce'
    """
    root = Path(run_dir)
    parts = {
        "metrics.json": metrics,
        "reliability.npz": reliability,
        "spectrum.npz": spectrum,
        "example.npz": example,
        "per_volume.csv": per_volume,
    }
    for name, data in parts.items():
        keys = RUN_FILES[name] or ("case_id",)
        missing = [key for key in keys if key not in data]
        if missing:
            raise ValueError(f"`{name}` data must hold the keys {list(keys)}; missing {missing}.")
    lengths = {len(v) for v in per_volume.values()}
    if len(lengths) != 1:
        raise ValueError(f"`per_volume` columns must have one length; got lengths {lengths}.")
    root.mkdir(parents=True, exist_ok=True)
    (root / "metrics.json").write_text(json.dumps(dict(metrics), indent=2))
    for name in ("reliability.npz", "spectrum.npz", "example.npz"):
        np.savez(root / name, **{k: np.asarray(v) for k, v in parts[name].items()})
    names = ["case_id", *(k for k in per_volume if k != "case_id")]
    with (root / "per_volume.csv").open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(names)
        writer.writerows(zip(*(per_volume[k] for k in names), strict=True))
    return root
