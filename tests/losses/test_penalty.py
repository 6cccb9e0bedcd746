"""ConfidencePenaltyLoss."""

import numpy as np
import pytest
from _baseline_numpy import cross_entropy, log_softmax, random_case

from speccal.losses import ConfidencePenaltyLoss


def _penalty_numpy(labels, logits, beta):
    p = np.clip(np.exp(log_softmax(logits)), 1e-10, 1 - 1e-10)
    entropy_terms = -p * np.log(p)  # averaged over voxels and classes
    return cross_entropy(labels, logits).mean() - beta * entropy_terms.mean()


@pytest.mark.parametrize("spatial", [(5, 7), (5, 6, 7)])
@pytest.mark.parametrize("beta", [0.1, 1.0])
def test_confidence_penalty_equals_numpy(rng, spatial, beta):
    labels, logits = random_case(rng, spatial, 4, scale=2.0)
    expected = _penalty_numpy(labels, logits, beta)
    value = ConfidencePenaltyLoss(beta=beta)(labels, logits)
    assert float(value) == pytest.approx(expected, rel=1e-5)


def test_confidence_penalty_bad_beta():
    with pytest.raises(ValueError, match="`beta` must be a finite number >= 0.0; got -0.1"):
        ConfidencePenaltyLoss(beta=-0.1)
