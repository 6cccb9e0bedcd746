"""NACLLoss, including MONAI's published golden values."""

import numpy as np
import pytest
from _baseline_numpy import cross_entropy, one_hot, random_case, window_sum

from speccal.losses import NACLLoss

# Project-MONAI/MONAI tests/losses/test_nacl_loss.py: channels-first (1, 3, 4, 4) logits.
MONAI_INPUTS = np.array(
    [
        [
            [
                [0.1498, 0.1158, 0.3996, 0.3730],
                [0.2155, 0.1585, 0.8541, 0.8579],
                [0.6640, 0.2424, 0.0774, 0.0324],
                [0.0580, 0.2180, 0.3447, 0.8722],
            ],
            [
                [0.3908, 0.9366, 0.1779, 0.1003],
                [0.9630, 0.6118, 0.4405, 0.7916],
                [0.5782, 0.9515, 0.4088, 0.3946],
                [0.7860, 0.3910, 0.0324, 0.9568],
            ],
            [
                [0.0759, 0.0238, 0.5570, 0.1691],
                [0.2703, 0.7722, 0.1611, 0.6431],
                [0.8051, 0.6596, 0.4121, 0.1125],
                [0.5283, 0.6746, 0.5528, 0.7913],
            ],
        ]
    ],
    dtype=np.float32,
)
MONAI_TARGETS = np.array([[[1, 1, 1, 1], [1, 1, 1, 0], [0, 0, 1, 0], [0, 1, 0, 0]]])


@pytest.mark.parametrize(
    ("kwargs", "repeat", "expected"),
    [
        ({}, 1, 1.1442),
        ({}, 4, 1.1442),
        ({"distance_type": "l2"}, 1, 1.1269),
        ({"lam": 0.2}, 1, 1.1790),
    ],
)
def test_nacl_reproduces_monai_golden_values(kwargs, repeat, expected):
    logits = np.repeat(np.moveaxis(MONAI_INPUTS, 1, -1), repeat, axis=0)
    labels = np.repeat(MONAI_TARGETS, repeat, axis=0)
    value = float(NACLLoss(**kwargs)(labels, logits))
    np.testing.assert_allclose(value, expected, atol=1e-4, rtol=1e-4)


def _nacl_numpy(labels, logits, lam, kernel_size, distance, n_classes, valid=None):
    d = labels.ndim - 1
    onehot = one_hot(labels, n_classes)
    if valid is not None:
        onehot = onehot * valid[..., None]
    weights = np.full((kernel_size,) * d, 1.0 / kernel_size**d)
    tau = window_sum(onehot, weights, mode="constant")  # MONAI: zero-padded one-hot
    diff = tau - logits.astype(np.float64)
    per_voxel = np.abs(diff) if distance == "l1" else diff**2
    terms = cross_entropy(np.where(onehot.any(-1), labels, 0), logits) + lam * per_voxel.mean(-1)
    return terms.mean() if valid is None else terms[valid].mean()


@pytest.mark.parametrize("spatial", [(5, 7), (5, 6, 7)])
@pytest.mark.parametrize(("kernel_size", "distance"), [(3, "l1"), (5, "l2")])
def test_nacl_equals_numpy(rng, spatial, kernel_size, distance):
    labels, logits = random_case(rng, spatial, 3)
    expected = _nacl_numpy(labels, logits, 0.1, kernel_size, distance, 3)
    loss = NACLLoss(kernel_size=kernel_size, distance_type=distance)
    assert float(loss(labels, logits)) == pytest.approx(expected, rel=1e-5)


def test_nacl_ignored_voxels_are_empty_neighbours(rng):
    labels, logits = random_case(rng, (5, 6, 7), 3)
    labels = labels.copy()
    labels[0, 1:3, 2:4] = -1
    valid = labels != -1
    expected = _nacl_numpy(np.where(valid, labels, 0), logits, 0.1, 3, "l1", 3, valid)
    value = NACLLoss(ignore_class=-1)(labels, logits)
    assert float(value) == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"lam": -1.0}, "`lam` must be a finite number >= 0.0; got -1.0"),
        ({"kernel_size": 2}, "`kernel_size` must be"),
        ({"distance_type": "l3"}, r"`distance_type` must be one of \('l1', 'l2'\); got 'l3'"),
    ],
)
def test_nacl_bad_hyperparameters(kwargs, match):
    with pytest.raises(ValueError, match=match):
        NACLLoss(**kwargs)
