"""MEEPLoss (KL form)."""

import numpy as np
import pytest
from _baseline_numpy import cross_entropy, log_softmax, random_case

from speccal.losses import MEEPLoss


def _meep_numpy(labels, logits, lam):
    p = np.exp(log_softmax(logits))
    wrong = p.argmax(-1) != labels
    kl_terms = np.log(np.clip(p, 1e-7, 1.0)).mean(-1)  # MEEP_KL of the TF reference
    regulariser = kl_terms[wrong].sum() / wrong.sum()
    return cross_entropy(labels, logits).mean() - lam * regulariser


@pytest.mark.parametrize("spatial", [(5, 7), (5, 6, 7)])
@pytest.mark.parametrize("lam", [0.3, 1.0])
def test_meep_equals_numpy(rng, spatial, lam):
    labels, logits = random_case(rng, spatial, 3, scale=6.0)  # some p below the 1e-7 clip
    expected = _meep_numpy(labels, logits, lam)
    assert float(MEEPLoss(lam=lam)(labels, logits)) == pytest.approx(expected, rel=1e-5)


def test_meep_without_errors_is_cross_entropy_not_nan(rng):
    labels, _ = random_case(rng, (5, 6, 7), 3)
    logits = (np.eye(3)[labels] * 4.0).astype(np.float32)  # every voxel right
    value = float(MEEPLoss()(labels, logits))
    assert value == pytest.approx(cross_entropy(labels, logits).mean(), rel=1e-5)


def test_meep_bad_lam():
    with pytest.raises(ValueError, match="`lam` must be a finite number >= 0.0; got -0.3"):
        MEEPLoss(lam=-0.3)
