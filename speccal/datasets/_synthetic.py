"""SyntheticPhantoms: a small, realistic multi-class 3D dataset written in any release layout."""

import functools
import json
from pathlib import Path

import numpy as np
from scipy import ndimage, special

from speccal._utils import check_scalar
from speccal.datasets._base import Case, Dataset
from speccal.datasets._io import find_nifti, strip_nifti_suffix, write_metaimage
from speccal.datasets._releases import BraTS2020

#: Median spacing of each release (as published), the phantoms' default in that layout.
RELEASE_SPACING = {
    "brats2020": (1.0, 1.0, 1.0),
    "acdc": (1.52, 1.52, 10.0),
    "flare2021": (0.82, 0.82, 2.5),
    "iseg2017": (1.0, 1.0, 1.0),
    "atlas2023": (1.04, 1.04, 3.0),
    "promise12": (0.61, 0.61, 3.6),
    "synthetic": (1.0, 1.0, 2.0),
}
#: Layouts whose background is exactly 0 (skull-stripped MRI).
_STRIPPED = {"brats2020", "iseg2017", "synthetic"}


class _ClassOrInstanceMethod:
    """``SyntheticPhantoms.write(root, n_cases=...)`` and ``phantoms.write(root)`` both work."""

    def __init__(self, func):
        self.func = func

    def __get__(self, obj, cls):
        if obj is not None:
            return functools.partial(self.func, obj)

        @functools.wraps(self.func)
        def build_and_write(root, layout="synthetic", *, n_test=0, **params):
            return self.func(cls(**params), root, layout, n_test=n_test)

        return build_and_write


class SyntheticPhantoms(Dataset):
    """Synthetic multi-class 3D phantoms, generated in memory or read from their own layout.

    Each phantom is a body (background class, non-zero tissue) holding nested structures
    (class 1 ⊃ 2 ⊃ 3, further classes as separate blobs) with irregular smooth boundaries,
    partial-volume mixing at every boundary, intra-class texture, a multiplicative bias field
    and Gaussian noise. Each modality orders the class intensities differently, so no single
    channel separates every class. Everything is deterministic given ``seed``.

    :meth:`write` saves the phantoms in the layout of any of the six releases (so every loader
    and the whole pipeline run without downloads) or in their own layout, which this class
    reads back when given ``root``::

        root/dataset.json                # class names, modalities, generator parameters
        root/imagesTr/phantom_NNN.nii.gz # (X, Y, Z, n_modalities) float32
        root/labelsTr/phantom_NNN.nii.gz # (X, Y, Z) uint8
        root/imagesTs/phantom_NNN.nii.gz # unlabelled cases (split "test")

    Parameters
    ----------
    root : str or path, optional
        Folder written by :meth:`write` (its own layout). ``None`` (default) generates the
        cases in memory from the parameters below.
    split : {"train", "test"}, default="train"
        With ``root``: which part to read.
    n_cases : int, default=12
        Number of (labelled) phantoms.
    shape : tuple of 3 int, default=(40, 40, 32)
        Volume shape ``(X, Y, Z)``.
    n_classes : int, optional
        Classes including background, 2 to 8. Default 4 in memory and in the own layout;
        in a release layout the release's count (an explicit different value is an error).
    n_modalities : int, optional
        Image channels; default 2 (release layouts use the release's modalities).
    spacing : tuple of 3 float, optional
        Voxel size in mm; default ``(1, 1, 2)``, or the release's median spacing.
    spacing_jitter : float, default=0.0
        Relative per-case spacing perturbation (exercises resampling to the median spacing).
    noise : float, default=0.07
        Noise standard deviation relative to the intensity range [0, 1].
    seed : int, default=0
        Seed of everything random.

    Attributes
    ----------
    cases : list of Case
    class_names, modalities : tuple of str

    Raises
    ------
    ValueError
        For invalid parameters (the message names the parameter and the value).
    FileNotFoundError
        If ``root`` does not hold the layout, or ``dataset.json`` is missing.

    Examples
    --------
    >>> from speccal.datasets import SyntheticPhantoms
    >>> phantoms = SyntheticPhantoms(n_cases=2, shape=(24, 20, 16), seed=1)
    >>> case = phantoms[0]
    >>> case.image.shape, case.image.dtype.name, sorted(set(case.label.ravel().tolist()))
    ((24, 20, 16, 2), 'float32', [0, 1, 2, 3])
    """

    name = "synthetic"
    splits = {"train": ("imagesTr",), "test": ("imagesTs",)}
    layout = "dataset.json + imagesTr/phantom_NNN.nii.gz + labelsTr/phantom_NNN.nii.gz"

    def __init__(
        self,
        root=None,
        split="train",
        *,
        n_cases=12,
        shape=(40, 40, 32),
        n_classes=None,
        n_modalities=None,
        spacing=None,
        spacing_jitter=0.0,
        noise=0.07,
        seed=0,
    ):
        if root is not None:
            self._init_from_disk(root, split)
            return
        check_scalar("n_cases", n_cases, integer=True, minimum=1)
        if len(tuple(shape)) != 3 or any(int(n) != n or n < 4 for n in shape):
            raise ValueError(f"`shape` must be 3 ints >= 4; got {shape!r}.")
        self.params = {
            "n_cases": int(n_cases),
            "shape": [int(n) for n in shape],
            "n_classes": n_classes,
            "n_modalities": n_modalities,
            "spacing": None if spacing is None else [float(s) for s in spacing],
            "spacing_jitter": float(spacing_jitter),
            "noise": float(noise),
            "seed": int(seed),
        }
        for key in ("n_classes", "n_modalities"):
            if self.params[key] is not None:
                minimum = 2 if key == "n_classes" else 1
                check_scalar(key, self.params[key], integer=True, minimum=minimum, maximum=8)
        if spacing is not None and (len(spacing) != 3 or min(spacing) <= 0):
            raise ValueError(f"`spacing` must be 3 positive floats; got {spacing!r}.")
        if not 0 <= spacing_jitter < 0.5:
            raise ValueError(f"`spacing_jitter` must be in [0, 0.5); got {spacing_jitter!r}.")
        if not noise >= 0:
            raise ValueError(f"`noise` must be >= 0; got {noise!r}.")
        if split != "train":
            raise ValueError(f"`split` must be 'train' for in-memory phantoms; got {split!r}.")
        self.split = split
        self.root = None
        n_classes = n_classes or 4
        self.class_names = ("background", *(f"structure_{k}" for k in range(1, n_classes)))
        self.modalities = tuple(f"channel_{m}" for m in range(n_modalities or 2))
        self.cases = [
            Case(f"phantom_{i:03d}", split, (), None, f"phantom_{i:03d}", self)
            for i in range(n_cases)
        ]

    def _init_from_disk(self, root, split):
        super().__init__(root, split)
        meta_path = self.root.parent / "dataset.json"
        if not meta_path.is_file():
            raise FileNotFoundError(f"missing file {str(meta_path)!r} (SyntheticPhantoms).")
        try:
            meta = json.loads(meta_path.read_text())
            self.class_names = tuple(meta["class_names"])
            self.modalities = tuple(meta["modalities"])
            self.params = meta["generator"]
        except (ValueError, KeyError) as exc:
            raise ValueError(f"corrupt {str(meta_path)!r}: {exc!r}.") from exc

    def _find_cases(self, folder):
        cases = []
        for path in sorted(folder.glob("phantom_*.nii*")):
            case_id = strip_nifti_suffix(path.name)
            label = None
            if self.split == "train":
                label = find_nifti(folder.parent / "labelsTr", case_id)
            cases.append(self._case(case_id, [path], label))
        return cases

    @property
    def label_values(self):
        """tuple of int: the own layout stores class indices as they are."""
        return tuple(range(len(self.class_names)))

    # -- reading (in-memory cases are generated) -----------------------------------------
    def read_image(self, case):
        if case.image_files:
            return super().read_image(case)
        return self._generated(self._index(case))[0].copy()

    def read_label(self, case):
        if case.image_files:
            return super().read_label(case)
        return self._generated(self._index(case))[1].copy()

    def _generated(self, index):
        # ``case.image`` then ``case.label`` is the usual pattern: generate the case once
        last = getattr(self, "_last", None)
        if last is None or last[0] != index:
            last = self._last = (index, self.generate(index))
        return last[1]

    def read_header(self, case):
        if case.image_files:
            return super().read_header(case)
        spacing = self._spacing(self._index(case), "synthetic")
        return np.diag([*spacing, 1.0]), spacing, tuple(self.params["shape"])

    def _index(self, case):
        return int(case.case_id.rsplit("_", 1)[1])

    def _spacing(self, index, layout):
        base = self.params["spacing"] or RELEASE_SPACING[layout]
        jitter = self.params["spacing_jitter"]
        if not jitter:
            return tuple(float(s) for s in base)
        scale = np.random.default_rng([self.params["seed"], index, 1]).uniform(
            1 - jitter, 1 + jitter, 3
        )
        return tuple(float(s) for s in np.round(np.asarray(base) * scale, 4))

    def generate(self, index, n_classes=None, n_modalities=None):
        """The phantom ``index``: intensities in [0, ~1] and class labels.

        Parameters
        ----------
        index : int
            Case number; the same ``(seed, index)`` always gives the same phantom.
        n_classes, n_modalities : int, optional
            Override the instance's counts (used when writing a release layout).

        Returns
        -------
        image : ndarray of shape (*shape, n_modalities), float32
            0 outside the body; the release writers rescale it (int16 MRI, HU for CT).
        label : ndarray of shape shape, uint8
            Class indices ``0..n_classes-1``.
        """
        n_classes = n_classes or len(self.class_names)
        n_modalities = n_modalities or len(self.modalities)
        body, structures = _anatomy(
            np.random.default_rng([self.params["seed"], index]),
            tuple(self.params["shape"]),
            n_classes,
        )
        return _render(
            np.random.default_rng([self.params["seed"], index, 2]),
            body,
            structures,
            _levels(self.params["seed"], n_classes, n_modalities),
            self.params["noise"],
        )

    @_ClassOrInstanceMethod
    def write(self, root, layout="synthetic", *, n_test=0):
        """Write the phantoms into ``root`` in a release layout or their own.

        Callable on an instance, or on the class with the constructor's parameters:
        ``SyntheticPhantoms.write(root, n_cases=18, seed=0)``.

        Parameters
        ----------
        root : str or path
            Destination folder (created); the release folders go directly inside it.
        layout : {"synthetic", "brats2020", "acdc", "flare2021", "iseg2017", "atlas2023",\
 "promise12"}, default="synthetic"
            Which layout to write. ACDC writes ``ceil(n_cases / 2)`` patients with an ED and
            an ES frame each.
        n_test : int, default=0
            Extra cases without labels in the release's unlabelled split (BraTS validation,
            ACDC testing, FLARE validation, iSeg testing, PROMISE12 test, own ``imagesTs``;
            ATLAS has none).

        Returns
        -------
        Dataset
            The loader of the written layout, training split.

        Raises
        ------
        ValueError
            If ``layout`` is unknown, or ``n_classes``/``n_modalities`` were given and differ
            from the release's.
        """
        if layout not in _WRITERS:
            raise ValueError(
                f"`layout` must be one of {', '.join(map(repr, _WRITERS))}; got {layout!r}."
            )
        check_scalar("n_test", n_test, integer=True, minimum=0)
        loader = _loader(layout)
        if loader is SyntheticPhantoms:
            n_classes, n_modalities = len(self.class_names), len(self.modalities)
        else:
            n_classes, n_modalities = len(loader.class_names), len(loader.modalities)
            for key, value in (("n_classes", n_classes), ("n_modalities", n_modalities)):
                given = self.params[key]
                if given is not None and given != value:
                    raise ValueError(
                        f"`{key}` must be {value} (or None) for the {layout} layout; "
                        f"got {given!r}."
                    )
        root = Path(root)
        root.mkdir(parents=True, exist_ok=True)
        kind = "ct" if loader.modality == "ct" else ("stripped" if layout in _STRIPPED else "mri")
        kind = "float" if layout == "synthetic" else kind

        def volumes(start, count):
            for index in range(start, start + count):
                image, label = self.generate(index, n_classes, n_modalities)
                spacing = self._spacing(index, layout)
                yield _to_units(image, label, kind), label, spacing

        n_cases = self.params["n_cases"]
        _WRITERS[layout](self, root, volumes(0, n_cases), volumes(n_cases, n_test))
        return loader(root, "train")


# -- the phantom itself ----------------------------------------------------------------------
@functools.lru_cache(maxsize=64)
def _upsampling(n, resolution):
    """(n, resolution) cubic-spline interpolation weights: ``zoom`` of the identity, per axis."""
    eye = np.eye(resolution, dtype=np.float32)
    return ndimage.zoom(eye, (n / resolution, 1), order=3, mode="nearest")[:n]


def _smooth_field(rng, shape, amplitude, resolution=4):
    """A smooth random field: white noise on a coarse grid, cubic-spline upsampled.

    The upsampling is separable, so it runs as three small matrix products instead of a 3D
    ``ndimage.zoom`` (same values, about 50x faster at 32³).
    """
    coarse = rng.standard_normal((resolution,) * 3).astype(np.float32) * np.float32(amplitude)
    bx, by, bz = (_upsampling(n, resolution) for n in shape)
    return np.einsum("abc,xa,yb,zc->xyz", coarse, bx, by, bz, optimize=True)


def _ellipsoid(rng, grid, shape, centre, radii, roughness):
    x, y, z = grid
    f = 1 - (((x - centre[0]) / radii[0]) ** 2 + ((y - centre[1]) / radii[1]) ** 2)
    f = f - ((z - centre[2]) / radii[2]) ** 2
    return f + _smooth_field(rng, shape, roughness)


def _anatomy(rng, shape, n_classes):
    """Implicit functions (>0 inside) of the body and of structures 1..n_classes-1."""
    grid = np.meshgrid(
        *(np.linspace(-1, 1, n, dtype=np.float32) for n in shape), indexing="ij", sparse=True
    )
    body = _ellipsoid(
        rng, grid, shape, rng.uniform(-0.05, 0.05, 3), rng.uniform(0.78, 0.92, 3), 0.12
    )
    structures = []
    centre, radii = rng.uniform(-0.12, 0.12, 3), rng.uniform(0.45, 0.6, 3)
    for k in range(1, n_classes):
        if k > 1 and k <= 3:  # nested inside the previous structure
            child = radii * rng.uniform(0.6, 0.75, 3)
            centre = centre + rng.uniform(-0.35, 0.35, 3) * (radii - child)
            radii = child
        elif k > 3:  # a separate organ-like blob somewhere in the body
            centre, radii = rng.uniform(-0.5, 0.5, 3), rng.uniform(0.14, 0.22, 3)
        f = _ellipsoid(rng, grid, shape, centre, radii, 0.18)
        parent = structures[-1] if 1 < k <= 3 else body
        structures.append(np.minimum(f, parent))
    return body, structures


def _levels(seed, n_classes, n_modalities):
    """Intensity of (body tissue, class 1, ..., class K-1) in each modality, shape (M, K)."""
    rng = np.random.default_rng([seed, 7919])
    base = np.linspace(0.3, 1.0, n_classes, dtype=np.float32)
    rows = [
        rng.permutation(base) + rng.uniform(-0.04, 0.04, n_classes) for _ in range(n_modalities)
    ]
    return np.asarray(rows, dtype=np.float32)


def _render(rng, body, structures, levels, noise):
    """Painter's partial-volume mix of the levels, texture, bias field and noise."""
    width = np.float32(0.12)  # partial-volume width in implicit-function units
    occupancy = [special.expit(f / width) for f in (body, *structures)]
    label = np.zeros(body.shape, dtype=np.uint8)
    for k, f in enumerate(structures, 1):
        label[f > 0] = k
    shape = body.shape
    bias = np.exp(_smooth_field(rng, shape, 0.15, resolution=3))
    channels = []
    for row in levels * rng.uniform(0.9, 1.1, (len(levels), 1)).astype(np.float32):
        image = occupancy[0] * row[0]
        for occ, level in zip(occupancy[1:], row[1:], strict=True):
            image = image * (1 - occ) + occ * level
        image = image + _smooth_field(rng, shape, 0.03, resolution=6) * occupancy[0]
        image = image * bias + rng.normal(0, noise, shape).astype(np.float32)
        channels.append(np.where(body > 0, np.maximum(image, 1e-3), 0))
    return np.stack(channels, axis=-1).astype(np.float32), label


def _to_units(image, label, kind):
    """Scale [0, 1] intensities to a release's stored int16 values ("float": unchanged)."""
    if kind == "float":
        return image
    inside = label.astype(bool) | (image[..., 0] > 0)
    if kind == "ct":  # Hounsfield units: air outside, soft tissue -100..200 inside
        hu = np.where(inside[..., None], -100 + 300 * image, -1000)
        return np.rint(hu).astype(np.int16)
    if kind == "mri":  # not skull-stripped: dim noisy background instead of exact zeros
        background = np.abs(np.random.default_rng(label.size).normal(0.06, 0.03, image.shape))
        image = np.where(inside[..., None], image, background)
    return np.rint(np.clip(image * 800, 0, 1000)).astype(np.int16)


# -- writers, one per layout -------------------------------------------------------------------
def _affine(spacing, flip_x=False, shape_x=0):
    affine = np.diag([*spacing, 1.0])
    if flip_x:  # stored x-flipped (LAS): the same world, so a canonical reader undoes it
        affine[0, 0] = -spacing[0]
        affine[0, 3] = spacing[0] * (shape_x - 1)
    return affine


def _nifti(path, array, spacing, flip_x=False):
    import nibabel as nib

    if flip_x:
        array = array[::-1]
    path.parent.mkdir(parents=True, exist_ok=True)
    nib.Nifti1Image(
        np.ascontiguousarray(array), _affine(spacing, flip_x, array.shape[0])
    ).to_filename(path)


def _stored(layout, label):
    return np.asarray(_loader(layout).label_values, dtype=np.uint8)[label]


def _loader(layout):
    """The loader class of a layout, from the registry (imported here: it imports us)."""
    from speccal.datasets._registry import LOADERS

    return LOADERS[layout]


def _write_synthetic(phantoms, root, train, test):
    meta = {
        "name": "speccal SyntheticPhantoms",
        "class_names": list(phantoms.class_names),
        "modalities": list(phantoms.modalities),
        "generator": phantoms.params,
    }
    (root / "dataset.json").write_text(json.dumps(meta, indent=2) + "\n")
    for folder, volumes in (("imagesTr", train), ("imagesTs", test)):
        (root / folder).mkdir(exist_ok=True)
        for i, (image, label, spacing) in enumerate(
            volumes, 0 if folder == "imagesTr" else phantoms.params["n_cases"]
        ):
            _nifti(root / folder / f"phantom_{i:03d}.nii.gz", image, spacing)
            if folder == "imagesTr":
                _nifti(root / "labelsTr" / f"phantom_{i:03d}.nii.gz", label, spacing)


def _write_brats(phantoms, root, train, test):
    for split, volumes in (("Training", train), ("Validation", test)):
        folder = root / f"MICCAI_BraTS2020_{split}Data"
        folder.mkdir(exist_ok=True)
        ids = []
        for i, (image, label, spacing) in enumerate(volumes, 1):
            case = f"BraTS20_{split}_{i:03d}"
            ids.append(case)
            for m, modality in enumerate(BraTS2020.modalities):
                _nifti(folder / case / f"{case}_{modality}.nii.gz", image[..., m], spacing)
            if split == "Training":
                _nifti(folder / case / f"{case}_seg.nii.gz", _stored("brats2020", label), spacing)
        if split == "Training":
            rows = ["Grade,BraTS_2019_subject_ID,BraTS_2020_subject_ID"]
            rows += [f"{'HGG' if i % 3 else 'LGG'},,{c}" for i, c in enumerate(ids)]
            (folder / "name_mapping.csv").write_text("\n".join(rows) + "\n")
            rows = ["Brats20ID,Age,Survival_days,Extent_of_Resection"]
            rows += [f"{c},{50 + i},{300 + 10 * i},GTR" for i, c in enumerate(ids)]
            (folder / "survival_info.csv").write_text("\n".join(rows) + "\n")


def _write_acdc(phantoms, root, train, test):
    groups = ("NOR", "MINF", "DCM", "HCM", "RV")
    for split, volumes, first in (("training", train, 1), ("testing", test, 101)):
        volumes = list(volumes)
        (root / "database" / split).mkdir(parents=True, exist_ok=True)
        for p in range(0, len(volumes), 2):
            number = first + p // 2
            patient = root / "database" / split / f"patient{number:03d}"
            ed, es = volumes[p], volumes[min(p + 1, len(volumes) - 1)]
            frames = {"ED": 1, "ES": 8 + number % 7}
            info = {
                "ED": frames["ED"],
                "ES": frames["ES"],
                "Group": groups[number % 5],
                "Height": 170.0,
                "NbFrame": frames["ES"] + 4,
                "Weight": 70.0,
            }
            patient.mkdir(parents=True, exist_ok=True)
            (patient / "Info.cfg").write_text("".join(f"{k}: {v}\n" for k, v in info.items()))
            cine = [
                es[0][..., 0] if t == frames["ES"] else ed[0][..., 0]
                for t in range(1, info["NbFrame"] + 1)
            ]
            _nifti(patient / f"{patient.name}_4d.nii.gz", np.stack(cine, axis=-1), ed[2])
            for phase, (image, label, spacing) in (("ED", ed), ("ES", es)):
                stem = f"{patient.name}_frame{frames[phase]:02d}"
                _nifti(patient / f"{stem}.nii.gz", image[..., 0], spacing)
                if split == "training":
                    _nifti(patient / f"{stem}_gt.nii.gz", label, spacing)


def _write_flare(phantoms, root, train, test):
    for i, (image, label, spacing) in enumerate(train):
        flip = i % 2 == 1  # orientation varies by source in the release
        _nifti(root / "TrainingImg" / f"train_{i:03d}_0000.nii.gz", image[..., 0], spacing, flip)
        _nifti(root / "TrainingMask" / f"train_{i:03d}.nii.gz", label, spacing, flip)
    for i, (image, _, spacing) in enumerate(test):
        _nifti(root / "ValidationImg" / f"validation_{i:03d}_0000.nii.gz", image[..., 0], spacing)


def _write_iseg(phantoms, root, train, test):
    import nibabel as nib

    for split, volumes, first in (("Training", train, 1), ("Testing", test, None)):
        folder = root / f"iSeg-2017-{split}"
        folder.mkdir(exist_ok=True)
        first = first or phantoms.params["n_cases"] + 1
        for n, (image, label, spacing) in enumerate(volumes, first):
            arrays = {"T1": image[..., 0], "T2": image[..., 1]}
            if split == "Training":
                arrays["label"] = _stored("iseg2017", label)
            for kind, array in arrays.items():
                # nibabel reads Analyze as LAS: store x reversed so the RAS+ view is the phantom
                img = nib.AnalyzeImage(
                    np.ascontiguousarray(array[::-1, ..., None]), np.diag([*spacing, 1.0])
                )
                img.to_filename(folder / f"subject-{n}-{kind}.hdr")


def _write_atlas(phantoms, root, train, test):
    folder = root / "atlas-train-dataset-1.0.1" / "train"
    for i, (image, label, spacing) in enumerate(train):
        _nifti(folder / "imagesTr" / f"im{i}.nii.gz", image[..., 0], spacing)
        _nifti(folder / "labelsTr" / f"lb{i}.nii.gz", label, spacing)
    meta = {
        "labels": {"0": "background", "1": "liver", "2": "tumour"},
        "numTraining": phantoms.params["n_cases"],
        "modality": {"0": "MRI"},
    }
    (folder / "dataset.json").write_text(json.dumps(meta, indent=2) + "\n")


def _write_promise(phantoms, root, train, test):
    for split, volumes in (("training_data", train), ("test_data", test)):
        folder = root / split
        folder.mkdir(exist_ok=True)
        for i, (image, label, spacing) in enumerate(volumes):
            # MetaImage worlds are LPS: reverse x and y so the RAS+ view is the phantom
            write_metaimage(folder / f"Case{i:02d}.mhd", image[::-1, ::-1, :, 0], spacing)
            if split == "training_data":
                write_metaimage(
                    folder / f"Case{i:02d}_segmentation.mhd",
                    label[::-1, ::-1].astype(np.int8),
                    spacing,
                )


_WRITERS = {
    "brats2020": _write_brats,
    "acdc": _write_acdc,
    "flare2021": _write_flare,
    "iseg2017": _write_iseg,
    "atlas2023": _write_atlas,
    "promise12": _write_promise,
    "synthetic": _write_synthetic,
}
