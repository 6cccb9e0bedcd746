"""Fakes for the runner's collaborators: an in-memory dataset and a stateful loss."""

import types

import numpy as np
import pytest


class FakeDataset:
    """Labelled blob volumes of unequal odd shapes, two classes + background."""

    n_classes = 3

    def __init__(self, n_cases=6, seed=0):
        rng = np.random.default_rng(seed)
        self.cases = []
        for i in range(n_cases):
            shape = (13 + i % 3, 12, 11)
            grid = np.indices(shape).astype(np.float32)
            centre = np.array(shape)[:, None, None, None] / 2
            radius = np.sqrt(((grid - centre) ** 2).sum(0))
            label = np.where(radius < 3, 2, np.where(radius < 5, 1, 0)).astype(np.uint8)
            image = (label + rng.normal(0, 0.3, shape)).astype(np.float32)[..., None]
            self.cases.append(
                types.SimpleNamespace(
                    case_id=f"case{i:02d}", image=image, label=label, spacing=(1.0, 1.0, 2.0)
                )
            )

    def __iter__(self):
        return iter(self.cases)

    def __len__(self):
        return len(self.cases)


def make_counting_loss():
    """Sparse CE plus a variable that accumulates the batch mean max-logit (like a buffer)."""
    import keras
    import tensorflow as tf

    class CountingLoss(keras.losses.Loss):
        def __init__(self):
            super().__init__(name="counting")
            self.ce = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
            self.state = types.SimpleNamespace(
                total=tf.Variable(0.0, trainable=False), calls=tf.Variable(0, trainable=False)
            )

        def call(self, y_true, y_pred):
            self.state.total.assign_add(tf.reduce_mean(tf.reduce_max(y_pred, -1)))
            self.state.calls.assign_add(1)
            return self.ce(y_true, y_pred)

    return CountingLoss()


@pytest.fixture
def counting_loss():
    """A fresh CountingLoss."""
    return make_counting_loss()


@pytest.fixture
def fake_dataset(monkeypatch):
    """Route the runner (training and evaluation) to a FakeDataset; return it."""
    from speccal.experiments import _evaluate, _train

    dataset = FakeDataset()
    monkeypatch.setattr(_train, "open_dataset", lambda name, root: dataset)
    monkeypatch.setattr(_evaluate, "open_dataset", lambda name, root: dataset)
    return dataset


@pytest.fixture
def fake_collaborators(monkeypatch, fake_dataset):
    """Route the runner to FakeDataset and CountingLoss; return the created losses."""
    from speccal.experiments import _train

    created = []

    def fake_loss(config):
        loss = make_counting_loss()
        created.append(loss)
        return loss

    monkeypatch.setattr(_train, "make_loss", fake_loss)
    return created
