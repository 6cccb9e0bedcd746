"""The files behind the figures (``spectrum.npz``, ``example.npz``, the ``*_pooled`` keys of
``metrics.json``) against values recomputed here, without the code that wrote them.

The run's model is a seeded pointwise (1x1x1) convolution, so its logits are
``image @ kernel + bias`` at every voxel: sliding-window blending leaves them unchanged, and
the test computes them with numpy alone.
"""

import json

import numpy as np
import pytest
from scipy import ndimage, signal, special

pytest.importorskip("tensorflow")

from speccal.experiments import RunConfig, evaluate_run  # noqa: E402

N_CLASSES = 4


def _pointwise_model(in_channels, n_classes):
    import keras

    inputs = keras.Input((None, None, None, in_channels))
    outputs = keras.layers.Conv3D(
        n_classes,
        1,
        kernel_initializer=keras.initializers.RandomNormal(stddev=0.5, seed=3),
        bias_initializer=keras.initializers.RandomNormal(stddev=0.5, seed=4),
    )(inputs)
    return keras.Model(inputs, outputs)


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory):
    """A run evaluated on two phantoms, the second with more foreground; its volumes, the
    model's numpy logits for each, and the returned metrics."""
    from speccal.datasets import SyntheticPhantoms
    from speccal.experiments import _evaluate
    from speccal.experiments._data import load_volumes

    run = tmp_path_factory.mktemp("run")
    dataset = SyntheticPhantoms(n_cases=6, shape=(16, 16, 12), seed=0)
    config = RunConfig(
        dataset="synthetic",
        root=str(run / "data"),
        patch_size=(8, 8, 8),
        cache_dir=str(run / "cache"),
    )
    config.save(run)
    ids = dataset.case_ids
    volumes = load_volumes(dataset, ids, config.cache_dir)
    foreground = [np.count_nonzero(v.label) for v in volumes]
    # the test cases: a smaller-foreground case first, so "the first case" is the wrong pick
    big, small = int(np.argmax(foreground)), int(np.argmin(foreground))
    test = [ids[small], ids[big]]
    split = {"train": [i for i in ids if i not in test][:3], "val": [], "test": test}
    split["val"] = [i for i in ids if i not in test + split["train"]]
    (run / "split.json").write_text(json.dumps(split))
    model = _pointwise_model(volumes[0].image.shape[-1], N_CLASSES)
    kernel, bias = (np.asarray(w, np.float64) for w in model.get_weights())
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_evaluate, "open_dataset", lambda name, root: dataset)
        patch.setattr(_evaluate, "load_trained_model", lambda *args: model)
        metrics = evaluate_run(run, progress=False)
    test_volumes = [volumes[small], volumes[big]]
    logits = [
        v.image.astype(np.float64) @ kernel.reshape(-1, N_CLASSES) + bias for v in test_volumes
    ]
    return run, test_volumes, logits, metrics


def _hamming_radial_spectrum(volume_map, n_bins):
    """Mean periodogram power of the Hamming-windowed map in rings of width 0.5 / (n_bins - 1)
    around each bin's radius (cycles per voxel), over the full (two-sided) FFT."""
    window = np.ones(volume_map.shape)
    for axis, n in enumerate(volume_map.shape):
        shape = [1] * volume_map.ndim
        shape[axis] = n
        window = window * signal.get_window("hamming", n).reshape(shape)
    power = np.abs(np.fft.fftn(volume_map * window)) ** 2 / np.sum(window**2)
    grids = np.meshgrid(*(np.fft.fftfreq(n) for n in volume_map.shape), indexing="ij")
    radius = np.sqrt(sum(g**2 for g in grids))
    ring = np.floor(radius / (0.5 / (n_bins - 1)) + 0.5).astype(int)
    return np.array([power[ring == b].mean() for b in range(n_bins)])


def test_spectrum_is_the_mean_spectrum_of_the_max_logit_maps(evaluated):
    # catches: a spectrum of the probabilities (or confidences) instead of the logits, a
    # missing window, one volume's spectrum instead of the mean
    run, volumes, logits, _ = evaluated
    spectrum = np.load(run / "spectrum.npz")
    max_logits = [z.max(-1) for z in logits]
    n_bins = min(min(m.shape) for m in max_logits) // 2 + 1
    np.testing.assert_allclose(spectrum["frequencies"], np.linspace(0, 0.5, n_bins))
    expected = np.mean([_hamming_radial_spectrum(m, n_bins) for m in max_logits], axis=0)
    np.testing.assert_allclose(spectrum["power"], expected, rtol=1e-4)


def test_example_is_the_largest_foreground_slice_of_the_case_with_most_foreground(evaluated):
    # catches: the first test case instead of the one with most foreground, a wrong slice
    # index, slices of another case's arrays
    run, volumes, logits, _ = evaluated
    counts = [np.count_nonzero(v.label) for v in volumes]
    assert counts[1] > counts[0]  # the fixture's premise
    volume, volume_logits = volumes[1], logits[1]
    per_slice = [np.count_nonzero(volume.label[:, :, z]) for z in range(volume.label.shape[2])]
    z = per_slice.index(max(per_slice))  # the first on ties
    example = np.load(run / "example.npz")
    assert str(example["case_id"]) == volume.case_id
    assert int(example["slice_index"]) == z
    np.testing.assert_array_equal(example["label"], volume.label[:, :, z])
    np.testing.assert_allclose(example["image"], volume.image[:, :, z, 0], rtol=1e-6)
    probability = special.softmax(volume_logits[:, :, z], axis=-1)
    np.testing.assert_allclose(example["probability"], probability, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(example["confidence"], probability.max(-1), rtol=1e-4)


def _band(label, spacing, width=2.0):
    """Voxels within ``width`` mm of a voxel that has a face neighbour of another label."""
    boundary = np.zeros(label.shape, bool)
    for axis in range(label.ndim):
        differs = np.diff(label, axis=axis) != 0
        pad_low = [(0, 0)] * label.ndim
        pad_high = [(0, 0)] * label.ndim
        pad_low[axis], pad_high[axis] = (1, 0), (0, 1)
        boundary |= np.pad(differs, pad_low) | np.pad(differs, pad_high)
    return ndimage.distance_transform_edt(~boundary, sampling=spacing) <= width


def test_pooled_metrics_are_the_metrics_of_the_concatenated_test_voxels(evaluated):
    # catches: *_pooled keys computed as per-volume means, or on one volume only
    from speccal.metrics import (
        expected_calibration_error,
        static_calibration_error,
        thresholded_adaptive_calibration_error,
    )

    _, volumes, logits, metrics = evaluated
    labels = np.concatenate([v.label.ravel() for v in volumes])
    probs = np.concatenate([special.softmax(z, axis=-1).reshape(-1, N_CLASSES) for z in logits])
    expected = {
        "ece_pooled": expected_calibration_error(labels, probs, n_bins=15),
        "sce_pooled": static_calibration_error(labels, probs, n_bins=15),
        "tace_pooled": thresholded_adaptive_calibration_error(
            labels, probs, n_bins=15, threshold=1e-3
        ),
    }
    band = np.concatenate([_band(v.label, v.spacing).ravel() for v in volumes])
    expected["boundary_ece_pooled"] = expected_calibration_error(
        labels[band], probs[band], n_bins=15
    )
    assert 0 < band.sum() < band.size
    for key, value in expected.items():
        assert metrics[key] == pytest.approx(value, rel=1e-6), key
        per_volume_mean = metrics[key.removesuffix("_pooled")]
        # the two volumes' pooled and mean values differ by more than the tolerance
        assert abs(per_volume_mean - value) > 10 * 1e-6 * value, key
    written = json.loads((evaluated[0] / "metrics.json").read_text())
    assert {k: written[k] for k in expected} == pytest.approx(expected, rel=1e-6)
