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


def _histogram_error_loop(labels, probs, threshold, n_bins, n_fine):
    """Equal-mass error of each class with the edges at the lower ends of the fine bins holding
    the ranks (the histogram definition), by plain loops over the kept values."""
    errors = []
    for k in range(probs.shape[1]):
        pairs = zip(probs[:, k], labels, strict=True)
        kept = [(p, int(y == k)) for p, y in pairs if p > threshold]
        if not kept:
            errors.append(0.0)
            continue
        fine = sorted(min(int(p * n_fine), n_fine - 1) for p, _ in kept)
        n = len(kept)
        ranks = [min(round(n * j / n_bins), n - 1) for j in range(1, n_bins)]
        edges = [fine[r] for r in ranks]
        gap = [[0.0, 0.0] for _ in range(n_bins)]
        for p, hit in kept:
            b = sum(e <= min(int(p * n_fine), n_fine - 1) for e in edges)
            gap[b][0] += hit
            gap[b][1] += p
        errors.append(sum(abs(h - s) for h, s in gap) / n)
    return np.array(errors)


def _tied_volumes(rng, n_volumes, n_classes, size, *, step):
    """Probabilities on a grid of ``step`` (many ties, sums exact in float64); class 3 never
    predicted above the threshold, one volume tiny."""
    volumes = []
    for v in range(n_volumes):
        n = 3 if v == 1 else size
        weights = rng.integers(0, 4, size=(n, n_classes)).astype(np.float64)
        weights[:, -1] = 0.0
        weights[weights.sum(1) == 0, 0] = 1.0
        probs = np.round(weights / weights.sum(1, keepdims=True) / step) * step
        probs[:, 0] = 1.0 - probs[:, 1:].sum(1)
        volumes.append((rng.integers(0, n_classes, size=n), probs))
    return volumes


@pytest.mark.parametrize("n_bins", [1, 4, 15])
@pytest.mark.parametrize("n_fine", [7, 64, 1024])
def test_resampled_equal_mass_errors_equal_a_loop_over_resamples(n_bins, n_fine):
    """All resamples at once == summed fine histograms one by one == plain loops over the drawn
    values; on dyadic probabilities every sum is exact, so equality is exact (an edge in
    another fine bin would show)."""
    from speccal.metrics import _binning as kernel

    rng = np.random.default_rng(n_bins * 1000 + n_fine)
    threshold = 0.125
    volumes = _tied_volumes(rng, 6, 4, 40, step=1 / 16)
    histograms = []
    for labels, probs in volumes:
        fine = kernel.fine_histogram(labels, probs, n_fine, threshold)
        histograms.append(fine)
    draws = rng.integers(0, 3, size=(25, len(volumes)))
    draws[0] = 0
    draws[0, 1] = 2  # only the tiny volume
    draws[1] = 0  # nothing at all: every class is empty
    prefixes = [kernel.FinePrefix.from_histogram(h) for h in histograms]
    errors = kernel.resampled_adaptive_errors(prefixes, draws, n_bins)
    assert errors.shape == (25, 4)
    n = draws @ np.array([p.below(np.arange(4), n_fine, parts=(0,))[0] for p in prefixes])
    ranks = np.round(np.linspace(0, n, n_bins, endpoint=False, axis=-1))
    ranks = np.minimum(ranks, n[..., None] - 1)[..., 1:]
    edges = kernel._edge_fine_bins(prefixes, draws.astype(np.float64), ranks)
    for row, values, row_ranks, row_edges in zip(draws, errors, ranks, edges, strict=True):
        summed = np.tensordot(row.astype(np.float64), np.stack(histograms), axes=1)
        one_by_one = [
            kernel.adaptive_error_from_histogram(summed[:, k, :-1], n_bins)[0] for k in range(4)
        ]
        np.testing.assert_array_equal(values, one_by_one)
        for k in range(3):  # the fine bins holding the edges, as searchsorted finds them
            if summed[0, k].sum() > 0:
                cumulative = np.cumsum(summed[0, k, :-1])
                expected = np.searchsorted(cumulative, row_ranks[k], side="right")
                np.testing.assert_array_equal(row_edges[k], expected)
        drawn = [volumes[v] for v in np.repeat(np.arange(len(volumes)), row)]
        if drawn:
            labels = np.concatenate([d[0] for d in drawn])
            probs = np.concatenate([d[1] for d in drawn])
            loop = _histogram_error_loop(labels, probs, threshold, n_bins, n_fine)
        else:
            loop = np.zeros(4)
        np.testing.assert_array_equal(values, loop)
    assert np.all(errors[:, 3] == 0.0) and np.all(errors[1] == 0.0)
    assert np.any(errors[:, :3] > 0)


def test_resampled_equal_mass_errors_on_float_data_equal_the_loop_to_rounding(volumes):
    """Float32 probabilities, the evaluator's fine bins: the per-resample values to 1e-12."""
    from speccal.evaluation._statistics import resample_counts
    from speccal.metrics import _binning as kernel

    trues, probs = volumes
    probs = [p.astype(np.float32) for p in probs]
    for metrics, threshold in ((("tace",), 1e-3), (("ace", "sce"), -1.0)):
        evaluator = CalibrationEvaluator(metrics=metrics, per_volume=True, n_fine_bins=512)
        evaluator.fit(trues, probs)
        key = ("adaptive", threshold)
        singles = [
            CalibrationEvaluator(metrics=metrics, n_fine_bins=512).fit(t, p)._state.adaptive
            for t, p in zip(trues, probs, strict=True)
        ]
        histograms = np.stack([single[threshold] for single in singles])
        for tables, histogram in zip(evaluator._volume_tables, histograms, strict=True):
            prefix = kernel.FinePrefix.from_histogram(histogram)
            for mine, expected in zip(tables[key], prefix, strict=True):
                np.testing.assert_array_equal(mine, expected)
        draws = resample_counts(N_VOLUMES, N_RESAMPLES, SEED)
        errors = kernel.resampled_adaptive_errors(
            [tables[key] for tables in evaluator._volume_tables], draws, 15
        )
        for row, values in zip(draws, errors, strict=True):
            summed = np.tensordot(row.astype(np.float64), histograms, axes=1)
            expected = [
                kernel.adaptive_error_from_histogram(summed[:, k, :-1], 15)[0] for k in range(3)
            ]
            np.testing.assert_allclose(values, expected, rtol=1e-12, atol=0)


def test_per_volume_fine_histograms_are_kept_as_cumulative_sums_of_non_empty_bins(volumes):
    """Sparse and exact: ``below`` equals cumulative sums of the dense histogram at every edge."""
    from speccal.metrics import _binning as kernel

    trues, probs = volumes
    evaluator = CalibrationEvaluator(metrics=("tace",), per_volume=True, n_fine_bins=256)
    evaluator.fit(trues, probs)
    prefix = evaluator._volume_tables[0][("adaptive", 1e-3)]
    histogram = CalibrationEvaluator(metrics=("tace",), n_fine_bins=256).fit(trues[0], probs[0])
    dense = histogram._state.adaptive[1e-3][..., :-1]  # (3, 3 classes, 256 fine bins)
    n_nonempty = int((dense[0] > 0).sum())
    assert 0 < n_nonempty < 3 * 256
    assert prefix.counts.dtype == prefix.hits.dtype == np.uint8  # 120 voxels
    assert prefix.keys.dtype == np.uint16 and prefix.sums.dtype == np.float64
    assert prefix.nbytes == n_nonempty * (2 + 1 + 8 + 1)
    cumulative = np.concatenate([np.zeros((3, 3, 1)), np.cumsum(dense, axis=-1)], axis=-1)
    edges = np.arange(257)
    for k in range(3):
        np.testing.assert_array_equal(prefix.below(k, edges), cumulative[:, k])
    kept = (probs[0] > 1e-3).reshape(-1, 3).sum(0)
    assert prefix.below(np.arange(3), 256, parts=(0,))[0].tolist() == kept.tolist()
    empty = kernel.FinePrefix.from_histogram(np.zeros((3, 2, 9)))
    assert empty.nbytes == 0
    np.testing.assert_array_equal(empty.below([0, 1], [8, 3]), np.zeros((3, 2)))


@pytest.mark.parametrize("scale", [1.0, 2.0**50])
def test_count_at_most_equals_searchsorted_row_by_row(scale):
    """Rows laid end to end with offsets, or row by row when the offsets would be inexact."""
    from speccal.metrics._binning import _count_at_most

    rng = np.random.default_rng(3)
    rows = np.sort(rng.integers(0, 20, size=(9, 12)), axis=1) * scale
    values = np.concatenate([np.full((9, 1), -1.0), rng.integers(0, 21, size=(9, 5)) * scale], 1)
    expected = [np.searchsorted(r, v, side="right") for r, v in zip(rows, values, strict=True)]
    np.testing.assert_array_equal(_count_at_most(rows, values), expected)


def test_merging_shares_the_volume_tables_and_leaves_both_evaluators_unchanged(volumes):
    trues, probs = volumes
    first = CalibrationEvaluator(metrics=("tace",), per_volume=True).fit(trues[:2], probs[:2])
    second = CalibrationEvaluator(metrics=("tace",), per_volume=True).fit(trues[2:], probs[2:])
    merged = first + second
    assert len(first._volume_tables) == 2 and len(second._volume_tables) == 3
    assert [id(t) for t in merged._volume_tables] == [
        id(t) for t in first._volume_tables + second._volume_tables
    ]
    again = first + second
    whole = CalibrationEvaluator(metrics=("tace",), per_volume=True).fit(trues, probs)
    for evaluator in (merged, again):
        np.testing.assert_array_equal(
            evaluator.volume_scores_["tace"], whole.volume_scores_["tace"]
        )
        assert evaluator.confidence_interval(n_resamples=30, random_state=0) == pytest.approx(
            whole.confidence_interval(n_resamples=30, random_state=0), rel=1e-12
        )


def test_equal_mass_interval_without_the_background_equals_refitting(volumes):
    trues, probs = volumes
    protocol = EvaluationProtocol(include_background=False)
    evaluator = CalibrationEvaluator(metrics=("tace",), protocol=protocol, per_volume=True)
    evaluator.fit(trues, probs)
    refit = CalibrationEvaluator(metrics=("tace",), protocol=protocol)
    values = [
        refit.fit([trues[j] for j in row], [probs[j] for j in row]).score_ for row in _draws()
    ]
    interval = evaluator.confidence_interval(
        n_resamples=N_RESAMPLES, confidence_level=0.9, random_state=SEED
    )
    np.testing.assert_allclose(interval, _quantiles(values), rtol=1e-12)
