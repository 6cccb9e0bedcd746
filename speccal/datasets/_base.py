"""The base loader every dataset shares: locating the release, lazy cases, label remapping."""

import dataclasses
from pathlib import Path

import numpy as np

from speccal.datasets._io import read_header, read_volume


@dataclasses.dataclass(frozen=True)
class Case:
    """One case of a dataset, read lazily: nothing is loaded until an attribute is used.

    Each access to :attr:`image` or :attr:`label` reads the files again; keep the array (or
    use :class:`~speccal.datasets.PreprocessedDataset`, which caches) when you need it twice.

    Attributes
    ----------
    case_id : str
        Identifier, unique within a split (PROMISE12 reuses ids across splits: key cases by
        :attr:`key`).
    split : str
        The split the case belongs to.
    image_files : tuple of pathlib.Path
        One file per modality (or one 4D file), in :attr:`Dataset.modalities` order.
    label_file : pathlib.Path or None
        Segmentation, or ``None`` where the split has no labels.
    group : str
        Cases of one group (an ACDC patient's ED and ES frames) stay in one split.
    dataset : Dataset
        The loader that reads the files.

    Examples
    --------
    >>> from speccal.datasets import SyntheticPhantoms
    >>> case = SyntheticPhantoms(n_cases=1, shape=(8, 8, 6))[0]
    >>> case.case_id, case.key, case.spacing, case.label.dtype.name
    ('phantom_000', ('train', 'phantom_000'), (1.0, 1.0, 2.0), 'uint8')
    """

    case_id: str
    split: str
    image_files: tuple
    label_file: Path | None
    group: str
    dataset: object = dataclasses.field(repr=False, compare=False)

    @property
    def key(self):
        """``(split, case_id)``, unique over the whole dataset."""
        return (self.split, self.case_id)

    @property
    def image(self):
        """ndarray of shape (X, Y, Z, n_modalities), float32: the image, canonical RAS+."""
        return self.dataset.read_image(self)

    @property
    def label(self):
        """ndarray of shape (X, Y, Z), uint8 in 0..n_classes-1, or ``None`` (no label)."""
        return self.dataset.read_label(self)

    @property
    def affine(self):
        """ndarray of shape (4, 4): voxel to RAS world (mm), from the header only."""
        return self.dataset.read_header(self)[0]

    @property
    def spacing(self):
        """tuple of 3 float: voxel size (mm) along each array axis, from the header only."""
        return self.dataset.read_header(self)[1]


def _check_finite(array, where, what):
    """Refuse NaN or infinite values, naming where they are (``where``) and what is expected."""
    if array.dtype.kind not in "fc":
        return
    bad = ~np.isfinite(array)
    if bad.any():
        first = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(
            f"{where} holds {int(bad.sum())} NaN or infinite values (first at voxel {first}); "
            f"speccal needs finite {what}."
        )


class Dataset:
    """Base of the dataset loaders: a sequence of lazy :class:`Case` objects.

    Subclasses set the class attributes and implement :meth:`_find_cases`; reading, label
    remapping and the checks live here.

    Parameters
    ----------
    root : str or path
        The release folder, or a folder containing it.
    split : str, default="train"
        One of :attr:`splits`.

    Attributes
    ----------
    name : str
        Registry name (:func:`~speccal.datasets.get_dataset`).
    splits : dict
        Split name -> folder path relative to the release, as tuple of parts.
    class_names : tuple of str
        One name per class, background first.
    label_values : tuple of int
        Stored label value of each class; files are remapped to ``0..n_classes-1``.
    modalities : tuple of str
    modality : {"mri", "ct"}
        Intensity normalisation used by preprocessing.
    layout : str
        What the release looks like, quoted when ``root`` does not hold it.
    source : pathlib.Path
        ``root`` as given.
    root : pathlib.Path
        The folder of the requested split.
    cases : list of Case

    Examples
    --------
    >>> import tempfile
    >>> from speccal.datasets import ATLAS2023, SyntheticPhantoms
    >>> root = tempfile.mkdtemp()
    >>> _ = SyntheticPhantoms(n_cases=3, shape=(8, 8, 6)).write(root, layout="atlas2023")
    >>> data = ATLAS2023(root)
    >>> len(data), data.case_ids, data.class_names
    (3, ['im0', 'im1', 'im2'], ('background', 'liver', 'tumour'))
    """

    name = ""
    splits = {}
    class_names = ()
    label_values = ()
    modalities = ()
    modality = "mri"
    layout = ""

    def __init__(self, root, split="train"):
        if split not in self.splits:
            raise ValueError(
                f"`split` must be one of {', '.join(map(repr, self.splits))} for "
                f"{type(self).__name__}; got {split!r}."
            )
        self.split = split
        self.source = Path(root).expanduser()
        self.root = self._locate(Path(root).expanduser(), self.splits[split])
        self.cases = sorted(self._find_cases(self.root), key=lambda c: _natural(c.case_id))
        if not self.cases:
            raise FileNotFoundError(
                f"no {type(self).__name__} cases found in {str(self.root)!r}; expected "
                f"{self.layout}."
            )

    # -- sequence protocol -------------------------------------------------------------
    def __len__(self):
        return len(self.cases)

    def __getitem__(self, index):
        if isinstance(index, str):
            for case in self.cases:
                if case.case_id == index:
                    return case
            raise KeyError(f"no case {index!r} in {type(self).__name__} split {self.split!r}.")
        return self.cases[index]

    def __iter__(self):
        return iter(self.cases)

    def __repr__(self):
        return (
            f"{type(self).__name__}(root={self.root and str(self.root)!r}, split={self.split!r}, "
            f"n_cases={len(self)})"
        )

    @property
    def n_classes(self):
        """int: number of classes, background included."""
        return len(self.class_names)

    @property
    def case_ids(self):
        """list of str: the case ids in order."""
        return [case.case_id for case in self.cases]

    # -- locating the release ----------------------------------------------------------
    def _locate(self, root, parts):
        if not root.is_dir():
            raise FileNotFoundError(f"`root` must be an existing folder; got {str(root)!r}.")
        candidates = [root.joinpath(*parts[i:]) for i in range(len(parts))]
        candidates += [child.joinpath(*parts) for child in sorted(root.iterdir())]
        known = {p for rel in self.splits.values() for p in rel}
        if root.name in known:  # root is the folder of another split (or a level of it)
            for level in (root.parent, root.parent.parent):
                candidates += [level.joinpath(*parts[i:]) for i in range(len(parts))]
        if self.split == "train":  # last resort: a renamed copy of the training folder
            candidates.append(root)
        for candidate in candidates:
            if candidate.is_dir() and self._looks_like_split(candidate):
                return candidate
        raise FileNotFoundError(
            f"`root` must hold the {type(self).__name__} release ({self.layout}); found no "
            f"{'/'.join(parts) or 'such'} folder with cases under {str(root)!r}."
        )

    def _looks_like_split(self, folder):
        try:
            return bool(self._find_cases(folder))
        except FileNotFoundError:
            return True  # the layout is there but a file is missing: report it later

    def _find_cases(self, folder):
        """Return the :class:`Case` objects of ``folder`` (subclasses)."""
        raise NotImplementedError

    def _case(self, case_id, image_files, label_file=None, group=None, companions=()):
        files = (*image_files, label_file, *companions)
        missing = [p for p in files if p is not None and not p.is_file()]
        if missing:
            raise FileNotFoundError(f"case {case_id!r}: missing file {str(missing[0])!r}.")
        return Case(
            case_id=case_id,
            split=self.split,
            image_files=tuple(image_files),
            label_file=label_file,
            group=group or case_id,
            dataset=self,
        )

    # -- reading -----------------------------------------------------------------------
    def read_header(self, case):
        """``(affine, spacing, shape)`` of a case from its first image header."""
        return read_header(case.image_files[0])

    def read_image(self, case):
        """The image of ``case``: float32 of shape (X, Y, Z, n_modalities).

        Raises
        ------
        ValueError
            If a file is corrupt, holds NaN or infinite values, or the modalities disagree in
            shape (the message names the case and the file).
        """
        channels = []
        for path in case.image_files:
            array, _, _ = read_volume(path)
            array = array[..., None] if array.ndim == 3 else array
            if channels and array.shape[:3] != channels[0].shape[:3]:
                raise ValueError(
                    f"case {case.case_id!r}: image {str(path)!r} has shape {array.shape[:3]} "
                    f"but {str(case.image_files[0])!r} has {channels[0].shape[:3]}."
                )
            _check_finite(array, f"case {case.case_id!r}: image {str(path)!r}", "intensities")
            channels.append(array)
        image = np.concatenate(channels, axis=-1).astype(np.float32, copy=False)
        if image.shape[-1] != len(self.modalities):
            raise ValueError(
                f"case {case.case_id!r}: expected {len(self.modalities)} modalities "
                f"{self.modalities}; {str(case.image_files[0])!r} gives {image.shape[-1]}."
            )
        return image

    def read_label(self, case):
        """The label of ``case`` remapped to ``0..n_classes-1`` (uint8), or ``None``.

        Raises
        ------
        ValueError
            If the label holds NaN, infinite, non-integer values or values outside
            :attr:`label_values`, or its shape differs from the image's (the message names
            the case and the files).
        """
        if case.label_file is None:
            return None
        raw, _, _ = read_volume(case.label_file, label=True)
        if raw.ndim != 3:
            raise ValueError(f"label {str(case.label_file)!r} must be 3D; got shape {raw.shape}.")
        image_shape = self.read_header(case)[2]
        if raw.shape != image_shape:
            raise ValueError(
                f"case {case.case_id!r}: label {str(case.label_file)!r} has shape {raw.shape} "
                f"but image {str(case.image_files[0])!r} has {image_shape}."
            )
        return self.remap_label(raw, source=case.label_file, case_id=case.case_id)

    def remap_label(self, raw, source="label", *, case_id=None):
        """Map stored label values to class indices ``0..n_classes-1``.

        Parameters
        ----------
        raw : array-like of shape (X, Y, Z)
            Stored values (rounded with ``np.rint`` first).
        source : str or path, default="label"
            Named in the error message.
        case_id : str, optional
            Named in the error message.

        Returns
        -------
        ndarray of shape (X, Y, Z), uint8

        Raises
        ------
        ValueError
            If a value is NaN or infinite, not an integer (beyond 1e-3) or not in
            :attr:`label_values`.
        """
        where = f"label {str(source)!r}"
        where = where if case_id is None else f"case {case_id!r}: {where}"
        raw = np.asarray(raw)
        _check_finite(raw, where, "labels, integers in " + str(list(self.label_values)))
        values = np.rint(raw).astype(np.int64)
        if raw.dtype.kind == "f":
            fractional = np.abs(raw - values) > 1e-3
            if fractional.any():
                examples = np.unique(raw[fractional])[:5].tolist()
                raise ValueError(
                    f"{where} holds {int(fractional.sum())} non-integer values (e.g. "
                    f"{examples}); labels must be integers in {list(self.label_values)}."
                )
        table = np.asarray(self.label_values)
        index = np.clip(np.searchsorted(table, values), 0, len(table) - 1)
        bad = table[index] != values
        if bad.any():
            raise ValueError(
                f"{where} holds values {np.unique(values[bad]).tolist()} "
                f"outside the expected {list(self.label_values)}."
            )
        return index.astype(np.uint8)

    def region_masks(self, label):
        """Evaluation regions of a remapped label (e.g. BraTS WT/TC/ET), as boolean masks.

        Parameters
        ----------
        label : array-like of shape (X, Y, Z)
            Class indices ``0..n_classes-1``.

        Returns
        -------
        dict of str to ndarray of bool
            One mask per region of :attr:`regions` (class indices), or one per foreground
            class when the dataset defines no regions.
        """
        label = np.asarray(label)
        regions = getattr(self, "regions", None) or {
            name: (k,) for k, name in enumerate(self.class_names) if k
        }
        return {name: np.isin(label, classes) for name, classes in regions.items()}


def _natural(text):
    import re

    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", text)]
