"""Estimator-style evaluators: calibration (ECE/SCE/TACE/...) and segmentation (DSC/HD95/ASD).

numpy only; importing this package never imports TensorFlow.
"""

# -- calibration evaluators and protocols (issue 3) --
from speccal.evaluation._calibration import (  # noqa: F401
    CALIBRATION_METRICS,
    ACEEvaluator,
    CalibrationEvaluator,
    ECEEvaluator,
    MCEEvaluator,
    SCEEvaluator,
    TACEEvaluator,
)
from speccal.evaluation._protocol import PROTOCOL_PRESETS, EvaluationProtocol  # noqa: F401

# -- segmentation evaluator (issue 4) --
from speccal.evaluation._segmentation import SegmentationEvaluator  # noqa: F401
