"""SpatiallyVaryingLabelSmoothingLoss (SVLS)."""

import numpy as np
import pytest
from _baseline_numpy import log_softmax, one_hot, random_case, window_sum

from speccal.losses import SpatiallyVaryingLabelSmoothingLoss

# Published in LOSSES.md: (n_spatial, sigma) -> neighbour weights by distance class.
KERNEL_VALUES = [
    (3, 2.0, {"face": 0.0219, "edge": 0.0193, "corner": 0.0171}),
    (3, 1.0, {"face": 0.0308, "edge": 0.0187, "corner": 0.0113}),
    (2, 1.0, {"face": 0.0778, "corner": 0.0472}),
    (2, 2.0, {"face": 0.0664, "corner": 0.0586}),
]


@pytest.mark.parametrize(("n_spatial", "sigma", "values"), KERNEL_VALUES)
def test_svls_kernel_weights(n_spatial, sigma, values):
    kernel = SpatiallyVaryingLabelSmoothingLoss(sigma=sigma).kernel_weights(n_spatial)
    assert kernel.shape == (3,) * n_spatial
    assert kernel[(1,) * n_spatial] == pytest.approx(0.5)
    assert kernel.sum() == pytest.approx(1.0)
    assert kernel[(0,) + (1,) * (n_spatial - 1)] == pytest.approx(values["face"], abs=5e-5)
    assert kernel[(0,) * n_spatial] == pytest.approx(values["corner"], abs=5e-5)
    if "edge" in values:
        assert kernel[0, 0, 1] == pytest.approx(values["edge"], abs=5e-5)


def _reference_kernel(n_spatial, sigma):
    """The authors' recipe, step by step: Gaussian, centre <- 1 - g_c, / (1 - g_c), / sum."""
    grid = np.indices((3,) * n_spatial) - 1.0
    g = np.exp(-(grid**2).sum(0) / (2 * sigma**2))
    g = g / g.sum()
    centre = (1,) * n_spatial
    neighbours = 1 - g[centre]
    g[centre] = neighbours
    g = g / neighbours
    return g / g.sum()


def _svls_numpy(labels, logits, sigma, n_classes):
    kernel = _reference_kernel(labels.ndim - 1, sigma)
    targets = window_sum(one_hot(labels, n_classes), kernel, mode="edge")  # replicate
    return (-(targets * log_softmax(logits)).sum(-1)).mean()


@pytest.mark.parametrize("spatial", [(5, 7), (5, 6, 7)])
@pytest.mark.parametrize("sigma", [1.0, 2.0])
def test_svls_equals_numpy(rng, spatial, sigma):
    labels, logits = random_case(rng, spatial, 3)
    expected = _svls_numpy(labels, logits, sigma, 3)
    value = SpatiallyVaryingLabelSmoothingLoss(sigma=sigma)(labels, logits)
    assert float(value) == pytest.approx(expected, rel=1e-5)


def test_svls_uniform_label_map_is_cross_entropy(rng):
    labels = np.full((1, 5, 6, 7), 2, np.int32)
    logits = rng.normal(size=(1, 5, 6, 7, 3)).astype(np.float32)
    expected = -log_softmax(logits)[..., 2].mean()
    value = SpatiallyVaryingLabelSmoothingLoss()(labels, logits)
    assert float(value) == pytest.approx(expected, rel=1e-5)


def test_svls_targets_carry_no_gradient(rng):
    import tensorflow as tf

    labels, logits = random_case(rng, (5, 7), 3, batch=1)
    z = tf.Variable(logits)
    with tf.GradientTape() as tape:
        value = SpatiallyVaryingLabelSmoothingLoss()(labels, z)
    kernel = _reference_kernel(2, 2.0)
    targets = window_sum(one_hot(labels, 3), kernel, mode="edge")
    expected = (np.exp(log_softmax(logits)) - targets) / labels.size
    np.testing.assert_allclose(tape.gradient(value, z).numpy(), expected, atol=1e-6)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"sigma": 0.0}, "`sigma` must be a finite number > 0.0; got 0.0"),
        ({"sigma": -2.0}, "`sigma` must be a finite number > 0.0"),
        ({"kernel_size": 4}, "`kernel_size` must be an odd int >= 3; got 4"),
        ({"kernel_size": 1}, "`kernel_size` must be an int >= 3"),
    ],
)
def test_svls_bad_hyperparameters(kwargs, match):
    with pytest.raises(ValueError, match=match):
        SpatiallyVaryingLabelSmoothingLoss(**kwargs)
