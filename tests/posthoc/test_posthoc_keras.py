"""The Keras layer exported by TemperatureScaling / VectorScaling (imports TensorFlow)."""

import subprocess
import sys

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError

from speccal.posthoc import TemperatureScaling, VectorScaling

keras = pytest.importorskip("keras")


@pytest.fixture(scope="module")
def fitted():
    rng = np.random.default_rng(0)
    logits = rng.normal(scale=2.0, size=(3000, 3))
    y = np.argmax(logits + rng.gumbel(size=logits.shape), axis=1)
    distorted = logits * np.array([2.0, 3.0, 1.0])
    return (
        TemperatureScaling().fit(distorted, y),
        VectorScaling().fit(distorted, y),
        rng.normal(size=(2, 4, 5, 3)).astype("float32"),
    )


@pytest.mark.parametrize("which", [0, 1], ids=["temperature", "vector"])
def test_layer_matches_predict_proba_and_round_trips_its_config(fitted, which):
    from speccal.posthoc.keras import LogitScaling

    calibrator, volume = fitted[which], fitted[2]
    layer = calibrator.as_keras_layer(output_mode="probabilities")
    expected = calibrator.predict_proba(volume)
    np.testing.assert_allclose(np.asarray(layer(volume)), expected, atol=1e-5)
    clone = LogitScaling.from_config(layer.get_config())
    np.testing.assert_allclose(np.asarray(clone(volume)), expected, atol=1e-5)
    logits_layer = calibrator.as_keras_layer()
    probs = keras.ops.softmax(logits_layer(volume), axis=-1)
    np.testing.assert_allclose(np.asarray(probs), expected, atol=1e-5)


def test_wrapped_model_saves_and_reloads_with_its_calibration(fitted, tmp_path):
    vector, volume = fitted[1], fitted[2]
    base = keras.Sequential([keras.Input((4, 5, 3)), keras.layers.Dense(3)])
    model = keras.Sequential([base, vector.as_keras_layer(output_mode="probabilities")])
    path = tmp_path / "calibrated.keras"
    model.save(path)
    expected = vector.predict_proba(np.asarray(base(volume)))
    np.testing.assert_allclose(model.predict(volume, verbose=0), expected, atol=1e-5)
    # A fresh interpreter: registering the layer class is all load_model needs.
    code = (
        "import numpy as np, keras, speccal.posthoc.keras\n"
        f"model = keras.models.load_model({str(path)!r})\n"
        f"x = np.load({str(tmp_path / 'x.npy')!r})\n"
        f"np.save({str(tmp_path / 'y.npy')!r}, model.predict(x, verbose=0))\n"
    )
    np.save(tmp_path / "x.npy", volume)
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
    np.testing.assert_allclose(np.load(tmp_path / "y.npy"), expected, atol=1e-5)


def test_layer_errors(fitted):
    from speccal.posthoc.keras import LogitScaling

    with pytest.raises(NotFittedError):
        TemperatureScaling().as_keras_layer()
    logits = np.array([[2.0, 0.0], [0.0, 2.0], [2.0, 0.0]])
    prob_ts = TemperatureScaling(input="probabilities").fit(
        np.exp(logits) / np.exp(logits).sum(1, keepdims=True), [0, 1, 1]
    )
    with pytest.raises(ValueError, match="`input` must be 'logits' to export a Keras layer"):
        prob_ts.as_keras_layer()
    with pytest.raises(ValueError, match="`output_mode` must be one of"):
        fitted[0].as_keras_layer(output_mode="probs")
    with pytest.raises(
        ValueError, match=r"`bias` must have one value per class like `scale` \(3\)"
    ):
        LogitScaling(scale=[1.0, 2.0, 3.0], bias=[0.0, 1.0])
