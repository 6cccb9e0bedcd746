"""plot_calibration_by_distance: one line per method, shells labelled, errors named."""

import numpy as np
import pytest

from speccal.metrics import DistanceCalibration, calibration_by_distance
from speccal.plotting import plot_calibration_by_distance

EDGES = (0, 1, 2, 4, np.inf)


@pytest.fixture
def results():
    y_true = np.zeros((20, 18), dtype=int)
    y_true[5:14, 4:12] = 1
    sharp = np.where(y_true[..., None] == np.arange(2), 0.95, 0.05)
    soft = np.where(y_true[..., None] == np.arange(2), 0.7, 0.3)
    return {
        "sharp": calibration_by_distance(y_true, sharp, edges=EDGES),
        "soft": calibration_by_distance(y_true, soft, edges=EDGES),
    }


@pytest.mark.parametrize("quantity", ["ece", "gap", "accuracy", "confidence"])
def test_one_line_per_method_with_the_shell_values(pyplot, results, quantity):
    ax = plot_calibration_by_distance(results, quantity=quantity)
    lines = [line for line in ax.get_lines() if line.get_label() in results]
    assert [line.get_label() for line in lines] == ["sharp", "soft"]
    for line, result in zip(lines, results.values(), strict=True):
        expected = (
            result.accuracy - result.confidence if quantity == "gap" else getattr(result, quantity)
        )
        np.testing.assert_array_equal(line.get_ydata(), expected)
        np.testing.assert_array_equal(line.get_xdata(), np.arange(4))
    labels = [t.get_text() for t in ax.get_xticklabels()]
    assert labels == ["[0, 1) mm", "[1, 2) mm", "[2, 4) mm", ">= 4 mm"]
    assert ax.get_xlabel() == "distance to the nearest reference boundary"
    assert ax.get_ylabel() == {"ece": "ECE", "gap": "accuracy - confidence"}.get(
        quantity, ax.get_ylabel()
    )


def test_single_result_on_given_axes(pyplot, results):
    _, ax = pyplot.subplots()
    assert plot_calibration_by_distance(results["soft"], ax=ax, unit="") is ax
    assert [t.get_text() for t in ax.get_xticklabels()][0] == "[0, 1)"
    assert ax.get_legend() is None


def test_errors_name_the_argument(pyplot, results):
    with pytest.raises(ValueError, match=r"`quantity` must be one of \('ece', 'gap'"):
        plot_calibration_by_distance(results, quantity="mce")
    with pytest.raises(ValueError, match=r"`results` must be a DistanceCalibration or a non"):
        plot_calibration_by_distance({})
    with pytest.raises(TypeError, match=r"`results\['a'\]` must be a DistanceCalibration; got"):
        plot_calibration_by_distance({"a": 0.1})
    other = DistanceCalibration(*(np.array(v, dtype=float) for v in ([0, 3], [1], [0], [1], [1])))
    with pytest.raises(ValueError, match=r"`results` must share their edges"):
        plot_calibration_by_distance({**results, "other": other})
