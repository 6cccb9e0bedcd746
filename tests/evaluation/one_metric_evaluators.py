"""The one-metric calibration evaluators, by the metric each computes."""

from speccal.evaluation import (
    ACEEvaluator,
    ECEEvaluator,
    MCEEvaluator,
    SCEEvaluator,
    TACEEvaluator,
)

ONE_METRIC_EVALUATORS = {
    "ece": ECEEvaluator,
    "mce": MCEEvaluator,
    "sce": SCEEvaluator,
    "ace": ACEEvaluator,
    "tace": TACEEvaluator,
}
