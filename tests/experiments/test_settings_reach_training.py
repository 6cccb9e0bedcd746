"""Training settings change what is trained, not only config.json (issue 14)."""

import numpy as np
import pytest
from tiny_runs import tiny_config

pytest.importorskip("tensorflow")

from speccal.experiments import train_run  # noqa: E402


def _config(tmp_path, **kwargs):
    return tiny_config(
        tmp_path, **{"epochs": 1, "steps_per_epoch": 1, "cache_dir": None, **kwargs}
    )


def _step(tmp_path, name, **kwargs):
    """The model after one training step, and the change of every weight in it."""
    import keras

    from speccal.experiments._train import build_model

    config = _config(tmp_path, **kwargs)
    model = train_run(config, tmp_path / name, progress=False)
    keras.utils.set_random_seed(config.seed)  # the run's initial weights, built again
    start = build_model(config, model.input_shape[-1], model.output_shape[-1])
    change = np.concatenate(
        [
            (np.asarray(a) - np.asarray(b)).ravel()
            for a, b in zip(model.weights, start.weights, strict=True)
        ]
    )
    return model, change


@pytest.mark.slow
def test_optimizer_learning_rate_and_momentum_reach_the_run(tmp_path, fake_dataset):
    import keras

    sgd, sgd_change = _step(tmp_path, "sgd", learning_rate=0.01, momentum=0.5)
    assert isinstance(sgd.optimizer, keras.optimizers.SGD)
    assert float(sgd.optimizer.learning_rate) == pytest.approx(0.01)
    assert float(sgd.optimizer.momentum) == pytest.approx(0.5)
    faster, faster_change = _step(tmp_path, "faster", learning_rate=0.02, momentum=0.5)
    # one SGD step moves every weight by -lr * gradient: twice the rate, twice the step
    moved = np.abs(sgd_change) > 1e-6
    assert moved.mean() > 0.5
    np.testing.assert_allclose(faster_change[moved], 2 * sgd_change[moved], rtol=1e-3, atol=1e-6)
    adam, adam_change = _step(tmp_path, "adam", optimizer="adam", learning_rate=0.003)
    assert isinstance(adam.optimizer, keras.optimizers.Adam)
    assert float(adam.optimizer.learning_rate) == pytest.approx(0.003)
    # Adam's first step is about lr * sign(gradient) wherever the gradient is not tiny
    big = np.abs(sgd_change) > 1e-4
    np.testing.assert_allclose(np.abs(adam_change[big]), 0.003, rtol=0.05)
    assert np.sign(adam_change[big]).tolist() == np.sign(sgd_change[big]).tolist()


def test_augment_changes_the_training_patches(tmp_path, fake_dataset):
    from speccal.experiments._train import _training_batches, _training_sampler

    volumes = [fake_dataset[i] for i in range(3)]

    def batches(config):
        return _training_batches(_training_sampler(volumes, config), config, first_step=0)

    plain = batches(_config(tmp_path, augment=False))
    augmented = batches(_config(tmp_path, augment=True))
    again = batches(_config(tmp_path, augment=False))
    (x_plain, y_plain), (x_aug, _), (x_again, y_again) = (
        next(iter(batches)) for batches in (plain, augmented, again)
    )
    np.testing.assert_array_equal(np.asarray(x_plain), np.asarray(x_again))  # same seed
    np.testing.assert_array_equal(np.asarray(y_plain), np.asarray(y_again))
    assert x_aug.shape == x_plain.shape
    assert not np.allclose(np.asarray(x_aug), np.asarray(x_plain))
