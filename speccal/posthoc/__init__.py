"""Post-hoc calibrators as scikit-learn estimators on logits or probabilities of any shape.

Every calibrator takes scores of shape ``(n_samples, n_classes)`` or volumes
``(..., n_classes)`` with integer labels ``(...)``, fits on a class-stratified subsample
(``max_samples``, ``random_state``) and predicts chunk by chunk, keeping the input's shape.
numpy/scipy/scikit-learn only: importing this package never imports TensorFlow; the Keras
layer of :meth:`TemperatureScaling.as_keras_layer` lives in :mod:`speccal.posthoc.keras`.
"""

from speccal.posthoc._base import stratified_subsample
from speccal.posthoc._compare import compare_calibrators
from speccal.posthoc._one_vs_rest import HistogramBinning, IsotonicCalibration, PlattScaling
from speccal.posthoc._scaling import MatrixScaling, TemperatureScaling, VectorScaling

__all__ = [
    "HistogramBinning",
    "IsotonicCalibration",
    "MatrixScaling",
    "PlattScaling",
    "TemperatureScaling",
    "VectorScaling",
    "compare_calibrators",
    "stratified_subsample",
]
