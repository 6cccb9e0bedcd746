"""Preprocessing of paper appendix A.2: resampling to the median spacing and intensity
normalisation, cached on disk outside the dataset folder."""

import dataclasses
import os
from pathlib import Path

import numpy as np
from scipy import ndimage

from speccal.datasets._io import spacing_of

#: CT window of the paper (HU).
CT_CLIP = (-1000.0, 400.0)


def median_spacing(dataset):
    """Median voxel spacing per axis over the cases of a dataset (headers only).

    Parameters
    ----------
    dataset : Dataset
        Loader (use the training split: its median is the target of every split).

    Returns
    -------
    tuple of 3 float
        Spacing in mm along the canonical (RAS+) array axes.

    Examples
    --------
    >>> from speccal.datasets import SyntheticPhantoms, median_spacing
    >>> median_spacing(SyntheticPhantoms(n_cases=3, spacing=(1.0, 1.0, 2.5)))
    (1.0, 1.0, 2.5)
    """
    spacings = np.asarray([case.spacing for case in dataset], dtype=float)
    return tuple(float(s) for s in np.median(spacings, axis=0))


def resample(
    array, spacing, target_spacing, *, is_label=False, affine=None, anisotropy_threshold=3.0
):
    """Resample a volume to a target voxel spacing.

    Parameters
    ----------
    array : ndarray of shape (X, Y, Z) or (X, Y, Z, n_channels)
        Image (interpolated trilinearly) or label (nearest neighbour).
    spacing : tuple of 3 float
        Current voxel size (mm).
    target_spacing : tuple of 3 float
        Wanted voxel size (mm); the new shape is ``round(shape * spacing / target_spacing)``.
    is_label : bool, default=False
        Nearest neighbour (order 0) everywhere: no interpolated classes.
    affine : ndarray of shape (4, 4), optional
        Voxel-to-world transform, updated to the new grid.
    anisotropy_threshold : float, default=3.0
        When ``max(spacing) / min(spacing)`` exceeds it, the coarsest axis is resampled
        separately with nearest neighbour (as nnU-Net does), the others trilinearly, so
        thick slices are not blended into each other.

    Returns
    -------
    array : ndarray
        The resampled volume (float32 for images, the input dtype for labels).
    affine : ndarray of shape (4, 4)
        The new affine (identity-based when ``affine`` is None).

    Raises
    ------
    ValueError
        If a spacing is not 3 positive numbers.

    Notes
    -----
    Voxels are treated as boxes (``scipy.ndimage.zoom(..., grid_mode=True)``): the field of
    view is kept, and a new voxel :math:`j` samples old continuous index
    :math:`(j + 1/2)\\,s - 1/2` with :math:`s = n_{old} / n_{new}`, which is also how the
    affine is updated.

    Examples
    --------
    >>> import numpy as np
    >>> from speccal.datasets import resample
    >>> label = np.zeros((4, 4, 2), dtype=np.uint8); label[1:3, 1:3, :] = 2
    >>> out, _ = resample(label, (1, 1, 2), (0.5, 0.5, 1), is_label=True)
    >>> out.shape, sorted(np.unique(out).tolist())
    ((8, 8, 4), [0, 2])
    """
    spacing = _spacing("spacing", spacing)
    target = _spacing("target_spacing", target_spacing)
    array = np.asarray(array)
    shape = np.asarray(array.shape[:3])
    new_shape = np.maximum(1, np.rint(shape * np.asarray(spacing) / target)).astype(int)
    factors = new_shape / shape
    order = 0 if is_label else 1
    if max(spacing) / min(spacing) > anisotropy_threshold:
        coarse = int(np.argmax(spacing))
        in_plane = np.where(np.arange(3) == coarse, 1.0, factors)
        along = np.where(np.arange(3) == coarse, factors, 1.0)
        passes = [(in_plane, order), (along, 0)]
    else:
        passes = [(factors, order)]
    out = array if is_label else array.astype(np.float32, copy=False)
    for zoom, pass_order in passes:
        if np.allclose(zoom, 1.0):
            continue
        out = _zoom(out, zoom, pass_order)
    scale = shape / new_shape
    step = np.eye(4)
    step[:3, :3] = np.diag(scale)
    step[:3, 3] = (scale - 1) / 2
    base = np.diag([*spacing, 1.0]) if affine is None else np.asarray(affine, dtype=float)
    return out, base @ step


def _zoom(array, zoom, order):
    kwargs = {"order": order, "mode": "nearest", "grid_mode": True, "prefilter": False}
    if array.ndim == 3:
        return ndimage.zoom(array, zoom, **kwargs)
    return np.stack(
        [ndimage.zoom(array[..., c], zoom, **kwargs) for c in range(array.shape[-1])], axis=-1
    )


def _spacing(name, value):
    try:
        values = tuple(float(v) for v in value)
    except TypeError:
        values = ()
    if len(values) != 3 or not all(np.isfinite(values)) or min(values) <= 0:
        raise ValueError(f"`{name}` must be 3 positive numbers (mm); got {value!r}.")
    return values


def zscore(image, mask=None):
    """z-score each channel over the voxels of ``mask`` (all voxels when None).

    Parameters
    ----------
    image : ndarray of shape (X, Y, Z, n_channels)
    mask : ndarray of shape (X, Y, Z, n_channels) or (X, Y, Z), bool, optional
        Voxels that define the statistics; outside it the result is 0.

    Returns
    -------
    ndarray of shape (X, Y, Z, n_channels), float32

    Notes
    -----
    .. math:: x' = (x - \\mu_M) / \\sigma_M

    with mean and standard deviation over the mask :math:`M`. A constant channel
    (:math:`\\sigma_M = 0`) is only centred, never divided by zero.

    Examples
    --------
    >>> import numpy as np
    >>> from speccal.datasets import zscore
    >>> zscore(np.array([0.0, 1.0, 3.0]).reshape(1, 1, 3, 1), mask=None).ravel().round(3)
    array([-1.069, -0.267,  1.336], dtype=float32)
    """
    image = np.asarray(image, dtype=np.float32)
    out = np.zeros_like(image)
    for c in range(image.shape[-1]):
        channel = image[..., c]
        inside = (
            np.ones(channel.shape, bool)
            if mask is None
            else (mask[..., c] if mask.ndim == 4 else mask)
        )
        values = channel[inside]
        if values.size == 0:
            continue
        std = values.std(dtype=np.float64)
        out[..., c] = np.where(inside, (channel - values.mean(dtype=np.float64)) / (std or 1.0), 0)
    return out


def preprocess(
    image,
    label,
    spacing,
    *,
    target_spacing=None,
    modality="mri",
    affine=None,
    clip=CT_CLIP,
    anisotropy_threshold=3.0,
):
    """Resample and normalise one case (paper appendix A.2).

    Parameters
    ----------
    image : ndarray of shape (X, Y, Z, n_modalities)
    label : ndarray of shape (X, Y, Z) or None
    spacing : tuple of 3 float
    target_spacing : tuple of 3 float, optional
        Resample to it (the training set's median spacing); None keeps the grid.
    modality : {"mri", "ct"} or sequence of them, default="mri"
        MRI: z-score over the non-zero voxels of each channel, the mask taken before
        resampling (nearest-neighbour resampled), background set to 0. CT: clip to ``clip``
        then z-score over all voxels. A sequence gives one entry per channel (a CT channel
        beside MR ones, as nnU-Net's ``channel_names`` allow).
    affine : ndarray of shape (4, 4), optional
    clip : tuple of 2 float, default=(-1000, 400)
        CT window (HU).
    anisotropy_threshold : float, default=3.0
        See :func:`resample`.

    Returns
    -------
    image : ndarray, float32
    label : ndarray, uint8, or None
    affine : ndarray of shape (4, 4)

    Raises
    ------
    ValueError
        If ``image`` holds NaN or infinite values, ``modality`` is unknown (or a sequence
        of the wrong length) or the image and label shapes differ.

    Examples
    --------
    >>> import numpy as np
    >>> from speccal.datasets import preprocess
    >>> hu = np.full((4, 4, 2, 1), -2000.0); hu[1:3, 1:3] = 60.0
    >>> image, _, _ = preprocess(hu, None, (1, 1, 2), target_spacing=(1, 1, 1), modality="ct")
    >>> image.shape, [round(v, 2) for v in np.unique(image).tolist()]
    ((4, 4, 4, 1), [-0.58, 1.73])
    """
    image = np.asarray(image, dtype=np.float32)
    n_bad = int(np.size(image) - np.count_nonzero(np.isfinite(image)))
    if n_bad:
        raise ValueError(f"`image` must be finite; got {n_bad} NaN or infinite values.")
    is_ct = _ct_channels(modality, image.shape[-1])
    if label is not None and np.shape(label) != image.shape[:3]:
        raise ValueError(
            f"`label` must have the image's spatial shape {image.shape[:3]}; got "
            f"{np.shape(label)}."
        )
    mask = None
    if not is_ct.all():  # MRI channels: statistics over the non-zero voxels
        mask = image != 0
        mask[..., is_ct] = True
    if is_ct.any():
        image = np.where(is_ct, np.clip(image, *clip), image)
    new_affine = np.diag([*spacing, 1.0]) if affine is None else affine
    if target_spacing is not None:
        kw = {"anisotropy_threshold": anisotropy_threshold}
        image, new_affine = resample(image, spacing, target_spacing, affine=affine, **kw)
        if mask is not None:
            mask, _ = resample(mask, spacing, target_spacing, is_label=True, **kw)
        if label is not None:
            label, _ = resample(label, spacing, target_spacing, is_label=True, **kw)
    image = zscore(image, mask)
    label = None if label is None else np.asarray(label, dtype=np.uint8)
    return image, label, new_affine


def _ct_channels(modality, n_channels):
    """Boolean per channel: does it get the CT normalisation."""
    if isinstance(modality, str):
        if modality not in ("mri", "ct"):
            raise ValueError(f"`modality` must be 'mri' or 'ct'; got {modality!r}.")
        return np.full(n_channels, modality == "ct")
    kinds = tuple(modality)
    if len(kinds) != n_channels or any(k not in ("mri", "ct") for k in kinds):
        raise ValueError(
            f"`modality` must be 'mri', 'ct' or one of them per channel ({n_channels}); got "
            f"{modality!r}."
        )
    return np.asarray([k == "ct" for k in kinds])


@dataclasses.dataclass(frozen=True)
class PreprocessedCase:
    """A preprocessed case held in memory (arrays memory-mapped from the cache).

    Attributes
    ----------
    case_id, split, group : str
    image : ndarray of shape (X, Y, Z, n_modalities), float32
    label : ndarray of shape (X, Y, Z), uint8, or None
    affine : ndarray of shape (4, 4)
    spacing : tuple of 3 float
    """

    case_id: str
    split: str
    group: str
    image: np.ndarray
    label: np.ndarray | None
    affine: np.ndarray
    spacing: tuple

    @property
    def key(self):
        """``(split, case_id)``."""
        return (self.split, self.case_id)


def default_cache_dir():
    """The default cache folder of :class:`PreprocessedDataset`.

    Returns
    -------
    pathlib.Path
        ``$SPECCAL_CACHE`` when set, else ``~/.cache/speccal``.

    Examples
    --------
    >>> import os
    >>> from speccal.datasets import default_cache_dir
    >>> os.environ["SPECCAL_CACHE"] = "/tmp/speccal-cache"
    >>> str(default_cache_dir())
    '/tmp/speccal-cache'
    >>> del os.environ["SPECCAL_CACHE"]
    """
    return Path(os.environ.get("SPECCAL_CACHE", Path.home() / ".cache" / "speccal"))


def _from_dataset(name, doc):
    """A read-only property that returns the wrapped dataset's attribute ``name``."""
    return property(lambda self: getattr(self.dataset, name), doc=doc)


class PreprocessedDataset:
    """A dataset resampled and normalised as in paper A.2, cached on disk.

    The result of each case is stored with :class:`joblib.Memory` under ``cache_dir``, keyed by
    the dataset, the case, the size and modification time of its files and every
    preprocessing parameter (and the code of the preprocessing function), so changing any of
    them recomputes. Nothing is written into the dataset folder.

    Parameters
    ----------
    dataset : Dataset
        A loader (e.g. :class:`~speccal.datasets.BraTS2020`).
    target_spacing : "median", tuple of 3 float or None, default="median"
        ``"median"``: the median spacing of ``dataset`` (pass the training split's median
        explicitly when preprocessing another split); None: no resampling.
    cache_dir : str, path or None, default=None
        Cache folder; None uses :func:`default_cache_dir`. ``False`` disables caching.
    clip : tuple of 2 float, default=(-1000, 400)
        CT window.
    anisotropy_threshold : float, default=3.0
        See :func:`resample`.

    Attributes
    ----------
    target_spacing : tuple of 3 float or None
    n_classes : int
    class_names, modalities : tuple of str

    Raises
    ------
    ValueError
        If ``cache_dir`` lies inside the dataset folder.

    Examples
    --------
    >>> import tempfile
    >>> from speccal.datasets import PreprocessedDataset, SyntheticPhantoms
    >>> data = PreprocessedDataset(SyntheticPhantoms(n_cases=2, shape=(16, 16, 8)),
    ...                            cache_dir=tempfile.mkdtemp())
    >>> case = data[0]
    >>> case.image.shape, round(float(case.image[case.image != 0].std()), 3)
    ((16, 16, 8, 2), 1.0)
    """

    def __init__(
        self,
        dataset,
        *,
        target_spacing="median",
        cache_dir=None,
        clip=CT_CLIP,
        anisotropy_threshold=3.0,
    ):
        self.dataset = dataset
        if isinstance(target_spacing, str):
            if target_spacing != "median":
                raise ValueError(
                    f"`target_spacing` must be 'median', 3 floats or None; got {target_spacing!r}."
                )
            target_spacing = median_spacing(dataset)
        self.target_spacing = (
            None if target_spacing is None else _spacing("target_spacing", target_spacing)
        )
        self.clip = tuple(float(c) for c in clip)
        self.anisotropy_threshold = float(anisotropy_threshold)
        self._compute = _preprocess_case
        if cache_dir is not False:
            import joblib

            cache_dir = Path(default_cache_dir() if cache_dir is None else cache_dir)
            _check_outside(cache_dir, dataset)
            memory = joblib.Memory(cache_dir, mmap_mode="r", verbose=0)
            self._compute = memory.cache(_preprocess_case, ignore=["case"])
        self.cache_dir = cache_dir

    def __len__(self):
        return len(self.dataset)

    def __iter__(self):
        return (self[i] for i in range(len(self)))

    def __getitem__(self, index):
        case = self.dataset[index]
        if self.target_spacing is not None:
            _check_growth(case, self.target_spacing)
        params = {
            "target_spacing": self.target_spacing,
            "modality": self.dataset.modality,
            "clip": self.clip,
            "anisotropy_threshold": self.anisotropy_threshold,
        }
        out = self._compute(case, _fingerprint(case), params)
        return PreprocessedCase(case.case_id, case.split, case.group, **out)

    n_classes = _from_dataset("n_classes", "int: classes of the underlying dataset.")
    class_names = _from_dataset("class_names", "tuple of str: class names of the dataset.")
    modalities = _from_dataset("modalities", "tuple of str: modalities of the dataset.")
    case_ids = _from_dataset("case_ids", "list of str: the case ids in order.")


def _preprocess_case(case, fingerprint, params):
    affine, spacing, _ = case.dataset.read_header(case)
    image, label, affine = preprocess(case.image, case.label, spacing, affine=affine, **params)
    return {
        "image": image,
        "label": label,
        "affine": affine,
        "spacing": spacing_of(affine),
    }


#: Largest growth in voxel count resampling may cause (a header spacing beyond it is an error).
MAX_GROWTH = 8


def _check_growth(case, target_spacing):
    """Refuse a case whose header spacing would resample it to > ``MAX_GROWTH``× its voxels."""
    _, spacing, shape = case.dataset.read_header(case)
    shape = np.asarray(shape[:3])
    new_shape = np.maximum(1, np.rint(shape * np.asarray(spacing) / target_spacing)).astype(int)
    if np.prod(new_shape, dtype=float) > MAX_GROWTH * np.prod(shape, dtype=float):
        files = [str(p) for p in case.image_files[:1]]
        source = f" ({files[0]})" if files else ""
        size = "×".join(str(int(n)) for n in new_shape)
        raise ValueError(
            f"case {case.case_id!r}{source}: its header spacing {tuple(spacing)} mm would "
            f"resample it to the target spacing {tuple(target_spacing)} mm as {size} voxels, "
            f"more than {MAX_GROWTH}× its {'×'.join(str(int(n)) for n in shape)}; check the "
            "spacing (pixdim) in its header."
        )


def _fingerprint(case):
    dataset = case.dataset
    files = [*case.image_files, case.label_file]
    stats = [(str(p), p.stat().st_size, p.stat().st_mtime_ns) for p in files if p is not None]
    generator = getattr(dataset, "params", None) if not case.image_files else None
    return (type(dataset).__name__, case.split, case.case_id, stats, generator)


def _check_outside(cache_dir, dataset):
    cache = cache_dir.expanduser().resolve()
    for folder in (getattr(dataset, "source", None), getattr(dataset, "root", None)):
        if folder is None:
            continue
        folder = Path(folder).expanduser().resolve()
        if cache == folder or folder in cache.parents:
            raise ValueError(
                f"`cache_dir` must be outside the dataset folder {str(folder)!r} (speccal "
                f"never writes into a dataset); got {str(cache_dir)!r}."
            )
