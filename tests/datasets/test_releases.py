"""Loaders of the six releases on tiny copies of their layouts."""

import shutil
import subprocess
import sys

import nibabel as nib
import numpy as np
import pytest
from dataset_files import SHAPE, tree_snapshot, write_nifti

from speccal.datasets import (
    ACDC,
    ATLAS2023,
    FLARE2021,
    PROMISE12,
    BraTS2020,
    ISeg2017,
    SyntheticPhantoms,
    get_dataset,
    read_info_cfg,
)
from speccal.datasets._io import read_metaimage, write_metaimage

ODD = (17, 14, 11)

#: layout -> (loader, n_modalities, n_classes, unlabelled split)
LAYOUTS = {
    "brats2020": (BraTS2020, 4, 4, "val"),
    "acdc": (ACDC, 1, 4, "test"),
    "flare2021": (FLARE2021, 1, 5, "val"),
    "iseg2017": (ISeg2017, 2, 4, "test"),
    "atlas2023": (ATLAS2023, 1, 3, None),
    "promise12": (PROMISE12, 1, 2, "test"),
    "synthetic": (SyntheticPhantoms, 2, 4, "test"),
}


def test_no_tensorflow_on_import():
    code = (
        "import sys, speccal.datasets; "
        "bad = [m for m in ('tensorflow', 'keras') if m in sys.modules]; "
        "sys.exit(str(bad) if bad else 0)"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_release_layout_round_trip(tmp_path, layout):
    loader, n_mod, n_classes, unlabelled = LAYOUTS[layout]
    phantoms = SyntheticPhantoms(n_cases=3, shape=ODD, seed=3)
    data = phantoms.write(tmp_path, layout, n_test=2)
    assert type(data) is loader
    expected_len = 4 if layout == "acdc" else 3  # ACDC: 2 patients x (ED, ES)
    assert len(data) == expected_len == len(list(data))
    assert data.n_classes == n_classes == len(data.class_names)
    assert len(data.modalities) == n_mod
    case = data[0]
    image, label = case.image, case.label
    assert image.shape == (*ODD, n_mod) and image.dtype == np.float32
    assert label.shape == ODD and label.dtype == np.uint8
    assert set(np.unique(label)) <= set(range(n_classes))
    assert case.affine.shape == (4, 4)
    # what was generated is what is read back (remapped, reoriented to RAS+)
    reference = SyntheticPhantoms(
        n_cases=3, shape=ODD, seed=3, n_classes=n_classes, n_modalities=n_mod
    )
    for index in (0, 1) if layout != "acdc" else (0,):
        np.testing.assert_array_equal(data[index].label, reference.generate(index)[1])
    if unlabelled:
        test = get_dataset(layout, tmp_path, split=unlabelled)
        assert len(test) >= 1 and test[0].label is None
        assert test[0].image.shape == (*ODD, n_mod)


@pytest.mark.parametrize(
    ("layout", "spacing"),
    [("acdc", (1.52, 1.52, 10.0)), ("promise12", (0.61, 0.61, 3.6)), ("iseg2017", (1, 1, 1))],
)
def test_release_spacing(tmp_path, layout, spacing):
    data = SyntheticPhantoms(n_cases=2, shape=ODD).write(tmp_path, layout)
    np.testing.assert_allclose(data[0].spacing, spacing, rtol=1e-6)
    np.testing.assert_allclose(np.abs(np.diag(data[0].affine)[:3]), spacing, rtol=1e-6)


def test_brats_label_remap_and_suffixes(brats_root):
    data = BraTS2020(brats_root)
    raw = np.asanyarray(
        nib.load(
            brats_root / "MICCAI_BraTS2020_TrainingData/BraTS20_Training_002/"
            "BraTS20_Training_002_seg.nii"
        ).dataobj
    )
    label = data[1].label
    np.testing.assert_array_equal(label, np.where(raw == 4, 3, raw))
    assert data[0].image.shape == (*SHAPE, 4) and data[1].image.shape == (*SHAPE, 4)
    # modalities in t1, t1ce, t2, flair order (the fixture offsets them by 1000 each)
    assert np.all(np.diff(data[0].image.mean(axis=(0, 1, 2))) > 500)
    masks = data.region_masks(label)
    np.testing.assert_array_equal(masks["WT"], raw > 0)
    np.testing.assert_array_equal(masks["TC"], (raw == 1) | (raw == 4))
    np.testing.assert_array_equal(masks["ET"], raw == 4)


def test_brats_case_355_label_name_quirk(brats_root):
    case = brats_root / "MICCAI_BraTS2020_TrainingData/BraTS20_Training_002"
    (case / "BraTS20_Training_002_seg.nii").rename(case / "W39_1998.09.19_Segm.nii")
    data = BraTS2020(brats_root)
    assert data[1].label_file.name == "W39_1998.09.19_Segm.nii"
    assert data[1].label.shape == SHAPE


def test_root_may_be_the_release_or_its_parent(brats_root):
    inner = BraTS2020(brats_root / "MICCAI_BraTS2020_TrainingData")
    outer = BraTS2020(brats_root)
    assert inner.case_ids == outer.case_ids == ["BraTS20_Training_001", "BraTS20_Training_002"]
    assert BraTS2020(brats_root.parent).case_ids == outer.case_ids
    renamed = brats_root / "MICCAI_BraTS2020_TrainingData"
    renamed = renamed.rename(brats_root / "brats_train_copy")
    assert BraTS2020(renamed).case_ids == outer.case_ids


def test_iseg_label_values(tmp_path):
    folder = tmp_path / "iSeg-2017-Training"
    folder.mkdir()
    raw = np.random.default_rng(1).choice(np.array([0, 10, 150, 250], np.uint8), SHAPE)
    for kind, array in (("T1", raw * 2), ("T2", raw * 3), ("label", raw)):
        img = nib.AnalyzeImage(array.astype(np.int16)[..., None], np.eye(4))
        img.to_filename(folder / f"subject-1-{kind}.hdr")
    data = ISeg2017(tmp_path)
    expected = np.searchsorted([0, 10, 150, 250], raw)[::-1]  # Analyze is LAS: x reversed
    np.testing.assert_array_equal(data[0].label, expected)
    assert data[0].image.shape == (*SHAPE, 2)
    assert data.class_names[1:] == ("csf", "grey_matter", "white_matter")


def test_atlas_liver_is_union_of_liver_and_tumour(tmp_path):
    data = SyntheticPhantoms(n_cases=2, shape=ODD).write(tmp_path, "atlas2023")
    label = data[0].label
    masks = data.region_masks(label)
    np.testing.assert_array_equal(masks["liver"], (label == 1) | (label == 2))
    np.testing.assert_array_equal(masks["tumour"], label == 2)
    # not skull-stripped: the background holds non-zero values
    assert np.count_nonzero(data[0].image[label == 0]) > 0.5 * np.count_nonzero(label == 0)


def test_acdc_info_cfg_frames(tmp_path):
    SyntheticPhantoms(n_cases=4, shape=ODD).write(tmp_path, "acdc")
    patient = tmp_path / "database/training/patient002"
    info = read_info_cfg(patient / "Info.cfg")
    assert (
        info["ED"] == 1
        and isinstance(info["ES"], int)
        and info["Group"] in ("NOR", "MINF", "DCM", "HCM", "RV")
    )
    (patient / "Info.cfg").write_text("ED: 1\nES: 3\nGroup: NOR\nNbFrame: 5\n")
    shutil.copy(
        patient / f"patient002_frame{info['ES']:02d}.nii.gz", patient / "patient002_frame03.nii.gz"
    )
    shutil.copy(
        patient / f"patient002_frame{info['ES']:02d}_gt.nii.gz",
        patient / "patient002_frame03_gt.nii.gz",
    )
    data = ACDC(tmp_path / "database")
    assert data.case_ids == ["patient001_ED", "patient001_ES", "patient002_ED", "patient002_ES"]
    assert data["patient002_ES"].image_files[0].name == "patient002_frame03.nii.gz"
    assert data["patient002_ES"].group == data["patient002_ED"].group == "patient002"


def test_acdc_bad_info_cfg(tmp_path):
    SyntheticPhantoms(n_cases=2, shape=ODD).write(tmp_path, "acdc")
    cfg = tmp_path / "database/training/patient001/Info.cfg"
    cfg.write_text("ED: 1\nGroup: NOR\n")
    with pytest.raises(ValueError, match=r"Info\.cfg.*must give both 'ED' and 'ES'"):
        ACDC(tmp_path)
    cfg.write_text("ED 1\n")
    with pytest.raises(ValueError, match=r"Info\.cfg' line 1 must be 'Key: value'"):
        ACDC(tmp_path)
    cfg.unlink()
    with pytest.raises(FileNotFoundError, match=r"patient001/Info\.cfg"):
        ACDC(tmp_path)


def test_acdc_test_labels_optional(tmp_path):
    SyntheticPhantoms(n_cases=2, shape=ODD).write(tmp_path, "acdc", n_test=2)
    test = ACDC(tmp_path, "test")
    assert [c.label for c in test] == [None, None]
    patient = tmp_path / "database/testing/patient101"
    write_nifti(patient / "patient101_frame01_gt.nii.gz", np.ones(ODD, np.uint8))
    assert ACDC(tmp_path, "test")["patient101_ED"].label.sum() == np.prod(ODD)


def test_flare_reorients_to_canonical(tmp_path):
    data = SyntheticPhantoms(n_cases=2, shape=ODD).write(tmp_path, "flare2021")
    stored = nib.load(tmp_path / "TrainingMask/train_001.nii.gz")
    assert nib.aff2axcodes(stored.affine) == ("L", "A", "S")
    np.testing.assert_array_equal(data[1].label, np.asanyarray(stored.dataobj)[::-1])
    assert nib.aff2axcodes(data[1].affine) == ("R", "A", "S")
    assert data.modality == "ct" and data[0].image.min() == -1000


def test_promise_metaimage_reader(tmp_path):
    import SimpleITK as sitk

    array = np.arange(np.prod(SHAPE), dtype=np.int16).reshape(SHAPE)
    write_metaimage(tmp_path / "Case00.mhd", array, (0.6, 0.7, 3.0))
    header = (tmp_path / "Case00.mhd").read_text()
    assert "ElementType = MET_SHORT" in header and "DimSize = 7 8 9" in header
    # independent check of the writer: SimpleITK sees (z, y, x)
    np.testing.assert_array_equal(
        sitk.GetArrayFromImage(sitk.ReadImage(str(tmp_path / "Case00.mhd"))),
        array.transpose(2, 1, 0),
    )
    loaded, affine, spacing, shape = read_metaimage(tmp_path / "Case00.mhd")
    # identity direction in LPS is x/y reversed in RAS+
    np.testing.assert_array_equal(loaded, array[::-1, ::-1])
    np.testing.assert_allclose(spacing, (0.6, 0.7, 3.0))
    assert shape == SHAPE and nib.aff2axcodes(affine) == ("R", "A", "S")


def test_promise_ids_collide_between_splits(tmp_path):
    SyntheticPhantoms(n_cases=2, shape=ODD).write(tmp_path, "promise12", n_test=2)
    train, test = PROMISE12(tmp_path), PROMISE12(tmp_path, "test")
    assert train.case_ids == test.case_ids == ["Case00", "Case01"]
    assert train[0].key == ("train", "Case00") and test[0].key == ("test", "Case00")


def test_promise_without_simpleitk(tmp_path, monkeypatch):
    data = SyntheticPhantoms(n_cases=2, shape=ODD).write(tmp_path, "promise12")
    monkeypatch.setitem(sys.modules, "SimpleITK", None)
    with pytest.raises(ImportError, match=r"pip install 'speccal\[promise\]'"):
        _ = data[0].image


def test_get_dataset_errors(tmp_path):
    with pytest.raises(ValueError, match="`name` must be one of brats2020, acdc, .*; got 'kits'"):
        get_dataset("kits", tmp_path)
    with pytest.raises(FileNotFoundError, match=r"must hold the BraTS2020 release \(MICCAI_Bra"):
        get_dataset("brats2020", tmp_path)
    with pytest.raises(ValueError, match=r"`split` must be one of 'train', 'test' for ACDC"):
        ACDC(tmp_path, "val")
    with pytest.raises(FileNotFoundError, match="`root` must be an existing folder"):
        FLARE2021(tmp_path / "nowhere")


def test_empty_release_folder(tmp_path):
    (tmp_path / "TrainingImg").mkdir()
    with pytest.raises(FileNotFoundError, match=r"no TrainingImg folder with cases under"):
        FLARE2021(tmp_path)


def test_missing_modality_names_the_file(brats_root):
    case = brats_root / "MICCAI_BraTS2020_TrainingData/BraTS20_Training_001"
    (case / "BraTS20_Training_001_t2.nii.gz").unlink()
    with pytest.raises(FileNotFoundError, match=r"BraTS20_Training_001_t2'\.nii\[\.gz\]"):
        BraTS2020(brats_root)


def test_missing_label_names_the_file(tmp_path):
    SyntheticPhantoms(n_cases=2, shape=ODD).write(tmp_path, "flare2021")
    (tmp_path / "TrainingMask/train_001.nii.gz").unlink()
    with pytest.raises(FileNotFoundError, match=r"TrainingMask/train_001'\.nii"):
        FLARE2021(tmp_path)


def test_missing_analyze_data_half(tmp_path):
    SyntheticPhantoms(n_cases=2, shape=ODD).write(tmp_path, "iseg2017")
    (tmp_path / "iSeg-2017-Training/subject-2-T2.img").unlink()
    with pytest.raises(FileNotFoundError, match=r"subject-2-T2\.img"):
        ISeg2017(tmp_path)


@pytest.mark.parametrize("suffix", [".nii.gz", ".nii"])
def test_truncated_file_names_the_file(tmp_path, suffix):
    data = SyntheticPhantoms(n_cases=2, shape=ODD).write(tmp_path, "atlas2023")
    path = data[0].image_files[0]
    if suffix == ".nii":
        array = nib.load(path).get_fdata()
        path.unlink()
        path = write_nifti(path.with_name("im0.nii"), array.astype(np.int16))
        data = ATLAS2023(tmp_path)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(ValueError, match=rf"could not read '.*im0{suffix}'"):
        _ = data[0].image


def test_corrupt_file_names_the_file(tmp_path):
    data = SyntheticPhantoms(n_cases=2, shape=ODD).write(tmp_path, "atlas2023")
    data[1].label_file.write_bytes(b"not a nifti file at all" * 20)
    with pytest.raises(ValueError, match=r"could not read '.*lb1\.nii\.gz'"):
        _ = data[1].label


def test_mismatched_shapes_name_both_files(brats_root):
    case = brats_root / "MICCAI_BraTS2020_TrainingData/BraTS20_Training_001"
    write_nifti(case / "BraTS20_Training_001_seg.nii.gz", np.zeros((7, 8, 10), np.uint8))
    data = BraTS2020(brats_root)
    with pytest.raises(
        ValueError,
        match=r"label '.*_001_seg\.nii\.gz' has shape \(7, 8, 10\) "
        r"but image '.*_001_t1\.nii\.gz' has \(7, 8, 9\)",
    ):
        _ = data[0].label
    write_nifti(case / "BraTS20_Training_001_flair.nii.gz", np.ones((6, 8, 9), np.int16))
    with pytest.raises(ValueError, match=r"image '.*_flair\.nii\.gz' has shape \(6, 8, 9\)"):
        _ = data[0].image


def test_unexpected_label_value(brats_root):
    case = brats_root / "MICCAI_BraTS2020_TrainingData/BraTS20_Training_001"
    write_nifti(case / "BraTS20_Training_001_seg.nii.gz", np.full(SHAPE, 3, np.uint8))
    with pytest.raises(
        ValueError,
        match=r"_seg\.nii\.gz' holds values \[3\] outside the "
        r"expected \[0, 1, 2, 4\]",
    ):
        _ = BraTS2020(brats_root)[0].label


@pytest.mark.parametrize("layout", ["brats2020", "acdc", "iseg2017", "promise12", "synthetic"])
def test_loading_writes_nothing_into_root(tmp_path, layout):
    root = tmp_path / "data"
    data = SyntheticPhantoms(n_cases=2, shape=ODD).write(root, layout, n_test=1)
    before = tree_snapshot(root)
    for case in data:
        _ = case.image, case.label, case.spacing
    assert tree_snapshot(root) == before


def test_truncated_metaimage_names_the_header(tmp_path):
    data = SyntheticPhantoms(n_cases=2, shape=ODD).write(tmp_path, "promise12")
    raw = tmp_path / "training_data/Case00.raw"
    raw.write_bytes(raw.read_bytes()[:100])
    with pytest.raises(ValueError, match=r"could not read '.*training_data/Case00\.mhd'"):
        _ = data[0].image


def test_tfdata_is_imported_on_first_use_only():
    code = (
        "import sys, speccal.datasets as d; assert 'tensorflow' not in sys.modules; "
        "assert callable(d.tfdata.patch_dataset); assert 'tensorflow' in sys.modules; "
        "print(repr(d.SyntheticPhantoms(n_cases=2)))"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    assert out.stdout.strip() == "SyntheticPhantoms(root=None, split='train', n_cases=2)"
