"""Calibration and segmentation metrics as plain functions on numpy arrays.

This package never imports TensorFlow; the Keras streaming metrics live in
:mod:`speccal.metrics.keras`, which must be imported explicitly.
"""

# -- calibration metrics (issue 3) --

# -- segmentation metrics (issue 4) --
from speccal.metrics._segmentation import (  # noqa: F401
    average_surface_distance,
    dice_score,
    hausdorff_distance_95,
    segmentation_scores,
)
