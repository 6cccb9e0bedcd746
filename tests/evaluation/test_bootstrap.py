"""Case bootstrap of the evaluators: resampled per-volume sums equal resampled voxels."""

import warnings

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError

from speccal.evaluation import CalibrationEvaluator, EvaluationProtocol, SegmentationEvaluator
from speccal.metrics import expected_calibration_error, static_calibration_error

N_VOLUMES, N_RESAMPLES, SEED = 5, 40, 11
SHAPES = [(6, 5, 4), (5, 5, 3), (7, 4, 4), (6, 6, 2), (4, 5, 5)]


@pytest.fixture(scope="module")
def volumes():
    """Five small 3-class volumes of different shapes with block labels and noisy probs."""
    rng = np.random.default_rng(0)
    trues, probs = [], []
    for shape in SHAPES:
        label = np.zeros(shape, dtype=int)
        label[1:4, 1:3] = 1
        label[2:, 3:] = 2
        logits = 2.0 * np.eye(3)[label] + rng.normal(scale=1.2, size=(*shape, 3))
        trues.append(label)
        probs.append(np.exp(logits) / np.exp(logits).sum(-1, keepdims=True))
    return trues, probs


def _draws():
    return np.random.default_rng(SEED).integers(0, N_VOLUMES, size=(N_RESAMPLES, N_VOLUMES))


def _quantiles(values):
    return np.quantile(values, [0.05, 0.95])


@pytest.mark.parametrize(
    "protocol",
    [
        EvaluationProtocol(name="speccal"),
        EvaluationProtocol(voxels="foreground", include_background=False, bin_rule="right"),
        EvaluationProtocol(bin_rule="left-extra"),
    ],
    ids=["speccal", "foreground", "left-extra"],
)
def test_pooled_interval_equals_resampling_the_voxels_of_whole_volumes(volumes, protocol):
    trues, probs = volumes
    metrics = ("ece", "mce", "rmsce", "sce", "brier", "nll", "boundary_ece")
    spacing = (1.0, 0.8, 2.5)
    evaluator = CalibrationEvaluator(
        metrics=metrics, protocol=protocol, per_volume=True, boundary_width=1.0
    )
    evaluator.fit(trues, probs, spacing=spacing)
    pooled = CalibrationEvaluator(metrics=metrics, protocol=protocol, boundary_width=1.0)
    resampled = [
        pooled.fit([trues[j] for j in row], [probs[j] for j in row], spacing=spacing).scores_
        for row in _draws()
    ]
    for metric in metrics:
        interval = evaluator.confidence_interval(
            metric, n_resamples=N_RESAMPLES, confidence_level=0.9, random_state=SEED
        )
        expected = _quantiles([scores[metric] for scores in resampled])
        np.testing.assert_allclose(interval, expected, rtol=1e-12, atol=1e-14, err_msg=metric)


def test_pooled_ece_and_sce_equal_the_functions_on_concatenated_voxels(volumes):
    trues, probs = volumes
    evaluator = CalibrationEvaluator(metrics=("ece", "sce"), per_volume=True).fit(trues, probs)
    flat = [(t.reshape(-1), p.reshape(-1, 3)) for t, p in zip(trues, probs, strict=True)]
    for metric, function in (
        ("ece", expected_calibration_error),
        ("sce", static_calibration_error),
    ):
        values = [
            function(
                np.concatenate([flat[j][0] for j in row]),
                np.concatenate([flat[j][1] for j in row]),
            )
            for row in _draws()
        ]
        interval = evaluator.confidence_interval(
            metric, n_resamples=N_RESAMPLES, confidence_level=0.9, random_state=SEED
        )
        np.testing.assert_allclose(interval, _quantiles(values), rtol=1e-12)


def test_equal_mass_metrics_resample_the_fine_histograms(volumes):
    """TACE/ACE: each resample is the histogram-mode value, within its bound of the exact."""
    trues, probs = volumes
    for binning in ("histogram", "exact"):
        evaluator = CalibrationEvaluator(
            metrics=("tace", "ace"), per_volume=True, adaptive_binning=binning, n_fine_bins=256
        ).fit(trues, probs)
        histogram = CalibrationEvaluator(metrics=("tace",), n_fine_bins=256)
        exact = CalibrationEvaluator(metrics=("tace",), adaptive_binning="exact", n_fine_bins=256)
        values, exact_values, bounds = [], [], []
        for row in _draws():
            drawn = [trues[j] for j in row], [probs[j] for j in row]
            values.append(histogram.fit(*drawn).scores_["tace"])
            bounds.append(histogram.error_bound_["tace"])
            exact_values.append(exact.fit(*drawn).scores_["tace"])
        interval = evaluator.confidence_interval(
            "tace", n_resamples=N_RESAMPLES, confidence_level=0.9, random_state=SEED
        )
        np.testing.assert_allclose(interval, _quantiles(values), rtol=1e-12)
        assert np.all(np.abs(np.array(values) - exact_values) <= np.array(bounds) + 1e-12)


def test_per_volume_means_resample_the_volume_values(volumes):
    trues, probs = volumes
    evaluator = CalibrationEvaluator(metrics=("ece", "tace"), protocol="mbls").fit(trues, probs)
    scores, counts = evaluator.volume_scores_["ece"], evaluator.volume_counts_
    expected = _quantiles([np.average(scores[row], weights=counts[row]) for row in _draws()])
    interval = evaluator.confidence_interval(
        "ece", n_resamples=N_RESAMPLES, confidence_level=0.9, random_state=SEED
    )
    np.testing.assert_allclose(interval, expected, rtol=1e-12)
    # a pooled protocol's per-volume mean: unweighted
    pooled = CalibrationEvaluator(metrics=("ece",), per_volume=True).fit(trues, probs)
    scores = pooled.volume_scores_["ece"]
    interval = pooled.confidence_interval(
        n_resamples=N_RESAMPLES, confidence_level=0.9, random_state=SEED, aggregation="per_volume"
    )
    np.testing.assert_allclose(interval, _quantiles([scores[r].mean() for r in _draws()]))


def test_volume_bin_sums_add_up_to_the_pooled_bins(volumes):
    trues, probs = volumes
    evaluator = CalibrationEvaluator(metrics=("ece",), per_volume=True).fit(trues[:3], probs[:3])
    evaluator = evaluator.merge(
        CalibrationEvaluator(metrics=("ece",), per_volume=True).fit(trues[3:], probs[3:])
    )
    sums = evaluator.volume_bin_sums_
    assert sums.shape == (N_VOLUMES, 3, 15)
    np.testing.assert_array_equal(sums[:, 0].sum(0), evaluator.bin_count_)
    filled = evaluator.bin_count_ > 0
    np.testing.assert_allclose(
        sums[:, 1].sum(0)[filled] / evaluator.bin_count_[filled],
        evaluator.bin_confidence_[filled],
    )
    one = CalibrationEvaluator(metrics=("ece",), per_volume=True).fit(trues[1], probs[1])
    np.testing.assert_array_equal(one.volume_bin_sums_[0, 0], one.bin_count_)
    np.testing.assert_allclose(
        evaluator.confidence_interval(n_resamples=20, random_state=0),
        CalibrationEvaluator(metrics=("ece",), per_volume=True)
        .fit(trues, probs)
        .confidence_interval(n_resamples=20, random_state=0),
        rtol=1e-12,
    )


def test_bootstrap_errors_are_named(volumes):
    trues, probs = volumes
    with pytest.raises(NotFittedError):
        CalibrationEvaluator().confidence_interval()
    evaluator = CalibrationEvaluator(metrics=("ece",)).fit(trues, probs)
    with pytest.raises(ValueError, match=r"fit the evaluator with `per_volume=True`"):
        evaluator.confidence_interval("ece")
    evaluator = CalibrationEvaluator(metrics=("ece",), per_volume=True).fit(trues, probs)
    with pytest.raises(ValueError, match=r"`metric` must be one of \('ece',\); got 'sce'"):
        evaluator.confidence_interval("sce")
    with pytest.raises(ValueError, match=r"`aggregation` must be 'pooled', 'per_volume' or"):
        evaluator.confidence_interval(aggregation="mean")
    with pytest.raises(ValueError, match=r"`confidence_level` must be a float in \(0, 1\)"):
        evaluator.confidence_interval(confidence_level=1.0)


def test_resamples_without_a_boundary_are_left_out_with_a_warning():
    flat = np.zeros((4, 4), dtype=int)
    edged = flat.copy()
    edged[:, 2:] = 1
    prob = np.full((4, 4, 2), 0.5)
    evaluator = CalibrationEvaluator(metrics=("boundary_ece",), per_volume=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # the flat volume has no boundary
        evaluator.fit([flat, flat, edged], [prob, prob, prob])
    draws = np.random.default_rng(0).integers(0, 3, size=(30, 3))
    n_empty = int(np.sum(~(draws == 2).any(axis=1)))
    assert n_empty > 0
    with pytest.warns(UserWarning, match=rf"{n_empty} of 30 resamples hold no voxel with a"):
        low, high = evaluator.confidence_interval(n_resamples=30, random_state=0)
    assert low == high == 0.0  # hits 1/2 at confidence 1/2 in every resample


def test_segmentation_interval_equals_a_loop_and_keeps_infinite_distances():
    rng = np.random.default_rng(1)
    trues, preds = [], []
    for i in range(6):
        label = np.zeros((8, 8, 6), dtype=int)
        label[2:6, 2:6, 1:5] = 1
        label[1:3, 5:8, 2:4] = 2
        pred = np.roll(label, int(rng.integers(-1, 2)), axis=0)
        if i == 4:
            pred[pred == 2] = 0  # class 2 missed: HD95 = inf for that volume
        trues.append(label)
        preds.append(pred)
    evaluator = SegmentationEvaluator(n_classes=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        evaluator.fit(y_true=trues, y_pred=preds)
    draws = np.random.default_rng(SEED).integers(0, 6, size=(N_RESAMPLES, 6))
    for metric in ("dice", "hd95"):
        low, high = evaluator.confidence_interval(
            metric, n_resamples=N_RESAMPLES, confidence_level=0.9, random_state=SEED
        )
        means = np.array([evaluator.scores_[metric][row].mean(axis=0) for row in draws])
        assert low.shape == high.shape == (2,)
        for k in range(2):
            column = means[:, k]
            if np.isfinite(column).all():
                np.testing.assert_allclose([low[k], high[k]], _quantiles(column), rtol=1e-12)
            else:  # the resamples that drew the missed volume are inf
                n_inf = int(np.isinf(column).sum())
                assert 0 < n_inf < N_RESAMPLES
                finite = np.sort(column)[: N_RESAMPLES - n_inf]
                assert high[k] == np.inf
                assert low[k] == pytest.approx(np.quantile(np.sort(column), 0.05))
                assert np.isfinite(low[k]) == (0.05 * (N_RESAMPLES - 1) < finite.size - 1)
    with pytest.raises(ValueError, match=r"`metric` must be one of \('dice', 'hd95', 'asd'\)"):
        evaluator.confidence_interval("ece")
    with pytest.raises(NotFittedError):
        SegmentationEvaluator().confidence_interval("dice")
