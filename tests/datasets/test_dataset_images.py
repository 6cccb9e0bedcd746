"""Every loader returns the images and labels that were written, voxel for voxel (issue 14).

The files of each release layout are read back here independently -- nibabel (NIfTI,
Analyze), SimpleITK (MetaImage) -- and put in the documented orientation (RAS+, nibabel's
closest canonical; MetaImage's LPS identity is x and y reversed); each channel of the
loader's image must equal its own file (so swapped modalities fail), and the label must equal
the stored label after the release's documented value map.
"""

import nibabel as nib
import numpy as np
import pytest

from speccal.datasets import SyntheticPhantoms

ODD = (17, 14, 11)

#: stored label value -> speccal class, where a release stores other values
LABEL_MAPS = {
    "brats2020": {0: 0, 1: 1, 2: 2, 4: 3},
    "iseg2017": {0: 0, 10: 1, 150: 2, 250: 3},
}


def _canonical(path):
    """The array of a NIfTI/Analyze file in RAS+ (3-D: a trailing axis of 1 dropped)."""
    image = nib.as_closest_canonical(nib.load(path))
    array = np.asanyarray(image.dataobj)
    return array.reshape(array.shape[:3]) if array.ndim == 4 and array.shape[3] == 1 else array


def _metaimage(path):
    import SimpleITK as sitk

    zyx = sitk.GetArrayFromImage(sitk.ReadImage(str(path)))
    return zyx.transpose(2, 1, 0)[::-1, ::-1]  # LPS identity direction -> RAS+


def _acdc_frames(patient):
    info = dict(line.split(": ") for line in (patient / "Info.cfg").read_text().splitlines())
    return [f"frame{int(info[phase]):02d}" for phase in ("ED", "ES")]


def written_files(root, layout, index):
    """``([channel files in the loader's modality order], label file, reader)`` of a case."""
    n = index + 1
    if layout == "synthetic":
        return (
            [root / f"imagesTr/phantom_{index:03d}.nii.gz"],
            root / (f"labelsTr/phantom_{index:03d}.nii.gz"),
            _canonical,
        )
    if layout == "brats2020":
        case = root / f"MICCAI_BraTS2020_TrainingData/BraTS20_Training_{n:03d}"
        channels = [case / f"{case.name}_{m}.nii.gz" for m in ("t1", "t1ce", "t2", "flair")]
        return channels, case / f"{case.name}_seg.nii.gz", _canonical
    if layout == "acdc":
        patient = root / "database/training/patient001"
        frame = _acdc_frames(patient)[index]  # case 0 is ED, case 1 is ES
        stem = patient / f"patient001_{frame}"
        return (
            [stem.with_name(stem.name + ".nii.gz")],
            stem.with_name(stem.name + "_gt.nii.gz"),
            _canonical,
        )
    if layout == "flare2021":
        return (
            [root / f"TrainingImg/train_{index:03d}_0000.nii.gz"],
            root / (f"TrainingMask/train_{index:03d}.nii.gz"),
            _canonical,
        )
    if layout == "iseg2017":
        folder = root / "iSeg-2017-Training"
        channels = [folder / f"subject-{n}-{m}.hdr" for m in ("T1", "T2")]
        return channels, folder / f"subject-{n}-label.hdr", _canonical
    if layout == "atlas2023":
        folder = root / "atlas-train-dataset-1.0.1/train"
        return (
            [folder / f"imagesTr/im{index}.nii.gz"],
            folder / f"labelsTr/lb{index}.nii.gz",
            (_canonical),
        )
    if layout == "promise12":
        folder = root / "training_data"
        return (
            [folder / f"Case{index:02d}.mhd"],
            folder / f"Case{index:02d}_segmentation.mhd",
            (_metaimage),
        )
    raise AssertionError(layout)


@pytest.mark.parametrize(
    "layout",
    ["synthetic", "brats2020", "acdc", "flare2021", "iseg2017", "atlas2023", "promise12"],
)
def test_loader_returns_the_written_channels_and_label(tmp_path, layout):
    data = SyntheticPhantoms(n_cases=2, shape=ODD, seed=3).write(tmp_path, layout)
    for index in (0, 1):  # FLARE: case 1 is stored x-flipped (LAS)
        case = data[index]
        channels, label_file, read = written_files(tmp_path, layout, index)
        stored = [read(path) for path in channels]
        if len(stored) == 1 and stored[0].ndim == 4:  # one 4-D file, channels last
            stored = list(np.moveaxis(stored[0], -1, 0))
        assert case.image.shape == (*ODD, len(stored))
        for m, channel in enumerate(stored):
            np.testing.assert_array_equal(
                case.image[..., m], channel.astype(np.float32), err_msg=f"channel {m}"
            )
        label = read(label_file)
        mapping = LABEL_MAPS.get(layout)
        if mapping is not None:
            assert set(np.unique(label)) <= set(mapping)
            label = np.vectorize(mapping.get)(label)
        np.testing.assert_array_equal(case.label, label)
        if len(stored) > 1:  # the channels differ, so a swap of two would be seen
            assert not np.array_equal(stored[0], stored[1])
