"""The files of a run folder: the one place that reads and writes them.

Evaluation results (:func:`save_run` writes them, :func:`load_run` reads them into a
:class:`RunResult`): ``metrics.json`` (summary metrics, method, dataset, protocol),
``per_volume.csv`` (one row per test case), ``reliability.npz`` (per-bin statistics),
``spectrum.npz`` (mean radial PSD of the test max-logit maps) and ``example.npz`` (slices of
one test case). :func:`read_results` reads only ``metrics.json`` of several runs.

Every file is written by :func:`write_json`, :func:`write_csv` or :func:`write_npz`: to a
temporary name beside it, then switched in with :func:`os.replace`, so a kill at any moment
leaves either the old file or the new one. JSON is standard JSON: a non-finite number (HD95
and ASD are ``inf`` when a volume misses a class) is written as the string ``"inf"``
(``"-inf"``, ``"nan"``), as ``per_volume.csv`` spells it, and read back as a float.

numpy only: this module never imports TensorFlow.
"""

import contextlib
import csv
import json
import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from speccal._atomic import fsync_dir, fsync_file

__all__ = ["RunResult", "load_run", "read_per_volume", "read_results", "save_run"]

METRICS_FILE = "metrics.json"
PER_VOLUME_FILE = "per_volume.csv"
RELIABILITY_FILE = "reliability.npz"
SPECTRUM_FILE = "spectrum.npz"
EXAMPLE_FILE = "example.npz"

#: The evaluation files of a run folder and the keys each must hold (the CSV: its columns).
RESULT_FILES = {
    METRICS_FILE: ("method", "dataset", "ece", "sce", "tace", "dice", "hd95", "asd"),
    PER_VOLUME_FILE: ("case_id",),
    RELIABILITY_FILE: ("bin_count", "bin_confidence", "bin_accuracy"),
    SPECTRUM_FILE: ("frequencies", "power"),
    EXAMPLE_FILE: ("label", "confidence", "probability"),  # and ``image`` for a trained run
}
#: What a folder of ``speccal score`` lacks: the max-logit maps of the spectrum are not in
#: probability files. Its ``metrics.json`` names the ``predictions`` it scored.
SCORE_LACKS = (SPECTRUM_FILE,)

#: How JSON files spell non-finite numbers.
_NON_FINITE = {"inf": float("inf"), "-inf": float("-inf"), "nan": float("nan")}


# -- writing: temporary name, then os.replace ------------------------------------------------


@contextlib.contextmanager
def _replacing(path):
    """Yield a temporary path beside ``path``; switch it in when the block ends cleanly.

    The temporary file is flushed to disk before the switch, and the folder after it
    (:mod:`speccal._atomic`), so not even a power cut can leave a torn file.
    """
    path = Path(path)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        yield temporary
        fsync_file(temporary)
        os.replace(temporary, path)
        fsync_dir(path.parent)
    finally:
        temporary.unlink(missing_ok=True)


def _encode(value):
    """JSON-ready ``value``: numpy scalars and arrays as Python, non-finite floats as text."""
    if isinstance(value, np.ndarray | np.generic):
        value = value.tolist()
    if isinstance(value, float) and not np.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {key: _encode(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_encode(item) for item in value]
    return value


def _decode(value):
    """Inverse of :func:`_encode` for non-finite numbers, in lists and objects too."""
    if isinstance(value, str):
        return _NON_FINITE.get(value, value)
    if isinstance(value, dict):
        return {key: _decode(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_decode(item) for item in value]
    return value


def write_json(path, data):
    """Write ``data`` to ``path`` as standard, indented JSON (non-finite numbers as text)."""
    text = json.dumps(_encode(data), indent=2, allow_nan=False) + "\n"
    with _replacing(path) as temporary:
        temporary.write_text(text)
    return Path(path)


def write_csv(path, columns):
    """Write ``{name: values}`` columns (``case_id`` first) to a CSV file at ``path``."""
    names = ["case_id", *(name for name in columns if name != "case_id")]
    with _replacing(path) as temporary, temporary.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(names)
        writer.writerows(zip(*(columns[name] for name in names), strict=True))
    return Path(path)


def write_npz(path, arrays):
    """Write ``{name: array}`` to an uncompressed ``.npz`` file at ``path``."""
    with _replacing(path) as temporary, temporary.open("wb") as handle:  # no ".npz" added
        np.savez(handle, **{key: np.asarray(value) for key, value in arrays.items()})
    return Path(path)


def write_nifti(path, array, affine):
    """Write ``array`` as a NIfTI image (``.nii.gz``) with ``affine`` at ``path``."""
    import nibabel as nib

    image = nib.Nifti1Image(array, np.asarray(affine, dtype=np.float64))
    path = Path(path)
    # nibabel picks the compression from the name: the temporary name keeps ".nii.gz"
    temporary = path.with_name(f".{os.getpid()}.tmp.{path.name}")
    try:
        nib.save(image, temporary)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    return path


# -- reading: every error names the file -----------------------------------------------------


def read_json(path):
    """The JSON object in ``path`` (non-finite numbers back as floats)."""
    try:
        data = json.loads(Path(path).read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path} is not valid JSON: {exc}.") from exc
    if not isinstance(data, dict):
        raise ValueError(f"{path} must hold a JSON object; got {type(data).__name__}.")
    return _decode(data)


def read_npz(path):
    """``{name: array}`` of an ``.npz`` file (no pickles)."""
    try:
        with np.load(path, allow_pickle=False) as data:
            return {key: data[key] for key in data.files}
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise ValueError(f"{path} is not a readable .npz file: {exc}.") from exc


def read_csv(path):
    """Columns of a CSV with a ``case_id`` column: numbers as float arrays, text as str."""
    with Path(path).open(newline="") as handle:
        rows = list(csv.DictReader(handle))
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


_READERS = {".json": read_json, ".npz": read_npz, ".csv": read_csv}


# -- the evaluation results of a run ---------------------------------------------------------


@dataclass(frozen=True)
class RunResult:
    """The evaluation results of one run folder (see :func:`load_run`).

    Attributes
    ----------
    path : pathlib.Path
        The run folder.
    metrics : dict
        Contents of ``metrics.json``.
    per_volume : dict of str to ndarray
        Columns of ``per_volume.csv``: numeric columns as float arrays, others as str arrays.
    reliability : dict of str to ndarray
        ``bin_count``, ``bin_confidence``, ``bin_accuracy`` of ``reliability.npz`` (and
        ``volume_bin_sums``, shape (n_volumes, 3, n_bins), when evaluated by this version).
    spectrum : dict of str to ndarray
        ``frequencies`` and ``power`` of ``spectrum.npz`` (empty for a ``speccal score``
        folder).
    example : dict of str to ndarray
        ``label``, ``confidence`` and ``probability`` slices of one test case, and its
        ``image`` (absent for a ``speccal score`` folder).

    Examples
    --------
    :func:`load_run` builds it from a run folder; the fields can also be given directly:

    >>> from pathlib import Path
    >>> from speccal.experiments import RunResult
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
                f"`name` must be a metric of {self.path / METRICS_FILE}; got {name!r} "
                f"(available: {sorted(self.metrics)})."
            )
        try:
            return float(np.mean(np.asarray(self.metrics[name], dtype=np.float64)))
        except (TypeError, ValueError) as exc:
            raise ValueError(
                f"{self.path / METRICS_FILE}: {name!r} must be a number or a list of "
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
                f"`name` must be a numeric column of {self.path / PER_VOLUME_FILE}; got "
                f"{name!r} (available: {sorted(columns)})."
            )
        return np.mean(parts, axis=0)


def save_run(run_dir, *, metrics, per_volume, reliability, spectrum, example):
    """Write a run's evaluation results: the files :func:`load_run` reads.

    Parameters
    ----------
    run_dir : str or path-like
        The run folder; created when missing.
    metrics : mapping
        Summary metrics for ``metrics.json``, with at least ``method``, ``dataset``, ``ece``,
        ``sce``, ``tace``, ``dice``, ``hd95``, ``asd``. Numbers may be numpy scalars or
        non-finite (written as ``"inf"``, ``"-inf"``, ``"nan"``: the file is standard JSON).
    per_volume : mapping of str to sequence
        Columns of ``per_volume.csv``, with ``case_id``; all of one length.
    reliability : mapping of str to array-like
        ``bin_count``, ``bin_confidence``, ``bin_accuracy``.
    spectrum : mapping of str to array-like or None
        ``frequencies`` and ``power``; None for scored predictions (``speccal score``, whose
        ``metrics`` then name the ``predictions``): no ``spectrum.npz`` is written.
    example : mapping of str to array-like
        ``label``, ``confidence`` (max probability) and ``probability``
        ``(..., n_classes)`` slices of one test case, and its ``image`` (absent for scored
        predictions).

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
    >>> from speccal.experiments import load_run, save_run
    >>> d = save_run(tempfile.mkdtemp(), metrics={"method": "ce", "dataset": "acdc",
    ...     "ece": 0.01, "sce": 0.02, "tace": 0.03, "dice": 0.9, "hd95": np.inf, "asd": 1.0},
    ...     per_volume={"case_id": ["a"], "dice": [0.9]},
    ...     reliability={"bin_count": [1], "bin_confidence": [0.9], "bin_accuracy": [1.0]},
    ...     spectrum={"frequencies": [0.0, 0.5], "power": [1.0, 0.1]},
    ...     example={"image": np.ones((4, 4)), "label": np.zeros((4, 4), int),
    ...              "confidence": np.ones((4, 4)), "probability": np.ones((4, 4, 1))})
    >>> (d / "metrics.json").read_text().count('"hd95": "inf"')
    1
    >>> run = load_run(d)
    >>> run.method, run.metric("hd95")
    ('ce', inf)
    """
    parts = {
        METRICS_FILE: metrics,
        PER_VOLUME_FILE: per_volume,
        RELIABILITY_FILE: reliability,
        SPECTRUM_FILE: spectrum,
        EXAMPLE_FILE: example,
    }
    if spectrum is None and "predictions" not in metrics:
        raise ValueError(
            "`spectrum` must be given for a trained run (None only for scored predictions, "
            "whose `metrics` name the `predictions`); got None."
        )
    for name, data in parts.items():
        if data is None and name in SCORE_LACKS:
            continue
        keys = RESULT_FILES[name]
        missing = [key for key in keys if key not in data]
        if missing:
            raise ValueError(f"`{name}` data must hold the keys {list(keys)}; missing {missing}.")
    lengths = {len(values) for values in per_volume.values()}
    if len(lengths) != 1:
        raise ValueError(f"`per_volume` columns must have one length; got lengths {lengths}.")
    root = Path(run_dir)
    root.mkdir(parents=True, exist_ok=True)
    write_csv(root / PER_VOLUME_FILE, per_volume)
    for name in (RELIABILITY_FILE, SPECTRUM_FILE, EXAMPLE_FILE):
        if parts[name] is not None:
            write_npz(root / name, parts[name])
    write_json(root / METRICS_FILE, dict(metrics))  # last: its presence marks a finished run
    return root


def load_run(run_dir):
    """Read the evaluation results of a run (``speccal evaluate RUN_DIR``).

    Parameters
    ----------
    run_dir : str or path-like
        A run folder holding ``metrics.json``, ``per_volume.csv``, ``reliability.npz``,
        ``spectrum.npz`` and ``example.npz``, or a folder of ``speccal score`` (no
        ``spectrum.npz``: the result's ``spectrum`` is empty; no example ``image``).

    Returns
    -------
    run : RunResult

    Raises
    ------
    FileNotFoundError
        If the folder or one of the files is missing (the message names the file).
    ValueError
        If a file cannot be parsed or lacks a required key (the message names the file).

    Examples
    --------
    >>> from speccal.experiments import load_run
    >>> run = load_run("runs/brats_cespectral")  # doctest: +SKIP
    >>> run.method, run.metric("ece")  # doctest: +SKIP
    ('cespectral', 0.0015)
    """
    root = Path(run_dir)
    if not root.is_dir():
        raise FileNotFoundError(f"`run_dir` must be a run directory; got {str(run_dir)!r}.")
    loaded = {}
    for name, keys in RESULT_FILES.items():
        path = root / name
        if name in SCORE_LACKS and not path.is_file() and "predictions" in loaded[METRICS_FILE]:
            loaded[name] = {}  # a folder of `speccal score`
            continue
        if not path.is_file():
            raise FileNotFoundError(
                f"{path} is missing: run `speccal evaluate {root}` to write it."
            )
        loaded[name] = _READERS[path.suffix](path)
        missing = [key for key in keys if key not in loaded[name]]
        if missing:
            raise ValueError(f"{path} must hold the keys {list(keys)}; missing {missing}.")
    return RunResult(
        path=root,
        metrics=loaded[METRICS_FILE],
        per_volume=loaded[PER_VOLUME_FILE],
        reliability=loaded[RELIABILITY_FILE],
        spectrum=loaded[SPECTRUM_FILE],
        example=loaded[EXAMPLE_FILE],
    )


def read_results(run_dirs):
    """Read ``metrics.json`` of each evaluated run.

    Parameters
    ----------
    run_dirs : sequence of str or path
        Run folders evaluated by :func:`speccal.experiments.evaluate_run`.

    Returns
    -------
    list of dict
        One ``metrics.json`` content per run, in order; the strings ``"inf"``, ``"-inf"``
        and ``"nan"`` written for non-finite numbers are floats again.

    Raises
    ------
    FileNotFoundError
        If a run has no ``metrics.json`` (the message names the command to run).
    ValueError
        If a ``metrics.json`` is not a JSON object (the message names the file).

    Examples
    --------
    >>> import json, pathlib, tempfile
    >>> run = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (run / "metrics.json").write_text(json.dumps({"method": "ce", "hd95": "inf"}))
    >>> read_results([run])
    [{'method': 'ce', 'hd95': inf}]
    """
    results = []
    for run_dir in run_dirs:
        path = Path(run_dir) / METRICS_FILE
        if not path.is_file():
            raise FileNotFoundError(
                f"{path} not found: run `speccal evaluate {run_dir}` before comparing."
            )
        results.append(read_json(path))
    return results


def read_per_volume(run_dir):
    """Read ``per_volume.csv`` of an evaluated run, column by column.

    Parameters
    ----------
    run_dir : str or path
        A run directory evaluated by :func:`speccal.experiments.evaluate_run`.

    Returns
    -------
    dict of str to ndarray
        ``case_id`` as an array of str (identifiers such as ``"001"`` stay text); every other
        column as float64 (``"inf"`` becomes ``inf``), or as str if it is not numeric.

    Raises
    ------
    FileNotFoundError
        If the run has no ``per_volume.csv`` (the message names the command to run).
    ValueError
        If the file has no ``case_id`` column, no row, or a row of another length (the
        message names the file).

    Examples
    --------
    >>> import pathlib, tempfile
    >>> run = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (run / "per_volume.csv").write_text("case_id,ece,hd95\\n001,0.1,inf\\n")
    >>> read_per_volume(run)
    {'case_id': array(['001'], dtype='<U3'), 'ece': array([0.1]), 'hd95': array([inf])}
    """
    path = Path(run_dir) / PER_VOLUME_FILE
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} not found: run `speccal evaluate {run_dir}` before comparing."
        )
    return read_csv(path)
