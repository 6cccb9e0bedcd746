"""Shared fixtures. TensorFlow is only imported by the tests that need it."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("MPLBACKEND", "Agg")

import numpy as np
import pytest
from hypothesis import settings

# CI draws the same hypothesis examples on every run (derandomize), so a red build names a
# bug, not a lucky seed; locally each run explores new examples. Select with CI=1 (or
# HYPOTHESIS_PROFILE=ci).
settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
settings.register_profile("dev")
if os.environ.get("HYPOTHESIS_PROFILE"):
    settings.load_profile(os.environ["HYPOTHESIS_PROFILE"])
elif os.environ.get("CI"):
    settings.load_profile("ci")


@pytest.fixture
def rng():
    """A seeded numpy random generator."""
    return np.random.default_rng(0)


@pytest.fixture
def pyplot():
    """matplotlib.pyplot on the Agg backend; closes every figure afterwards."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    yield plt
    plt.close("all")
