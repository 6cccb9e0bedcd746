"""Probability maps saved by other frameworks, matched to their reference label maps.

``speccal score PRED_DIR LABEL_DIR`` reads one file per case from each folder, matched by file
stem (the name without ``.npz``, ``.npy``, ``.nii.gz`` or ``.nii``):

- ``<case>.npz`` as nnU-Net v2 writes it with ``--save_probabilities``. Read in nnU-Net's
  code (``nnunetv2/inference/export_prediction.py``, ``export_prediction_from_logits``):
  ``np.savez_compressed(<case>.npz, probabilities=...)`` beside ``save_pickle(properties,
  <case>.pkl)`` and the label map ``<case><file_ending>``. The probabilities come from
  ``LabelManager.apply_inference_nonlin`` on ``logits.float()``, so they are float32 (softmax
  over classes, background first; a region-based model's are per-region sigmoids that do not
  sum to 1 and are refused here), with the cropping reverted (voxels outside nnU-Net's
  crop get background probability 1) and the axes transposed back to the array order of
  nnU-Net's image reader: ``(C, Z, Y, X)``, the reverse of nibabel's spatial order, for its
  default ``SimpleITKIO`` and for ``NibabelIO`` (which transposes to match). Its
  ``NibabelIOWithReorient`` reorients to RAS first: those probabilities match a label file only
  if the label is stored in RAS. The ``.pkl`` (spacing in reader order, crop box) and the label
  map are not read: spacing comes from the reference label's header.
- ``<case>.npy``: an array ``(X, Y, Z, C)``, read memory-mapped.
- ``<case>.nii.gz`` / ``<case>.nii``: a 4-D NIfTI ``(X, Y, Z, C)``, as MONAI's ``SaveImage``
  (``NibabelWriter``) writes channel-first data (``output_postfix=""``,
  ``separate_folder=False`` give the plain ``<case>`` stem). A 5-D ``(X, Y, Z, 1, C)`` file
  (the NIfTI "vector" layout) is read too. In a folder that also holds ``<case>.npz``, the
  NIfTI file is nnU-Net's label map and is ignored.

``axes`` overrides the per-format order: four letters, a permutation of ``c``, ``x``, ``y``,
``z``, naming the stored axes (``"czyx"`` for nnU-Net, ``"cxyz"`` for a PyTorch ``(C, H, W, D)``
array in nibabel order, ``"xyzc"`` channels last). Labels are ``<case>.nii.gz`` or
``<case>.nii`` in LABEL_DIR, read as stored (no reorientation: predictions are on the label's
voxel grid); spacing from the header's zooms. Files named ``*.pkl`` and ``*.json`` (nnU-Net's
properties, ``dataset.json``, ``plans.json``) are ignored, as are files with other suffixes.
"""

import math
import warnings
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = [
    "PREDICTION_SUFFIXES",
    "PredictionPair",
    "check_axes",
    "match_predictions",
    "read_label",
    "read_prediction",
    "read_stored_prediction",
]

#: Prediction file suffixes, in the order that decides which file of a case is scored.
PREDICTION_SUFFIXES = (".npz", ".npy", ".nii.gz", ".nii")
LABEL_SUFFIXES = (".nii.gz", ".nii")
#: Stored axis order of each format (``c`` classes; ``x``, ``y``, ``z`` nibabel's order).
DEFAULT_AXES = {".npz": "czyx", ".npy": "xyzc", ".nii.gz": "xyzc", ".nii": "xyzc"}
NNUNET_KEY = "probabilities"
#: Cases listed in an error message before "and N more".
_LISTED = 10
#: Largest block of a Fortran-ordered ``.npz`` array read at a time (bytes).
_READ_BLOCK_BYTES = 16 << 20
_READ_PIECE_BYTES = 1 << 18  # as numpy reads .npz members


@dataclass(frozen=True)
class PredictionPair:
    """One case: its prediction file and its reference label file."""

    case_id: str
    prediction: Path
    label: Path


def _split_suffix(path, suffixes):
    """``(stem, suffix)`` for the first suffix of ``suffixes`` the name ends with, else None."""
    for suffix in suffixes:
        if path.name.endswith(suffix) and len(path.name) > len(suffix):
            return path.name[: -len(suffix)], suffix
    return None


def _files_by_stem(folder, suffixes, name):
    folder = Path(folder)
    if not folder.is_dir():
        raise NotADirectoryError(f"`{name}` must be a folder; got {str(folder)!r}.")
    found = {}
    for path in sorted(folder.iterdir()):
        parts = _split_suffix(path, suffixes) if path.is_file() else None
        if parts is not None and not path.name.startswith("."):
            found.setdefault(parts[0], {})[parts[1]] = path
    return found


def _listing(cases):
    shown = ", ".join(repr(c) for c in cases[:_LISTED])
    return shown + (f" and {len(cases) - _LISTED} more" if len(cases) > _LISTED else "")


def _prediction_file(case_id, files):
    """The file of one case that holds the probabilities."""
    if ".npz" in files:
        extra = [files[s] for s in (".npy",) if s in files]
        chosen = files[".npz"]  # beside it, <case>.nii(.gz) is nnU-Net's label map
    else:
        kinds = [files[s] for s in PREDICTION_SUFFIXES if s in files]
        chosen, extra = kinds[0], kinds[1:]
    if extra:
        names = ", ".join(repr(p.name) for p in [chosen, *extra])
        raise ValueError(
            f"case {case_id!r} has several prediction files ({names}); keep one per case."
        )
    return chosen


def match_predictions(pred_dir, label_dir, *, allow_missing=False):
    """Pair each prediction file with the label file of the same stem.

    Parameters
    ----------
    pred_dir, label_dir : str or path
        The folders (see the module docstring for the file names read).
    allow_missing : bool, default=False
        Skip, with a warning, cases found on one side only instead of refusing them.

    Returns
    -------
    list of PredictionPair
        Sorted by case id.

    Raises
    ------
    NotADirectoryError
        If a folder does not exist.
    ValueError
        If a case has a prediction but no label or the reverse (the message names them),
        several prediction or label files, or no case is found on both sides.
    """
    predictions = _files_by_stem(pred_dir, PREDICTION_SUFFIXES, "pred_dir")
    labels = _files_by_stem(label_dir, LABEL_SUFFIXES, "label_dir")
    for case_id, files in labels.items():
        if len(files) > 1:
            names = ", ".join(repr(p.name) for p in files.values())
            raise ValueError(f"case {case_id!r} has several label files ({names}); keep one.")
    no_label = sorted(set(predictions) - set(labels))
    no_prediction = sorted(set(labels) - set(predictions))
    problems = []
    if no_label:
        problems.append(f"predictions without a label in {str(label_dir)!r}: {_listing(no_label)}")
    if no_prediction:
        problems.append(
            f"labels without a prediction in {str(pred_dir)!r}: {_listing(no_prediction)}"
        )
    if problems and not allow_missing:
        raise ValueError(
            "every case needs a prediction and a label; "
            + "; ".join(problems)
            + " (--allow-missing skips them)."
        )
    if problems:
        warnings.warn("skipped " + "; ".join(problems) + ".", UserWarning, stacklevel=2)
    common = sorted(set(predictions) & set(labels))
    if not common:
        raise ValueError(
            f"`pred_dir` {str(pred_dir)!r} and `label_dir` {str(label_dir)!r} must share at "
            f"least one case (predictions {PREDICTION_SUFFIXES}, labels {LABEL_SUFFIXES}); "
            "got none."
        )
    return [
        PredictionPair(case, _prediction_file(case, predictions[case]), *labels[case].values())
        for case in common
    ]


def check_axes(axes):
    """Return ``axes`` lower-cased after checking it is a permutation of ``"cxyz"``.

    Raises
    ------
    ValueError
        If it is not four distinct letters among c, x, y, z.
    """
    if axes is None:
        return None
    if not isinstance(axes, str) or sorted(axes.lower()) != sorted("cxyz"):
        raise ValueError(
            f"`axes` must be a permutation of the letters c, x, y, z (e.g. 'czyx'); got {axes!r}."
        )
    return axes.lower()


def _unreadable(path, exc):
    return ValueError(f"could not read {str(path)!r} (truncated or corrupt?): {exc}")


def _load_array(path, suffix):
    import nibabel as nib

    errors = (OSError, EOFError, ValueError, zlib.error, zipfile.BadZipFile)
    try:
        if suffix == ".npz":
            with zipfile.ZipFile(path) as archive:
                member = NNUNET_KEY + ".npy"
                if member not in archive.namelist():
                    raise KeyError([name.removesuffix(".npy") for name in archive.namelist()])
                with archive.open(member) as stream:
                    array = _read_c_ordered(stream)
            if array is None:  # not a Fortran-ordered array of numbers: numpy reads it
                with np.load(path, allow_pickle=False) as archive:
                    array = archive[NNUNET_KEY]
            return array
        if suffix == ".npy":
            return np.load(path, mmap_mode="r", allow_pickle=False)
        array = _read_nifti(path)
    except KeyError as exc:
        raise ValueError(
            f"{str(path)!r} must hold the array {NNUNET_KEY!r} (nnU-Net's "
            f"--save_probabilities); got the keys {exc.args[0]}."
        ) from None
    except (*errors, nib.filebasedimages.ImageFileError) as exc:
        raise _unreadable(path, exc) from exc
    if array.ndim == 5 and array.shape[3] == 1:  # NIfTI vector layout (X, Y, Z, 1, C)
        array = array[:, :, :, 0]
    return array


def _read_nifti(path):
    """A NIfTI file's (scaled) data, as ``np.asanyarray(nib.load(path).dataobj)`` gives it.

    An uncompressed file comes memory-mapped when nibabel can. A compressed one is read piece
    by piece (runs along the third axis, one index of the trailing axes at a time: each is
    contiguous in the file's Fortran order) into a preallocated array: nibabel reading the
    whole would hold the decompressed bytes and the array at once (twice the volume, measured
    with ``tracemalloc``), and each piece is taken from the open stream where the previous one
    ended. The array is Fortran-ordered, as nibabel's.
    """
    import nibabel as nib

    compressed = str(path).endswith(".gz")
    image = nib.load(path, keep_file_open=compressed)  # pieces read on from one stream
    proxy = image.dataobj
    shape = tuple(proxy.shape)
    if not compressed or len(shape) < 3 or not nib.is_proxy(proxy):
        return np.asanyarray(proxy)
    itemsize = np.dtype(proxy.dtype).itemsize
    block_bytes = min(_READ_BLOCK_BYTES, math.prod(shape) * itemsize // 8)  # as for .npz
    step = max(1, min(shape[2], block_bytes // max(shape[0] * shape[1] * itemsize, 1)))
    reversed_out = None  # the array's axes reversed, C-ordered: a Fortran array's memory
    for trailing in np.ndindex(shape[3:]):
        for start in range(0, shape[2], step):
            piece = proxy[(slice(None), slice(None), slice(start, start + step), *trailing)]
            if reversed_out is None:
                reversed_out = np.empty(shape[::-1], dtype=piece.dtype)
            reversed_out[(*trailing[::-1], slice(start, start + step))] = piece.T
    return reversed_out.T


def _read_c_ordered(stream):
    """Read a Fortran-ordered ``.npy`` stream into a C-ordered array of the same values.

    nnU-Net's transposed probabilities are stored in Fortran order; scoring reads C-ordered
    arrays faster (see :func:`speccal.experiments._score.score_case`). ``np.load`` followed by a
    C-ordered copy would hold both (twice the volume): here the stream (the array's axes
    reversed, in C order) is read in blocks of its first axis, each copied into its place
    along the array's last axis, so that a block is the only extra memory. Returns None when
    the stream holds something else (a C-ordered array, one of objects, fewer than 2 axes):
    ``np.load`` reads those as they are.
    """
    from numpy.lib import format as npy_format

    version = npy_format.read_magic(stream)
    if version not in ((1, 0), (2, 0)):
        return None
    read_header = {
        (1, 0): npy_format.read_array_header_1_0,
        (2, 0): npy_format.read_array_header_2_0,
    }[version]
    shape, fortran_order, dtype = read_header(stream)
    if not fortran_order or len(shape) < 2 or 0 in shape or dtype.hasobject or not dtype.itemsize:
        return None
    array = np.empty(shape, dtype)
    row_bytes = array.nbytes // shape[-1]  # one index of the stream's first axis
    block_bytes = min(_READ_BLOCK_BYTES, max(array.nbytes // 8, row_bytes))
    rows = max(1, block_bytes // max(1, row_bytes))
    buffer = np.empty(rows * row_bytes, np.uint8)
    for start in range(0, shape[-1], rows):
        n = min(rows, shape[-1] - start)
        _read_into(stream, buffer[: n * row_bytes], start * row_bytes, array.nbytes)
        block = buffer[: n * row_bytes].view(dtype).reshape((n, *shape[-2::-1]))
        # one index of the second-to-last axis at a time: contiguous runs on both sides
        for i in range(shape[-2]):
            array[..., i, start : start + n] = block[:, i].T
    return array


def _read_into(stream, buffer, offset, total):
    """Fill ``buffer`` (uint8) from ``stream`` in pieces of at most ``_READ_PIECE_BYTES``."""
    filled = 0
    while filled < buffer.size:
        piece = stream.read(min(_READ_PIECE_BYTES, buffer.size - filled))
        if not piece:
            raise EOFError(
                f"the array's data ends early: expected {total} bytes, got {offset + filled}"
            )
        buffer[filled : filled + len(piece)] = np.frombuffer(piece, np.uint8)
        filled += len(piece)


def read_stored_prediction(path, axes=None):
    """Read one probability (or logit) map as stored, with its axis order.

    Parameters
    ----------
    path, axes
        As in :func:`read_prediction`.

    Returns
    -------
    array : ndarray
        4-D, floating point, in the stored order (memory-mapped for ``.npy``).
    order : str
        Its axes, e.g. ``"czyx"``.

    Raises
    ------
    ValueError
        As :func:`read_prediction`.
    """
    path = Path(path)
    suffix = _split_suffix(path, PREDICTION_SUFFIXES)
    if suffix is None:
        raise ValueError(f"`path` must end with one of {PREDICTION_SUFFIXES}; got {str(path)!r}.")
    order = check_axes(axes) or DEFAULT_AXES[suffix[1]]
    array = _load_array(path, suffix[1])
    if array.ndim != 4:
        raise ValueError(
            f"{str(path)!r} must hold a 4-D array with axes {order!r}; got shape {array.shape}."
        )
    if array.dtype.kind != "f":
        raise ValueError(
            f"{str(path)!r} must hold floating-point probabilities or logits; got dtype "
            f"{array.dtype} (a label map?)."
        )
    return array, order


def read_prediction(path, axes=None):
    """Read one probability (or logit) map as a channels-last view ``(X, Y, Z, C)``.

    Parameters
    ----------
    path : str or path
        ``.npz`` (nnU-Net), ``.npy`` or 4-D NIfTI.
    axes : str, optional
        Stored axis order (see :func:`check_axes`); default per format: ``"czyx"`` for
        ``.npz``, ``"xyzc"`` otherwise.

    Returns
    -------
    ndarray of shape (X, Y, Z, C)
        A transposed view of the stored array (no copy); floating point.

    Raises
    ------
    ValueError
        If the file is unreadable, lacks nnU-Net's key, is not 4-D or not floating point (the
        message names the file).
    """
    array, order = read_stored_prediction(path, axes)
    return np.transpose(array, [order.index(axis) for axis in "xyzc"])


def read_label(path):
    """Read a reference label map as stored, with its spacing and affine.

    Parameters
    ----------
    path : str or path
        ``.nii.gz`` or ``.nii``.

    Returns
    -------
    label : ndarray of int of shape (X, Y, Z)
    spacing : tuple of float
        The header's voxel sizes (mm) of the three axes.
    affine : ndarray of shape (4, 4)

    Raises
    ------
    ValueError
        If the file is unreadable, not 3-D or holds non-integer values (the message names it).
    """
    import nibabel as nib

    path = Path(path)
    try:
        image = nib.load(path)
        label = np.asanyarray(image.dataobj)
    except (OSError, EOFError, ValueError, zlib.error, nib.filebasedimages.ImageFileError) as exc:
        raise _unreadable(path, exc) from exc
    if label.ndim == 4 and label.shape[3] == 1:
        label = label[..., 0]
    if label.ndim != 3:
        raise ValueError(f"label {str(path)!r} must be a 3-D label map; got shape {label.shape}.")
    if label.dtype.kind == "f":
        if not np.array_equal(label, np.round(label)):
            raise ValueError(f"label {str(path)!r} must hold integer labels; got fractions.")
        label = label.astype(np.int32)
    elif label.dtype.kind not in "iub":
        raise ValueError(f"label {str(path)!r} must hold integer labels; got {label.dtype}.")
    spacing = tuple(float(s) for s in image.header.get_zooms()[:3])
    return label, spacing, image.affine
