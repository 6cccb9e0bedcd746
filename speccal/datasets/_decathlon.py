"""Loaders of users' own data in the two layouts the field keeps it in.

:class:`MedicalDecathlon` reads the Medical Segmentation Decathlon layout (``dataset.json``
listing ``imagesTr``/``labelsTr`` pairs, 4-D images with the channels last) and
:class:`NNUNetRaw` the nnU-Net v2 raw layout (one file per channel, ``<case>_<XXXX><ending>``).
Classes, channels and the file list come from ``dataset.json``; every case is a lazy
:class:`~speccal.datasets.Case` read by the shared :class:`~speccal.datasets.Dataset` code, so
spacing, affine, reorientation and the shape checks are those of the six releases.
"""

import json
import re
from pathlib import Path

from speccal._utils import fill_doc
from speccal.datasets._base import Dataset
from speccal.datasets._io import NIFTI_SUFFIXES, find_nifti, strip_nifti_suffix

METADATA_FILE = "dataset.json"

_COMMON = """Parameters
    ----------
    root : str or path
        The folder holding ``dataset.json`` (e.g. ``Task01_BrainTumour`` or
        ``nnUNet_raw/Dataset001_BrainTumour``).
    split : {"train", "test"}, default="train"
        ``"train"``: the labelled cases; ``"test"``: {test}, without labels.

    Attributes
    ----------
    metadata : dict
        ``dataset.json`` as read.
    class_names : tuple of str
        From ``labels``, ordered by label value (background first).
    label_values : tuple of int
        Stored value of each class; labels are remapped to ``0..n_classes-1``.
    modalities : tuple of str
        Channel names, in channel order.
    modality : "mri", "ct" or tuple of str
        Normalisation used by :func:`~speccal.datasets.preprocess`: ``"ct"`` when every
        channel is named CT (any case), ``"mri"`` when none is, else one entry per channel.
    root : pathlib.Path
        The folder holding ``dataset.json``.
    cases : list of Case
        Lazy cases, sorted naturally by id.

    Raises
    ------
    FileNotFoundError
        If ``root`` has no ``dataset.json``, or a case misses a file (the message names it).
    ValueError
        If ``dataset.json`` is malformed (the message names the file and the entry), or
        ``split`` is unknown.

    Notes
    -----
    Channel normalisation follows the channel names as nnU-Net does: a channel named ``CT``
    (case-insensitive) is clipped to [-1000, 400] HU and z-scored over all voxels, as speccal
    does for FLARE 2021 (nnU-Net itself clips to foreground percentiles and uses dataset-wide
    statistics); every other channel is z-scored over its non-zero voxels, as for MRI.
    Nothing is ever written into ``root``.
"""


class _DatasetJson(Dataset):
    """Shared part of the two layouts: ``dataset.json`` holds the classes and channels."""

    splits = {"train": (), "test": ()}

    def __init__(self, root, split="train"):
        folder = Path(root).expanduser()
        if not folder.is_dir():
            raise FileNotFoundError(f"`root` must be an existing folder; got {str(root)!r}.")
        self.metadata_file = folder / METADATA_FILE
        if not self.metadata_file.is_file():
            raise FileNotFoundError(
                f"`root` must hold the {type(self).__name__} layout ({self.layout}); found no "
                f"{METADATA_FILE} in {str(folder)!r}."
            )
        self.metadata = _read_json(self.metadata_file)
        self.class_names, self.label_values = self._labels()
        self.modalities = self._channels()
        self.modality = _normalisation(self.modalities)
        super().__init__(folder, split)

    def _locate(self, root, parts):
        return root

    def _field(self, key, kind):
        if key not in self.metadata:
            raise ValueError(f"{str(self.metadata_file)!r} must have a {key!r} entry.")
        value = self.metadata[key]
        if not isinstance(value, kind):
            raise ValueError(
                f"{str(self.metadata_file)!r}: {key!r} must be a {kind.__name__}; got {value!r}."
            )
        return value

    def _numbered(self, key, mapping):
        """Values of a ``{"0": ..., "1": ...}`` mapping, checking its keys are 0..n-1."""
        try:
            order = sorted(mapping, key=int)
        except (TypeError, ValueError):
            order = None
        if order is None or [int(k) for k in order] != list(range(len(mapping))):
            raise ValueError(
                f"{str(self.metadata_file)!r}: {key!r} keys must be the channel numbers "
                f'"0", "1", ...; got {list(mapping)}.'
            )
        return tuple(str(mapping[k]) for k in order)

    def _check_classes(self, values, names):
        if len(set(values)) != len(values):
            raise ValueError(
                f"{str(self.metadata_file)!r}: 'labels' must give each class its own value; "
                f"got {dict(zip(names, values, strict=True))}."
            )
        if 0 not in values:
            raise ValueError(
                f"{str(self.metadata_file)!r}: 'labels' must hold the background as 0; got "
                f"{dict(zip(names, values, strict=True))}."
            )
        if min(values) < 0 or max(values) > 255:
            raise ValueError(
                f"{str(self.metadata_file)!r}: label values must be in [0, 255]; got "
                f"{sorted(values)}."
            )
        pairs = sorted(zip(values, names, strict=True))
        return tuple(name for _, name in pairs), tuple(value for value, _ in pairs)


class MedicalDecathlon(_DatasetJson):
    """A dataset in the Medical Segmentation Decathlon layout.

    Layout::

        root/
        ├── dataset.json
        ├── imagesTr/x.nii.gz     (X, Y, Z) or (X, Y, Z, n_channels)
        ├── labelsTr/x.nii.gz     (X, Y, Z)
        └── imagesTs/y.nii.gz     (optional)

    with ``dataset.json`` holding ``"modality"`` (``{"0": "FLAIR", "1": "T1w", ...}``),
    ``"labels"`` (``{"0": "background", "1": "edema", ...}``) and ``"training"``
    (``[{"image": "./imagesTr/x.nii.gz", "label": "./labelsTr/x.nii.gz"}, ...]``); the
    optional ``"test"`` lists image paths. Case ids are the image file names without the
    NIfTI suffix. A listed ``.nii.gz`` found only as ``.nii`` (or the reverse) is accepted.

    {params}
    Examples
    --------
    >>> import json, pathlib, tempfile
    >>> import nibabel as nib, numpy as np
    >>> from speccal.datasets import MedicalDecathlon
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> for sub in ("imagesTr", "labelsTr"):
    ...     (root / sub).mkdir()
    >>> nib.save(nib.Nifti1Image(np.ones((6, 7, 5, 2), np.float32), np.eye(4)),
    ...          root / "imagesTr" / "case_1.nii.gz")
    >>> nib.save(nib.Nifti1Image(np.zeros((6, 7, 5), np.uint8), np.eye(4)),
    ...          root / "labelsTr" / "case_1.nii.gz")
    >>> _ = (root / "dataset.json").write_text(json.dumps({
    ...     "modality": {"0": "T2", "1": "ADC"}, "labels": {"0": "background", "1": "prostate"},
    ...     "training": [{"image": "./imagesTr/case_1.nii.gz",
    ...                   "label": "./labelsTr/case_1.nii.gz"}]}))
    >>> data = MedicalDecathlon(root)
    >>> data.case_ids, data.modalities, data.class_names, data[0].image.shape
    (['case_1'], ('T2', 'ADC'), ('background', 'prostate'), (6, 7, 5, 2))
    """

    name = "msd"
    layout = 'dataset.json listing {"image": "./imagesTr/x.nii.gz", "label": ...} pairs'

    def _labels(self):
        labels = self._field("labels", dict)
        try:
            values = [int(k) for k in labels]
        except ValueError:
            raise ValueError(
                f"{str(self.metadata_file)!r}: 'labels' keys must be label values "
                f'("0", "1", ...) as in the Decathlon; got {list(labels)} (an nnU-Net '
                "dataset.json? use NNUNetRaw / --dataset nnunet)."
            ) from None
        return self._check_classes(values, [str(v) for v in labels.values()])

    def _channels(self):
        return self._numbered("modality", self._field("modality", dict))

    def _find_cases(self, folder):
        if self.split == "train":
            entries = self._field("training", list)
        else:
            entries = self.metadata.get("test", [])
        cases, seen = [], {}
        for index, entry in enumerate(entries):
            image, label = self._entry(index, entry)
            case_id = strip_nifti_suffix(image.name)
            if case_id in seen:
                raise ValueError(
                    f"{str(self.metadata_file)!r}: case {case_id!r} is listed twice "
                    f"({self.split} entries {seen[case_id]} and {index})."
                )
            seen[case_id] = index
            cases.append(self._case(case_id, [image], label))
        return cases

    def _entry(self, index, entry):
        """``(image, label)`` paths of one listed case; the label is None for test."""
        where = f"{str(self.metadata_file)!r}: {'training' if self.split == 'train' else 'test'}"
        if self.split == "train":
            if not isinstance(entry, dict) or not {"image", "label"} <= set(entry):
                raise ValueError(
                    f'{where}[{index}] must be {{"image": ..., "label": ...}}; got {entry!r}.'
                )
            paths = [entry["image"], entry["label"]]
        else:
            image = entry.get("image") if isinstance(entry, dict) else entry
            paths = [image]
        if not all(isinstance(p, str) and p for p in paths):
            raise ValueError(f"{where}[{index}] must give file paths as strings; got {entry!r}.")
        found = [self._listed(p) for p in paths]
        return found[0], (found[1] if len(found) > 1 else None)

    def _listed(self, relative):
        path = self.root / relative
        if path.is_file():
            return path
        stem = strip_nifti_suffix(path.name)
        if stem != path.name:  # the other NIfTI suffix (a decompressed copy)
            try:
                return find_nifti(path.parent, stem)
            except FileNotFoundError:
                pass
        raise FileNotFoundError(
            f"missing file {str(path)!r}, listed in {str(self.metadata_file)!r}."
        )


class NNUNetRaw(_DatasetJson):
    """A dataset in the nnU-Net v2 raw layout.

    Layout::

        root/
        ├── dataset.json
        ├── imagesTr/<case>_0000.nii.gz, <case>_0001.nii.gz, ...   one file per channel
        ├── labelsTr/<case>.nii.gz
        └── imagesTs/<case>_0000.nii.gz, ...                        (optional)

    with ``dataset.json`` holding ``"channel_names"`` (``{"0": "T2", "1": "ADC"}``; the v1
    name ``"modality"`` is accepted too), ``"labels"`` (name to value, ``{"background": 0,
    "tumour": 1}``), ``"file_ending"`` (``".nii.gz"`` or ``".nii"``) and optionally
    ``"numTraining"``, checked against the cases found. Cases are the ``<case>_0000`` files
    of ``imagesTr``, as nnU-Net finds them.

    Region-based labels (a list of values, ``"whole tumour": [1, 2, 3]``) and nnU-Net's
    ``"ignore"`` label are refused: speccal trains one class per voxel on fully labelled
    volumes. A one-value list (``"tumour": [1]``) is read as that value.

    {params}
    Examples
    --------
    >>> import json, pathlib, tempfile
    >>> import nibabel as nib, numpy as np
    >>> from speccal.datasets import NNUNetRaw
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> for sub in ("imagesTr", "labelsTr"):
    ...     (root / sub).mkdir()
    >>> for name in ("imagesTr/liver_007_0000.nii.gz", "labelsTr/liver_007.nii.gz"):
    ...     nib.save(nib.Nifti1Image(np.zeros((6, 7, 5), np.int16), np.eye(4)), root / name)
    >>> _ = (root / "dataset.json").write_text(json.dumps({
    ...     "channel_names": {"0": "CT"}, "labels": {"background": 0, "liver": 1},
    ...     "numTraining": 1, "file_ending": ".nii.gz"}))
    >>> data = NNUNetRaw(root)
    >>> data.case_ids, data.modality, data[0].image.shape
    (['liver_007'], 'ct', (6, 7, 5, 1))
    """

    name = "nnunet"
    layout = "dataset.json + imagesTr/<case>_0000<file_ending> + labelsTr/<case><file_ending>"

    def __init__(self, root, split="train"):
        super().__init__(root, split)
        expected = self.metadata.get("numTraining")
        if split == "train" and isinstance(expected, int) and expected != len(self.cases):
            raise ValueError(
                f"{str(self.metadata_file)!r} says numTraining = {expected} but "
                f"{str(self.root / 'imagesTr')!r} holds {len(self.cases)} cases "
                f"({', '.join(self.case_ids)})."
            )

    def _labels(self):
        labels = self._field("labels", dict)
        if "ignore" in labels:
            raise ValueError(
                f"{str(self.metadata_file)!r}: nnU-Net's 'ignore' label (sparse annotation) "
                "is not supported; speccal trains on fully labelled volumes."
            )
        names, values = [], []
        for name, value in labels.items():
            if isinstance(value, list) and len(value) == 1:
                value = value[0]
            if isinstance(value, list):
                raise ValueError(
                    f"{str(self.metadata_file)!r}: region-based label {name!r}: {value} is not "
                    "supported; speccal trains one class per voxel, so each label must be one "
                    "integer value (name -> int)."
                )
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValueError(
                    f"{str(self.metadata_file)!r}: 'labels' must map names to integer values "
                    f'(nnU-Net v2, {{"background": 0, ...}}); got {name!r}: {value!r}.'
                )
            names.append(str(name))
            values.append(value)
        return self._check_classes(values, names)

    def _channels(self):
        key = "channel_names" if "channel_names" in self.metadata else "modality"
        return self._numbered(key, self._field(key, dict))

    @property
    def file_ending(self):
        """str: ``".nii.gz"`` or ``".nii"``, from ``dataset.json``."""
        ending = self._field("file_ending", str)
        if ending not in NIFTI_SUFFIXES:
            raise ValueError(
                f"{str(self.metadata_file)!r}: 'file_ending' must be one of "
                f"{', '.join(map(repr, NIFTI_SUFFIXES))} (speccal reads NIfTI); got {ending!r}."
            )
        return ending

    def _find_cases(self, folder):
        ending = self.file_ending
        images = folder / ("imagesTr" if self.split == "train" else "imagesTs")
        if not images.is_dir():
            if self.split == "train":
                raise FileNotFoundError(f"missing folder {str(images)!r} ({self.layout}).")
            return []
        pattern = re.compile(rf"(.+)_(\d{{4}}){re.escape(ending)}")
        channels = {}
        for path in sorted(images.iterdir()):
            match = pattern.fullmatch(path.name)
            if match and not path.name.startswith("."):  # not macOS "._x" companions
                channels.setdefault(match.group(1), {})[int(match.group(2))] = path
        labels = folder / "labelsTr"
        if self.split == "train" and labels.is_dir():
            self._check_orphan_labels(labels, ending, channels, images)
        return [self._nnunet_case(images, c, files, ending) for c, files in channels.items()]

    def _nnunet_case(self, images, case_id, files, ending):
        n_channels = len(self.modalities)
        extra = sorted(set(files) - set(range(n_channels)))
        if extra:
            raise ValueError(
                f"case {case_id!r}: {str(files[extra[0]])!r} is channel {extra[0]}, but "
                f"{str(self.metadata_file)!r} lists {n_channels} channel(s) {self.modalities}."
            )
        paths = [files.get(c, images / f"{case_id}_{c:04d}{ending}") for c in range(n_channels)]
        label = self.root / "labelsTr" / f"{case_id}{ending}" if self.split == "train" else None
        return self._case(case_id, paths, label)

    def _check_orphan_labels(self, labels, ending, channels, images):
        for path in sorted(labels.iterdir()):
            hidden = path.name.startswith(".")
            if (
                not hidden
                and path.name.endswith(ending)
                and path.name[: -len(ending)] not in channels
            ):
                case_id = path.name[: -len(ending)]
                raise FileNotFoundError(
                    f"case {case_id!r}: label {str(path)!r} has no image; missing file "
                    f"{str(images / f'{case_id}_0000{ending}')!r}."
                )


def _read_json(path):
    try:
        metadata = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"could not read {str(path)!r} (not valid JSON?): {exc}") from exc
    if not isinstance(metadata, dict):
        raise ValueError(f"{str(path)!r} must hold a JSON object; got {type(metadata).__name__}.")
    return metadata


def _normalisation(channel_names):
    kinds = tuple("ct" if name.casefold() == "ct" else "mri" for name in channel_names)
    return kinds[0] if len(set(kinds)) == 1 else kinds


for _cls, _test in ((MedicalDecathlon, 'the "test" images'), (NNUNetRaw, "imagesTs")):
    fill_doc(params=_COMMON.replace("{test}", _test))(_cls)
