"""Estimator-style evaluators: calibration (ECE/SCE/TACE/...) and segmentation (DSC/HD95/ASD),
and the statistics that compare them (case bootstrap, paired tests, Holm's correction).

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
from speccal.evaluation._statistics import (
    ClusteredPairedComparison,
    PairedComparison,
    compare_paired,
    compare_paired_clustered,
    holm_correction,
)

__all__ = [
    "ACEEvaluator",
    "CALIBRATION_METRICS",
    "CalibrationEvaluator",
    "ClusteredPairedComparison",
    "ECEEvaluator",
    "EvaluationProtocol",
    "MCEEvaluator",
    "PROTOCOL_PRESETS",
    "PairedComparison",
    "SCEEvaluator",
    "SegmentationEvaluator",
    "TACEEvaluator",
    "compare_paired",
    "compare_paired_clustered",
    "holm_correction",
]
