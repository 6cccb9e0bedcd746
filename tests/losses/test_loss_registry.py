"""get_loss and LOSS_NAMES."""

import keras
import numpy as np
import pytest
from _baseline_numpy import cross_entropy, random_case

import speccal.losses as losses
from speccal.losses import LOSS_NAMES, get_loss

EXPECTED_CLASSES = {
    "focal": losses.FocalLoss,
    "flsd": losses.AdaptiveFocalLoss,
    "ls": losses.LabelSmoothingLoss,
    "mbls": losses.MarginLabelSmoothingLoss,
    "svls": losses.SpatiallyVaryingLabelSmoothingLoss,
    "crac": losses.CRaCLoss,
    "nacl": losses.NACLLoss,
    "cpenalty": losses.ConfidencePenaltyLoss,
    "meep": losses.MEEPLoss,
}


def test_loss_names():
    expected = "ce cespectral focal flsd ls mbls svls crac nacl cpenalty meep".split()
    assert LOSS_NAMES == tuple(expected)


@pytest.mark.parametrize("name", LOSS_NAMES)
def test_loss_arguments_table_equals_the_constructor_signatures(name):
    # the table lets a study file be checked without importing TensorFlow
    from speccal._names import LOSS_ARGUMENTS
    from speccal.losses._registry import _factory

    assert LOSS_ARGUMENTS[name] == _factory(name)[1]


@pytest.mark.parametrize("name", sorted(EXPECTED_CLASSES))
def test_get_loss_builds_each_baseline(name):
    loss = get_loss(name.upper() if name == "mbls" else name)
    assert type(loss) is EXPECTED_CLASSES[name]


def test_get_loss_passes_parameters():
    loss = get_loss("svls", sigma=1.0, ignore_class=255)
    assert (loss.sigma, loss.ignore_class) == (1.0, 255)


def test_get_loss_ce_is_sparse_cross_entropy_from_logits(rng):
    labels, logits = random_case(rng, (5, 6, 7), 3)
    labels[0, 0] = 9
    loss = get_loss("ce", ignore_class=9)
    assert isinstance(loss, keras.losses.SparseCategoricalCrossentropy)
    valid = labels != 9
    expected = cross_entropy(np.where(valid, labels, 0), logits)[valid].mean()
    assert float(loss(labels, logits)) == pytest.approx(expected, rel=1e-5)


def test_get_loss_cespectral_is_the_spectral_loss():
    assert isinstance(get_loss("cespectral"), losses.CESpectral)


def test_get_loss_unknown_name_lists_valid_ones():
    with pytest.raises(
        ValueError, match=r"`name` must be one of \('ce', 'cespectral'.*got 'dice'"
    ):
        get_loss("dice")


def test_get_loss_unknown_parameter_lists_valid_ones():
    with pytest.raises(
        ValueError, match=r"arguments of the 'focal' loss.*'gamma'.*unknown \['gama'\]"
    ):
        get_loss("focal", gama=2.0)
    with pytest.raises(ValueError, match=r"unknown \['label_smoothing'\]"):
        get_loss("ce", label_smoothing=0.1)


def test_get_loss_bad_value_is_reported_by_the_loss():
    with pytest.raises(ValueError, match="`margin` must be a finite number >= 0.0; got -1.0"):
        get_loss("mbls", margin=-1.0)
