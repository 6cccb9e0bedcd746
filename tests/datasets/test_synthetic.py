"""SyntheticPhantoms, the patch sampler and the tf.data pipeline."""

import numpy as np
import pytest
from scipy import ndimage

from speccal.datasets import Augmenter, PatchSampler, SyntheticPhantoms, get_dataset


def test_phantoms_are_deterministic_and_seeded():
    a = SyntheticPhantoms(n_cases=3, shape=(12, 11, 9), seed=5)
    b = SyntheticPhantoms(n_cases=3, shape=(12, 11, 9), seed=5)
    c = SyntheticPhantoms(n_cases=3, shape=(12, 11, 9), seed=6)
    np.testing.assert_array_equal(a[2].image, b[2].image)
    np.testing.assert_array_equal(a[2].label, b[2].label)
    assert not np.array_equal(a[2].label, c[2].label)
    assert not np.array_equal(a[0].label, a[1].label)


def test_phantom_anatomy_is_nested_with_partial_volume():
    phantoms = SyntheticPhantoms(n_cases=6, shape=(40, 40, 32), noise=0.0, seed=0)
    for case in phantoms:
        label, image = case.label, case.image
        assert set(np.unique(label)) == {0, 1, 2, 3}
        # nested: class 3 sits inside class 2 inside class 1, so it never touches background
        assert not np.any(ndimage.binary_dilation(label == 3) & (label == 0))
        touching = ndimage.binary_dilation(label == 2) & (label == 0)
        assert touching.sum() < 0.1 * (label == 2).sum()
        body = image[..., 0] > 0
        assert np.all(label[~body] == 0)  # structures inside the body, background exactly 0
        assert body.mean() > 2 * (label > 0).mean()  # labelled background tissue
    # partial volume: along a boundary intensities take values between the two sides
    case = phantoms[0]
    image, label = case.image[..., 0], case.label
    edge = (ndimage.binary_dilation(label == 1) & (label == 0)) & (image > 0)
    inside_1 = ndimage.binary_erosion(label == 1, iterations=2)
    outside = ndimage.binary_erosion((label == 0) & (image > 0), iterations=2)
    low, high = sorted([np.median(image[inside_1]), np.median(image[outside])])
    between = (image[edge] > low + 0.1 * (high - low)) & (image[edge] < high - 0.1 * (high - low))
    assert between.mean() > 0.3


def test_phantom_noise_level_and_spacing():
    clean = SyntheticPhantoms(n_cases=1, shape=(24, 24, 16), noise=0.0)[0]
    noisy = SyntheticPhantoms(n_cases=1, shape=(24, 24, 16), noise=0.1)[0]
    body = (clean.image > 0) & (noisy.image > 0.05)
    np.testing.assert_allclose((noisy.image - clean.image)[body].std(), 0.1, rtol=0.1)
    assert clean.spacing == (1.0, 1.0, 2.0)  # anisotropic by default
    np.testing.assert_array_equal(clean.affine, np.diag([1.0, 1.0, 2.0, 1.0]))


def test_write_on_the_class_and_read_back(tmp_path):
    data = SyntheticPhantoms.write(tmp_path, n_cases=4, shape=(10, 9, 8), seed=2, n_test=1)
    assert type(data) is SyntheticPhantoms and len(data) == 4
    again = get_dataset("synthetic", tmp_path)
    assert again.params["seed"] == 2 and again.class_names == data.class_names
    memory = SyntheticPhantoms(n_cases=4, shape=(10, 9, 8), seed=2)
    np.testing.assert_allclose(again[3].image, memory[3].image)
    np.testing.assert_array_equal(again[3].label, memory[3].label)
    assert get_dataset("synthetic", tmp_path, split="test").case_ids == ["phantom_004"]


def test_phantom_parameter_errors(tmp_path):
    with pytest.raises(ValueError, match=r"`n_cases` must be an int >= 1; got 0"):
        SyntheticPhantoms(n_cases=0)
    with pytest.raises(ValueError, match=r"`n_classes` must be an int in \[2, 8\]; got 9"):
        SyntheticPhantoms(n_classes=9)
    with pytest.raises(ValueError, match=r"`shape` must be 3 ints >= 4; got \(8, 8\)"):
        SyntheticPhantoms(shape=(8, 8))
    with pytest.raises(ValueError, match=r"`n_classes` must be 4 \(or None\) for the brats2020"):
        SyntheticPhantoms(n_classes=3).write(tmp_path, "brats2020")
    with pytest.raises(ValueError, match=r"`layout` must be one of 'brats2020', .*; got 'kits'"):
        SyntheticPhantoms().write(tmp_path, "kits")


def test_patch_sampler_pads_small_volumes():
    image = np.ones((5, 9, 4, 1), np.float32)
    label = np.ones((5, 9, 4), np.uint8)
    sampler = PatchSampler([(image, label)], (8, 8, 8), foreground_fraction=0.0)
    patch, lab = sampler.sample(3)
    assert patch.shape == (8, 8, 8, 1) and lab.shape == (8, 8, 8) and lab.dtype == np.int32
    assert patch.sum() == lab.sum() == 5 * 8 * 4  # x and z padded, y cropped
    assert lab[0].sum() == 0 and lab[:, :, 0].sum() == 0  # symmetric padding: 1 before in x


def test_patch_sampler_foreground_bias():
    label = np.zeros((40, 40, 40), np.uint8)
    label[30:33, 5:8, 20:23] = 2
    image = label[..., None].astype(np.float32)
    always = PatchSampler([(image, label)], (8, 8, 8), foreground_fraction=1.0)
    assert all(always.sample(i)[1].any() for i in range(20))
    never = PatchSampler([(image, label)], (8, 8, 8), foreground_fraction=0.0)
    hits = np.mean([never.sample(i)[1].any() for i in range(200)])
    assert hits < 0.2
    np.testing.assert_array_equal(always.sample(4)[0], always.sample(4)[0])


def test_patch_sampler_errors():
    with pytest.raises(ValueError, match=r"`patch_size` must be 3 positive ints; got \(8, 8\)"):
        PatchSampler([], (8, 8))
    with pytest.raises(ValueError, match="volume 0 has no label"):
        PatchSampler([(np.zeros((4, 4, 4, 1)), None)], (4, 4, 4))
    with pytest.raises(ValueError, match="at least one labelled volume"):
        PatchSampler([], (4, 4, 4))


def test_tf_pipeline_shapes_and_determinism():
    from speccal.datasets.tfdata import patch_dataset

    phantoms = SyntheticPhantoms(n_cases=3, shape=(20, 18, 12), seed=0)
    first = patch_dataset(phantoms, (16, 16, 16), seed=3, n_patches=4)
    batches = list(first)
    assert len(batches) == 2
    images, labels = batches[0]
    assert tuple(images.shape) == (2, 16, 16, 16, 2) and images.dtype.name == "float32"
    assert tuple(labels.shape) == (2, 16, 16, 16) and labels.dtype.name == "int32"
    again = list(patch_dataset(phantoms, (16, 16, 16), seed=3, n_patches=4))
    np.testing.assert_array_equal(batches[1][0].numpy(), again[1][0].numpy())
    sampler = PatchSampler(phantoms, (16, 16, 16), seed=3, augment=Augmenter())
    np.testing.assert_array_equal(labels.numpy()[1], sampler.sample(1)[1])
    later = list(patch_dataset(phantoms, (16, 16, 16), seed=3, n_patches=2, start=2))
    assert len(later) == 1  # batch 1 of the stream, without drawing batch 0
    np.testing.assert_array_equal(later[0][0].numpy(), batches[1][0].numpy())
    endless = patch_dataset(phantoms, (16, 16, 16), seed=3, start=2)
    np.testing.assert_array_equal(next(iter(endless))[1].numpy(), batches[1][1].numpy())
    with pytest.raises(ValueError, match="`batch_size` must be a positive int; got 0"):
        patch_dataset(phantoms, (8, 8, 8), batch_size=0)
    with pytest.raises(ValueError, match="`start` must be a non-negative int; got -2"):
        patch_dataset(phantoms, (8, 8, 8), start=-2)


def _dice(pred, label, k):
    return 2 * np.sum((pred == k) & (label == k)) / (np.sum(pred == k) + np.sum(label == k))


def test_voxel_intensities_alone_do_not_solve_the_phantoms():
    from sklearn.discriminant_analysis import QuadraticDiscriminantAnalysis

    from speccal.datasets import PreprocessedDataset

    data = PreprocessedDataset(SyntheticPhantoms(n_cases=8, seed=0), cache_dir=False)
    cases = list(data)
    features = np.concatenate([c.image.reshape(-1, 2) for c in cases[:6]])
    targets = np.concatenate([c.label.ravel() for c in cases[:6]])
    qda = QuadraticDiscriminantAnalysis().fit(features, targets)
    dices = [
        [
            _dice(qda.predict(c.image.reshape(-1, 2)).reshape(c.label.shape), c.label, k)
            for k in (1, 2, 3)
        ]
        for c in cases[6:]
    ]
    # a voxel-wise intensity classifier misses at least one structure: context is needed
    assert min(np.mean(dices, axis=0)) < 0.8


@pytest.mark.slow
def test_tiny_unet_learns_the_phantoms():
    import keras

    from speccal.datasets import PreprocessedDataset
    from speccal.datasets.tfdata import patch_dataset
    from speccal.models import unet3d

    keras.utils.set_random_seed(0)
    data = PreprocessedDataset(SyntheticPhantoms(n_cases=10, shape=(32, 32, 24)), cache_dir=False)
    cases = list(data)
    model = unet3d(2, 4, base_filters=8, depth=3)
    model.compile(
        optimizer=keras.optimizers.Adam(3e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    model.fit(
        patch_dataset(cases[:8], (32, 32, 24), seed=0),
        steps_per_epoch=100,
        shuffle=False,
        verbose=0,
    )
    dices = []
    for case in cases[8:]:
        pred = model.predict(case.image[None], verbose=0)[0].argmax(-1)
        dices.append([_dice(pred, case.label, k) for k in (1, 2, 3)])
    assert np.mean(dices) > 0.6
