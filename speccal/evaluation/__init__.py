"""Estimator-style evaluators: calibration (ECE/SCE/TACE/...) and segmentation (DSC/HD95/ASD).

numpy only; importing this package never imports TensorFlow.
"""

from speccal.evaluation._calibration import (
    CALIBRATION_METRICS,
    ACEEvaluator,
    CalibrationEvaluator,
    ECEEvaluator,
    MCEEvaluator,
    SCEEvaluator,
    TACEEvaluator,
)
from speccal.evaluation._protocol import PROTOCOL_PRESETS, EvaluationProtocol
from speccal.evaluation._segmentation import SegmentationEvaluator

__all__ = [
    "ACEEvaluator",
    "CALIBRATION_METRICS",
    "CalibrationEvaluator",
    "ECEEvaluator",
    "EvaluationProtocol",
    "MCEEvaluator",
    "PROTOCOL_PRESETS",
    "SCEEvaluator",
    "SegmentationEvaluator",
    "TACEEvaluator",
]
