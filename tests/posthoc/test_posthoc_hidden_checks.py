"""What the expected failures of scikit-learn's estimator checks would hide (issue 14).

The common checks draw labels that are not classes of the scores, so several of them fail
for that reason alone (see ``test_posthoc_estimator_checks.py``). Their subjects are tested
here directly, on labels that are classes: pickling, read-only (memmap) input, float32 /
int / object scores, refitting returns self and leaves the parameters alone, one sample.
"""

import pickle

import numpy as np
import pytest
from calibrators import each_calibrator
from scipy.special import softmax
from sklearn.base import clone

from speccal.posthoc import TemperatureScaling, VectorScaling


@pytest.fixture
def data(rng):
    y = np.arange(90) % 3
    logits = rng.normal(size=(90, 3)) + 1.5 * np.eye(3)[y]
    return logits, y


@each_calibrator
def test_pickle_round_trip_predicts_the_same(cls, data):
    logits, y = data
    fitted = cls().fit(logits, y)
    restored = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_array_equal(restored.predict_proba(logits), fitted.predict_proba(logits))
    assert restored.get_params() == fitted.get_params()


@each_calibrator
def test_read_only_memmap_input_gives_the_same_fit(cls, data, tmp_path):
    logits, y = data
    for name, array in (("x", logits), ("y", y)):
        np.save(tmp_path / f"{name}.npy", array)
    read_only = np.load(tmp_path / "x.npy", mmap_mode="r")
    labels = np.load(tmp_path / "y.npy", mmap_mode="r")
    assert not read_only.flags.writeable and isinstance(read_only, np.memmap)
    fitted = cls().fit(read_only, labels)
    expected = cls().fit(logits.copy(), y.copy())
    np.testing.assert_allclose(
        fitted.predict_proba(read_only), expected.predict_proba(logits), rtol=0, atol=0
    )
    assert np.array_equal(np.load(tmp_path / "x.npy"), logits)  # input left untouched


@each_calibrator
def test_float32_int_and_object_scores_equal_float64(cls, data):
    logits, y = data
    rounded = np.round(logits)  # integer-valued, so every dtype holds the same numbers
    reference = cls().fit(rounded, y).predict_proba(rounded)
    for scores in (rounded.astype(np.float32), rounded.astype(np.int64), rounded.astype(object)):
        got = cls().fit(scores, y).predict_proba(scores)
        assert got.dtype == (np.float32 if scores.dtype == np.float32 else np.float64)
        np.testing.assert_allclose(got, reference, rtol=1e-4, atol=1e-5)
    with pytest.raises(TypeError, match=r"`X` must be a numeric array; got dtype object"):
        cls().fit(np.array([["a", "b", "c"]] * 3, dtype=object), np.arange(3))


@each_calibrator
def test_probability_input_of_every_dtype(cls, data):
    logits, y = data
    probs = softmax(logits, axis=1)
    reference = cls(input="probabilities").fit(probs, y).predict_proba(probs)
    got = cls(input="probabilities").fit(probs.astype(np.float32), y)
    np.testing.assert_allclose(got.predict_proba(probs), reference, rtol=1e-3, atol=1e-4)


@each_calibrator
def test_fit_returns_self_and_leaves_the_parameters_alone(cls, data):
    logits, y = data
    calibrator = cls(max_samples=1000, random_state=0)
    before = clone(calibrator).get_params()
    assert calibrator.fit(logits, y) is calibrator
    assert calibrator.get_params() == before
    assert calibrator.n_features_in_ == 3


@each_calibrator
def test_nan_and_inf_are_rejected_with_labels_that_are_classes(cls, data):
    logits, y = data
    for bad in (np.nan, np.inf):
        scores = logits.copy()
        scores[5, 1] = bad
        with pytest.raises(ValueError, match=r"`X` must be finite \(no NaN or inf\); got 1 non"):
            cls().fit(scores, y)


def test_one_sample_fits_temperature_and_names_absent_classes_elsewhere(data):
    logits, y = data
    from sklearn.exceptions import ConvergenceWarning

    with pytest.warns(ConvergenceWarning, match="the lower bound 0.05"):
        TemperatureScaling().fit(logits[:1], y[:1])  # one right sample: T as low as allowed
    with pytest.raises(ValueError, match=r"`y` must contain every class"):
        VectorScaling().fit(logits[:1], y[:1])
