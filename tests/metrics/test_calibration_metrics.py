"""Calibration metric functions against brute-force per-sample loops and independent code."""

import math

import numpy as np
import pytest
from fresh_python import modules_loaded_by
from hypothesis import given, settings
from hypothesis import strategies as st
from metric_functions import PER_CLASS_FUNCTIONS

from speccal.metrics import (
    adaptive_calibration_error,
    brier_score,
    classwise_calibration_error,
    expected_calibration_error,
    maximum_calibration_error,
    negative_log_likelihood,
    rms_calibration_error,
    static_calibration_error,
    thresholded_adaptive_calibration_error,
)


# -- brute-force references: one Python loop over samples, bins by comparison with b/M --
def loop_bins(values, hits, n_bins):
    """Per-bin [count, sum of values, sum of hits] with bin b = [b/M, (b+1)/M), 1.0 last."""
    bins = [[0, 0.0, 0.0] for _ in range(n_bins)]
    for value, hit in zip(values, hits, strict=True):
        b = n_bins - 1
        for j in range(n_bins):
            if j / n_bins <= value < (j + 1) / n_bins:
                b = j
                break
        bins[b][0] += 1
        bins[b][1] += float(value)
        bins[b][2] += float(hit)
    return bins


def loop_top(y_true, y_prob):
    confs, hits = [], []
    for label, row in zip(y_true, y_prob, strict=True):
        best = 0
        for k in range(len(row)):
            if row[k] > row[best]:
                best = k
        confs.append(row[best])
        hits.append(best == label)
    return confs, hits


def loop_ece(y_true, y_prob, n_bins):
    confs, hits = loop_top(y_true, y_prob)
    return sum(abs(h - s) for _, s, h in loop_bins(confs, hits, n_bins)) / len(y_true)


def loop_mce(y_true, y_prob, n_bins):
    confs, hits = loop_top(y_true, y_prob)
    return max(abs(h - s) / n for n, s, h in loop_bins(confs, hits, n_bins) if n)


def loop_rmsce(y_true, y_prob, n_bins):
    confs, hits = loop_top(y_true, y_prob)
    total = sum(n * ((h - s) / n) ** 2 for n, s, h in loop_bins(confs, hits, n_bins) if n)
    return math.sqrt(total / len(y_true))


def loop_classwise(y_true, y_prob, n_bins):
    out = []
    for k in range(y_prob.shape[1]):
        bins = loop_bins(y_prob[:, k], [y == k for y in y_true], n_bins)
        out.append(sum(abs(h - s) for _, s, h in bins) / len(y_true))
    return out


def loop_adaptive(y_true, y_prob, n_bins, threshold):
    """Nixon's TACE: per class, equal-mass edges at ranks, ties move up; None keeps all."""
    errors = []
    for k in range(y_prob.shape[1]):
        kept = [
            (float(p), y == k)
            for p, y in zip(y_prob[:, k], y_true, strict=True)
            if threshold is None or p > threshold
        ]
        if not kept:
            errors.append(0.0)
            continue
        ordered = sorted(v for v, _ in kept)
        ranks = [min(round(r * len(kept) / n_bins), len(kept) - 1) for r in range(n_bins)]
        lower = [ordered[r] for r in ranks]
        sums = [[0.0, 0.0] for _ in range(n_bins)]
        for value, hit in kept:
            b = max(j for j in range(n_bins) if j == 0 or lower[j] <= value)
            sums[b][0] += value
            sums[b][1] += hit
        errors.append(sum(abs(h - s) for s, h in sums) / len(kept))
    return errors


def random_probs(rng, n, k, *, concentration=0.3, dtype=np.float64):
    return rng.dirichlet(np.full(k, concentration), size=n).astype(dtype)


def with_exact_zeros_and_ones(rng, n, k):
    """Probabilities with many exact 0.0 and 1.0 entries (one-hot rows, zeroed classes)."""
    probs = random_probs(rng, n, k)
    one_hot = rng.random(n) < 0.3
    probs[one_hot] = np.eye(k)[rng.integers(0, k, one_hot.sum())]
    zeroed = (rng.random(n) < 0.3) & ~one_hot
    probs[zeroed, 0] = 0.0
    probs[zeroed] /= probs[zeroed].sum(axis=1, keepdims=True)
    return probs


@pytest.fixture
def data(rng):
    y_prob = with_exact_zeros_and_ones(rng, 600, 4)
    y_true = np.array([rng.choice(4, p=row) if rng.random() < 0.7 else 0 for row in y_prob])
    return y_true, y_prob


@pytest.mark.parametrize("n_bins", [1, 7, 15])
def test_equal_width_metrics_equal_loops(data, n_bins):
    y_true, y_prob = data
    assert expected_calibration_error(y_true, y_prob, n_bins=n_bins) == pytest.approx(
        loop_ece(y_true, y_prob, n_bins), abs=1e-12
    )
    assert maximum_calibration_error(y_true, y_prob, n_bins=n_bins) == pytest.approx(
        loop_mce(y_true, y_prob, n_bins), abs=1e-12
    )
    assert rms_calibration_error(y_true, y_prob, n_bins=n_bins) == pytest.approx(
        loop_rmsce(y_true, y_prob, n_bins), abs=1e-12
    )
    expected = loop_classwise(y_true, y_prob, n_bins)
    np.testing.assert_allclose(
        classwise_calibration_error(y_true, y_prob, n_bins=n_bins), expected, atol=1e-12
    )
    assert static_calibration_error(y_true, y_prob, n_bins=n_bins) == pytest.approx(
        np.mean(expected), abs=1e-12
    )
    assert static_calibration_error(
        y_true, y_prob, n_bins=n_bins, include_background=False
    ) == pytest.approx(np.mean(expected[1:]), abs=1e-12)


@pytest.mark.parametrize("n_bins", [1, 5, 15])
def test_adaptive_metrics_equal_loops(data, n_bins):
    y_true, y_prob = data
    tace = loop_adaptive(y_true, y_prob, n_bins, 1e-3)
    assert thresholded_adaptive_calibration_error(y_true, y_prob, n_bins=n_bins) == pytest.approx(
        np.mean(tace), abs=1e-12
    )
    assert thresholded_adaptive_calibration_error(
        y_true, y_prob, n_bins=n_bins, threshold=0.2, include_background=False
    ) == pytest.approx(np.mean(loop_adaptive(y_true, y_prob, n_bins, 0.2)[1:]), abs=1e-12)
    assert adaptive_calibration_error(y_true, y_prob, n_bins=n_bins) == pytest.approx(
        np.mean(loop_adaptive(y_true, y_prob, n_bins, None)), abs=1e-12
    )


def test_tace_class_with_nothing_kept_counts_as_zero():
    y_true = np.array([0, 1, 0, 1])
    y_prob = np.array([[0.9, 0.1, 0.0], [0.3, 0.7, 0.0], [0.6, 0.4, 0.0], [0.2, 0.8, 0.0]])
    expected = np.mean(loop_adaptive(y_true, y_prob, 2, 1e-3)[:2] + [0.0])
    got = thresholded_adaptive_calibration_error(y_true, y_prob, n_bins=2)
    assert got == pytest.approx(expected, abs=1e-12)
    assert got > 0


def test_scores_equal_loops(data):
    y_true, y_prob = data
    brier = np.mean(
        [
            sum((p - (k == y)) ** 2 for k, p in enumerate(row))
            for y, row in zip(y_true, y_prob, strict=True)
        ]
    )
    nll = np.mean([-math.log(max(row[y], 1e-12)) for y, row in zip(y_true, y_prob, strict=True)])
    assert brier_score(y_true, y_prob) == pytest.approx(brier, abs=1e-12)
    assert negative_log_likelihood(y_true, y_prob) == pytest.approx(nll, abs=1e-9)


def uncertainty_metrics_gce(labels, probs, n_bins, *, adaptive, threshold, classwise):
    """Independent reimplementation of uncertainty-metrics' vectorised GCE (Nixon et al.)."""
    one_hot = np.eye(probs.shape[1])[labels]

    def error(p, y):
        if p.size == 0:
            return 0.0
        if adaptive:
            ranks = np.minimum(
                np.round(np.linspace(0, len(p), n_bins, endpoint=False)).astype(int), len(p) - 1
            )
            upper = np.sort(p)[ranks][1:]
        else:
            upper = np.histogram_bin_edges([], bins=n_bins, range=(0.0, 1.0))[1:]
        index = np.digitize(p, upper)
        index = np.minimum(index, n_bins - 1)  # speccal: 1.0 in the last bin
        counts = np.bincount(index, minlength=n_bins)
        gaps = np.bincount(index, weights=y, minlength=n_bins) - np.bincount(
            index, weights=p, minlength=n_bins
        )
        return np.abs(gaps).sum() / len(p) if counts.sum() else 0.0

    if not classwise:
        pred = probs.argmax(1)
        return error(probs[np.arange(len(probs)), pred], (pred == labels).astype(float))
    out = []
    for k in range(probs.shape[1]):
        keep = probs[:, k] > threshold
        out.append(error(probs[keep, k], one_hot[keep, k]))
    return np.mean(out)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_ece_sce_tace_equal_independent_implementation_with_exact_zeros_and_ones(rng, dtype):
    y_prob = with_exact_zeros_and_ones(rng, 5000, 5).astype(dtype)
    y_prob /= y_prob.sum(1, keepdims=True)
    y_true = rng.integers(0, 5, 5000)
    assert (y_prob == 0).sum() > 1000 and (y_prob == 1).sum() > 1000
    for n_bins in (10, 15):
        ece = uncertainty_metrics_gce(
            y_true, y_prob, n_bins, adaptive=False, threshold=None, classwise=False
        )
        sce = uncertainty_metrics_gce(
            y_true, y_prob, n_bins, adaptive=False, threshold=-1.0, classwise=True
        )
        tace = uncertainty_metrics_gce(
            y_true, y_prob, n_bins, adaptive=True, threshold=1e-3, classwise=True
        )
        assert expected_calibration_error(y_true, y_prob, n_bins=n_bins) == pytest.approx(
            ece, abs=1e-9
        )
        assert static_calibration_error(y_true, y_prob, n_bins=n_bins) == pytest.approx(
            sce, abs=1e-9
        )
        assert thresholded_adaptive_calibration_error(
            y_true, y_prob, n_bins=n_bins
        ) == pytest.approx(tace, abs=1e-9)


def test_value_one_goes_to_last_bin_not_an_extra_bin():
    # one confident correct sample at 1.0, one at 14.5/15: the last bin mixes both
    y_prob = np.array([[1.0, 0.0], [0.9666, 0.0334]])
    y_true = np.array([0, 1])
    expected = abs(1 - (1.0 + 0.9666)) / 2
    assert expected_calibration_error(y_true, y_prob) == pytest.approx(expected)


def test_chunked_kernel_equals_one_chunk(rng, monkeypatch):
    from speccal.metrics import _binning

    y_prob = random_probs(rng, 3000, 3, dtype=np.float32)
    y_true = rng.integers(0, 3, 3000)
    whole = (
        thresholded_adaptive_calibration_error(y_true, y_prob),
        static_calibration_error(y_true, y_prob),
    )
    monkeypatch.setattr(_binning, "CHUNK_ROWS", 7)
    chunked = (
        thresholded_adaptive_calibration_error(y_true, y_prob),
        static_calibration_error(y_true, y_prob),
    )
    np.testing.assert_allclose(chunked, whole, atol=1e-12)


def test_fine_histogram_puts_one_in_the_last_bin_past_float32_precision():
    # from 2^25 fine bins on, F - 1 is not a float32 (it rounds to F, the discard slot)
    from speccal.metrics import _binning

    n_fine = 2**25
    probs = np.array([[1.0], [0.5], [0.0]], dtype=np.float32)
    labels = np.zeros(3, dtype=np.intp)
    found = {}
    for dtype in (np.float32, np.float64):
        fine = _binning.fine_histogram(labels, probs.astype(dtype), n_fine, threshold=0.0)
        found[dtype] = {int(i): fine[0, 0, i] for i in np.flatnonzero(fine[0, 0])}
        del fine
    assert found[np.float32] == found[np.float64] == {n_fine // 2: 1, n_fine - 1: 1, n_fine: 1}


# -- properties --
@st.composite
def labelled_probs(draw):
    n = draw(st.integers(1, 60))
    k = draw(st.integers(2, 5))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    probs = rng.dirichlet(np.full(k, draw(st.sampled_from([0.1, 1.0, 10.0]))), size=n)
    return rng.integers(0, k, n), probs, rng


ALL = (
    expected_calibration_error,
    maximum_calibration_error,
    rms_calibration_error,
    static_calibration_error,
    adaptive_calibration_error,
    thresholded_adaptive_calibration_error,
)


@settings(max_examples=40, deadline=None)
@given(labelled_probs(), st.integers(1, 20))
def test_range_and_voxel_order_invariance(sample, n_bins):
    y_true, y_prob, rng = sample
    order = rng.permutation(len(y_true))
    for metric in ALL:
        value = metric(y_true, y_prob, n_bins=n_bins)
        assert 0.0 <= value <= 1.0
        assert metric(y_true[order], y_prob[order], n_bins=n_bins) == pytest.approx(
            value, abs=1e-12
        )


@settings(max_examples=30, deadline=None)
@given(st.sets(st.integers(6, 10), min_size=1), st.integers(1, 3), st.integers(0, 2**32 - 1))
def test_zero_for_data_calibrated_by_construction(tenths, repeats, seed):
    # rows [c, 1 - c] with c = m / 10, each repeated 10 * repeats times with exactly a
    # fraction c labelled 0: every bin (one distinct value per bin, or whole groups of equal
    # values for equal-mass bins) has accuracy = confidence
    rng = np.random.default_rng(seed)
    y_prob, y_true = [], []
    for m in sorted(tenths):
        y_prob += [[m / 10, 1 - m / 10]] * (10 * repeats)
        y_true += [0] * (m * repeats) + [1] * ((10 - m) * repeats)
    order = rng.permutation(len(y_true))
    y_true, y_prob = np.array(y_true)[order], np.array(y_prob)[order]
    for metric in ALL:
        assert metric(y_true, y_prob, n_bins=1000) == pytest.approx(0.0, abs=1e-12)


def test_ece_zero_when_labels_drawn_from_probabilities_in_the_limit():
    # confidence 0.7 on class 0 for 10 samples, 7 labelled 0: bin accuracy = confidence
    y_prob = np.tile([0.7, 0.3], (10, 1))
    y_true = np.array([0] * 7 + [1] * 3)
    for metric in ALL:
        assert metric(y_true, y_prob) == pytest.approx(0.0, abs=1e-12)


# -- errors --
@pytest.mark.parametrize(
    ("y_true", "y_prob", "match"),
    [
        ([0, 1], [[0.5, 0.5]], r"`y_true` must have shape y_prob.shape\[:-1\]"),
        (np.zeros(0, int), np.zeros((0, 2)), "`y_true` must hold at least one sample"),
        ([0, 2], [[0.5, 0.5], [0.5, 0.5]], r"`y_true` must hold labels in \[0, n_classes\)"),
        ([0, -1], [[0.5, 0.5], [0.5, 0.5]], r"got -1"),
        ([0.0, 1.0], [[0.5, 0.5], [0.5, 0.5]], "`y_true` must hold integer labels"),
        ([0, 1], [[np.nan, 0.5], [0.5, 0.5]], "`y_prob` must contain only finite values; got nan"),
        ([0, 1], [[np.inf, 0.5], [0.5, 0.5]], "`y_prob` must contain only finite values; got inf"),
        ([0, 1], [[1.5, -0.5], [0.5, 0.5]], r"`y_prob` must hold probabilities in \[0, 1\]"),
        ([0, 1], [[0.6, 0.6], [0.5, 0.5]], r"`y_prob` rows must sum to 1 \(within 0.001\)"),
        ([0, 1], [[1, 0], [0, 1]], "`y_prob` must be a floating-point array"),
    ],
)
def test_bad_input_raises_naming_the_argument(y_true, y_prob, match):
    for metric in (*ALL, brier_score, negative_log_likelihood):
        with pytest.raises(ValueError, match=match):
            metric(np.asarray(y_true), np.asarray(y_prob))


def test_row_sum_tolerance_is_1e_3():
    y_prob = np.array([[0.5, 0.5009], [0.5, 0.5]])
    assert expected_calibration_error(np.array([0, 1]), y_prob) >= 0
    with pytest.raises(ValueError, match="got a row summing to 1.0011"):
        expected_calibration_error(np.array([0, 1]), np.array([[0.5, 0.5011], [0.5, 0.5]]))


@pytest.mark.parametrize(
    ("n_bins", "error"), [(0, ValueError), (-3, ValueError), (2.5, TypeError), (True, TypeError)]
)
def test_bad_n_bins(n_bins, error):
    with pytest.raises(error, match=r"`n_bins` must be an int >= 1; got"):
        expected_calibration_error(np.array([0]), np.array([[1.0, 0.0]]), n_bins=n_bins)


@pytest.mark.parametrize(
    ("threshold", "error"),
    [(-0.1, ValueError), (1.0, ValueError), (2, ValueError), ("x", TypeError)],
)
def test_bad_threshold(threshold, error):
    with pytest.raises(error, match=r"`threshold` must be a finite number in \[0, 1\); got"):
        thresholded_adaptive_calibration_error(
            np.array([0]), np.array([[1.0, 0.0]]), threshold=threshold
        )


@pytest.mark.parametrize(
    "func",
    [
        static_calibration_error,
        adaptive_calibration_error,
        thresholded_adaptive_calibration_error,
    ],
)
def test_include_background_must_be_a_bool(func):
    with pytest.raises(TypeError, match="`include_background` must be a bool; got 'no'."):
        func(np.array([0, 1]), np.array([[0.8, 0.2], [0.3, 0.7]]), include_background="no")


def test_nll_eps_accepts_numpy_floats_and_refuses_the_rest():
    y_true, y_prob = np.array([0, 1]), np.array([[1.0, 0.0], [1.0, 0.0]])
    expected = -np.log(1e-6) / 2
    assert negative_log_likelihood(y_true, y_prob, eps=np.float32(1e-6)) == pytest.approx(
        expected, rel=1e-6
    )
    for eps in (0, 1.0, True, "small", np.nan):
        with pytest.raises(ValueError, match=r"`eps` must be a number in \(0, 1\); got"):
            negative_log_likelihood(y_true, y_prob, eps=eps)


def test_numpy_side_never_imports_tensorflow():
    code = (
        "import speccal.metrics, speccal.evaluation, speccal.plotting; "
        "import speccal.metrics._calibration, speccal.evaluation._calibration"
    )
    assert modules_loaded_by(code, ("tensorflow", "keras", "matplotlib")) == []


# -- per-class values (average=None) --
@pytest.mark.parametrize("include_background", [True, False])
def test_average_none_gives_per_class_values_equal_to_loops(data, include_background):
    y_true, y_prob = data
    kwargs = {"n_bins": 7, "include_background": include_background}
    expected = {
        "sce": loop_classwise(y_true, y_prob, 7),
        "ace": loop_adaptive(y_true, y_prob, 7, None),
        "tace": loop_adaptive(y_true, y_prob, 7, 1e-3),
    }
    first = 0 if include_background else 1
    for name, function in PER_CLASS_FUNCTIONS.items():
        per_class = function(y_true, y_prob, average=None, **kwargs)
        assert per_class.shape == (4,)  # every class, whatever include_background
        np.testing.assert_allclose(per_class, expected[name], atol=1e-12)
        assert function(y_true, y_prob, **kwargs) == pytest.approx(
            np.mean(expected[name][first:]), abs=1e-12
        )
    np.testing.assert_allclose(
        classwise_calibration_error(y_true, y_prob, n_bins=7, average=None), expected["sce"]
    )
    assert classwise_calibration_error(y_true, y_prob, n_bins=7, average="macro") == (
        pytest.approx(np.mean(expected["sce"]), abs=1e-12)
    )


@pytest.mark.parametrize(
    "func",
    [
        static_calibration_error,
        adaptive_calibration_error,
        thresholded_adaptive_calibration_error,
        classwise_calibration_error,
    ],
)
@pytest.mark.parametrize("average", ["micro", "weighted", 0])
def test_average_must_be_macro_or_none(data, func, average):
    with pytest.raises(ValueError, match=r"`average` must be one of \('macro', None\); got"):
        func(*data, average=average)
