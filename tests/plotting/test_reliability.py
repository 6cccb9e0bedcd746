"""ReliabilityDisplay draws the right data: checked on the artists, never on pixels."""

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError

from speccal.evaluation import CalibrationEvaluator, ECEEvaluator
from speccal.metrics import expected_calibration_error, static_calibration_error
from speccal.plotting import ReliabilityDisplay


@pytest.fixture
def data(rng):
    y_prob = rng.dirichlet(np.full(3, 0.5), size=500)
    return rng.integers(0, 3, 500), y_prob


def brute_force_bins(values, hits, n_bins):
    index = np.minimum((values * n_bins).astype(int), n_bins - 1)
    count = np.array([(index == b).sum() for b in range(n_bins)])
    conf = np.array([values[index == b].mean() if count[b] else 0.0 for b in range(n_bins)])
    acc = np.array([hits[index == b].mean() if count[b] else 0.0 for b in range(n_bins)])
    return count, conf, acc


def test_from_predictions_draws_bins_gaps_and_histogram(pyplot, data):
    y_true, y_prob = data
    display = ReliabilityDisplay.from_predictions(y_true, y_prob, n_bins=8, label="CE")
    count, conf, acc = brute_force_bins(y_prob.max(1), y_prob.argmax(1) == y_true, 8)
    heights = [bar.get_height() for bar in display.bars_[0]]
    np.testing.assert_allclose(heights, acc)
    np.testing.assert_allclose(
        [bar.get_x() + bar.get_width() / 2 for bar in display.bars_[0]], (np.arange(8) + 0.5) / 8
    )
    gaps = display.gap_bars_[0]
    np.testing.assert_allclose([bar.get_y() for bar in gaps], acc)
    np.testing.assert_allclose(
        [bar.get_height() for bar in gaps], np.where(count > 0, conf - acc, 0)
    )
    np.testing.assert_allclose(
        [bar.get_height() for bar in display.hist_bars_[0]], count / count.sum()
    )
    legend = [text.get_text() for text in display.ax_.get_legend().get_texts()]
    ece = expected_calibration_error(y_true, y_prob, n_bins=8)
    assert f"CE, ECE = {ece:.4f}" in legend
    assert display.figure_ is display.ax_.figure
    assert display.ax_.get_xlabel() == "confidence" and display.ax_.get_ylabel() == "accuracy"


def test_from_evaluator_equals_from_predictions(pyplot, data):
    y_true, y_prob = data
    evaluator = ECEEvaluator(n_bins=6).fit(y_true, y_prob)
    from_evaluator = ReliabilityDisplay.from_evaluator(evaluator)
    from_predictions = ReliabilityDisplay.from_predictions(y_true, y_prob, n_bins=6)
    for name in ("bin_count", "bin_confidence", "bin_accuracy"):
        np.testing.assert_allclose(
            getattr(from_evaluator, name), getattr(from_predictions, name), equal_nan=True
        )
    assert from_evaluator.score == pytest.approx(evaluator.score_)
    with pytest.raises(NotFittedError):
        ReliabilityDisplay.from_evaluator(ECEEvaluator())
    with pytest.raises(ValueError, match="`evaluator` must have computed 'sce' for per-class"):
        ReliabilityDisplay.from_evaluator(evaluator, per_class=True)


def test_several_methods_overlay_on_one_axes(pyplot, data, rng):
    y_true, y_prob = data
    sharper = y_prob**3 / (y_prob**3).sum(1, keepdims=True)
    first = ReliabilityDisplay.from_predictions(y_true, y_prob, kind="line", label="CE")
    second = ReliabilityDisplay.from_predictions(
        y_true, sharper, kind="line", label="focal", ax=first.ax_, histogram=False
    )
    assert second.ax_ is first.ax_
    curves = [line for line in first.ax_.get_lines() if line.get_label() != "perfect calibration"]
    assert [c.get_label().split(",")[0] for c in curves] == ["CE", "focal"]
    filled = second.bin_count > 0
    np.testing.assert_allclose(curves[1].get_xdata(), second.bin_confidence[filled])
    np.testing.assert_allclose(curves[1].get_ydata(), second.bin_accuracy[filled])
    assert sum(line.get_label() == "perfect calibration" for line in first.ax_.get_lines()) == 1
    overlaid = ReliabilityDisplay.overlay([first, second])
    assert overlaid[0].ax_ is overlaid[1].ax_ and overlaid[0].hist_bars_ == []


def test_per_class_diagrams(pyplot, data):
    y_true, y_prob = data
    display = ReliabilityDisplay.from_predictions(y_true, y_prob, n_bins=5, per_class=True)
    assert len(display.axes_) == 3
    for k in range(3):
        count, _, acc = brute_force_bins(y_prob[:, k], y_true == k, 5)
        np.testing.assert_allclose([bar.get_height() for bar in display.bars_[k]], acc)
        assert display.axes_[k].get_title() == f"class {k}"
        # the panel plots the frequency of class k against p_k, not accuracy vs confidence
        assert display.axes_[k].get_xlabel() == f"predicted probability of class {k}"
        assert display.axes_[k].get_ylabel() == f"observed frequency of class {k}"
    assert display.score == pytest.approx(static_calibration_error(y_true, y_prob, n_bins=5))
    # the SCE averages the classes: it is shown once, named as such, not on every panel
    legends = [[t.get_text() for t in ax.get_legend().get_texts()] for ax in display.axes_]
    sce = f"SCE (mean over classes) = {display.score:.4f}"
    assert [sum(sce in text for text in legend) for legend in legends] == [1, 0, 0]
    evaluator = CalibrationEvaluator(metrics=("sce",), n_bins=5).fit(y_true, y_prob)
    from_evaluator = ReliabilityDisplay.from_evaluator(evaluator, per_class=True)
    np.testing.assert_allclose(from_evaluator.bin_count, display.bin_count)


def test_errors(pyplot):
    with pytest.raises(ValueError, match="`bin_count`, `bin_confidence` and `bin_accuracy` must"):
        ReliabilityDisplay(bin_count=[1, 2], bin_confidence=[0.5], bin_accuracy=[0.5])
    display = ReliabilityDisplay(bin_count=[1, 2], bin_confidence=[0.1, 0.7], bin_accuracy=[0, 1])
    with pytest.raises(ValueError, match="`kind` must be 'bars' or 'line'; got 'pie'."):
        display.plot(kind="pie")
    _, axes = pyplot.subplots(1, 2)
    with pytest.raises(ValueError, match=r"`ax` must be None or a sequence of 1 Axes; got 2"):
        display.plot(ax=axes)
    with pytest.raises(ValueError, match="`displays` must hold at least one display"):
        ReliabilityDisplay.overlay([])
    assert display.plot(ax=axes[0]) is display


def test_extra_bin_of_the_nixon_protocol_is_drawn_in_the_last_bin(pyplot):
    y_prob = np.array([[1.0, 0.0], [1.0, 0.0], [0.95, 0.05], [0.5, 0.5]])
    y_true = np.array([0, 1, 0, 0])
    evaluator = ECEEvaluator(n_bins=4, protocol="nixon").fit(y_true, y_prob)
    assert evaluator.bin_count_.shape == (5,)
    display = ReliabilityDisplay.from_evaluator(evaluator)
    np.testing.assert_allclose(display.bin_count, [0, 0, 1, 3])
    np.testing.assert_allclose(display.bin_confidence[2:], [0.5, (1 + 1 + 0.95) / 3])
    np.testing.assert_allclose(display.bin_accuracy[2:], [1, 2 / 3])
