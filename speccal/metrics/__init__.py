"""Calibration and segmentation metrics as plain functions on numpy arrays.

This package never imports TensorFlow; the Keras streaming metrics live in
:mod:`speccal.metrics.keras`, which must be imported explicitly.
"""

# -- calibration metrics (issue 3) --

# -- segmentation metrics (issue 4) --
