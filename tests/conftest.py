"""Shared fixtures. TensorFlow is only imported by the tests that need it."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("MPLBACKEND", "Agg")

import numpy as np
import pytest


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
