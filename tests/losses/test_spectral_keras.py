"""CESpectral inside Keras: which steps move the buffer, saving and resuming, XLA, mixed
precision and MirroredStrategy."""

import subprocess
import sys
import textwrap

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")
keras = pytest.importorskip("keras")

from speccal.losses import CESpectral, SpectralEntropyRegularizer  # noqa: E402

SHAPE = (6, 7, 5)


def tiny_model(seed=0, dtype=None):
    inputs = keras.Input((*SHAPE, 1))
    init = keras.initializers.GlorotUniform(seed=seed)
    hidden = keras.layers.Conv3D(4, 3, padding="same", kernel_initializer=init, dtype=dtype)
    head = keras.layers.Conv3D(3, 1, kernel_initializer=init, dtype=dtype)
    return keras.Model(inputs, head(hidden(inputs)))


def data(n, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, *SHAPE, 1)).astype(np.float32)
    return x, (x[..., 0] > 0).astype(np.int64) + (x[..., 0] > 1)


def replay(model, x, batch_size, epochs, **reg_kwargs):
    """Buffer that direct calls give on the model's (frozen) logits, batch by batch."""
    reg = SpectralEntropyRegularizer(**reg_kwargs)
    for _ in range(epochs):
        for start in range(0, len(x), batch_size):
            reg(model(x[start : start + batch_size], training=False))
    return reg


def compile_frozen(model, **compile_kwargs):
    """lr = 0: the logits stay fixed, so the buffer after `fit` can be replayed exactly."""
    loss = CESpectral(lam=1.0, window=4, bands=3, warmup="partial")
    model.compile(keras.optimizers.SGD(0.0), loss=loss, **compile_kwargs)
    return loss


@pytest.mark.parametrize(
    "compile_kwargs", [{"jit_compile": False}, {"jit_compile": True}, {"run_eagerly": True}]
)
def test_only_training_batches_move_the_buffer(compile_kwargs):
    x, y = data(6)
    model = tiny_model()
    loss = compile_frozen(model, **compile_kwargs)
    model.fit(x, y, batch_size=2, epochs=2, shuffle=False, validation_data=(x, y), verbose=0)
    assert int(loss.regularizer.step) == 6  # 3 training batches x 2 epochs, no validation
    want = replay(model, x, 2, 2, window=4, bands=3, warmup="partial")
    np.testing.assert_allclose(loss.regularizer.buffer.numpy(), want.buffer.numpy(), rtol=1e-5)
    before = loss.regularizer.buffer.numpy().copy()
    evaluated = model.evaluate(x, y, batch_size=3, verbose=0)
    # each batch is scored against the target it would give, without writing it
    ce = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    want = np.mean(
        [
            float(ce(y[s], model(x[s]))) + float(loss.regularizer(model(x[s]), training=False))
            for s in (slice(0, 3), slice(3, 6))
        ]
    )
    assert evaluated == pytest.approx(want, rel=1e-5)
    model.predict(x, verbose=0)
    np.testing.assert_array_equal(loss.regularizer.buffer.numpy(), before)
    assert int(loss.regularizer.step) == 6


def test_evaluation_steps_keep_their_names():
    """The one place that reads the call stack: fails if Keras renames ``test_step`` /
    ``predict_step`` or stops calling the loss from inside them (tested Keras versions are
    in ``TESTED_KERAS_VERSIONS``)."""
    from speccal.losses._spectral import _EVALUATION_STEPS, _in_keras_evaluation

    for name in _EVALUATION_STEPS:
        assert callable(getattr(keras.Model, name, None)), f"keras.Model.{name} is gone"
    seen = []

    def recording_loss(y_true, y_pred):
        seen.append(_in_keras_evaluation())
        return keras.ops.mean(keras.ops.square(y_pred))

    inputs = keras.Input((2,))
    model = keras.Model(inputs, keras.layers.Dense(1)(inputs))
    model.compile(keras.optimizers.SGD(0.0), loss=recording_loss, run_eagerly=True)
    x, y = np.ones((2, 2), np.float32), np.zeros((2, 1), np.float32)
    model.fit(x, y, batch_size=2, epochs=1, validation_data=(x, y), verbose=0)
    model.evaluate(x, y, batch_size=2, verbose=0)
    assert seen == [False, True, True]  # training batch, validation batch, evaluate
    assert not _in_keras_evaluation()


def test_jit_compile_with_smaller_last_batch():
    x, y = data(5)
    model = tiny_model()
    loss = compile_frozen(model, jit_compile=True)
    history = model.fit(x, y, batch_size=2, epochs=2, shuffle=False, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    assert int(loss.regularizer.step) == 6  # batches of 2, 2, 1 per epoch
    want = replay(model, x, 2, 2, window=4, bands=3, warmup="partial")
    np.testing.assert_allclose(loss.regularizer.buffer.numpy(), want.buffer.numpy(), rtol=1e-5)


def test_spectral_term_reaches_the_weights():
    x, y = data(4)
    grads = []
    for lam in (0.0, 1.0):
        model = tiny_model()
        with tf.GradientTape() as tape:
            value = CESpectral(lam=lam, window=2, bands=3)(y, model(x))
        grads.append(tape.gradient(value, model.trainable_weights)[0].numpy())
    assert np.abs(grads[1] - grads[0]).max() > 1e-6


def test_mixed_float16_keeps_float32_state():
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_float16")
    try:
        x, y = data(4)
        model = tiny_model()
        loss = compile_frozen(model, jit_compile=False)
        history = model.fit(x, y, batch_size=2, epochs=1, shuffle=False, verbose=0)
        logits = model(x[:2])
    finally:
        keras.config.set_dtype_policy(previous)
    assert logits.dtype == tf.float16
    assert np.isfinite(history.history["loss"]).all()
    assert loss.regularizer.buffer.dtype == tf.float32
    want = replay(model, x, 2, 1, window=4, bands=3, warmup="partial")
    np.testing.assert_allclose(loss.regularizer.buffer.numpy(), want.buffer.numpy(), rtol=1e-5)


def test_config_round_trip():
    loss = CESpectral(
        lam=0.2,
        window=7,
        bands=6,
        warmup="partial",
        ignore_class=4,
        eps=1e-5,
        include_dc=True,
        include_corners=True,
        taper="hamming",
        name="spec",
    )
    config = loss.get_config()
    assert CESpectral.from_config(config).get_config() == config
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(loss))
    assert isinstance(restored, CESpectral) and restored.get_config() == config
    assert restored.regularizer.buffer.shape == (7, 6)
    assert restored.regularizer.taper == "hamming"
    reg = SpectralEntropyRegularizer(
        window=3, bands=2, warmup="partial", include_dc=True, taper="hamming"
    )
    assert SpectralEntropyRegularizer.from_config(reg.get_config()).get_config() == (
        reg.get_config()
    )


def trained(seed=0, epochs=1):
    x, y = data(6, seed=seed)
    model = tiny_model()
    loss = CESpectral(lam=1.0, window=4, bands=3)
    model.compile(keras.optimizers.SGD(0.05), loss=loss, jit_compile=False)
    model.fit(x, y, batch_size=2, epochs=epochs, shuffle=False, verbose=0)
    return model, loss


def continue_training(model, seed=1):
    x, y = data(6, seed=seed)
    model.fit(x, y, batch_size=2, epochs=1, shuffle=False, verbose=0)
    return model.loss.regularizer.buffer.numpy()


def test_model_save_and_load_model_keep_the_buffer(tmp_path):
    model, loss = trained()
    model.save(tmp_path / "model.keras")
    restored = keras.models.load_model(tmp_path / "model.keras")
    assert isinstance(restored.loss, CESpectral)
    assert int(restored.loss.regularizer.step) == 3
    np.testing.assert_array_equal(
        restored.loss.regularizer.buffer.numpy(), loss.regularizer.buffer.numpy()
    )
    np.testing.assert_allclose(continue_training(restored), continue_training(model), rtol=1e-5)


def test_resume_from_checkpoints_continues_with_the_same_target(tmp_path):
    uninterrupted, _ = trained(epochs=1)
    want = continue_training(uninterrupted)

    model, _ = trained(epochs=1)
    path = tf.train.Checkpoint(model=model).save(str(tmp_path / "ckpt"))
    model.save_weights(tmp_path / "model.weights.h5")

    for restore in ("checkpoint", "weights"):
        fresh = tiny_model()
        fresh.compile(
            keras.optimizers.SGD(0.05),
            loss=CESpectral(lam=1.0, window=4, bands=3),
            jit_compile=False,
        )
        if restore == "checkpoint":
            tf.train.Checkpoint(model=fresh).restore(path).assert_existing_objects_matched()
        else:
            fresh.load_weights(tmp_path / "model.weights.h5")
        assert int(fresh.loss.regularizer.step) == 3
        np.testing.assert_allclose(continue_training(fresh), want, rtol=1e-5)


def test_loading_a_buffer_of_another_shape_fails():
    source = SpectralEntropyRegularizer(window=4, bands=3)
    store = {}
    source.save_own_variables(store)
    with pytest.raises(
        ValueError,
        match=r"saved spectral buffer must have shape \(window, "
        r"bands\) = \(5, 3\); got \(4, 3\)",
    ):
        SpectralEntropyRegularizer(window=5, bands=3).load_own_variables(store)


MIRRORED_SCRIPT = textwrap.dedent(
    """
    import os
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"
    import numpy as np
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    import keras
    from speccal.losses import CESpectral, SpectralEntropyRegularizer

    rng = np.random.default_rng(0)
    x = rng.normal(size=(8, 6, 7, 5, 1)).astype(np.float32)
    y = (x[..., 0] > 0).astype(np.int64)

    def run(strategy, lam=10.0):
        with strategy.scope():
            inputs = keras.Input((6, 7, 5, 1))
            init = keras.initializers.GlorotUniform(seed=1)
            model = keras.Model(inputs, keras.layers.Conv3D(3, 3, padding="same",
                                                            kernel_initializer=init)(inputs))
            model.compile(keras.optimizers.SGD(0.5), loss=CESpectral(lam=lam, window=3, bands=3))
        model.fit(x, y, batch_size=4, epochs=1, shuffle=False, validation_data=(x, y), verbose=0)
        reg = model.loss.regularizer
        return reg.buffer.numpy(), int(reg.step.numpy()), model.get_weights()[0]

    two = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    buf2, step2, w2 = run(two)
    buf1, step1, w1 = run(tf.distribute.OneDeviceStrategy("/cpu:0"))
    assert step1 == step2 == 2, (step1, step2)
    np.testing.assert_allclose(buf2, buf1, rtol=1e-5)
    np.testing.assert_allclose(w2, w1, rtol=1e-4, atol=1e-6)

    # the spectral term moved the weights, so their equality checks its replica scaling
    _, _, w0 = run(tf.distribute.OneDeviceStrategy("/cpu:0"), lam=0.0)
    assert np.abs(w0 - w1).max() > 1e-3, np.abs(w0 - w1).max()

    with two.scope():
        reg = SpectralEntropyRegularizer(window=2, bands=3)
    logits = tf.constant(rng.normal(size=(4, 6, 7, 5, 3)).astype(np.float32))
    per_replica = two.experimental_distribute_values_from_function(
        lambda ctx: logits[2 * ctx.replica_id_in_sync_group : 2 * ctx.replica_id_in_sync_group + 2]
    )
    two.run(tf.function(lambda z: reg(z)), args=(per_replica,))
    single = SpectralEntropyRegularizer(window=2, bands=3)
    single(logits)
    np.testing.assert_allclose(reg.buffer.numpy(), single.buffer.numpy(), rtol=1e-5)
    print("OK")
    """
)


@pytest.mark.slow
def test_mirrored_strategy_buffer_holds_the_global_batch_mean():
    result = subprocess.run(
        [sys.executable, "-c", MIRRORED_SCRIPT], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().endswith("OK")


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_non_finite_batch_fails_before_the_optimiser_changes_anything(optimizer):
    model = tiny_model()
    opt = keras.optimizers.SGD(0.1, momentum=0.9) if optimizer == "sgd" else "adam"
    model.compile(opt, loss=CESpectral(lam=0.5, window=3, bands=3), jit_compile=False)
    x, y = data(4)
    model.fit(x, y, batch_size=4, epochs=1, verbose=0)
    weights = [w.copy() for w in model.get_weights()]
    slots = [v.numpy().copy() for v in model.optimizer.variables]
    buffer = model.loss.regularizer.buffer.numpy().copy()
    x_bad = x.copy()
    x_bad[1, 2, 3, 1, 0] = np.nan
    with pytest.raises(tf.errors.InvalidArgumentError, match="`logits` must be finite"):
        model.fit(x_bad, y, batch_size=4, epochs=1, verbose=0)
    assert int(model.optimizer.iterations.numpy()) == 1
    for before, after in zip(weights, model.get_weights(), strict=True):
        np.testing.assert_array_equal(after, before)
    for before, variable in zip(slots, model.optimizer.variables, strict=True):
        np.testing.assert_array_equal(variable.numpy(), before, err_msg=variable.path)
    np.testing.assert_array_equal(model.loss.regularizer.buffer.numpy(), buffer)
    model.fit(x, y, batch_size=4, epochs=1, verbose=0)  # the model trains on afterwards
    assert int(model.optimizer.iterations.numpy()) == 2
    assert all(np.isfinite(w).all() for w in model.get_weights())
