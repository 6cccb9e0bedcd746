"""Calibration and segmentation metrics as plain functions on numpy arrays.

This package never imports TensorFlow; the Keras streaming metrics live in
:mod:`speccal.metrics.keras`, which must be imported explicitly.
"""

# -- calibration metrics (issue 3) --
from speccal.metrics._calibration import (  # noqa: F401
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

# -- segmentation metrics (issue 4) --
from speccal.metrics._segmentation import (  # noqa: F401
    average_surface_distance,
    dice_score,
    hausdorff_distance_95,
    segmentation_scores,
)
