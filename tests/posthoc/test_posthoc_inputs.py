"""Input validation, stratified subsampling, compare_calibrators and the numpy-only import."""

import tracemalloc

import numpy as np
import pytest
from calibrators import PER_CLASS_CALIBRATORS, each_calibrator
from fresh_python import modules_loaded_by
from scipy import sparse
from scipy.special import softmax

from speccal.posthoc import (
    HistogramBinning,
    IsotonicCalibration,
    MatrixScaling,
    PlattScaling,
    TemperatureScaling,
    VectorScaling,
    compare_calibrators,
    stratified_subsample,
)


@pytest.fixture
def data(rng):
    y = np.arange(60) % 3
    logits = rng.normal(size=(60, 3)) + 1.5 * np.eye(3)[y]  # informative: finite temperature
    return logits, y


@each_calibrator
def test_label_shape_must_match_scores(cls, data):
    logits, y = data
    with pytest.raises(ValueError, match=r"`y` must have the shape of the scores .* got \(59,\)"):
        cls().fit(logits, y[:59])


@each_calibrator
def test_labels_must_be_classes_of_the_scores(cls, data):
    logits, y = data
    y = y.copy()
    y[4] = 3
    with pytest.raises(
        ValueError, match=r"`y` must hold labels in \[0, 3\) .* got labels in \[0, 3\]"
    ):
        cls().fit(logits, y)
    with pytest.raises(ValueError, match="`y` must hold integer class labels; got dtype"):
        cls().fit(logits, y.astype(str))


@each_calibrator
def test_nan_scores_are_rejected_in_fit_and_predict(cls, data):
    logits, y = data
    bad = logits.copy()
    bad[3, 1] = np.nan
    bad[5, 0] = np.inf
    with pytest.raises(
        ValueError, match=r"`X` must be finite \(no NaN or inf\); got 2 non-finite"
    ):
        cls().fit(bad, y)
    with pytest.raises(ValueError, match="`X` must be finite"):
        cls().fit(logits, y).predict_proba(bad)


@each_calibrator
def test_wrong_number_of_classes_at_predict(cls, data):
    logits, y = data
    fitted = cls().fit(logits, y)
    message = rf"`X` must have 3 classes .* X has 4 features, but {cls.__name__} is expecting 3"
    with pytest.raises(ValueError, match=message):
        fitted.predict_proba(np.zeros((5, 4)))


@pytest.mark.parametrize("cls", PER_CLASS_CALIBRATORS, ids=lambda c: c.__name__)
def test_absent_class_is_rejected_by_per_class_calibrators(cls, data):
    logits, y = data
    y = np.where(y == 1, 0, y)
    with pytest.raises(
        ValueError, match=r"`y` must contain every class 0..2 .* class\(es\) \[1\]"
    ):
        cls().fit(logits, y)


def test_absent_class_is_allowed_for_temperature(data):
    logits, y = data
    ts = TemperatureScaling().fit(3 * logits, np.where(y == 1, 0, y))
    assert ts.n_classes_ == 3
    assert ts.predict_proba(logits).shape == (60, 3)


@each_calibrator
def test_shape_and_type_errors(cls, data):
    logits, y = data
    with pytest.raises(ValueError, match=r"Reshape your data"):
        cls().fit(logits[:, 0], y)
    with pytest.raises(ValueError, match=r"at least 2 classes .* got 1 feature\(s\)"):
        cls().fit(logits[:, :1], y)
    with pytest.raises(TypeError, match="`X` must be a dense array; sparse input"):
        cls().fit(sparse.csr_matrix(logits), y)
    with pytest.raises(ValueError, match="`input` must be one of"):
        cls(input="logit").fit(logits, y)
    with pytest.raises(ValueError, match=r"`max_samples` must be an int >= 1 or None; got 0"):
        cls(max_samples=0).fit(logits, y)


@each_calibrator
def test_probabilities_are_checked(cls, data):
    logits, y = data
    with pytest.raises(ValueError, match=r"must hold probabilities in \[0, 1\]"):
        cls(input="probabilities").fit(logits, y)
    prob = softmax(logits, axis=1)
    prob[7] *= 0.5
    with pytest.raises(
        ValueError, match="must sum to 1 over the class axis .*; got 0.5 at sample 7"
    ):
        cls(input="probabilities").fit(prob, y)


def test_parameter_errors(data):
    logits, y = data
    with pytest.raises(ValueError, match=r"`bounds` must be a pair \(T_min, T_max\)"):
        TemperatureScaling(bounds=(2.0, 1.0)).fit(logits, y)
    with pytest.raises(ValueError, match=r"`l2` must be a finite number >= 0; got -1"):
        MatrixScaling(l2=-1).fit(logits, y)
    with pytest.raises(ValueError, match=r"`n_bins` must be an int >= 1; got 0"):
        HistogramBinning(n_bins=0).fit(logits, y)


def test_stratified_subsample_keeps_proportions_and_rare_classes():
    y = np.zeros(5_000_000, dtype=np.int8)  # spans several 2**20-label chunks
    y[::10] = 1
    y[[17, 4_500_001]] = 2
    index = stratified_subsample(y, 3, 100_000, random_state=0)
    counts = np.bincount(y[index], minlength=3)
    # floor(m n_c / n) rows per class, at least one of a present class
    np.testing.assert_array_equal(counts, [100_000 * 4_499_998 // 5_000_000, 10_000, 1])
    assert np.all(np.diff(index) > 0)
    np.testing.assert_array_equal(index, stratified_subsample(y, 3, 100_000, random_state=0))
    assert not np.array_equal(index, stratified_subsample(y, 3, 100_000, random_state=1))
    assert stratified_subsample(y, 3, None, random_state=0) is None


def test_fitting_on_a_subsample(rng):
    logits = rng.normal(size=(50_000, 3))
    y = np.argmax(logits + rng.gumbel(size=logits.shape), axis=1)  # softmax sampling
    full = TemperatureScaling(max_samples=None).fit(2 * logits, y)
    sub = TemperatureScaling(max_samples=10_000, random_state=0).fit(2 * logits, y)
    assert abs(sub.n_samples_fit_ - 10_000) <= 3
    assert full.n_samples_fit_ == 50_000
    assert sub.temperature_ == pytest.approx(full.temperature_, rel=0.05)


class _FakeEvaluator:
    """Contract of speccal.evaluation evaluators: fit(y_true, y_prob) sets score_."""

    def __init__(self, *, n_bins=15):
        self.n_bins = n_bins

    def get_params(self, deep=True):
        return {"n_bins": self.n_bins}

    def fit(self, y_true, y_prob):
        self.score_ = {"accuracy": float(np.mean(y_prob.argmax(-1) == y_true))}
        return self


def test_compare_calibrators_table(rng):
    logits = rng.normal(scale=1.5, size=(6000, 3))
    y = np.argmax(logits + rng.gumbel(size=logits.shape), axis=1)
    X, X_test = 3 * logits[:3000], 3 * logits[3000:]
    table = compare_calibrators(
        {"ts": TemperatureScaling(), "vs": VectorScaling()},
        X,
        y[:3000],
        X_test=X_test,
        y_test=y[3000:],
        evaluator=_FakeEvaluator(),
    )
    assert [row["method"] for row in table] == ["uncalibrated", "ts", "vs"]
    accuracy = np.mean(X_test.argmax(1) == y[3000:])
    assert table[0]["accuracy"] == pytest.approx(accuracy)
    assert table[1]["accuracy"] == pytest.approx(accuracy)  # temperature keeps the argmax


class _ScoresOnlyEvaluator(_FakeEvaluator):
    """The other documented contract: fit sets only ``scores_``."""

    def fit(self, y_true, y_prob):
        self.scores_ = {"accuracy": float(np.mean(y_prob.argmax(-1) == y_true))}
        return self


def test_compare_calibrators_with_an_evaluator_setting_only_scores_(rng):
    logits = rng.normal(size=(200, 3))
    y = np.argmax(logits + rng.gumbel(size=logits.shape), axis=1)
    table = compare_calibrators(
        [TemperatureScaling()], logits, y, evaluator=_ScoresOnlyEvaluator()
    )
    accuracy = np.mean(logits.argmax(1) == y)
    assert [row["accuracy"] for row in table] == pytest.approx([accuracy, accuracy])


def test_compare_calibrators_default_metrics_match_speccal_metrics(rng):
    from speccal.metrics import expected_calibration_error, negative_log_likelihood

    logits = rng.normal(scale=1.5, size=(4000, 3))
    y = np.argmax(logits + rng.gumbel(size=logits.shape), axis=1)
    table = compare_calibrators([TemperatureScaling(), HistogramBinning()], 3 * logits, y)
    assert [row["method"] for row in table] == [
        "uncalibrated",
        "TemperatureScaling",
        "HistogramBinning",
    ]
    assert set(table[0]) == {"method", "ece", "sce", "tace", "nll"}
    baseline = softmax(3 * logits, axis=1)
    assert table[0]["ece"] == pytest.approx(expected_calibration_error(y, baseline))
    assert table[0]["nll"] == pytest.approx(negative_log_likelihood(y, baseline))
    assert table[1]["ece"] < table[0]["ece"]


def test_compare_calibrators_with_the_calibration_evaluator_on_volumes(rng):
    from speccal.evaluation import CalibrationEvaluator
    from speccal.metrics import static_calibration_error

    logits = rng.normal(scale=1.5, size=(4, 6, 7, 8, 3))
    y = np.argmax(logits + rng.gumbel(size=logits.shape), axis=-1)
    table = compare_calibrators(
        [TemperatureScaling()],
        3 * logits[:2],
        y[:2],
        X_test=3 * logits[2:],
        y_test=y[2:],
        evaluator=CalibrationEvaluator(metrics=("ece", "sce"), from_logits=True),
    )
    assert [row["method"] for row in table] == ["uncalibrated", "TemperatureScaling"]
    baseline = softmax(3 * logits[2:], axis=-1)
    assert table[0]["sce"] == pytest.approx(static_calibration_error(y[2:], baseline))
    assert table[1]["ece"] < table[0]["ece"]


def test_compare_calibrators_errors(data):
    logits, y = data
    with pytest.raises(ValueError, match="`X_test` and `y_test` must be given together"):
        compare_calibrators([TemperatureScaling()], logits, y, X_test=logits)
    with pytest.raises(ValueError, match="`calibrators` must have distinct names"):
        compare_calibrators([TemperatureScaling(), TemperatureScaling()], logits, y)
    with pytest.raises(ValueError, match=r"`input` of calibrator 'TemperatureScaling' must be"):
        compare_calibrators([TemperatureScaling(input="probabilities")], logits, y)


def test_import_does_not_load_tensorflow():
    code = (
        "import numpy as np, speccal.posthoc as p\n"
        "x = np.random.default_rng(0).normal(size=(30, 3)); y = np.arange(30) % 3\n"
        "for c in (p.TemperatureScaling, p.VectorScaling, p.MatrixScaling, p.PlattScaling,\n"
        "          p.HistogramBinning, p.IsotonicCalibration):\n"
        "    c().fit(x, y).predict_proba(x)\n"
    )
    assert modules_loaded_by(code) == []


def test_fit_never_copies_the_whole_score_array():
    """Peak traced allocation of fit stays below the size of the float32 scores themselves."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(4_000_000, 3)).astype(np.float32)
    y = np.argmax(X + rng.gumbel(size=X.shape).astype(np.float32), axis=1).astype(np.uint8)
    for calibrator in (
        TemperatureScaling(max_samples=50_000),
        MatrixScaling(max_samples=50_000),
        PlattScaling(max_samples=50_000),
        IsotonicCalibration(max_samples=50_000),
        HistogramBinning(),  # every voxel, chunk by chunk
    ):
        tracemalloc.start()
        try:
            calibrator.fit(X, y)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert peak < X.nbytes, type(calibrator).__name__
