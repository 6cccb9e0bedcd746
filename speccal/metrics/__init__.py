"""Calibration and segmentation metrics as plain functions on numpy arrays.

This package never imports TensorFlow; the Keras streaming metrics live in
:mod:`speccal.metrics.keras`, which must be imported explicitly.
"""

from speccal.metrics._boundary import (
    DistanceCalibration,
    boundary_calibration_error,
    calibration_by_distance,
)
from speccal.metrics._calibration import (
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
from speccal.metrics._debiased import debiased_calibration_error
from speccal.metrics._segmentation import (
    average_surface_distance,
    dice_score,
    hausdorff_distance_95,
    segmentation_scores,
)
from speccal.metrics._smooth import smooth_calibration_error

__all__ = [
    "DistanceCalibration",
    "adaptive_calibration_error",
    "average_surface_distance",
    "boundary_calibration_error",
    "brier_score",
    "calibration_by_distance",
    "classwise_calibration_error",
    "debiased_calibration_error",
    "dice_score",
    "expected_calibration_error",
    "hausdorff_distance_95",
    "maximum_calibration_error",
    "negative_log_likelihood",
    "rms_calibration_error",
    "segmentation_scores",
    "smooth_calibration_error",
    "static_calibration_error",
    "thresholded_adaptive_calibration_error",
]
