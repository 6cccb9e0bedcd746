import json

import h5py
import numpy as np
import pytest
from tiny_runs import tiny_config

pytest.importorskip("tensorflow")

from speccal.experiments import RunConfig, latest_checkpoint, train_run  # noqa: E402


def _state(loss):
    """The loss state Keras' saving protocol stores (``save_own_variables``)."""
    store = {}
    loss.save_own_variables(store)
    return {k: np.asarray(v) for k, v in store.items()}


def test_config_round_trips_through_json(tmp_path):
    config = tiny_config(tmp_path, loss="cespectral", loss_params={"lam": 0.1, "window": 5})
    config.save(tmp_path)
    assert RunConfig.load(tmp_path) == config
    data = json.loads((tmp_path / "config.json").read_text())
    assert data["patch_size"] == [8, 8, 8]
    assert data["loss_params"] == {"lam": 0.1, "window": 5}


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"epochs": 0}, r"`epochs` must be an int >= 1; got 0\."),
        ({"strategy": "tpu"}, r"`strategy` must be one of \('default', 'mirrored'\); got 'tpu'\."),
        ({"optimizer": "rmsprop"}, r"`optimizer` must be 'sgd' or 'adam'; got 'rmsprop'\."),
        ({"split": (4, 0, 1)}, r"`split` must be three ints >= 1; got \(4, 0, 1\)\."),
    ],
)
def test_bad_config_values(tmp_path, kwargs, match):
    with pytest.raises(ValueError, match=match):
        tiny_config(tmp_path, **kwargs)


def test_missing_and_corrupt_config_files_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"config\.json not found"):
        RunConfig.load(tmp_path)
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(ValueError, match=r"config\.json is not valid JSON"):
        RunConfig.load(tmp_path)
    (tmp_path / "config.json").write_text('{"dataset": "x", "root": "y", "colour": 1}')
    with pytest.raises(ValueError, match=r"`config` has unknown keys \['colour'\]"):
        RunConfig.load(tmp_path)


def test_train_writes_run_and_resume_restores_loss_state(tmp_path, fake_collaborators):
    straight = tmp_path / "straight"
    model = train_run(tiny_config(tmp_path), straight, progress=False)
    for name in ("config.json", "split.json", "train.log", "history.csv"):
        assert (straight / name).is_file(), name
    assert "epoch 2/2" in (straight / "train.log").read_text()
    full_state = _state(fake_collaborators[-1])
    assert full_state["calls"] > 0

    resumed = tmp_path / "resumed"
    train_run(tiny_config(tmp_path, epochs=1), resumed, progress=False)
    config = RunConfig.load(resumed)
    config.epochs = 2
    model_resumed = train_run(config, resumed, resume=True, progress=False)
    state = _state(fake_collaborators[-1])
    assert state["calls"] == full_state["calls"]
    np.testing.assert_allclose(state["total"], full_state["total"], rtol=1e-4)
    for a, b in zip(model.get_weights(), model_resumed.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-5)
    assert RunConfig.load(resumed).epochs == 2
    assert (latest_checkpoint(resumed).epoch, latest_checkpoint(resumed).step) == (2, 4)


def test_existing_out_is_not_overwritten(tmp_path, fake_collaborators):
    out = tmp_path / "run"
    out.mkdir()
    (out / "keep.txt").write_text("x")
    with pytest.raises(FileExistsError, match="already exists and is not empty; pass --overwrite"):
        train_run(tiny_config(tmp_path), out, progress=False)
    assert (out / "keep.txt").read_text() == "x"


def test_out_inside_the_dataset_folder_is_refused(tmp_path, fake_collaborators):
    with pytest.raises(ValueError, match="`out` must be outside the dataset folder"):
        train_run(tiny_config(tmp_path), tmp_path / "data" / "run", progress=False)


@pytest.mark.slow
def test_resume_reproduces_the_spectral_buffer(tmp_path, fake_dataset):
    params = {"loss": "cespectral", "loss_params": {"lam": 0.5, "window": 3, "bands": 3}}
    model = train_run(tiny_config(tmp_path, **params), tmp_path / "a", progress=False)
    buffer = model.loss.regularizer.buffer.numpy()
    assert int(model.loss.regularizer.step.numpy()) == 4
    assert np.all(buffer > 0)
    train_run(tiny_config(tmp_path, epochs=1, **params), tmp_path / "b", progress=False)
    with h5py.File(latest_checkpoint(tmp_path / "b").weights) as saved:
        assert saved["loss/vars/step"][()] == 2  # saved by CESpectral.save_own_variables
    config = RunConfig.load(tmp_path / "b")
    config.epochs = 2
    resumed = train_run(config, tmp_path / "b", resume=True, progress=False)
    assert int(resumed.loss.regularizer.step.numpy()) == 4
    np.testing.assert_allclose(resumed.loss.regularizer.buffer.numpy(), buffer, rtol=1e-3)


@pytest.mark.slow
def test_crac_multipliers_move_and_are_checkpointed(tmp_path, fake_dataset):
    model = train_run(tiny_config(tmp_path, loss="crac", epochs=1), tmp_path / "r", progress=False)
    with h5py.File(latest_checkpoint(tmp_path / "r").weights) as saved:
        stored = {name: saved[f"loss/vars/{name}"][()] for name in saved["loss/vars"]}
    assert sorted(stored) == ["multipliers", "penalty_parameters", "previous_constraints"]
    np.testing.assert_array_equal(stored["multipliers"], model.loss.multipliers.numpy())
    assert np.any(stored["multipliers"] > 1e-6)  # moved by the epoch-end update


@pytest.mark.slow
def test_resumed_crac_run_restores_its_multipliers(tmp_path, fake_dataset):
    first = train_run(tiny_config(tmp_path, loss="crac", epochs=1), tmp_path / "r", progress=False)
    saved = _state(first.loss)
    config = RunConfig.load(tmp_path / "r")
    config.epochs = 1  # nothing left to train: the restored state is returned as it was
    resumed = train_run(config, tmp_path / "r", resume=True, progress=False)
    restored = _state(resumed.loss)
    assert sorted(restored) == sorted(saved)
    for name, value in saved.items():
        np.testing.assert_array_equal(restored[name], value, err_msg=name)


def test_checkpoint_of_another_loss_is_refused(tmp_path, fake_dataset, monkeypatch, counting_loss):
    from speccal.experiments import CheckpointError, _train

    train_run(tiny_config(tmp_path, epochs=1), tmp_path / "r", progress=False)  # plain CE
    config = RunConfig.load(tmp_path / "r")
    config.epochs = 2
    monkeypatch.setattr(_train, "make_loss", lambda config, n_classes: counting_loss)
    with pytest.raises(CheckpointError, match=r"weights\.weights\.h5 does not fit the run's"):
        train_run(config, tmp_path / "r", resume=True, progress=False)


def test_run_volumes_are_resampled_to_the_median_spacing(tmp_path):
    from speccal.datasets import SyntheticPhantoms, median_spacing
    from speccal.experiments._data import load_volumes

    phantoms = SyntheticPhantoms(n_cases=5, shape=(16, 16, 8), spacing_jitter=0.3, seed=1)
    target = median_spacing(phantoms)
    assert len({case.spacing for case in phantoms}) == 5
    volumes = load_volumes(phantoms, phantoms.case_ids[:3], cache_dir=tmp_path)
    for case, volume in zip(phantoms, volumes, strict=False):
        expected = np.maximum(1, np.rint(np.array([16, 16, 8]) * case.spacing / target))
        assert volume.label.shape == tuple(expected.astype(int))
        assert volume.image.shape[:3] == volume.label.shape
        np.testing.assert_allclose(volume.spacing, target, rtol=0.1)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"loss": "dice"}, r"`loss` must be one of ce, cespectral, .*; got 'dice'\."),
        ({"model": "vnet"}, r"`model` must be one of unet3d, .*; got 'vnet'\."),
    ],
)
def test_unknown_loss_or_model_is_refused_before_the_run_is_made(
    tmp_path, fake_dataset, kwargs, match
):
    with pytest.raises(ValueError, match=match):
        train_run(tiny_config(tmp_path, **kwargs), tmp_path / "run", progress=False)
    assert not (tmp_path / "run").exists()
