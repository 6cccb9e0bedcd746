"""CRaCLoss and CRaCCallback."""

import itertools

import keras
import numpy as np
import pytest
from _baseline_numpy import cross_entropy, random_case

from speccal.losses import CRaCCallback, CRaCLoss


def _constraints_numpy(labels, logits, margin, n_classes):
    """h (B, *S, 2C) = [h * boundary, h * inner] from 3^d label windows padded with 0."""
    d = labels.ndim - 1
    spatial = labels.shape[1:]
    padded = np.pad(labels, [(0, 0)] + [(1, 1)] * d, constant_values=0)
    windows = np.stack(
        [
            padded[(slice(None), *[slice(o, o + n) for o, n in zip(off, spatial, strict=True)])]
            for off in itertools.product(range(3), repeat=d)
        ],
        axis=-1,
    )
    boundary = windows.max(-1) != windows.min(-1)
    tau = (windows[..., None] == np.arange(n_classes)).mean(-2)
    target = np.where(boundary[..., None], tau, margin * tau)
    h = np.abs(target - logits.astype(np.float64))
    return np.concatenate([h * boundary[..., None], h * ~boundary[..., None]], axis=-1)


def _phr(h, lambd, rho):
    x = lambd + rho * h
    return np.where(x >= 0, (x**2 - lambd**2) / (2 * rho), -(lambd**2) / (2 * rho)), np.maximum(
        x, 0
    )


def _crac_numpy(labels, logits, lambd, rho, margin, n_classes):
    hcat = _constraints_numpy(labels, logits, margin, n_classes)
    penalty, _ = _phr(hcat, lambd.reshape(-1), rho.reshape(-1))
    return cross_entropy(labels, logits).mean() + penalty.mean()


def _multiplier_update_numpy(labels, logits, lambd, rho, margin, n_classes):
    hcat = _constraints_numpy(labels, logits, margin, n_classes)
    _, grad = _phr(hcat, lambd.reshape(-1), rho.reshape(-1))
    grad = np.clip(grad, 1e-6, 1e6).reshape(-1, 2 * n_classes)
    new = np.clip(grad.mean(0), 1e-6, 1e6).reshape(2, n_classes)
    return new, hcat.reshape(-1, 2 * n_classes).mean(0).reshape(2, n_classes)


@pytest.mark.parametrize("spatial", [(5, 7), (5, 6, 7)])
def test_crac_equals_numpy(rng, spatial):
    labels, logits = random_case(rng, spatial, 4)
    lambd = rng.uniform(0.1, 2.0, size=(2, 4))
    rho = rng.uniform(0.1, 3.0, size=(2, 4))
    loss = CRaCLoss(margin=5.0, multipliers=lambd.tolist(), penalty_parameters=rho.tolist())
    expected = _crac_numpy(labels, logits, lambd, rho, 5.0, 4)
    assert float(loss(labels, logits)) == pytest.approx(expected, rel=1e-5)


def test_crac_defaults_and_lazy_build(rng):
    labels, logits = random_case(rng, (5, 6, 7), 3)
    loss = CRaCLoss()
    assert loss.multipliers is None
    value = float(loss(labels, logits))
    np.testing.assert_allclose(loss.multipliers.numpy(), np.full((2, 3), 1e-6))
    np.testing.assert_allclose(loss.penalty_parameters.numpy(), np.full((2, 3), 0.1))
    np.testing.assert_allclose(loss.previous_constraints.numpy(), np.full((2, 3), -1.0))
    expected = _crac_numpy(labels, logits, np.full((2, 3), 1e-6), np.full((2, 3), 0.1), 5.0, 3)
    assert value == pytest.approx(expected, rel=1e-5)
    with pytest.raises(ValueError, match="`y_pred` must have 3 classes.*got 4"):
        loss(*random_case(rng, (5, 6, 7), 4))


def _tiny_model():
    model = keras.Sequential([keras.Input((6, 7, 1)), keras.layers.Conv2D(3, 3, padding="same")])
    return model


def _data(rng):
    x = rng.normal(size=(4, 6, 7, 1)).astype(np.float32)
    labels = np.digitize(x[..., 0], [-0.5, 0.5]).astype(np.int32)
    return x, labels


def test_crac_callback_updates_multipliers_as_reference(rng):
    x, y = _data(rng)
    model = _tiny_model()
    model.compile(optimizer=keras.optimizers.SGD(0.01), loss=CRaCLoss())
    callback = CRaCCallback((x, y), rho_step=1, batch_size=3)
    model.fit(x, y, batch_size=2, epochs=1, verbose=0, callbacks=[callback])
    logits = model.predict(x, verbose=0)
    init_l, init_r = np.full((2, 3), 1e-6), np.full((2, 3), 0.1)
    expected, h0 = _multiplier_update_numpy(y, logits, init_l, init_r, 5.0, 3)
    loss = model.loss
    np.testing.assert_allclose(loss.multipliers.numpy(), expected, rtol=1e-5)
    np.testing.assert_allclose(model.loss.previous_constraints.numpy(), h0, rtol=1e-5)
    np.testing.assert_allclose(loss.penalty_parameters.numpy(), init_r)  # first epoch: no rho step
    # A second epoch end on the same weights: H did not drop below mu * H_prev, rho grows.
    callback.on_epoch_end(1)
    expected_2, _ = _multiplier_update_numpy(y, logits, expected, init_r, 5.0, 3)
    np.testing.assert_allclose(loss.multipliers.numpy(), expected_2, rtol=1e-5)
    np.testing.assert_allclose(loss.penalty_parameters.numpy(), np.where(h0 > 0, 0.12, 0.1))


def test_crac_callback_change_survives_save_and_load(rng, tmp_path):
    x, y = _data(rng)
    model = _tiny_model()
    model.compile(optimizer=keras.optimizers.SGD(0.01), loss=CRaCLoss(n_classes=3))
    dataset = [(x[:2], y[:2]), (x[2:], y[2:])]
    model.fit(x, y, epochs=1, verbose=0, callbacks=[CRaCCallback(dataset)])
    multipliers = model.loss.multipliers.numpy()
    assert np.all(multipliers > 1e-6)
    path = tmp_path / "crac.keras"
    model.save(path)
    restored = keras.models.load_model(path)
    assert isinstance(restored.loss, CRaCLoss)
    np.testing.assert_array_equal(restored.loss.multipliers.numpy(), multipliers)
    np.testing.assert_array_equal(
        restored.loss.penalty_parameters.numpy(), model.loss.penalty_parameters.numpy()
    )
    previous = model.loss.previous_constraints.numpy()
    assert np.all(previous >= 0)  # set by the epoch-end update
    np.testing.assert_array_equal(restored.loss.previous_constraints.numpy(), previous)


def test_crac_callback_needs_validation_voxels(rng):
    x, y = _data(rng)
    model = _tiny_model()
    loss = CRaCLoss(ignore_class=9)
    model.compile(optimizer="sgd", loss=loss)
    callback = CRaCCallback((x, np.full_like(y, 9)))
    with pytest.raises(ValueError, match="`validation_data` must hold at least one valid voxel"):
        model.fit(x, y, epochs=1, verbose=0, callbacks=[callback])


def test_crac_callback_needs_a_crac_loss(rng):
    x, y = _data(rng)
    model = _tiny_model()
    model.compile(optimizer="sgd", loss=keras.losses.SparseCategoricalCrossentropy(True))
    with pytest.raises(ValueError, match="`loss` must be given .* exactly one CRaCLoss; found 0"):
        model.fit(x, y, epochs=1, verbose=0, callbacks=[CRaCCallback((x, y))])


@pytest.mark.parametrize(
    ("factory", "match"),
    [
        (lambda: CRaCLoss(margin=-5.0), "`margin` must be a finite number >= 0.0"),
        (lambda: CRaCLoss(rho_min=0.0), "`rho_min` must be a finite number > 0.0"),
        (lambda: CRaCLoss(rho_max=0.01), "`rho_max` must be a finite number >= 0.1"),
        (lambda: CRaCLoss(multipliers=[[1.0, 1.0]]), r"`multipliers` must be .* shape \(2, 2\)"),
        (lambda: CRaCLoss(n_classes=1), "`n_classes` must be an int >= 2; got 1"),
        (
            lambda: CRaCLoss(previous_constraints=[[1.0, 1.0], [1.0, 1.0]]),
            "`n_classes` must be given .* with a saved CRaC state",
        ),
        (
            lambda: CRaCLoss(n_classes=2, previous_constraints=[[1.0, -2.0], [1.0, 1.0]]),
            r"`previous_constraints` must be non-negative .* shape \(2, 2\)",
        ),
        (lambda: CRaCCallback(None, gamma=-1.2), "`gamma` must be a finite number > 0.0"),
        (lambda: CRaCCallback(None, mu=-0.9), "`mu` must be a finite number >= 0.0"),
        (lambda: CRaCCallback(None, rho_step=-1), "`rho_step` must be an int >= 0; got -1"),
        (lambda: CRaCCallback(None, loss="ce"), "`loss` must be a CRaCLoss or None; got 'ce'"),
    ],
)
def test_crac_bad_hyperparameters(factory, match):
    with pytest.raises(ValueError, match=match):
        factory()


def test_crac_state_goes_through_keras_weights_saving(rng, tmp_path):
    x, y = _data(rng)
    model = _tiny_model()
    model.compile(optimizer=keras.optimizers.SGD(0.01), loss=CRaCLoss(n_classes=3))
    model.fit(x, y, epochs=1, verbose=0, callbacks=[CRaCCallback((x, y))])
    path = tmp_path / "crac.weights.h5"
    model.save_weights(path)  # Keras visits the compiled loss: save_own_variables
    fresh = _tiny_model()
    fresh.compile(optimizer=keras.optimizers.SGD(0.01), loss=CRaCLoss())  # not built yet
    fresh.load_weights(path)
    for name in ("multipliers", "penalty_parameters", "previous_constraints"):
        np.testing.assert_array_equal(
            getattr(fresh.loss, name).numpy(), getattr(model.loss, name).numpy(), err_msg=name
        )
    assert fresh.loss.n_classes == 3


def test_crac_load_own_variables_refuses_another_class_count():
    loss = CRaCLoss(n_classes=3)
    store = {name: np.ones((2, 4), np.float32) for name in
             ("multipliers", "penalty_parameters", "previous_constraints")}  # fmt: skip
    with pytest.raises(ValueError, match=r"saved CRaC `multipliers` must have shape .*\(2, 3\)"):
        loss.load_own_variables(store)
    del store["previous_constraints"]
    with pytest.raises(ValueError, match=r"\['previous_constraints'\] missing"):
        loss.load_own_variables(store)
    unbuilt = CRaCLoss()
    unbuilt.load_own_variables({})  # saved before it was built: nothing to restore
    assert unbuilt.multipliers is None
