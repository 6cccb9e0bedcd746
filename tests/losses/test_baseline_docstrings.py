"""The Examples sections of the baseline losses run and print what they claim."""

import doctest
import importlib

import pytest

MODULES = ["_focal", "_label_smoothing", "_margin", "_svls", "_nacl", "_penalty", "_meep"]
MODULES += ["_crac", "_registry"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(f"speccal.losses.{name}")
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0
    assert result.failed == 0


@pytest.mark.parametrize("name", ["FocalLoss", "CRaCLoss", "NACLLoss"])
def test_docstrings_carry_shared_sections(name):
    import speccal.losses

    doc = getattr(speccal.losses, name).__doc__
    assert "(batch, *spatial, n_classes)" in doc and "ignore_class : int or None" in doc
    assert "{common_parameters}" not in doc
