"""speccal.metrics' calibration functions by their metric keys, for the tests that use them all."""

from speccal import metrics

#: The binned calibration errors, by the keys of ``speccal._names.CALIBRATION_METRICS``.
BINNED_CALIBRATION_FUNCTIONS = {
    "ece": metrics.expected_calibration_error,
    "mce": metrics.maximum_calibration_error,
    "rmsce": metrics.rms_calibration_error,
    "sce": metrics.static_calibration_error,
    "ace": metrics.adaptive_calibration_error,
    "tace": metrics.thresholded_adaptive_calibration_error,
}

#: The proper scoring rules, which take no bins.
SCORE_FUNCTIONS = {"brier": metrics.brier_score, "nll": metrics.negative_log_likelihood}

#: The errors that give one value per class with ``average=None``.
PER_CLASS_FUNCTIONS = {name: BINNED_CALIBRATION_FUNCTIONS[name] for name in ("sce", "ace", "tace")}
