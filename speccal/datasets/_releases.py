"""Loaders of the six datasets of the paper, each reading its release layout as downloaded.

Each class docstring states its release layout; every loader shares
:class:`~speccal.datasets._base.Dataset` and only says where its files are.
"""

import re

from speccal._utils import fill_doc
from speccal.datasets._base import Dataset
from speccal.datasets._io import find_nifti, strip_nifti_suffix

_PARAMS = """Parameters
    ----------
    root : str or path
        The release folder or a folder containing it.
    split : {splits}, default="train"
        Which part of the release. {nolabel}

    Attributes
    ----------
    root : pathlib.Path
        Folder of the split.
    cases : list of Case
        Lazy cases, sorted naturally by id.
    n_classes : int
    class_names, modalities : tuple of str

    Raises
    ------
    FileNotFoundError
        If ``root`` does not hold the layout (the message says what was expected), or a
        case misses a file (the message names it).
    ValueError
        If ``split`` is unknown.
"""


def _doc(cls):
    """Fill ``{params}``: the shared parameters with this release's splits."""
    splits = "{" + ", ".join(f'"{s}"' for s in cls.splits) + "}"
    params = _PARAMS.replace("{splits}", splits).replace("{nolabel}", cls._nolabel_doc)
    return fill_doc(params=params)(cls)


def _matching(folder, pattern):
    regex = re.compile(pattern)
    for path in sorted(folder.iterdir()):
        match = regex.fullmatch(path.name)
        if match:
            yield path, match


@_doc
class BraTS2020(Dataset):
    """BraTS 2020 brain tumours: four co-registered MR sequences, labels {0, 1, 2, 4}.

    Layout: ``MICCAI_BraTS2020_TrainingData/BraTS20_Training_NNN/BraTS20_Training_NNN_{t1,
    t1ce,t2,flair,seg}.nii[.gz]`` and ``MICCAI_BraTS2020_ValidationData/...`` (no ``seg``).
    Label 4 (enhancing tumour) becomes class 3. Case 355's label named
    ``W39_1998.09.19_Segm.nii`` in a widely used copy is accepted.

    {params}
    Notes
    -----
    Evaluation regions (:meth:`region_masks`, class indices after remapping): whole tumour
    WT = {1, 2, 3}, tumour core TC = {1, 3}, enhancing tumour ET = {3}.

    Examples
    --------
    >>> import tempfile
    >>> from speccal.datasets import BraTS2020, SyntheticPhantoms
    >>> root = tempfile.mkdtemp()
    >>> _ = SyntheticPhantoms(n_cases=2, shape=(16, 16, 12)).write(root, layout="brats2020")
    >>> data = BraTS2020(root)
    >>> len(data), data[0].image.shape, data.n_classes
    (2, (16, 16, 12, 4), 4)
    """

    name = "brats2020"
    splits = {
        "train": ("MICCAI_BraTS2020_TrainingData",),
        "val": ("MICCAI_BraTS2020_ValidationData",),
    }
    class_names = ("background", "necrosis", "edema", "enhancing")
    label_values = (0, 1, 2, 4)
    modalities = ("t1", "t1ce", "t2", "flair")
    regions = {"WT": (1, 2, 3), "TC": (1, 3), "ET": (3,)}
    layout = "MICCAI_BraTS2020_TrainingData/BraTS20_Training_NNN/BraTS20_Training_NNN_t1.nii.gz"
    _nolabel_doc = '"val" has no labels.'

    def _find_cases(self, folder):
        cases = []
        for case_dir, _ in _matching(folder, r"BraTS20_(Training|Validation)_\d{3}"):
            images = [find_nifti(case_dir, f"{case_dir.name}_{m}") for m in self.modalities]
            label = None
            if self.split == "train":
                quirk = sorted(case_dir.glob("*_Segm.nii*"))
                label = quirk[0] if quirk else find_nifti(case_dir, f"{case_dir.name}_seg")
            cases.append(self._case(case_dir.name, images, label))
        return cases


@_doc
class ACDC(Dataset):
    """ACDC cardiac cine MRI: the ED and ES frames of each patient are the cases.

    Layout: ``database/{training,testing}/patientNNN/`` with ``Info.cfg`` (``ED: 1``,
    ``ES: 12``, ...), ``patientNNN_frameYY.nii.gz`` and ``patientNNN_frameYY_gt.nii.gz``.
    Case ids are ``patientNNN_ED`` and ``patientNNN_ES``; both share the group
    ``patientNNN`` so splits keep them together.

    {params}
    Examples
    --------
    >>> import tempfile
    >>> from speccal.datasets import ACDC, SyntheticPhantoms
    >>> root = tempfile.mkdtemp()
    >>> _ = SyntheticPhantoms(n_cases=2, shape=(16, 16, 6)).write(root, layout="acdc")
    >>> ACDC(root).case_ids
    ['patient001_ED', 'patient001_ES']
    """

    name = "acdc"
    splits = {"train": ("database", "training"), "test": ("database", "testing")}
    class_names = ("background", "rv_cavity", "myocardium", "lv_cavity")
    label_values = (0, 1, 2, 3)
    modalities = ("cine",)
    layout = "database/training/patientNNN/{Info.cfg, patientNNN_frameYY[_gt].nii.gz}"
    _nolabel_doc = '"test" labels are used where present (older copies have none).'

    def _find_cases(self, folder):
        cases = []
        for patient, _ in _matching(folder, r"patient\d{3}"):
            frames = read_info_cfg(patient / "Info.cfg")
            for phase in ("ED", "ES"):
                stem = f"{patient.name}_frame{frames[phase]:02d}"
                image = find_nifti(patient, stem)
                try:
                    label = find_nifti(patient, f"{stem}_gt")
                except FileNotFoundError:
                    if self.split == "train":
                        raise
                    label = None
                cases.append(self._case(f"{patient.name}_{phase}", [image], label, patient.name))
        return cases


def read_info_cfg(path):
    """Parse an ACDC ``Info.cfg`` (``Key: value`` lines) into a dict.

    Parameters
    ----------
    path : path

    Returns
    -------
    dict
        Keys as written; ``ED``, ``ES`` and ``NbFrame`` as int, others as str.

    Raises
    ------
    FileNotFoundError
        If the file is missing.
    ValueError
        If a line is not ``Key: value`` or ``ED``/``ES`` are missing or not integers.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> from speccal.datasets import read_info_cfg
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "Info.cfg"
    >>> _ = path.write_text("ED: 1\\nES: 12\\nGroup: DCM\\n")
    >>> read_info_cfg(path)
    {'ED': 1, 'ES': 12, 'Group': 'DCM'}
    """
    if not path.is_file():
        raise FileNotFoundError(f"missing file {str(path)!r} (ACDC Info.cfg).")
    info = {}
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        key, sep, value = line.partition(":")
        if not sep:
            raise ValueError(f"{str(path)!r} line {number} must be 'Key: value'; got {line!r}.")
        info[key.strip()] = value.strip()
    for key in ("ED", "ES", "NbFrame"):
        if key in info:
            try:
                info[key] = int(float(info[key]))
            except ValueError:
                raise ValueError(
                    f"{str(path)!r}: {key} must be an integer frame; got {info[key]!r}."
                ) from None
    if "ED" not in info or "ES" not in info:
        raise ValueError(f"{str(path)!r} must give both 'ED' and 'ES' frames; got {info}.")
    return info


@_doc
class FLARE2021(Dataset):
    """FLARE 2021 abdominal CT: liver, kidneys, spleen, pancreas.

    Layout: ``TrainingImg/train_XXX_0000.nii.gz`` with ``TrainingMask/train_XXX.nii.gz``;
    ``ValidationImg/validation_XXX_0000.nii.gz`` and ``TestImg/test_XXX_0000.nii.gz`` (no
    masks). Intensities are Hounsfield units (preprocessing clips to [-1000, 400]); volumes
    from different sources are reoriented to canonical RAS+.

    {params}
    Examples
    --------
    >>> import tempfile
    >>> from speccal.datasets import FLARE2021, SyntheticPhantoms
    >>> root = tempfile.mkdtemp()
    >>> _ = SyntheticPhantoms(n_cases=2, shape=(16, 16, 12)).write(root, layout="flare2021")
    >>> FLARE2021(root).case_ids, FLARE2021(root).modality
    (['train_000', 'train_001'], 'ct')
    """

    name = "flare2021"
    splits = {"train": ("TrainingImg",), "val": ("ValidationImg",), "test": ("TestImg",)}
    class_names = ("background", "liver", "kidneys", "spleen", "pancreas")
    label_values = (0, 1, 2, 3, 4)
    modalities = ("ct",)
    modality = "ct"
    layout = "TrainingImg/train_XXX_0000.nii.gz + TrainingMask/train_XXX.nii.gz"
    _nolabel_doc = '"val" and "test" have no masks.'

    def _find_cases(self, folder):
        cases = []
        for path, match in _matching(folder, r"((train|validation|test)_\d{3})_0000\.nii(\.gz)?"):
            label = None
            if self.split == "train":
                label = find_nifti(folder.parent / "TrainingMask", match.group(1))
            cases.append(self._case(match.group(1), [path], label))
        return cases


@_doc
class ISeg2017(Dataset):
    """iSeg-2017 six-month infant brain MRI (T1, T2): CSF, grey and white matter.

    Layout: Analyze 7.5 pairs ``iSeg-2017-Training/subject-N-{T1,T2,label}.{hdr,img}``
    (N = 1-10) and ``iSeg-2017-Testing/subject-N-{T1,T2}.{hdr,img}``. Labels
    {0, 10, 150, 250} become {0, 1, 2, 3}; the trailing singleton axis is squeezed.
    Analyze has no orientation: nibabel's flipped-x (LAS) affine is reoriented to RAS+.

    {params}
    Examples
    --------
    >>> import tempfile
    >>> from speccal.datasets import ISeg2017, SyntheticPhantoms
    >>> root = tempfile.mkdtemp()
    >>> _ = SyntheticPhantoms(n_cases=2, shape=(16, 16, 12)).write(root, layout="iseg2017")
    >>> ISeg2017(root)[0].image.shape
    (16, 16, 12, 2)
    """

    name = "iseg2017"
    splits = {"train": ("iSeg-2017-Training",), "test": ("iSeg-2017-Testing",)}
    class_names = ("background", "csf", "grey_matter", "white_matter")
    label_values = (0, 10, 150, 250)
    modalities = ("T1", "T2")
    layout = "iSeg-2017-Training/subject-N-{T1,T2,label}.{hdr,img}"
    _nolabel_doc = '"test" has no labels.'

    def _find_cases(self, folder):
        cases = []
        for _, match in _matching(folder, r"subject-(\d+)-T1\.hdr"):
            stem = f"subject-{match.group(1)}"
            kinds = [*self.modalities, "label"] if self.split == "train" else self.modalities
            files = [folder / f"{stem}-{kind}.hdr" for kind in kinds]
            pairs = [f.with_suffix(".img") for f in files]  # the data halves must exist too
            label = files.pop() if self.split == "train" else None
            cases.append(self._case(stem, files, label, companions=pairs))
        return cases


@_doc
class ATLAS2023(Dataset):
    """ATLAS 2023 liver and hepatocellular carcinoma, contrast-enhanced T1 MRI.

    Layout: ``atlas-train-dataset-1.0.1/train/imagesTr/imN.nii.gz`` and
    ``.../labelsTr/lbN.nii.gz`` (N not zero-padded, sorted naturally). Labels 0 background,
    1 liver, 2 tumour; the whole liver is 1 ∪ 2 (:meth:`region_masks`, region ``"liver"``).
    The images are not skull-stripped, so the MRI "non-zero" mask is nearly the whole field
    of view.

    {params}
    Examples
    --------
    >>> import tempfile
    >>> from speccal.datasets import ATLAS2023, SyntheticPhantoms
    >>> root = tempfile.mkdtemp()
    >>> _ = SyntheticPhantoms(n_cases=2, shape=(16, 16, 12)).write(root, layout="atlas2023")
    >>> ATLAS2023(root).case_ids
    ['im0', 'im1']
    """

    name = "atlas2023"
    splits = {"train": ("atlas-train-dataset-1.0.1", "train")}
    class_names = ("background", "liver", "tumour")
    label_values = (0, 1, 2)
    modalities = ("t1ce",)
    regions = {"liver": (1, 2), "tumour": (2,)}
    layout = "atlas-train-dataset-1.0.1/train/{imagesTr/imN.nii.gz, labelsTr/lbN.nii.gz}"
    _nolabel_doc = "Only the training release is public."

    def _find_cases(self, folder):
        images = folder / "imagesTr"
        if not images.is_dir():
            return []
        cases = []
        for path, match in _matching(images, r"im(\d+)\.nii(\.gz)?"):
            label = find_nifti(folder / "labelsTr", f"lb{match.group(1)}")
            cases.append(self._case(strip_nifti_suffix(path.name), [path], label))
        return cases


@_doc
class PROMISE12(Dataset):
    """PROMISE12 prostate T2 MRI, MetaImage files (read with SimpleITK, the ``promise`` extra).

    Layout: ``training_data/CaseNN.{mhd,raw}`` + ``CaseNN_segmentation.{mhd,raw}`` and
    ``test_data/CaseNN.{mhd,raw}`` (no segmentation). Ids repeat between splits: a case's
    unique key is :attr:`Case.key`, ``(split, case_id)``.

    {params}
    Notes
    -----
    SimpleITK is used instead of a hand-written MetaImage parser because the release mixes
    header variants (``ElementType``, ``CompressedData``, ``ElementDataFile = LIST``) a small
    parser would have to reimplement; reading raises an ``ImportError`` with the pip command
    when SimpleITK is missing.

    Examples
    --------
    >>> import tempfile
    >>> from speccal.datasets import PROMISE12, SyntheticPhantoms
    >>> root = tempfile.mkdtemp()
    >>> _ = SyntheticPhantoms(n_cases=2, shape=(16, 16, 12)).write(root, layout="promise12")
    >>> PROMISE12(root)[1].key
    ('train', 'Case01')
    """

    name = "promise12"
    splits = {"train": ("training_data",), "test": ("test_data",)}
    class_names = ("background", "prostate")
    label_values = (0, 1)
    modalities = ("t2",)
    layout = "training_data/CaseNN.{mhd,raw} + CaseNN_segmentation.{mhd,raw}"
    _nolabel_doc = '"test" has no segmentations.'

    def _find_cases(self, folder):
        cases = []
        for path, match in _matching(folder, r"(Case\d{2})\.mhd"):
            label = None
            if self.split == "train":
                label = folder / f"{match.group(1)}_segmentation.mhd"
            cases.append(self._case(match.group(1), [path], label))
        return cases
