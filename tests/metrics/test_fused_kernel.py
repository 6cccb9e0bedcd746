"""The compiled one-read loop (speccal.metrics._fused) equals the numpy kernel bit for bit."""

import subprocess
import sys

import numpy as np
import pytest

from speccal.evaluation import CalibrationEvaluator
from speccal.metrics import _binning, _calibration, _fused

pytest.importorskip("numba")

METRICS = ("ece", "mce", "rmsce", "sce", "ace", "tace", "brier", "nll")


def awkward_data(dtype, n=6000, n_classes=4, seed=0):
    """Rows with exact 0 and 1, ties, values on bin edges and at the TACE threshold."""
    rng = np.random.default_rng(seed)
    logits = rng.standard_normal((n, n_classes)) * 3
    probs = np.exp(logits - logits.max(1, keepdims=True))
    probs /= probs.sum(1, keepdims=True)
    probs = probs.astype(dtype)
    probs[:200] = np.eye(n_classes, dtype=dtype)[rng.integers(0, n_classes, 200)]  # 0 and 1
    probs[200:400] = dtype(1 / n_classes)  # four-way ties
    probs[400:600, :2] = dtype(0.5)  # two-way ties with zeros
    probs[400:600, 2:] = 0
    edges = (np.arange(1, 15) / 15).astype(dtype)  # equal-width bin edges, also fine edges
    probs[600:1000, 0] = rng.choice(edges, 400)
    probs[1000:1400, 1] = dtype(0.01)  # the TACE threshold itself
    probs[1400:1600, 1] = np.nextafter(dtype(0.01), dtype(1))
    probs[600:1000, 1] = 0
    probs[1000:1600, 0] = dtype(0.5)
    probs[600:1600, 2] = 0
    probs[600:1600, 3] = 1 - probs[600:1600, :2].sum(1, dtype=dtype)
    labels = rng.integers(0, n_classes, n).astype(np.uint8)
    return labels, probs


def states(labels, probs, monkeypatch, enabled, **parts):
    monkeypatch.setattr(_fused, "ENABLED", enabled)
    return _calibration.accumulate(labels, probs, n_bins=15, **parts)


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
@pytest.mark.parametrize(
    "parts",
    [
        {"top": True, "classwise": True, "adaptive": (0.01,)},  # SCE fused into TACE's bins
        {"top": True, "classwise": True, "adaptive": (_calibration.KEEP_ALL, 0.1)},
        {"classwise": True},
        {"top": True},
    ],
)
def test_fused_states_equal_numpy_bit_for_bit(dtype, parts, monkeypatch):
    labels, probs = awkward_data(dtype)
    parts = {**parts, "adaptive_binning": "histogram"}
    reference = states(labels, probs, monkeypatch, False, **parts)
    fused = states(labels, probs, monkeypatch, True, **parts)
    for name in ("top", "classwise"):
        if getattr(reference, name) is not None:
            np.testing.assert_array_equal(getattr(fused, name), getattr(reference, name))
    for threshold, state in reference.adaptive.items():
        np.testing.assert_array_equal(fused.adaptive[threshold], state)
        assert state[0, :, -1].sum() > 0 or threshold < 0  # something was discarded


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
@pytest.mark.parametrize("binning", ["exact", "histogram"])
def test_evaluator_values_identical_with_and_without_numba(dtype, binning, monkeypatch):
    labels, probs = awkward_data(dtype, n=9000, seed=1)
    monkeypatch.setattr(_binning, "CHUNK_ROWS", 1000)  # several chunks, added in order
    results = []
    for enabled in (False, True):
        monkeypatch.setattr(_fused, "ENABLED", enabled)
        evaluator = CalibrationEvaluator(metrics=METRICS, adaptive_binning=binning)
        evaluator.fit(y_true=labels, y_prob=probs)
        results.append(evaluator.scores_)
    assert results[0].keys() == results[1].keys()
    for name, value in results[0].items():
        assert np.array_equal(results[1][name], value), name


def test_usable_only_where_the_loop_is_exact(monkeypatch):
    monkeypatch.setattr(_fused, "ENABLED", True)
    labels = np.zeros(3, dtype=np.int64)
    assert _fused.usable(labels, np.zeros((3, 2), np.float32))
    assert not _fused.usable(labels, np.zeros((3, 2), np.float16))
    assert not _fused.usable(labels.astype(bool), np.zeros((3, 2), np.float32))


def test_metrics_import_does_not_import_numba():
    code = "import sys, speccal.metrics; assert 'numba' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
