"""Resampling, normalisation, caching, augmentation and splits."""

import json
from types import SimpleNamespace

import numpy as np
import pytest
from dataset_files import tree_snapshot
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import ndimage

from speccal.datasets import (
    Augmenter,
    PreprocessedDataset,
    SyntheticPhantoms,
    load_split,
    make_split,
    median_spacing,
    preprocess,
    resample,
    zscore,
)


def test_resample_label_keeps_values(rng):
    label = rng.choice(np.array([0, 2, 5], np.uint8), (7, 8, 9))
    out, affine = resample(label, (1.0, 1.2, 2.0), (0.7, 0.7, 1.3), is_label=True)
    assert out.dtype == np.uint8
    assert set(np.unique(out)) <= {0, 2, 5}
    assert out.shape == (10, 14, 14)  # round(shape * spacing / target)
    np.testing.assert_allclose(np.sqrt((affine[:3, :3] ** 2).sum(0)), [0.7, 8 * 1.2 / 14, 18 / 14])


def test_resample_affine_keeps_the_field_of_view():
    image = np.zeros((6, 6, 4), np.float32)
    out, affine = resample(image, (1.0, 1.0, 3.0), (2.0, 2.0, 3.0))
    assert out.shape == (3, 3, 4)
    # first new voxel centre lies halfway between old voxels 0 and 1
    np.testing.assert_allclose(affine @ [0, 0, 0, 1], [0.5, 0.5, 0.0, 1.0])
    # last new voxel centre halfway between old voxels 4 and 5
    np.testing.assert_allclose(affine @ [2, 2, 3, 1], [4.5, 4.5, 9.0, 1.0])


def test_resample_image_is_trilinear_in_plane():
    ramp = np.broadcast_to(np.arange(4, dtype=np.float32)[:, None, None], (4, 3, 3))
    out, _ = resample(ramp, (2.0, 1.0, 1.0), (1.0, 1.0, 1.0))
    # box-centred upsampling of a linear ramp stays linear inside (edges clamp)
    np.testing.assert_allclose(out[1:-1, 0, 0], np.arange(1, 7) * 0.5 - 0.25)


def test_resample_anisotropic_coarse_axis_is_nearest():
    # slices 10 mm apart: anisotropy 10 > 3, so z must never be interpolated
    image = np.zeros((4, 4, 3), np.float32)
    image[..., 1] = 1.0
    out, _ = resample(image, (1.0, 1.0, 10.0), (1.0, 1.0, 5.0))
    assert out.shape == (4, 4, 6)
    assert set(np.unique(out)) == {0.0, 1.0}
    expected = ndimage.zoom(image, (1, 1, 2), order=0, grid_mode=True, mode="nearest")
    np.testing.assert_array_equal(out, expected)
    smooth, _ = resample(image, (1.0, 1.0, 10.0), (1.0, 1.0, 5.0), anisotropy_threshold=20)
    assert len(np.unique(smooth)) > 2


def test_resample_bad_spacing():
    with pytest.raises(
        ValueError,
        match=r"`target_spacing` must be 3 positive numbers \(mm\); "
        r"got \(1, 0, 1\)",
    ):
        resample(np.zeros((2, 2, 2)), (1, 1, 1), (1, 0, 1))


def test_mri_zscore_over_nonzero_voxels(rng):
    image = np.zeros((7, 8, 9, 2), np.float32)
    image[2:6, 2:7, 1:8] = rng.normal(300, 40, (4, 5, 7, 2))
    out, _, _ = preprocess(image, None, (1, 1, 1))
    inside = image[..., 0] != 0
    for c in range(2):
        channel = image[..., c][inside]
        np.testing.assert_allclose(
            out[..., c][inside], (channel - channel.mean()) / channel.std(), rtol=1e-4, atol=1e-5
        )
    assert np.all(out[~inside] == 0)


def test_mri_mask_taken_before_resampling(rng):
    image = np.zeros((8, 8, 8, 1), np.float32)
    image[2:6, 2:6, 2:6] = rng.uniform(100, 200, (4, 4, 4, 1))
    out, _, _ = preprocess(image, None, (1, 1, 1), target_spacing=(0.5, 0.5, 0.5))
    mask, _ = resample(image[..., 0] != 0, (1, 1, 1), (0.5,) * 3, is_label=True)
    np.testing.assert_array_equal(out[..., 0] != 0, mask)
    np.testing.assert_allclose([out[mask].mean(), out[mask].std()], [0, 1], atol=1e-5)


def test_ct_clip_then_zscore():
    hu = np.array([-3000, -1000, 0, 400, 2000, 100], np.float32).reshape(1, 2, 3, 1)
    out, _, _ = preprocess(hu, None, (1, 1, 1), modality="ct")
    clipped = np.clip(hu, -1000, 400)
    np.testing.assert_allclose(out, (clipped - clipped.mean()) / clipped.std(), rtol=1e-5)


def test_zscore_constant_channel_is_finite():
    out = zscore(np.full((2, 2, 2, 1), 5.0))
    np.testing.assert_array_equal(out, 0.0)


def test_preprocess_errors():
    with pytest.raises(ValueError, match="`modality` must be 'mri' or 'ct'; got 'pet'"):
        preprocess(np.ones((2, 2, 2, 1)), None, (1, 1, 1), modality="pet")
    with pytest.raises(
        ValueError,
        match=r"`label` must have the image's spatial shape "
        r"\(2, 2, 2\); got \(2, 2, 3\)",
    ):
        preprocess(np.ones((2, 2, 2, 1)), np.zeros((2, 2, 3)), (1, 1, 1))


def test_median_spacing():
    phantoms = SyntheticPhantoms(n_cases=5, shape=(8, 8, 8), spacing=(1, 2, 3), spacing_jitter=0.2)
    spacings = np.array([case.spacing for case in phantoms])
    assert len(np.unique(spacings[:, 0])) == 5
    np.testing.assert_allclose(median_spacing(phantoms), np.median(spacings, axis=0))


def test_preprocessed_dataset_cache(tmp_path):
    root, cache = tmp_path / "data", tmp_path / "cache"
    data = SyntheticPhantoms(n_cases=3, shape=(9, 10, 7), spacing_jitter=0.2).write(root)
    before = tree_snapshot(root)
    pre = PreprocessedDataset(data, cache_dir=cache)
    first = pre[1]
    target = median_spacing(data)
    expected = preprocess(
        data[1].image, data[1].label, data[1].spacing, target_spacing=target, affine=data[1].affine
    )
    np.testing.assert_array_equal(first.image, expected[0])
    np.testing.assert_array_equal(first.label, expected[1])
    assert first.case_id == "phantom_001" and len(pre) == 3
    cached = list(cache.rglob("output.pkl"))
    assert len(cached) == 1
    again = pre[1]
    assert isinstance(again.image, np.memmap)  # read back from the cache
    np.testing.assert_array_equal(again.image, first.image)
    PreprocessedDataset(data, cache_dir=cache, target_spacing=(2.0, 2.0, 2.0))[1]
    assert len(list(cache.rglob("output.pkl"))) == 2  # new parameters, new entry
    assert tree_snapshot(root) == before


def test_cache_inside_dataset_is_refused(tmp_path):
    data = SyntheticPhantoms(n_cases=3, shape=(8, 8, 8)).write(tmp_path)
    with pytest.raises(ValueError, match="`cache_dir` must be outside the dataset folder"):
        PreprocessedDataset(data, cache_dir=tmp_path / "imagesTr" / "cache")
    with pytest.raises(ValueError, match="`target_spacing` must be 'median', 3 floats or None"):
        PreprocessedDataset(data, cache_dir=False, target_spacing="mean")


def test_augmenter_is_seeded_and_flips_label_with_image(rng):
    image = rng.normal(size=(6, 7, 8, 2)).astype(np.float32)
    label = rng.integers(0, 3, (6, 7, 8)).astype(np.uint8)
    aug = Augmenter(flip_prob=1.0, gamma_prob=0, noise_prob=0, blur_prob=0, brightness_prob=0)
    out, lab = aug(image, label, 0)
    np.testing.assert_array_equal(out, image[::-1, ::-1, ::-1])
    np.testing.assert_array_equal(lab, label[::-1, ::-1, ::-1])
    full = Augmenter(gamma_prob=1, noise_prob=1, blur_prob=1, brightness_prob=1)
    a, b = full(image, label, 7), full(image, label, 7)
    np.testing.assert_array_equal(a[0], b[0])
    assert not np.allclose(a[0], full(image, label, 8)[0])
    assert set(np.unique(a[1])) <= {0, 1, 2}


def test_augmenter_gamma_and_brightness_values(rng):
    image = rng.uniform(0, 1, (4, 4, 4, 1)).astype(np.float32)
    image.flat[0], image.flat[1] = 0.0, 1.0
    only_gamma = Augmenter(
        flip_prob=0,
        gamma_prob=1,
        gamma_range=(2.0, 2.0),
        noise_prob=0,
        blur_prob=0,
        brightness_prob=0,
    )
    np.testing.assert_allclose(only_gamma(image, None, 0)[0], image**2, rtol=1e-5, atol=1e-6)
    only_bright = Augmenter(
        flip_prob=0,
        gamma_prob=0,
        noise_prob=0,
        blur_prob=0,
        brightness_prob=1,
        brightness_range=(1.2, 1.2),
    )
    np.testing.assert_allclose(only_bright(image, None, 0)[0], image * 1.2, rtol=1e-6)


def test_augmenter_errors():
    with pytest.raises(
        ValueError,
        match=r"`noise_prob` must be a probability in \[0, 1\]; "
        r"got 1.5",
    ):
        Augmenter(noise_prob=1.5)
    with pytest.raises(ValueError, match=r"`gamma_range` must be a \(low, high\) pair"):
        Augmenter(gamma_range=(2.0, 1.0))


def test_split_is_deterministic_and_disjoint(tmp_path):
    ids = [f"case{i:02d}" for i in range(30)]
    first = make_split(ids, tmp_path / "split.json", seed=4)
    assert first == make_split(ids, seed=4) != make_split(ids, seed=5)
    assert [len(first[k]) for k in ("train", "val", "test")] == [20, 5, 5]
    joined = first["train"] + first["val"] + first["test"]
    assert sorted(joined) == ids
    assert load_split(tmp_path / "split.json") == first
    manifest = json.loads((tmp_path / "split.json").read_text())
    assert manifest["seed"] == 4 and manifest["ratio"] == [4, 1, 1]
    with pytest.raises(FileExistsError, match="split manifest .* already exists"):
        make_split(ids, tmp_path / "split.json")


def test_split_keeps_acdc_patients_together(tmp_path):
    data = SyntheticPhantoms(n_cases=12, shape=(8, 8, 8)).write(tmp_path, "acdc")
    split = make_split(data, seed=1)
    for part in split.values():
        patients = {c.rsplit("_", 1)[0] for c in part}
        assert sorted(part) == sorted(f"{p}_{f}" for p in patients for f in ("ED", "ES"))


def test_split_errors(tmp_path):
    with pytest.raises(ValueError, match="`cases` must hold at least 3 groups to split; got 2"):
        make_split(["a", "b"])
    with pytest.raises(ValueError, match=r"`ratio` must be 3 non-negative ints"):
        make_split(["a", "b", "c"], ratio=(0, 1, 1))
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"train": ["a", "b"], "val": ["b"], "test": []}))
    with pytest.raises(ValueError, match=r"puts case 'b' in both 'train' and 'val'"):
        load_split(bad)
    bad.write_text("{")
    with pytest.raises(ValueError, match=r"split manifest '.*bad\.json' is corrupt"):
        load_split(bad)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_split(tmp_path / "none.json")


@settings(max_examples=25, deadline=None)
@given(
    shape=st.tuples(*[st.integers(2, 9)] * 3),
    spacing=st.tuples(*[st.floats(0.5, 6.0)] * 3),
    target=st.tuples(*[st.floats(0.5, 6.0)] * 3),
    seed=st.integers(0, 2**16),
)
def test_property_resampled_labels_keep_values_and_shape(shape, spacing, target, seed):
    label = np.random.default_rng(seed).choice(np.array([0, 1, 4], np.uint8), shape)
    out, affine = resample(label, spacing, target, is_label=True)
    assert set(np.unique(out)) <= set(np.unique(label))
    expected = np.maximum(1, np.rint(np.multiply(shape, spacing) / target))
    assert out.shape == tuple(int(n) for n in expected)
    # the field of view is kept: new extent = old extent along every axis
    new_spacing = np.sqrt((affine[:3, :3] ** 2).sum(0))
    np.testing.assert_allclose(new_spacing * out.shape, np.multiply(spacing, shape))


@settings(max_examples=25, deadline=None)
@given(n_groups=st.integers(3, 40), per_group=st.integers(1, 3), seed=st.integers(0, 99))
def test_property_split_is_a_partition_by_group(n_groups, per_group, seed):
    ids = [f"p{g:02d}_{f}" for g in range(n_groups) for f in range(per_group)]
    cases = [SimpleNamespace(case_id=c, group=c.split("_")[0]) for c in ids]
    split = make_split(cases, seed=seed)
    joined = [c for part in split.values() for c in part]
    assert sorted(joined) == sorted(ids)
    assert len(split["val"]) >= per_group and len(split["test"]) >= per_group
    assert len(split["train"]) >= per_group
    owner = {c.split("_")[0]: name for name, part in split.items() for c in part}
    assert all(owner[c.split("_")[0]] == name for name, part in split.items() for c in part)


def _rewrite(path, change, spacing=None):
    """Rewrite a NIfTI file with ``change(array)`` (float64 data) and optionally a spacing."""
    import nibabel as nib

    image = nib.load(path)
    array = change(np.asarray(image.dataobj, dtype=np.float64))
    affine = image.affine.copy()
    if spacing is not None:
        affine[:3, :3] = np.diag(spacing)
    nib.Nifti1Image(array, affine).to_filename(path)


@pytest.mark.parametrize(
    ("which", "value", "match"),
    [
        ("image", np.nan, r"image '.*phantom_001\.nii\.gz' holds 1 NaN or infinite values "
                          r"\(first at voxel \(2, 3, 4, 0\)\); speccal needs finite intensities"),
        ("image", np.inf, r"image '.*phantom_001\.nii\.gz' holds 1 NaN or infinite values"),
        ("label", np.nan, r"label '.*phantom_001\.nii\.gz' holds 1 NaN or infinite values "
                          r"\(first at voxel \(2, 3, 4\)\); speccal needs finite labels, "
                          r"integers in \[0, 1, 2, 3\]"),
        ("label", 1.5, r"label '.*phantom_001\.nii\.gz' holds 1 non-integer values \(e\.g\. "
                       r"\[1\.5\]\); labels must be integers in \[0, 1, 2, 3\]"),
        ("label", 7, r"label '.*phantom_001\.nii\.gz' holds values \[7\] outside the expected"),
        ("label", -1, r"label '.*phantom_001\.nii\.gz' holds values \[-1\] outside the expected"),
    ],
)  # fmt: skip
def test_non_finite_or_bad_voxels_name_the_case_and_the_file(tmp_path, which, value, match):
    data = SyntheticPhantoms(n_cases=3, shape=(9, 10, 7)).write(tmp_path / "data")
    case = data[1]
    path = case.image_files[0] if which == "image" else case.label_file

    def poison(array):
        array[(2, 3, 4) + (0,) * (array.ndim - 3)] = value  # one voxel of one channel
        return array

    _rewrite(path, poison)
    with pytest.raises(ValueError, match=rf"case 'phantom_001': {match}"):
        getattr(case, which)
    with pytest.raises(ValueError, match=rf"case 'phantom_001': {match}"):
        PreprocessedDataset(data, cache_dir=tmp_path / "cache")[1]
    assert not list((tmp_path / "cache").rglob("output.pkl"))  # nothing cached


def test_preprocess_refuses_a_non_finite_image():
    image = np.ones((4, 4, 2, 1))
    image[1, 1, 1, 0] = np.nan
    with pytest.raises(ValueError, match=r"`image` must be finite; got 1 NaN or infinite values"):
        preprocess(image, None, (1, 1, 1))


def test_a_header_spacing_that_would_blow_up_a_case_is_refused(tmp_path):
    data = SyntheticPhantoms(n_cases=5, shape=(9, 10, 7), spacing=(1.0, 1.0, 2.0)).write(
        tmp_path / "data"
    )
    case = data[3]
    for path in (*case.image_files, case.label_file):
        _rewrite(path, lambda a: a, spacing=(1000.0, 1.0, 2.0))
    match = (
        r"case 'phantom_003' \(.*imagesTr/phantom_003\.nii\.gz\): its header spacing "
        r"\(1000\.0, 1\.0, 2\.0\) mm would resample it to the target spacing \(1\.0, 1\.0, "
        r"2\.0\) mm as 9000×10×7 voxels, more than 8× its 9×10×7; check the spacing"
    )
    with pytest.raises(ValueError, match=match):
        PreprocessedDataset(data, cache_dir=False)[3]
    PreprocessedDataset(data, cache_dir=False)[2]  # the other cases are fine
