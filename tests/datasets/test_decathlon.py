"""MedicalDecathlon and NNUNetRaw on files written in their layouts: voxels, headers, errors."""

import json

import numpy as np
import pytest
from dataset_files import SHAPE, tree_snapshot, write_nifti

from speccal.datasets import (
    MedicalDecathlon,
    NNUNetRaw,
    PreprocessedDataset,
    get_dataset,
    preprocess,
)

SPACING = (0.8, 0.9, 2.5)


def _volumes(rng, n_channels, labels):
    image = rng.integers(-50, 500, (*SHAPE, n_channels)).astype(np.int16)
    label = rng.choice(np.asarray(labels, dtype=np.uint8), SHAPE)
    return image, label


def _write_json(root, meta):
    root.mkdir(parents=True, exist_ok=True)
    (root / "dataset.json").write_text(json.dumps(meta, indent=2))


def write_msd(root, n_channels=2, suffixes=(".nii.gz", ".nii", ".nii.gz"), seed=0, **meta):
    """An MSD task folder; returns ``{case_id: (image, label)}`` as written."""
    rng = np.random.default_rng(seed)
    written, training = {}, []
    for i, suffix in enumerate(suffixes):
        case = f"prostate_{i:02d}"
        image, label = _volumes(rng, n_channels, [0, 1, 2])
        stored = image if n_channels > 1 else image[..., 0]
        write_nifti(root / "imagesTr" / f"{case}{suffix}", stored, SPACING)
        write_nifti(root / "labelsTr" / f"{case}{suffix}", label, SPACING)
        training.append(
            {"image": f"./imagesTr/{case}{suffix}", "label": f"./labelsTr/{case}{suffix}"}
        )
        written[case] = (image, label)
    modality = {str(c): name for c, name in enumerate(["T2", "ADC", "DWI"][:n_channels])}
    _write_json(
        root,
        {
            "name": "Prostate",
            "modality": modality,
            "labels": {"0": "background", "1": "PZ", "2": "TZ"},
            "numTraining": len(suffixes),
            "training": training,
            "test": [],
            **meta,
        },
    )
    return written


def write_nnunet(root, channels=("T2", "ADC"), ending=".nii.gz", n_cases=3, seed=0, **meta):
    """An nnU-Net v2 raw dataset folder; returns ``{case_id: (image, label)}`` as written."""
    rng = np.random.default_rng(seed)
    written = {}
    for i in range(n_cases):
        case = f"case_{i:03d}"
        image, label = _volumes(rng, len(channels), [0, 1, 2])
        for c in range(len(channels)):
            write_nifti(root / "imagesTr" / f"{case}_{c:04d}{ending}", image[..., c], SPACING)
        write_nifti(root / "labelsTr" / f"{case}{ending}", label, SPACING)
        written[case] = (image, label)
    _write_json(
        root,
        {
            "channel_names": {str(c): name for c, name in enumerate(channels)},
            "labels": {"background": 0, "PZ": 1, "TZ": 2},
            "numTraining": n_cases,
            "file_ending": ending,
            **meta,
        },
    )
    return written


def _assert_cases_equal(data, written):
    assert data.case_ids == sorted(written)
    for case in data:
        image, label = written[case.case_id]
        np.testing.assert_array_equal(case.image, image.astype(np.float32))
        assert case.image.dtype == np.float32
        np.testing.assert_array_equal(case.label, label)
        assert case.label.dtype == np.uint8
        assert case.spacing == pytest.approx(SPACING)
        np.testing.assert_allclose(case.affine, np.diag([*SPACING, 1.0]))


# -- Medical Segmentation Decathlon ----------------------------------------------------------


def test_msd_multichannel_4d_images_voxel_for_voxel(tmp_path):
    written = write_msd(tmp_path)  # .nii.gz and .nii mixed
    data = MedicalDecathlon(tmp_path)
    assert data.class_names == ("background", "PZ", "TZ")
    assert data.modalities == ("T2", "ADC") and data.modality == "mri"
    assert [c.image_files[0].name for c in data][:2] == ["prostate_00.nii.gz", "prostate_01.nii"]
    _assert_cases_equal(data, written)
    assert get_dataset("msd", tmp_path).case_ids == data.case_ids


def test_msd_single_channel_ct_and_sparse_label_values(tmp_path):
    rng = np.random.default_rng(1)
    image = rng.integers(-1024, 1500, SHAPE).astype(np.int16)
    label = rng.choice(np.array([0, 3], dtype=np.uint8), SHAPE)
    # stored with a flipped x axis: the loader hands out canonical RAS+
    affine = np.diag([-SPACING[0], SPACING[1], SPACING[2], 1.0])
    write_nifti(tmp_path / "imagesTr" / "liver_7.nii", image, affine=affine)
    write_nifti(tmp_path / "labelsTr" / "liver_7.nii", label, affine=affine)
    meta = {
        "modality": {"0": "CT"},
        "labels": {"0": "background", "3": "liver"},
        "training": [{"image": "./imagesTr/liver_7.nii", "label": "./labelsTr/liver_7.nii"}],
    }
    _write_json(tmp_path, meta)
    data = MedicalDecathlon(tmp_path)
    assert data.modality == "ct" and data.label_values == (0, 3)
    case = data["liver_7"]
    np.testing.assert_array_equal(case.image[..., 0], image[::-1].astype(np.float32))
    np.testing.assert_array_equal(case.label, (label[::-1] == 3).astype(np.uint8))
    assert case.spacing == pytest.approx(SPACING)
    assert case.affine[0, 0] == pytest.approx(SPACING[0])  # RAS+: x increases to the right


def test_msd_test_split_and_decompressed_copies(tmp_path):
    write_msd(tmp_path, suffixes=(".nii.gz",))
    image = np.ones((*SHAPE, 2), np.float32)
    write_nifti(tmp_path / "imagesTs" / "prostate_09.nii", image)  # listed as .nii.gz
    meta = json.loads((tmp_path / "dataset.json").read_text())
    meta["test"] = ["./imagesTs/prostate_09.nii.gz"]
    _write_json(tmp_path, meta)
    test = MedicalDecathlon(tmp_path, split="test")
    assert test.case_ids == ["prostate_09"] and test[0].label is None
    np.testing.assert_array_equal(test[0].image, image)


def test_msd_missing_case_is_named(tmp_path):
    write_msd(tmp_path)
    (tmp_path / "imagesTr" / "prostate_01.nii").unlink()
    with pytest.raises(FileNotFoundError, match=r"missing file '.*imagesTr/prostate_01\.nii', "):
        MedicalDecathlon(tmp_path)


def test_msd_missing_channel_and_mismatched_shapes_are_named(tmp_path):
    write_msd(tmp_path, n_channels=2, suffixes=(".nii.gz",))
    image = tmp_path / "imagesTr" / "prostate_00.nii.gz"
    label = tmp_path / "labelsTr" / "prostate_00.nii.gz"
    write_nifti(image, np.ones((*SHAPE, 3), np.float32))  # a channel too many
    with pytest.raises(ValueError, match=r"expected 2 modalities \('T2', 'ADC'\); .*gives 3"):
        _ = MedicalDecathlon(tmp_path)[0].image
    write_nifti(image, np.ones((5, 8, 9, 2), np.float32))
    with pytest.raises(
        ValueError, match=r"label '.*prostate_00.nii.gz' has shape \(7, 8, 9\) but"
    ):
        _ = MedicalDecathlon(tmp_path)[0].label
    assert label.is_file()


def test_msd_malformed_dataset_json_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"`root` must hold the MedicalDecathlon layout"):
        MedicalDecathlon(tmp_path)
    (tmp_path / "dataset.json").write_text("{not json")
    with pytest.raises(ValueError, match=r"could not read '.*dataset.json' \(not valid JSON\?\)"):
        MedicalDecathlon(tmp_path)
    write_msd(tmp_path, labels={"background": 0, "PZ": 1})
    with pytest.raises(ValueError, match=r"'labels' keys must be label values .*--dataset nnunet"):
        MedicalDecathlon(tmp_path)
    write_msd(tmp_path, modality={"1": "T2", "2": "ADC"})
    with pytest.raises(ValueError, match=r"'modality' keys must be the channel numbers"):
        MedicalDecathlon(tmp_path)
    write_msd(tmp_path, labels={"1": "PZ"})
    with pytest.raises(ValueError, match=r"'labels' must hold the background as 0"):
        MedicalDecathlon(tmp_path)
    write_msd(tmp_path, training=[{"image": "./imagesTr/prostate_00.nii.gz"}])
    with pytest.raises(ValueError, match=r"training\[0\] must be \{\"image\": ..., \"label\""):
        MedicalDecathlon(tmp_path)
    pair = {"image": "./imagesTr/prostate_00.nii.gz", "label": "./labelsTr/prostate_00.nii.gz"}
    write_msd(tmp_path, training=[pair, pair])
    with pytest.raises(ValueError, match=r"case 'prostate_00' is listed twice"):
        MedicalDecathlon(tmp_path)
    with pytest.raises(ValueError, match=r"`split` must be one of 'train', 'test'"):
        write_msd(tmp_path)
        MedicalDecathlon(tmp_path, split="val")


# -- nnU-Net v2 raw -----------------------------------------------------------------------


def test_nnunet_multichannel_voxel_for_voxel(tmp_path):
    written = write_nnunet(tmp_path, channels=("T2", "ADC"), ending=".nii.gz")
    data = NNUNetRaw(tmp_path)
    assert data.modalities == ("T2", "ADC") and data.modality == "mri"
    assert data.class_names == ("background", "PZ", "TZ") and data.n_classes == 3
    assert [p.name for p in data[0].image_files] == [
        "case_000_0000.nii.gz",
        "case_000_0001.nii.gz",
    ]
    _assert_cases_equal(data, written)
    assert get_dataset("nnunet", tmp_path).case_ids == data.case_ids


def test_nnunet_single_channel_nii_and_one_value_region(tmp_path):
    labels = {"background": 0, "TZ": [2], "PZ": 1}  # a one-value list is a plain value
    written = write_nnunet(tmp_path, channels=("CT",), ending=".nii", labels=labels)
    data = NNUNetRaw(tmp_path)
    assert data.modality == "ct" and data.class_names == ("background", "PZ", "TZ")
    _assert_cases_equal(data, written)


def test_nnunet_mixed_channels_normalise_each_as_named(tmp_path):
    write_nnunet(tmp_path, channels=("ct", "PET"), n_cases=1)
    data = NNUNetRaw(tmp_path)
    assert data.modality == ("ct", "mri")
    prepared = PreprocessedDataset(data, target_spacing=None, cache_dir=False)[0]
    image = data[0].image
    ct, _, _ = preprocess(image[..., :1], None, SPACING, modality="ct")
    pet, _, _ = preprocess(image[..., 1:], None, SPACING, modality="mri")
    np.testing.assert_array_equal(prepared.image, np.concatenate([ct, pet], axis=-1))
    with pytest.raises(ValueError, match=r"one of them per channel \(2\); got \('ct',\)"):
        preprocess(image, None, SPACING, modality=("ct",))


def test_nnunet_test_split(tmp_path):
    write_nnunet(tmp_path, n_cases=1)
    write_nifti(tmp_path / "imagesTs" / "new_0000.nii.gz", np.ones(SHAPE))
    write_nifti(tmp_path / "imagesTs" / "new_0001.nii.gz", np.ones(SHAPE))
    test = NNUNetRaw(tmp_path, split="test")
    assert test.case_ids == ["new"] and test[0].label is None and test[0].image.shape[-1] == 2


def test_nnunet_missing_case_channel_or_label_is_named(tmp_path):
    write_nnunet(tmp_path)
    (tmp_path / "imagesTr" / "case_001_0001.nii.gz").unlink()
    with pytest.raises(FileNotFoundError, match=r"case 'case_001': missing file '.*case_001_0001"):
        NNUNetRaw(tmp_path)
    (tmp_path / "imagesTr" / "case_001_0000.nii.gz").unlink()  # now only its label is left
    with pytest.raises(
        FileNotFoundError, match=r"label '.*case_001.nii.gz' has no image; missing"
    ):
        NNUNetRaw(tmp_path)
    (tmp_path / "labelsTr" / "case_001.nii.gz").unlink()
    with pytest.raises(ValueError, match=r"numTraining = 3 but '.*imagesTr' holds 2 cases"):
        NNUNetRaw(tmp_path)
    (tmp_path / "labelsTr" / "case_002.nii.gz").unlink()
    with pytest.raises(
        FileNotFoundError, match=r"case 'case_002': missing file '.*labelsTr/case_0"
    ):
        NNUNetRaw(tmp_path)


def test_nnunet_extra_channel_and_mismatched_shapes_are_named(tmp_path):
    write_nnunet(tmp_path, n_cases=1)
    extra = write_nifti(tmp_path / "imagesTr" / "case_000_0002.nii.gz", np.ones(SHAPE))
    with pytest.raises(ValueError, match=r"case_000_0002.nii.gz' is channel 2, but .* lists 2"):
        NNUNetRaw(tmp_path)
    extra.unlink()
    write_nifti(tmp_path / "imagesTr" / "case_000_0001.nii.gz", np.ones((7, 8, 8)))
    with pytest.raises(ValueError, match=r"image '.*case_000_0001.nii.gz' has shape \(7, 8, 8\)"):
        _ = NNUNetRaw(tmp_path)[0].image
    write_nifti(tmp_path / "imagesTr" / "case_000_0001.nii.gz", np.ones(SHAPE))
    write_nifti(tmp_path / "labelsTr" / "case_000.nii.gz", np.zeros((8, 8, 9), np.uint8))
    with pytest.raises(ValueError, match=r"label '.*case_000.nii.gz' has shape \(8, 8, 9\) but"):
        _ = NNUNetRaw(tmp_path)[0].label


@pytest.mark.parametrize(
    ("meta", "message"),
    [
        ({"labels": {"background": 0, "WT": [1, 2]}}, r"region-based label 'WT': \[1, 2\] is not"),
        ({"labels": {"background": 0, "a": 1, "ignore": 2}}, r"nnU-Net's 'ignore' label"),
        ({"labels": {"0": "background", "1": "a"}}, r"'labels' must map names to integer"),
        ({"labels": {"background": 0, "a": 0}}, r"'labels' must give each class its own value"),
        ({"file_ending": ".mha"}, r"'file_ending' must be one of '.nii.gz', '.nii' .*'.mha'"),
        ({"channel_names": ["T2"]}, r"'channel_names' must be a dict; got \['T2'\]"),
    ],
)
def test_nnunet_unsupported_dataset_json_is_refused(tmp_path, meta, message):
    write_nnunet(tmp_path, n_cases=1, **meta)
    with pytest.raises(ValueError, match=message):
        NNUNetRaw(tmp_path)


def test_nnunet_v1_modality_key_is_read(tmp_path):
    written = write_nnunet(tmp_path, channels=("MRI",), n_cases=1)
    meta = json.loads((tmp_path / "dataset.json").read_text())
    meta["modality"] = meta.pop("channel_names")
    _write_json(tmp_path, meta)
    data = NNUNetRaw(tmp_path)
    assert data.modalities == ("MRI",)
    _assert_cases_equal(data, written)


def test_reading_and_preprocessing_write_nothing_into_the_dataset(tmp_path):
    write_msd(tmp_path / "data" / "msd")
    write_nnunet(tmp_path / "data" / "nnunet")
    before = tree_snapshot(tmp_path / "data")
    for data in (MedicalDecathlon(tmp_path / "data/msd"), NNUNetRaw(tmp_path / "data/nnunet")):
        for case in PreprocessedDataset(data, cache_dir=tmp_path / "cache"):
            assert case.image.shape[-1] == 2
    assert (tmp_path / "cache").is_dir()
    assert tree_snapshot(tmp_path / "data") == before
