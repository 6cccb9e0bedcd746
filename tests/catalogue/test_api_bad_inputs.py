"""Bad-input catalogue, public API (issue 14): each case pinned to its error message.

A case is ``(thunk, exception type, regex)``; the message must name the argument, the
constraint and the value received. numpy side only (TensorFlow cases are in
``test_keras_bad_inputs.py``); every case runs in milliseconds.
"""

import numpy as np
import pytest
from calibrators import ALL_CALIBRATORS
from metric_functions import BINNED_CALIBRATION_FUNCTIONS, SCORE_FUNCTIONS
from sklearn.exceptions import NotFittedError

from speccal import metrics
from speccal.evaluation import (
    CalibrationEvaluator,
    ECEEvaluator,
    EvaluationProtocol,
    SegmentationEvaluator,
    TACEEvaluator,
)
from speccal.posthoc import HistogramBinning, MatrixScaling, TemperatureScaling

RNG = np.random.default_rng(0)
Y = np.array([0, 1, 2, 1, 0, 2])
P = RNG.dirichlet(np.ones(3), size=6)
LOGITS = RNG.normal(size=(6, 3))
MASK = np.zeros((6, 7, 8), int)
MASK[2:4, 2:5, 3:6] = 1
VOLUME = RNG.integers(0, 3, size=(5, 6, 7))
VOLUME_P = RNG.dirichlet(np.ones(3), size=(5, 6, 7))


def _with(array, index, value):
    out = np.array(array, dtype=float)
    out[index] = value
    return out


CALIBRATION_FUNCTIONS = {
    **BINNED_CALIBRATION_FUNCTIONS,
    "classwise": metrics.classwise_calibration_error,
}

CASES = {}
for name, f in {**CALIBRATION_FUNCTIONS, **SCORE_FUNCTIONS}.items():
    CASES.update(
        {
            f"{name}-shape-mismatch": (
                lambda f=f: f(Y[:5], P),
                ValueError,
                r"`y_true` must have shape y_prob.shape\[:-1\] = \(6,\); got \(5,\)",
            ),
            f"{name}-label-out-of-range": (
                lambda f=f: f(np.array([0, 1, 2, 1, 0, 3]), P),
                ValueError,
                r"`y_true` must hold labels in \[0, n_classes\) = \[0, 3\); got 3",
            ),
            f"{name}-negative-label": (
                lambda f=f: f(np.array([0, 1, 2, 1, 0, -1]), P),
                ValueError,
                r"`y_true` must hold labels in \[0, n_classes\) = \[0, 3\); got -1",
            ),
            f"{name}-float-labels": (
                lambda f=f: f(Y.astype(float), P),
                ValueError,
                r"`y_true` must hold integer labels; got dtype float64",
            ),
            f"{name}-nan-probability": (
                lambda f=f: f(Y, _with(P, (2, 1), np.nan)),
                ValueError,
                r"`y_prob` must contain only finite values; got nan",
            ),
            f"{name}-probability-above-one": (
                lambda f=f: f(Y, _with(P, (2, 1), 1.5)),
                ValueError,
                r"`y_prob` must hold probabilities in \[0, 1\]; got 1.5",
            ),
            f"{name}-rows-not-summing-to-one": (
                lambda f=f: f(Y, P * 0.5),
                ValueError,
                r"`y_prob` rows must sum to 1 \(within 0.001\); got a row summing to 0.4999",
            ),
            f"{name}-integer-probabilities": (
                lambda f=f: f(Y, np.eye(3, dtype=int)[Y]),
                ValueError,
                r"`y_prob` must be a floating-point array; got dtype int64",
            ),
            f"{name}-empty": (
                lambda f=f: f(np.zeros(0, int), np.zeros((0, 3))),
                ValueError,
                r"`y_true` must hold at least one sample; got shape \(0,\)",
            ),
        }
    )
for name, f in CALIBRATION_FUNCTIONS.items():
    CASES.update(
        {
            f"{name}-n_bins-zero": (
                lambda f=f: f(Y, P, n_bins=0),
                ValueError,
                r"`n_bins` must be an int >= 1; got 0",
            ),
            f"{name}-n_bins-float": (
                lambda f=f: f(Y, P, n_bins=2.5),
                TypeError,
                r"`n_bins` must be an int >= 1; got 2.5",
            ),
            f"{name}-n_bins-huge": (
                lambda f=f: f(Y, P, n_bins=10**12),
                ValueError,
                r"`n_bins` must be small enough for the bin sums of 3 classes to fit in 1 GiB;"
                r" got 1000000000000, which would need [\d.]+ TiB",
            ),
        }
    )
CASES.update(
    {
        "tace-threshold-one": (
            lambda: metrics.thresholded_adaptive_calibration_error(Y, P, threshold=1.0),
            ValueError,
            r"`threshold` must be a finite number in \[0, 1\); got 1.0",
        ),
        "tace-threshold-negative": (
            lambda: metrics.thresholded_adaptive_calibration_error(Y, P, threshold=-0.1),
            ValueError,
            r"`threshold` must be a finite number in \[0, 1\); got -0.1",
        ),
        "nll-eps-zero": (
            lambda: metrics.negative_log_likelihood(Y, P, eps=0.0),
            ValueError,
            r"`eps`",
        ),
        # segmentation metrics
        "dice-shape-mismatch": (
            lambda: metrics.dice_score(y_true=MASK, y_pred=MASK[:5]),
            ValueError,
            r"must have the same shape",
        ),
        "dice-scalar": (
            lambda: metrics.dice_score(y_true=np.int64(1), y_pred=np.int64(1)),
            ValueError,
            r"must be an array with at least one axis",
        ),
        "hd95-negative-spacing": (
            lambda: metrics.hausdorff_distance_95(y_true=MASK, y_pred=MASK, spacing=(1, -1, 1)),
            ValueError,
            r"`spacing` must be a positive finite number or a sequence of 3 positive finite "
            r"numbers \(one per axis\); got \(1, -1, 1\)",
        ),
        "hd95-spacing-length": (
            lambda: metrics.hausdorff_distance_95(y_true=MASK, y_pred=MASK, spacing=(1, 1)),
            ValueError,
            r"`spacing` must be .* sequence of 3 positive finite numbers .*; got \(1, 1\)",
        ),
        "hd95-nan-spacing": (
            lambda: metrics.hausdorff_distance_95(y_true=MASK, y_pred=MASK, spacing=np.nan),
            ValueError,
            r"`spacing` must be a positive finite number .*; got nan",
        ),
        "hd95-unknown-method": (
            lambda: metrics.hausdorff_distance_95(y_true=MASK, y_pred=MASK, method="max"),
            ValueError,
            r"`method` must be one of \('medpy', 'monai'\); got 'max'",
        ),
        "asd-text-spacing": (
            lambda: metrics.average_surface_distance(y_true=MASK, y_pred=MASK, spacing="1mm"),
            ValueError,
            r"`spacing` must be a positive finite number .*; got '1mm'",
        ),
        "scores-negative-label": (
            lambda: metrics.segmentation_scores(y_true=MASK - 1, y_pred=MASK),
            ValueError,
            r"`y_true` must hold non-negative class labels; got minimum -1",
        ),
        "scores-n_classes-too-small": (
            lambda: metrics.segmentation_scores(y_true=MASK * 2, y_pred=MASK, n_classes=2),
            ValueError,
            r"`y_true` must hold labels in \[0, n_classes=2\); got label 2",
        ),
        # evaluators
        "evaluator-unknown-metric": (
            lambda: CalibrationEvaluator(metrics=("ece", "auc")).fit(Y, P),
            ValueError,
            r"`metrics` must be a non-empty sequence of .*; got \('ece', 'auc'\)",
        ),
        "evaluator-metrics-string": (
            lambda: CalibrationEvaluator(metrics="ece").fit(Y, P),
            ValueError,
            r"`metrics` must be a non-empty sequence of .*; got 'ece'",
        ),
        "evaluator-per_volume-not-bool": (
            lambda: CalibrationEvaluator(per_volume="yes").fit(Y, P),
            TypeError,
            r"`per_volume` must be a bool; got 'yes'",
        ),
        "evaluator-unknown-protocol": (
            lambda: CalibrationEvaluator(protocol="miccai").fit(Y, P),
            ValueError,
            r"`protocol` must be one of .*; got 'miccai'|`name` must be one of",
        ),
        "evaluator-protocol-type": (
            lambda: CalibrationEvaluator(protocol=3).fit(Y, P),
            ValueError,
            r"`protocol` must be a preset name or an EvaluationProtocol; got 3",
        ),
        "evaluator-adaptive_binning": (
            lambda: TACEEvaluator(adaptive_binning="fast").fit(Y, P),
            ValueError,
            r"`adaptive_binning` must be one of \('histogram', 'exact'\); got 'fast'",
        ),
        "evaluator-n_bins-huge": (
            lambda: ECEEvaluator(n_bins=10**12).fit(Y, P),
            ValueError,
            r"`n_bins` must be small enough .* got 1000000000000, which would need",
        ),
        "evaluator-n_fine_bins-huge": (
            lambda: TACEEvaluator(n_fine_bins=10**10).fit(Y, P),
            ValueError,
            r"`n_fine_bins` must be small enough .* got 10000000000, which would need",
        ),
        "evaluator-score_-before-fit": (
            lambda: ECEEvaluator().score_,
            NotFittedError,
            r"This ECEEvaluator instance is not fitted yet; call 'fit' or 'partial_fit' "
            r"before reading `score_`",
        ),
        "evaluator-score-before-fit": (
            lambda: ECEEvaluator().score(Y, P),
            NotFittedError,
            r"ECEEvaluator instance is not fitted",
        ),
        "evaluator-empty-list": (
            lambda: ECEEvaluator().fit([], []),
            ValueError,
            r"`y_true` must hold at least one volume; got an empty sequence",
        ),
        "evaluator-volume-count-mismatch": (
            lambda: ECEEvaluator().fit([VOLUME, VOLUME], [VOLUME_P]),
            ValueError,
            r"`y_prob` must hold as many volumes as `y_true` \(2; a list or tuple holds one "
            r"volume per item\); got 1",
        ),
        "evaluator-class-count-changes": (
            lambda: ECEEvaluator().fit(Y, P).partial_fit(Y[:2], np.full((2, 2), 0.5)),
            ValueError,
            r"`y_prob` must have 3 classes like the earlier volumes; got 2",
        ),
        "evaluator-merge-different-params": (
            lambda: ECEEvaluator().fit(Y, P) + ECEEvaluator(n_bins=5).fit(Y, P),
            ValueError,
            r"`other` must be a fitted ECEEvaluator with the same parameters",
        ),
        "evaluator-mask-protocol-without-mask": (
            lambda: CalibrationEvaluator(
                protocol=EvaluationProtocol(voxels="mask", aggregation="pooled")
            ).fit(Y, P),
            ValueError,
            r"`mask`",
        ),
        "segmentation-evaluator-batch-array": (
            lambda: SegmentationEvaluator().fit(
                y_true=np.stack([MASK, MASK]), y_pred=np.stack([MASK, MASK])
            ),
            ValueError,
            r"`y_true` must hold volumes of 2 or 3 axes; pass a batch as a list of volumes",
        ),
        "segmentation-evaluator-n_classes": (
            lambda: SegmentationEvaluator(n_classes=1).fit(y_true=MASK, y_pred=MASK),
            ValueError,
            r"`n_classes` must be an int >= 2 or None; got 1",
        ),
        "segmentation-evaluator-spatial_dims": (
            lambda: SegmentationEvaluator(spatial_dims=4).fit(y_true=MASK, y_pred=MASK),
            ValueError,
            r"`spatial_dims` must be None, 1, 2 or 3; got 4",
        ),
        "segmentation-evaluator-spacings": (
            lambda: SegmentationEvaluator().fit(
                y_true=[MASK, MASK], y_pred=[MASK, MASK], spacing=[(1, 1, 1)] * 3
            ),
            ValueError,
            r"`spacing` must be one spacing for all volumes or one per volume \(2\); got 3",
        ),
        "segmentation-evaluator-case-ids": (
            lambda: SegmentationEvaluator().fit(
                y_true=[MASK, MASK], y_pred=[MASK, MASK], case_id=["a"]
            ),  # fmt: skip
            ValueError,
            r"`case_id` must hold one identifier per volume \(2\); got \['a'\]",
        ),
        "segmentation-evaluator-to_csv-before-fit": (
            lambda: SegmentationEvaluator().to_csv("never.csv"),
            NotFittedError,
            r"SegmentationEvaluator instance is not fitted",
        ),
        "segmentation-evaluator-mean_-before-fit": (
            lambda: SegmentationEvaluator().mean_,
            NotFittedError,
            r"not fitted yet; call 'fit' or 'partial_fit' before reading `mean_`",
        ),
        "protocol-unknown-preset": (
            lambda: EvaluationProtocol.preset("miccai"),
            ValueError,
            r"'miccai'",
        ),
    }
)

for cls in ALL_CALIBRATORS:
    name = cls.__name__
    CASES.update(
        {
            f"{name}-1d-scores": (
                lambda cls=cls: cls().fit(LOGITS[:, 0], Y),
                ValueError,
                r"`X` must have shape \(n_samples, n_classes\) or \(..., n_classes\) with the "
                r"class axis last; got shape \(6,\)",
            ),
            f"{name}-labels-shape": (
                lambda cls=cls: cls().fit(LOGITS, Y[:5]),
                ValueError,
                r"`y` must have the shape of the scores",
            ),
            f"{name}-label-not-a-class": (
                lambda cls=cls: cls().fit(LOGITS, np.array([0, 1, 2, 1, 0, 3])),
                ValueError,
                r"`y` must hold labels in \[0, 3\)",
            ),
            f"{name}-nan-scores": (
                lambda cls=cls: cls().fit(_with(LOGITS, (1, 1), np.nan), Y),
                ValueError,
                r"`X` must be finite \(no NaN or inf\); got 1 non-finite values",
            ),
            f"{name}-text-scores": (
                lambda cls=cls: cls().fit(np.array([["a", "b", "c"]] * 6, dtype=object), Y),
                TypeError,
                r"`X` must be a numeric array; got dtype object",
            ),
            f"{name}-complex-scores": (
                lambda cls=cls: cls().fit(LOGITS.astype(complex), Y),
                ValueError,
                r"`X` must be real; Complex data not supported",
            ),
            f"{name}-one-class": (
                lambda cls=cls: cls().fit(LOGITS[:, :1], np.zeros(6, int)),
                ValueError,
                r"`X` must have at least 2 classes on its last axis; got 1 feature",
            ),
            f"{name}-predict-before-fit": (
                lambda cls=cls: cls().predict_proba(LOGITS),
                NotFittedError,
                rf"This {name} instance is not fitted yet",
            ),
            f"{name}-predict-class-count": (
                lambda cls=cls: cls().fit(LOGITS, Y).predict_proba(LOGITS[:, :2]),
                ValueError,
                r"`X` must have 3 classes on its last axis, as seen in fit; got shape \(6, 2\)",
            ),
            f"{name}-unknown-input": (
                lambda cls=cls: cls(input="scores").fit(LOGITS, Y),
                ValueError,
                r"`input` must be one of \('logits', 'probabilities'\); got 'scores'",
            ),
            f"{name}-probabilities-out-of-range": (
                lambda cls=cls: cls(input="probabilities").fit(LOGITS, Y),
                ValueError,
                r"`X` must hold probabilities",
            ),
            f"{name}-max_samples-zero": (
                lambda cls=cls: cls(max_samples=0).fit(LOGITS, Y),
                ValueError,
                r"`max_samples` must be an int >= 1",
            ),
        }
    )
CASES.update(
    {
        "temperature-bounds-reversed": (
            lambda: TemperatureScaling(bounds=(2.0, 1.0)).fit(LOGITS, Y),
            ValueError,
            r"`bounds` must be a pair \(T_min, T_max\) with 0 < T_min < T_max; got \(2.0, 1.0\)",
        ),
        "temperature-bounds-zero": (
            lambda: TemperatureScaling(bounds=(0.0, 1.0)).fit(LOGITS, Y),
            ValueError,
            r"`bounds` must be a pair .*; got \(0.0, 1.0\)",
        ),
        "matrix-negative-l2": (
            lambda: MatrixScaling(l2=-1.0).fit(LOGITS, Y),
            ValueError,
            r"`l2`",
        ),
        "histogram-n_bins-zero": (
            lambda: HistogramBinning(n_bins=0).fit(LOGITS, Y),
            ValueError,
            r"`n_bins` must be an int >= 1; got 0",
        ),
    }
)


# random logits carry no information: the temperature fit hits its bound (warned, expected)
@pytest.mark.filterwarnings("ignore:The fitted temperature")
@pytest.mark.parametrize(("thunk", "error", "match"), CASES.values(), ids=list(CASES))
def test_bad_input_gets_a_clear_error(thunk, error, match):
    with pytest.raises(error, match=match):
        thunk()
