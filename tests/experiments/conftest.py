"""Stand-ins for the runner's collaborators: in-memory phantoms and a stateful loss."""

import types

import pytest


def make_counting_loss():
    """Sparse CE plus variables that accumulate the batch mean max-logit (like a buffer)."""
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

        def save_own_variables(self, store):  # Keras' saving protocol, as CESpectral's
            store["total"] = self.state.total.numpy()
            store["calls"] = self.state.calls.numpy()

        def load_own_variables(self, store):
            self.state.total.assign(store["total"])
            self.state.calls.assign(store["calls"])

    return CountingLoss()


@pytest.fixture
def counting_loss():
    """A fresh CountingLoss."""
    return make_counting_loss()


@pytest.fixture
def fake_dataset(monkeypatch):
    """Route the runner to six small in-memory SyntheticPhantoms (4 classes); return them."""
    from speccal.datasets import SyntheticPhantoms
    from speccal.experiments import _evaluate, _train

    dataset = SyntheticPhantoms(n_cases=6, shape=(16, 16, 12), seed=0)
    monkeypatch.setattr(_train, "open_dataset", lambda name, root: dataset)
    monkeypatch.setattr(_evaluate, "open_dataset", lambda name, root: dataset)
    return dataset


@pytest.fixture
def fake_collaborators(monkeypatch, fake_dataset):
    """Route the runner to the phantoms and CountingLoss; return the created losses."""
    from speccal.experiments import _train

    created = []

    def fake_loss(config, n_classes):
        loss = make_counting_loss()
        created.append(loss)
        return loss

    monkeypatch.setattr(_train, "make_loss", fake_loss)
    return created
