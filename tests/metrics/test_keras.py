"""The Keras streaming ECE equals ECEEvaluator, in model.evaluate and under tf.distribute."""

import subprocess
import sys
import textwrap

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from speccal.evaluation import ECEEvaluator  # noqa: E402
from speccal.metrics.keras import ECEMetric  # noqa: E402


def batches(rng, n_batches=3, shape=(2, 5, 6), k=3):
    for _ in range(n_batches):
        probs = rng.dirichlet(np.full(k, 0.4), size=shape).astype(np.float32)
        probs[0, 0, :2] = np.eye(k)[0]  # exact 1.0 confidences
        yield rng.integers(0, k, shape), probs


def test_streaming_metric_equals_evaluator(rng):
    metric, evaluator = ECEMetric(n_bins=10), ECEEvaluator(n_bins=10)
    for y_true, y_prob in batches(rng):
        metric.update_state(y_true[..., None], y_prob)
        evaluator.partial_fit(y_true, y_prob)
    assert float(metric.result()) == pytest.approx(evaluator.score_, abs=1e-6)
    np.testing.assert_array_equal(metric.bin_sums.numpy()[0], evaluator.bin_count_)
    metric.reset_state()
    assert float(metric.result()) == 0.0


def test_from_logits_and_sample_weight(rng):
    logits = rng.normal(size=(4, 7, 3)).astype(np.float32) * 2
    y_true = rng.integers(0, 3, (4, 7))
    metric = ECEMetric(from_logits=True)
    metric.update_state(y_true, logits, sample_weight=(y_true != 0).astype(np.float32))
    probs = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    keep = y_true != 0
    expected = ECEEvaluator().fit(y_true[keep], probs[keep]).score_
    assert float(metric.result()) == pytest.approx(expected, abs=1e-6)


def tiny_model(n_classes=3):
    inputs = keras.Input((6, 5, 2))
    outputs = keras.layers.Dense(n_classes, activation="softmax")(inputs)
    return keras.Model(inputs, outputs)


def test_model_evaluate_reports_the_evaluator_value(rng):
    model = tiny_model()
    model.compile(loss="sparse_categorical_crossentropy", metrics=[ECEMetric(name="ece")])
    x = rng.normal(size=(5, 6, 5, 2)).astype(np.float32) * 3
    y = rng.integers(0, 3, (5, 6, 5))
    logs = model.evaluate(x, y, batch_size=2, verbose=0, return_dict=True)
    probs = model.predict(x, verbose=0)
    assert logs["ece"] == pytest.approx(ECEEvaluator().fit(y, probs).score_, abs=1e-5)


@pytest.mark.filterwarnings("ignore:Skipping variable loading for optimizer")
def test_config_round_trip_and_model_save(tmp_path, rng):
    metric = ECEMetric(n_bins=7, from_logits=True, name="my_ece")
    clone = ECEMetric.from_config(metric.get_config())
    assert (clone.n_bins, clone.from_logits, clone.name) == (7, True, "my_ece")
    model = tiny_model()
    model.compile(loss="sparse_categorical_crossentropy", metrics=[ECEMetric(n_bins=7)])
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    x = rng.normal(size=(2, 6, 5, 2)).astype(np.float32)
    y = rng.integers(0, 3, (2, 6, 5))
    expected = model.evaluate(x, y, verbose=0, return_dict=True)["ece"]
    assert loaded.evaluate(x, y, verbose=0, return_dict=True)["ece"] == pytest.approx(expected)


def test_numpy_integer_n_bins_like_the_evaluator(rng):
    y_true, y_prob = next(batches(rng))
    metric = ECEMetric(n_bins=np.int64(10))
    metric.update_state(y_true, y_prob)
    assert type(metric.get_config()["n_bins"]) is int
    expected = ECEEvaluator(n_bins=np.int64(10)).fit(y_true, y_prob).score_
    assert float(metric.result()) == pytest.approx(expected, abs=1e-6)


@pytest.mark.parametrize(
    ("n_bins", "error"), [(0, ValueError), (1.5, TypeError), (True, TypeError)]
)
def test_bad_n_bins(n_bins, error):
    with pytest.raises(error, match="`n_bins` must be an int >= 1; got"):
        ECEMetric(n_bins=n_bins)


@pytest.mark.slow
def test_mirrored_strategy_equals_one_device(tmp_path):
    """Two logical CPU replicas give the ECE of all voxels (state summed across replicas)."""
    script = textwrap.dedent(
        """
        import numpy as np, tensorflow as tf
        cpu = tf.config.list_physical_devices("CPU")[0]
        devices = [tf.config.LogicalDeviceConfiguration()] * 2
        tf.config.set_logical_device_configuration(cpu, devices)
        import keras
        from speccal.metrics.keras import ECEMetric
        from speccal.evaluation import ECEEvaluator
        rng = np.random.default_rng(0)
        x = rng.normal(size=(8, 6, 5, 2)).astype(np.float32) * 3
        y = rng.integers(0, 3, (8, 6, 5))
        strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
        with strategy.scope():
            inputs = keras.Input((6, 5, 2))
            model = keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(inputs))
            model.compile(loss="sparse_categorical_crossentropy", metrics=[ECEMetric()])
        logs = model.evaluate(x, y, batch_size=4, verbose=0, return_dict=True)
        expected = ECEEvaluator().fit(y, model.predict(x, verbose=0)).score_
        print(strategy.num_replicas_in_sync, abs(logs["ece"] - expected))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]
    replicas, difference = result.stdout.split()[-2:]
    assert replicas == "2"
    assert float(difference) < 1e-5
