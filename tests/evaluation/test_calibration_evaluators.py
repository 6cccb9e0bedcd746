"""Calibration evaluators: equal the functions, stream, merge, follow sklearn, match presets."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from metric_functions import BINNED_CALIBRATION_FUNCTIONS, SCORE_FUNCTIONS
from one_metric_evaluators import ONE_METRIC_EVALUATORS
from scipy import special
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from speccal import metrics
from speccal.evaluation import (
    ACEEvaluator,
    CalibrationEvaluator,
    ECEEvaluator,
    EvaluationProtocol,
    MCEEvaluator,
    SCEEvaluator,
    TACEEvaluator,
)

# brier and nll take no bins: wrapped to the binned errors' call
FUNCTIONS = {
    **BINNED_CALIBRATION_FUNCTIONS,
    **{name: (lambda y, p, n_bins, f=f: f(y, p)) for name, f in SCORE_FUNCTIONS.items()},
}


def volumes(rng, n_volumes=3, shape=(7, 8, 9), k=4, concentration=0.3):
    """Segmentation-like volumes: labels drawn from slightly miscalibrated probabilities."""
    trues, probs = [], []
    for _ in range(n_volumes):
        prob = rng.dirichlet(np.full(k, concentration), size=shape).astype(np.float32)
        sharper = prob**1.3 / (prob**1.3).sum(-1, keepdims=True)
        label = (rng.random(shape)[..., None] > np.cumsum(sharper, -1)).sum(-1)
        trues.append(np.minimum(label, k - 1))
        probs.append(prob)
    return trues, probs


@pytest.fixture
def data(rng):
    return volumes(rng)


def pooled(trues, probs):
    return np.concatenate([t.ravel() for t in trues]), np.concatenate(
        [p.reshape(-1, p.shape[-1]) for p in probs]
    )


def test_fit_equals_functions_on_pooled_volumes(data):
    names = tuple(FUNCTIONS)
    evaluator = CalibrationEvaluator(metrics=names, n_bins=10, adaptive_binning="exact")
    assert evaluator.fit(*data) is evaluator
    y_true, y_prob = pooled(*data)
    for name in names:
        expected = FUNCTIONS[name](y_true, y_prob, n_bins=10)
        assert evaluator.scores_[name] == pytest.approx(expected, abs=1e-12), name
    assert evaluator.score_ == evaluator.scores_["ece"]
    assert evaluator.n_samples_ == y_true.size
    assert evaluator.error_bound_ == {"ace": 0.0, "tace": 0.0}


@pytest.mark.parametrize(
    ("cls", "name"),
    [(cls, name) for name, cls in ONE_METRIC_EVALUATORS.items()],
)
def test_one_metric_evaluators_equal_functions(data, cls, name):
    params = {"adaptive_binning": "exact"} if name in ("ace", "tace") else {}
    evaluator = cls(n_bins=12, **params).fit(*data)
    assert evaluator.score_ == pytest.approx(FUNCTIONS[name](*pooled(*data), n_bins=12), abs=1e-12)


def test_reliability_bins_equal_brute_force(data):
    evaluator = ECEEvaluator(n_bins=5).fit(*data)
    y_true, y_prob = pooled(*data)
    conf, hit = y_prob.max(1), y_prob.argmax(1) == y_true
    index = np.minimum((conf.astype(np.float64) * 5).astype(int), 4)
    for b in range(5):
        in_bin = index == b
        assert evaluator.bin_count_[b] == in_bin.sum()
        if in_bin.any():
            assert evaluator.bin_confidence_[b] == pytest.approx(conf[in_bin].mean(), rel=1e-6)
            assert evaluator.bin_accuracy_[b] == pytest.approx(hit[in_bin].mean())
        else:
            assert np.isnan(evaluator.bin_confidence_[b])


def test_streaming_tace_within_documented_bound_of_exact(rng):
    trues, probs = volumes(rng, n_volumes=4, shape=(20, 20, 20), concentration=0.1)
    exact = metrics.thresholded_adaptive_calibration_error(*pooled(trues, probs))
    streamed = TACEEvaluator()
    for t, p in zip(trues, probs, strict=True):
        streamed.partial_fit(t, p)
    error = abs(streamed.score_ - exact)
    assert error <= streamed.error_bound_["tace"] <= 1e-3
    # the worst-case bound shrinks with finer histograms
    finer = TACEEvaluator(n_fine_bins=1 << 16).fit(trues, probs)
    assert finer.error_bound_["tace"] < streamed.error_bound_["tace"]
    ace = ACEEvaluator().fit(trues, probs)
    ace_exact = metrics.adaptive_calibration_error(*pooled(trues, probs))
    assert abs(ace.score_ - ace_exact) <= ace.error_bound_["ace"] <= 1e-3


@settings(max_examples=15, deadline=None)
@given(st.integers(1, 5), st.integers(0, 2**32 - 1), st.sampled_from(["histogram", "exact"]))
def test_chunked_partial_fit_equals_fit(n_chunks, seed, binning):
    rng = np.random.default_rng(seed)
    trues, probs = volumes(rng, n_volumes=1, shape=(60,), k=3)
    y_true, y_prob = trues[0], probs[0]
    whole = CalibrationEvaluator(
        metrics=("ece", "sce", "tace", "ace", "brier"), adaptive_binning=binning
    ).fit(y_true, y_prob)
    streamed = clone(whole)
    for part in np.array_split(np.arange(60), n_chunks):
        streamed.partial_fit(y_true[part], y_prob[part])
    for name, value in whole.scores_.items():
        assert streamed.scores_[name] == pytest.approx(value, abs=1e-12)
    np.testing.assert_array_equal(streamed.bin_count_, whole.bin_count_)


def test_merge_equals_fit_on_concatenation(data):
    trues, probs = data
    params = {"metrics": ("ece", "sce", "tace"), "per_volume": True}
    first = CalibrationEvaluator(**params).fit(trues[:1], probs[:1])
    rest = CalibrationEvaluator(**params).fit(trues[1:], probs[1:])
    merged = first + rest
    whole = CalibrationEvaluator(**params).fit(trues, probs)
    for name in params["metrics"]:
        assert merged.scores_[name] == pytest.approx(whole.scores_[name], abs=1e-12)
        np.testing.assert_allclose(merged.volume_scores_[name], whole.volume_scores_[name])
    assert first.n_samples_ == trues[0].size  # operands unchanged
    for name in params["metrics"]:  # so merging them again gives the same values
        assert (rest + first).scores_[name] == pytest.approx(whole.scores_[name], abs=1e-12)
    with pytest.raises(ValueError, match="`other` must be a fitted CalibrationEvaluator with"):
        first.merge(CalibrationEvaluator(n_bins=3).fit(trues[:1], probs[:1]))


def test_per_volume_values_equal_functions(data):
    trues, probs = data
    evaluator = CalibrationEvaluator(metrics=("ece", "tace"), per_volume=True).fit(trues, probs)
    for name in ("ece", "tace"):
        expected = [FUNCTIONS[name](t, p, n_bins=15) for t, p in zip(trues, probs, strict=True)]
        np.testing.assert_allclose(evaluator.volume_scores_[name], expected, atol=1e-12)
    np.testing.assert_array_equal(evaluator.volume_counts_, [t.size for t in trues])


def test_refit_forgets_per_volume_values(data):
    trues, probs = data
    evaluator = CalibrationEvaluator(metrics=("ece",), per_volume=True).fit(trues, probs)
    evaluator.set_params(metrics=("sce",), per_volume=False).fit(trues[:1], probs[:1])
    assert not hasattr(evaluator, "volume_scores_")
    assert not hasattr(evaluator, "volume_counts_")
    evaluator.set_params(per_volume=True).fit(trues[:2], probs[:2])
    assert evaluator.volume_scores_["sce"].shape == (2,)


def test_score_evaluates_new_data_without_changing_the_evaluator(data):
    trues, probs = data
    evaluator = ECEEvaluator().fit(trues[0], probs[0])
    before = evaluator.score_
    assert evaluator.score(trues[1], probs[1]) == pytest.approx(
        metrics.expected_calibration_error(trues[1], probs[1]), abs=1e-12
    )
    assert evaluator.score_ == before
    with pytest.raises(NotFittedError):
        ECEEvaluator().score(trues[1], probs[1])


def test_score_is_an_error_lower_is_better(rng):
    """score() returns the error itself (documented), not scikit-learn's greater-is-better."""
    y_prob = rng.dirichlet(np.ones(3), size=4000)
    calibrated = np.array([rng.choice(3, p=p) for p in y_prob])
    overconfident = y_prob.argmax(-1)  # always right at confidences well below 1
    evaluator = ECEEvaluator().fit(calibrated, y_prob)
    assert evaluator.score(calibrated, y_prob) < 0.03
    assert evaluator.score(overconfident, y_prob) > 0.2


def test_from_logits_equals_softmax_probabilities(rng):
    logits = rng.normal(size=(5, 6, 3)).astype(np.float32) * 3
    y_true = rng.integers(0, 3, (5, 6))
    evaluator = CalibrationEvaluator(metrics=("ece", "sce", "nll"), from_logits=True)
    evaluator.fit(y_true, logits)
    expected = CalibrationEvaluator(metrics=("ece", "sce", "nll")).fit(
        y_true, special.softmax(logits, axis=-1)
    )
    for name, value in expected.scores_.items():
        assert evaluator.scores_[name] == pytest.approx(value, abs=1e-6)


def test_sklearn_conventions():
    evaluator = TACEEvaluator(n_bins=7, threshold=0.01, protocol="mbls")
    params = evaluator.get_params()
    assert params == {
        "adaptive_binning": "histogram",
        "boundary_width": 2.0,
        "class_axis": -1,
        "from_logits": False,
        "n_bins": 7,
        "n_fine_bins": 16384,
        "per_volume": False,
        "protocol": "mbls",
        "threshold": 0.01,
    }
    # the one-metric evaluators keep CalibrationEvaluator's signature, less `metrics`
    assert {"metrics", *params} == set(CalibrationEvaluator().get_params())
    for cls in (ECEEvaluator, MCEEvaluator, SCEEvaluator, ACEEvaluator):
        assert cls().get_params() == TACEEvaluator().get_params()
    copy = clone(evaluator.set_params(n_bins=9))
    assert copy.get_params()["n_bins"] == 9 and copy is not evaluator
    protocol = EvaluationProtocol(voxels="foreground")
    assert clone(ECEEvaluator(protocol=protocol)).protocol == protocol
    # parameters are stored untouched, validated only in fit
    bad = ECEEvaluator(n_bins=0)
    assert bad.n_bins == 0
    with pytest.raises(ValueError, match="`n_bins` must be an int >= 1; got 0."):
        bad.fit(np.array([0]), np.array([[1.0, 0.0]]))


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"metrics": ("ece", "bogus")}, "`metrics` must be a non-empty sequence of"),
        ({"metrics": "ece"}, "`metrics` must be a non-empty sequence of .*; got 'ece'."),
        ({"metrics": 5}, "`metrics` must be a non-empty sequence of .*; got 5."),
        ({"protocol": "nope"}, r"`protocol` must be one of \('speccal'"),
        ({"protocol": 3}, "`protocol` must be a preset name or an EvaluationProtocol; got 3."),
        (
            {"adaptive_binning": "fast"},
            r"`adaptive_binning` must be one of \('histogram', 'exact'\); got 'fast'",
        ),
        ({"n_fine_bins": 0}, "`n_fine_bins` must be an int >= 1; got 0."),
        ({"threshold": 1.0}, r"`threshold` must be a finite number in \[0, 1\); got 1.0."),
        (
            {"protocol": EvaluationProtocol(aggregation="mean")},
            r"`aggregation` must be one of \('pooled', 'per_volume'\); got 'mean'.",
        ),
    ],
)
def test_bad_parameters_raise_in_fit(params, match):
    evaluator = CalibrationEvaluator(**params)
    with pytest.raises(ValueError, match=match):
        evaluator.fit(np.array([0, 1]), np.array([[0.6, 0.4], [0.3, 0.7]]))


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"per_volume": "yes"}, "`per_volume` must be a bool; got 'yes'."),
        ({"from_logits": 1}, "`from_logits` must be a bool; got 1."),
        ({"class_axis": 1.0}, "`class_axis` must be an int; got 1.0."),
        ({"protocol": EvaluationProtocol(ignore_class=1.5)}, "`ignore_class` must be an int or"),
        ({"protocol": EvaluationProtocol(include_background=1)}, "`include_background` must be"),
    ],
)
def test_parameters_of_another_type_raise_type_errors_in_fit(params, match):
    evaluator = CalibrationEvaluator(**params)
    with pytest.raises(TypeError, match=match):
        evaluator.fit(np.array([0, 1]), np.array([[0.6, 0.4], [0.3, 0.7]]))


def test_bad_inputs_raise(data):
    trues, probs = data
    evaluator = CalibrationEvaluator(protocol=EvaluationProtocol(voxels="mask"))
    with pytest.raises(ValueError, match="`mask` must be given when the protocol has"):
        evaluator.fit(trues[0], probs[0])
    with pytest.raises(ValueError, match="`mask` must be a bool array of shape"):
        evaluator.fit(trues[0], probs[0], mask=np.ones(3, bool))
    with pytest.raises(ValueError, match="`y_prob` must hold as many volumes as `y_true`"):
        ECEEvaluator().fit(trues, probs[:2])
    with pytest.raises(ValueError, match=r"`mask` must hold as many volumes as `y_true` \(3;"):
        ECEEvaluator().fit(trues, probs, mask=[t >= 0 for t in trues[:2]])
    with pytest.raises(ValueError, match="`y_true` must hold at least one volume"):
        ECEEvaluator().fit([], [])
    fitted = ECEEvaluator().fit(trues[0], probs[0])
    with pytest.raises(ValueError, match="`y_prob` must have 4 classes like the earlier"):
        fitted.partial_fit(trues[0] % 2, probs[0][..., :2] / probs[0][..., :2].sum(-1)[..., None])
    with (
        pytest.raises(ValueError, match="`y_true` must leave at least one voxel"),
        pytest.warns(UserWarning, match="a volume has no voxel"),
    ):
        ECEEvaluator(protocol="mbls").fit(np.zeros(4, int), np.full((4, 2), 0.5))
    with pytest.raises(ValueError, match="`y_prob` must contain only finite values"):
        ECEEvaluator(from_logits=True).fit(np.zeros(2, int), np.array([[np.nan, 0], [0, 0]]))


def test_mask_and_ignore_class_select_voxels(data):
    trues, probs = data
    mask = trues[0] != 2
    masked = CalibrationEvaluator(protocol=EvaluationProtocol(voxels="mask"))
    masked.fit(trues[0], probs[0], mask=mask)
    ignored = CalibrationEvaluator(protocol=EvaluationProtocol(ignore_class=2))
    ignored.fit(trues[0], probs[0])
    expected = metrics.static_calibration_error(trues[0][mask], probs[0][mask])
    assert masked.scores_["sce"] == pytest.approx(expected, abs=1e-12)
    assert ignored.scores_["sce"] == pytest.approx(expected, abs=1e-12)


# -- presets reproduce their reference code (written here from the published code) --
def nixon_gce_ece(labels, probs, n_bins):
    """uncertainty-metrics GeneralCalibrationError(even, max_prob, l1): 1.0 in bin M."""
    pred = probs.argmax(1)
    conf, hit = probs[np.arange(len(probs)), pred].astype(np.float64), pred == labels
    upper = np.histogram_bin_edges([], bins=n_bins, range=(0.0, 1.0))[1:]
    index = np.digitize(conf, upper)
    sums = np.bincount(index, weights=conf, minlength=n_bins)
    counts = np.bincount(index, minlength=n_bins) + np.finfo(np.float64).eps
    acc = np.bincount(index, weights=hit, minlength=n_bins) / counts
    return np.sum(np.abs((acc - sums / counts) * counts / len(conf)))


def test_nixon_preset_reproduces_uncertainty_metrics(rng):
    y_prob = rng.dirichlet(np.full(3, 0.2), size=2000)
    y_prob[:400] = np.eye(3)[rng.integers(0, 3, 400)]  # many confidences of exactly 1.0
    y_true = rng.integers(0, 3, 2000)
    got = ECEEvaluator(protocol="nixon").fit(y_true, y_prob).score_
    assert got == pytest.approx(nixon_gce_ece(y_true, y_prob, 15), abs=1e-9)
    # 1.0 (half correct, gap -50) and 0.94 (all correct, gap +6) share speccal's last bin
    y_prob = np.array([[1.0, 0.0]] * 100 + [[0.94, 0.06]] * 100)
    y_true = np.array([0, 1] * 50 + [0] * 100)
    assert ECEEvaluator(protocol="nixon").fit(y_true, y_prob).score_ == pytest.approx(0.28)
    assert metrics.expected_calibration_error(y_true, y_prob) == pytest.approx(0.22)


def guo_ece(conf, hit, n_bins):
    """Guo et al.'s ECELoss (MbLS calibrate/evaluation/metrics): bins (lo, hi], float32."""
    edges = np.linspace(0, 1, n_bins + 1, dtype=np.float32)
    ece = 0.0
    for lower, upper in zip(edges[:-1], edges[1:], strict=True):
        in_bin = (conf > lower) & (conf <= upper)
        if in_bin.mean() > 0:
            ece += abs(conf[in_bin].mean() - hit[in_bin].mean()) * in_bin.mean()
    return ece


def test_mbls_preset_reproduces_segment_calibrate_evaluator(data):
    trues, probs = data
    evaluator = CalibrationEvaluator(metrics=("ece", "sce"), protocol="mbls").fit(trues, probs)
    eces, ceces, counts = [], [], []
    for label, prob in zip(trues, probs, strict=True):
        keep = label != 0  # dismiss background
        y, p = label[keep], prob[keep].astype(np.float32)
        eces.append(guo_ece(p.max(1), p.argmax(1) == y, 15))
        ceces.append(np.mean([guo_ece(p[:, k], y == k, 15) for k in range(p.shape[1])]))
        counts.append(keep.sum())
    weights = np.array(counts) / sum(counts)
    assert evaluator.scores_["ece"] == pytest.approx(np.dot(weights, eces), abs=1e-6)
    assert evaluator.scores_["sce"] == pytest.approx(np.dot(weights, ceces), abs=1e-6)


def monai_calibration_error(one_hot, probs, n_bins):
    """MONAI CalibrationErrorMetric (expected, mean) on (batch, channel, voxels) arrays."""
    boundaries = np.linspace(0.0, 1.0 + np.finfo(np.float32).eps, n_bins + 1, dtype=np.float32)
    values = np.zeros(probs.shape[:2])
    for b in range(probs.shape[0]):
        for c in range(probs.shape[1]):
            index = np.searchsorted(boundaries[1:], probs[b, c], side="left")  # bucketize
            counts = np.bincount(index, minlength=n_bins)
            with np.errstate(invalid="ignore"):
                mean_p = np.bincount(index, probs[b, c], n_bins) / counts
                mean_gt = np.bincount(index, one_hot[b, c], n_bins) / counts
            values[b, c] = np.nansum(np.abs(mean_p - mean_gt) * counts) / counts.sum()
    return np.nanmean(values)


def test_monai_preset_reproduces_calibration_error_metric(data):
    trues, probs = data
    evaluator = SCEEvaluator(n_bins=20, protocol="monai").fit(trues, probs)
    stacked = np.stack([p.reshape(-1, 4).T for p in probs])  # (batch, channel, voxels)
    one_hot = np.stack([np.eye(4)[t.ravel()].T for t in trues])
    assert evaluator.score_ == pytest.approx(
        monai_calibration_error(one_hot, stacked, 20), abs=1e-9
    )


def test_protocol_describe_and_presets():
    assert EvaluationProtocol.preset("speccal") == EvaluationProtocol(name="speccal")
    assert EvaluationProtocol.preset("monai").describe() == (
        "monai: all voxels, per volume, then a uniform-weighted mean, background class "
        "included in the class averages, equal-width bin rule 'right'"
    )
    assert EvaluationProtocol().replace(include_background=False).include_background is False
    with pytest.raises(ValueError, match="`include_background` must be True when there is a"):
        SCEEvaluator(protocol=EvaluationProtocol(include_background=False)).fit(
            np.zeros(2, int), np.ones((2, 1))
        )


def test_empty_volume_under_protocol_is_skipped_with_a_warning(data):
    trues, probs = data
    background = np.zeros_like(trues[0])
    with pytest.warns(UserWarning, match="a volume has no voxel under the protocol"):
        evaluator = ECEEvaluator(protocol="mbls").fit([background, trues[1]], probs[:2])
    assert evaluator.volume_scores_["ece"].shape == (1,)


@settings(max_examples=60, deadline=None)
@given(
    st.integers(0, 2**32 - 1),
    st.sampled_from([2, 4, 8, 64]),
    st.integers(2, 12),
    st.sampled_from([0.05, 0.5, 3.0]),
)
def test_histogram_error_never_exceeds_its_bound(seed, n_fine_bins, n_bins, concentration):
    # coarse fine histograms make the approximation visibly wrong; the bound must still hold
    rng = np.random.default_rng(seed)
    y_prob = rng.dirichlet(np.full(3, concentration), size=80)
    y_true = rng.integers(0, 3, 80)
    for cls, function in ((TACEEvaluator, "tace"), (ACEEvaluator, "ace")):
        evaluator = cls(n_bins=n_bins, n_fine_bins=n_fine_bins).fit(y_true, y_prob)
        exact = FUNCTIONS[function](y_true, y_prob, n_bins=n_bins)
        assert abs(evaluator.score_ - exact) <= evaluator.error_bound_[function] + 1e-12


@pytest.mark.parametrize("n_bins", [15, 7, 20])
def test_classwise_bins_read_off_the_fine_histogram_equal_direct_bins(rng, n_bins):
    # values at the float32 roundings of the coarse edges b/M, at 0, 1 and the TACE threshold
    edges = np.arange(n_bins + 1, dtype=np.float32) / np.float32(n_bins)
    special_values = np.concatenate([edges, np.nextafter(edges, 2), [1e-3, 0.0, 1.0]])
    first = np.clip(rng.choice(special_values, 3000), 0, 1).astype(np.float32)
    y_prob = np.stack([first, 1 - first], axis=1)
    y_true = rng.integers(0, 2, 3000)
    direct = metrics.static_calibration_error(y_true, y_prob, n_bins=n_bins)
    fused = CalibrationEvaluator(metrics=("sce", "tace"), n_bins=n_bins).fit(y_true, y_prob)
    assert fused.scores_["sce"] == pytest.approx(direct, abs=1e-12)
    np.testing.assert_array_equal(
        fused.class_bin_count_,
        SCEEvaluator(n_bins=n_bins).fit(y_true, y_prob).class_bin_count_,
    )
    exact = metrics.thresholded_adaptive_calibration_error(y_true, y_prob, n_bins=n_bins)
    assert abs(fused.scores_["tace"] - exact) <= fused.error_bound_["tace"] + 1e-12


# -- issue 14: no silent or cryptic answers --
EVALUATOR_CLASSES = [
    CalibrationEvaluator,
    ECEEvaluator,
    MCEEvaluator,
    SCEEvaluator,
    ACEEvaluator,
    TACEEvaluator,
]


@pytest.mark.parametrize("cls", EVALUATOR_CLASSES)
@pytest.mark.parametrize("per_volume", [False, True])
def test_partial_fit_with_a_bad_volume_adds_nothing(data, cls, per_volume):
    trues, probs = data
    bad = probs[1].copy()
    bad[0, 0, 0, 0] = np.nan
    evaluator = cls(per_volume=per_volume).fit(trues[0], probs[0])
    before = evaluator.score_
    with pytest.raises(ValueError, match=r"`y_prob` must contain only finite values; got nan"):
        evaluator.partial_fit([trues[1], trues[2]], [probs[1], bad])
    assert evaluator.n_samples_ == trues[0].size
    assert evaluator.score_ == before
    # the next call counts each volume once: as a fit on the concatenation
    evaluator.partial_fit([trues[1], trues[2]], [probs[1], probs[2]])
    expected = cls(per_volume=per_volume).fit(trues, probs)
    assert evaluator.n_samples_ == expected.n_samples_
    assert evaluator.score_ == pytest.approx(expected.score_, abs=1e-12)
    if per_volume:
        assert len(evaluator.volume_counts_) == 3


def test_a_bad_first_call_leaves_the_evaluator_unfitted(data):
    trues, probs = data
    evaluator = ECEEvaluator()
    with pytest.raises(ValueError, match=r"`y_true` must hold labels in \[0, n_classes\)"):
        evaluator.partial_fit([trues[0], trues[1] + 10], [probs[0], probs[1]])
    assert not hasattr(evaluator, "n_classes_")
    evaluator.partial_fit(trues[0], probs[0])
    assert evaluator.n_samples_ == trues[0].size


@pytest.mark.parametrize("cls", EVALUATOR_CLASSES)
@pytest.mark.parametrize("attribute", ["score_", "scores_", "n_samples_", "bin_count_"])
def test_fitted_attributes_before_fit_raise_not_fitted(cls, attribute):
    with pytest.raises(NotFittedError, match=rf"not fitted yet.*before reading `{attribute}`"):
        getattr(cls(), attribute)
    assert not hasattr(cls(), attribute)  # NotFittedError is an AttributeError


def test_missing_optional_attribute_of_a_fitted_evaluator_is_an_attribute_error(data):
    evaluator = ECEEvaluator().fit(*data)
    with pytest.raises(AttributeError, match="volume_scores_") as caught:
        getattr(evaluator, "volume_scores_")  # noqa: B009
    assert not isinstance(caught.value, NotFittedError)


@pytest.mark.parametrize("cls", EVALUATOR_CLASSES)
def test_huge_n_bins_names_n_bins_and_the_memory(data, cls):
    with pytest.raises(
        ValueError,
        match=r"`n_bins` must be small enough for the bin sums of 4 classes to fit in 1 GiB; "
        r"got 1000000000000, which would need [\d.]+ TiB",
    ):
        cls(n_bins=10**12).fit(*data)


def test_huge_n_fine_bins_names_n_fine_bins(data):
    with pytest.raises(ValueError, match=r"`n_fine_bins` must be small enough .* got 10000000000"):
        TACEEvaluator(n_fine_bins=10**10).fit(*data)
    with pytest.raises(ValueError, match=r"`n_bins` must be small enough .* GiB"):
        metrics.static_calibration_error(data[0][0], data[1][0], n_bins=10**9)


# -- issue 14: presets on exact 0 and 1 probabilities and ties, against per-voxel loops --
def exact_volumes(seed, n_volumes=3, shape=(4, 5, 6)):
    """float32 volumes whose rows are one-hot (exact 0 and 1), tied, on bin edges or drawn."""
    rng = np.random.default_rng(seed)
    special_rows = np.array(
        [
            [1, 0, 0],
            [0, 1, 0],
            [0, 0, 1],
            [0.5, 0.5, 0],
            [0, 0.5, 0.5],
            [1 / 3, 1 / 3, 1 / 3],
            [0.2, 0.8, 0],
            [0.4, 0.6, 0],
        ],
        dtype=np.float32,
    )
    trues, probs = [], []
    for _ in range(n_volumes):
        n = int(np.prod(shape))
        rows = rng.dirichlet(np.full(3, 0.5), size=n).astype(np.float32)
        pick = rng.random(n) < 0.6
        rows[pick] = special_rows[rng.integers(0, len(special_rows), pick.sum())]
        probs.append(rows.reshape(*shape, 3))
        trues.append(rng.integers(0, 3, size=shape))
    return trues, probs


def loop_guo_ece(values, hits, n_bins):
    """Guo et al.'s ECE, one sample at a time: float32 bins (lo, hi]; 0 is in no bin but
    counts in N."""
    edges = np.linspace(0, 1, n_bins + 1, dtype=np.float32)
    count, total, correct = [0] * n_bins, [0.0] * n_bins, [0.0] * n_bins
    for value, hit in zip(values, hits, strict=True):
        for b in range(n_bins):
            if edges[b] < value <= edges[b + 1]:
                count[b] += 1
                total[b] += float(value)
                correct[b] += float(hit)
                break
    n = len(values)
    return sum(
        abs(total[b] / count[b] - correct[b] / count[b]) * count[b] / n
        for b in range(n_bins)
        if count[b]
    )


def loop_monai_ece(values, targets, n_bins):
    """MONAI's per-channel calibration error, one voxel at a time: bin b holds
    e_b < p <= e_{b+1} on float32 edges linspace(0, 1 + eps); 0 is in bin 0."""
    edges = np.linspace(0.0, 1.0 + np.finfo(np.float32).eps, n_bins + 1, dtype=np.float32)
    count, total, positive = [0] * n_bins, [0.0] * n_bins, [0.0] * n_bins
    for value, target in zip(values, targets, strict=True):
        b = 0
        while value > edges[b + 1]:
            b += 1
        count[b] += 1
        total[b] += float(value)
        positive[b] += float(target)
    n = len(values)
    return sum(
        abs(total[b] / count[b] - positive[b] / count[b]) * count[b] / n
        for b in range(n_bins)
        if count[b]
    )


@pytest.mark.parametrize("seed", [0, 1])
def test_mbls_preset_on_exact_zeros_ones_and_ties_equals_loops(seed):
    trues, probs = exact_volumes(seed)
    evaluator = CalibrationEvaluator(metrics=("ece", "sce"), protocol="mbls").fit(trues, probs)
    eces, sces, counts = [], [], []
    for label, prob in zip(trues, probs, strict=True):
        keep = label != 0
        y, p = label[keep], prob[keep]
        predicted = [int(np.argmax(row)) for row in p]  # first maximum on ties
        eces.append(
            loop_guo_ece(p.max(1), [c == t for c, t in zip(predicted, y, strict=True)], 15)
        )
        sces.append(np.mean([loop_guo_ece(p[:, k], y == k, 15) for k in range(3)]))
        counts.append(keep.sum())
    weights = np.array(counts) / sum(counts)
    assert evaluator.scores_["ece"] == pytest.approx(np.dot(weights, eces), abs=1e-6)
    assert evaluator.scores_["sce"] == pytest.approx(np.dot(weights, sces), abs=1e-6)


@pytest.mark.parametrize("seed", [0, 1])
def test_monai_preset_on_exact_zeros_ones_and_ties_equals_loops(seed):
    trues, probs = exact_volumes(seed)
    got = SCEEvaluator(n_bins=20, protocol="monai").fit(trues, probs).score_
    values = [
        loop_monai_ece(prob[..., k].ravel(), (label == k).ravel(), 20)
        for label, prob in zip(trues, probs, strict=True)
        for k in range(3)
    ]
    assert got == pytest.approx(np.mean(values), abs=1e-9)
