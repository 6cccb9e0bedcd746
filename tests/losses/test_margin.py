"""MarginLabelSmoothingLoss (MbLS)."""

import numpy as np
import pytest
from _baseline_numpy import cross_entropy, random_case

from speccal.losses import MarginLabelSmoothingLoss


def _mbls_numpy(labels, logits, lam, margin, valid=None):
    z = logits.astype(np.float64)
    if valid is None:
        valid = np.ones(labels.shape, bool)
    z_valid = z[valid]  # (N, C): ignored voxels removed before CE and penalty
    hinge = np.maximum(0.0, z_valid.max(-1, keepdims=True) - z_valid - margin)
    ce = cross_entropy(labels[valid], z_valid)
    return ce.mean() + lam * hinge.mean()  # penalty averaged over N * C entries


@pytest.mark.parametrize("spatial", [(5, 7), (5, 6, 7)])
@pytest.mark.parametrize(("lam", "margin"), [(0.1, 5.0), (0.5, 1.0)])
def test_mbls_equals_numpy(rng, spatial, lam, margin):
    labels, logits = random_case(rng, spatial, 4, scale=4.0)
    expected = _mbls_numpy(labels, logits, lam, margin)
    value = MarginLabelSmoothingLoss(lam=lam, margin=margin)(labels, logits)
    assert float(value) == pytest.approx(expected, rel=1e-5)


def test_mbls_ignored_voxels_are_removed_before_both_terms(rng):
    labels, logits = random_case(rng, (5, 6, 7), 3, scale=4.0)
    labels = labels.copy()
    labels[:, :2] = 255
    expected = _mbls_numpy(np.where(labels == 255, 0, labels), logits, 0.1, 1.0, labels != 255)
    value = MarginLabelSmoothingLoss(margin=1.0, ignore_class=255)(labels, logits)
    assert float(value) == pytest.approx(expected, rel=1e-5)


def test_mbls_defaults():
    loss = MarginLabelSmoothingLoss()
    assert (loss.lam, loss.margin) == (0.1, 5.0)


@pytest.mark.parametrize(
    ("kwargs", "name"), [({"lam": -0.1}, "lam"), ({"margin": -1.0}, "margin")]
)
def test_mbls_bad_hyperparameters(kwargs, name):
    with pytest.raises(ValueError, match=f"`{name}` must be a finite number >= 0.0"):
        MarginLabelSmoothingLoss(**kwargs)
