"""Run folders: atomic writes and checkpoints, the lock, checks before writing, NaN stops."""

import json
import os
import re
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from tiny_runs import tiny_config

pytest.importorskip("tensorflow")

from speccal._atomic import write_atomic  # noqa: E402
from speccal.experiments import (  # noqa: E402  # noqa: E402
    CheckpointError,
    NonFiniteLossError,
    RunConfig,
    RunInUseError,
    RunLock,
    _checkpoint,
    _train,
    evaluate_run,
    latest_checkpoint,
    train_run,
)


def _tiny_model():
    import keras

    inputs = keras.Input((3,))
    model = keras.Model(inputs, keras.layers.Dense(2)(inputs))
    model.compile(optimizer=keras.optimizers.SGD(0.1, momentum=0.9), loss="mse")
    model.fit(np.ones((4, 3)), np.zeros((4, 2)), verbose=0)
    return model


# -- atomic files and checkpoints -----------------------------------------------------------


def test_write_atomic_keeps_the_old_content_when_interrupted(tmp_path, monkeypatch):
    path = tmp_path / "config.json"
    write_atomic(path, "old\n")

    def killed(src, dst):
        raise KeyboardInterrupt("killed between the write and the switch")

    monkeypatch.setattr(os, "replace", killed)
    with pytest.raises(KeyboardInterrupt):
        write_atomic(path, "new\n")
    assert path.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["config.json"]  # no temporary left


def test_checkpoint_switch_keeps_the_previous_one_until_done(tmp_path, monkeypatch):
    model = _tiny_model()
    first = _checkpoint.save_checkpoint(tmp_path, model, epoch=1, step=1)
    saved = [w.copy() for w in model.get_weights()]
    model.fit(np.ones((4, 3)), np.ones((4, 2)), verbose=0)

    def killed(run_dir, name, epoch):
        raise KeyboardInterrupt("killed before the switch")

    monkeypatch.setattr(_checkpoint, "_switch", killed)
    with pytest.raises(KeyboardInterrupt):
        _checkpoint.save_checkpoint(tmp_path, model, epoch=2, step=2)
    current = latest_checkpoint(tmp_path)
    assert current == first and current.damage() is None
    assert (tmp_path / "checkpoints" / "epoch-0002").is_dir()  # complete but not switched in
    restored = _tiny_model()
    assert _checkpoint.restore_checkpoint(tmp_path, restored) == first
    for a, b in zip(restored.get_weights(), saved, strict=True):
        np.testing.assert_array_equal(a, b)
    assert int(restored.optimizer.iterations.numpy()) == 1
    monkeypatch.undo()  # the next save replaces the stale folder and switches
    second = _checkpoint.save_checkpoint(tmp_path, model, epoch=2, step=2)
    assert latest_checkpoint(tmp_path) == second
    third = _checkpoint.save_checkpoint(tmp_path, model, epoch=3, step=3)
    names = sorted(p.name for p in (tmp_path / "checkpoints").iterdir())
    assert names == ["epoch-0002", "epoch-0003", "latest.json"]  # current and previous
    assert json.loads((third.path / "progress.json").read_text())["step"] == 3


@pytest.fixture
def trained(tmp_path, fake_dataset):
    """A two-epoch CE+spectral run (checkpoints of epochs 1 and 2)."""
    params = {"loss": "cespectral", "loss_params": {"lam": 0.5, "window": 3, "bands": 3}}
    train_run(tiny_config(tmp_path, **params), tmp_path / "run", progress=False)
    return tmp_path / "run"


def test_damaged_checkpoint_is_named_with_the_way_back(trained):
    weights = latest_checkpoint(trained).weights
    size = weights.stat().st_size
    with open(weights, "r+b") as handle:
        handle.truncate(size // 2)  # as a kill in the middle of an unprotected write would
    pattern = (
        rf"epoch-0002/weights\.weights\.h5 has {size // 2} bytes, {size} were written; the "
        rf"previous checkpoint \(epoch 1\) is intact: `speccal train --out {trained} --resume` "
        "continues from it"
    )
    with pytest.raises(CheckpointError, match=pattern):
        evaluate_run(trained, progress=False)
    config = RunConfig.load(trained)
    with pytest.warns(UserWarning, match=r"resuming from the previous checkpoint \(epoch 1\)"):
        model = train_run(config, trained, resume=True, progress=False)
    current = latest_checkpoint(trained)
    assert (current.epoch, current.damage()) == (2, None)
    assert int(model.optimizer.iterations.numpy()) == 4
    assert np.isfinite(evaluate_run(trained, progress=False)["ece"])


def test_unreadable_weights_file_is_named_not_an_h5py_traceback(trained):
    current = latest_checkpoint(trained)
    current.weights.write_bytes(b"\0" * 64)  # not HDF5, and the manifest agrees with it
    manifest = json.loads((current.path / "progress.json").read_text())
    manifest["files"]["weights.weights.h5"] = {
        "bytes": 64,
        "sha256": _checkpoint._sha256(current.weights),
    }
    (current.path / "progress.json").write_text(json.dumps(manifest))
    with pytest.raises(CheckpointError, match=r"weights\.weights\.h5 cannot be read .*epoch 1"):
        evaluate_run(trained, progress=False)


def test_resume_before_the_first_checkpoint_starts_from_step_0(
    tmp_path, fake_dataset, fake_collaborators
):
    from speccal.experiments._data import run_split

    run = tmp_path / "run"
    run.mkdir()
    config = tiny_config(tmp_path)
    config.save(run)  # what a run killed during its first epoch leaves
    run_split(run, fake_dataset, config.split, config.seed)
    (run / "history.csv").write_text("epoch,loss\n0,1.5\n1,1.")  # a torn row
    with pytest.warns(UserWarning, match=r"no complete checkpoint yet: starting again from step"):
        train_run(None, run, resume=True, progress=False)
    assert latest_checkpoint(run).epoch == 2
    rows = (run / "history.csv").read_text().splitlines()
    assert [r.split(",")[0] for r in rows] == ["epoch", "0", "1"]
    assert "starting again from step 0" in (run / "train.log").read_text()


def test_history_keeps_the_rows_of_checkpointed_epochs(tmp_path):
    path = tmp_path / "history.csv"
    path.write_text("epoch,loss,val_loss\n0,2.0,2.1\n1,1.9,2.0\n2,1.8,1.9\n3,1.")
    _train._trim_history(tmp_path, 2)
    assert path.read_text() == "epoch,loss,val_loss\n0,2.0,2.1\n1,1.9,2.0\n"
    _train._trim_history(tmp_path, 0)
    assert not path.exists()


# -- every check before the first byte ------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"loss": "cespectral", "loss_params": {"lam": -1}}, r"`lam` must be a finite num"),
        ({"loss": "focal", "loss_params": {"colour": 1}}, r"colour"),
        ({"model_params": {"depth": 0}}, r"depth"),
        ({"momentum": 2.0}, r"momentum"),
    ],
)
def test_a_failed_check_leaves_no_run_folder(tmp_path, fake_dataset, kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        train_run(tiny_config(tmp_path, **kwargs), tmp_path / "runs" / "new", progress=False)
    assert not (tmp_path / "runs").exists()


def test_overwrite_with_a_bad_argument_keeps_the_old_run(trained, tmp_path):
    before = {p: p.read_bytes() for p in trained.rglob("*") if p.is_file()}
    bad = tiny_config(tmp_path, loss="cespectral", loss_params={"lam": -1.0})
    with pytest.raises(ValueError, match=r"`lam` must be a finite number >= 0; got -1\.0"):
        train_run(bad, trained, overwrite=True, progress=False)
    assert {p: p.read_bytes() for p in trained.rglob("*") if p.is_file()} == before


def test_cli_train_with_a_bad_value_writes_nothing(tmp_path, capsys):
    from speccal.cli import main
    from speccal.datasets import SyntheticPhantoms

    SyntheticPhantoms.write(tmp_path / "data", n_cases=6, shape=(16, 16, 12), seed=0)
    out = tmp_path / "run"
    argv = ["train", "--root", str(tmp_path / "data"), "--out", str(out), "--lam", "-1",
            "--patch-size", "8", "8", "8", "--base-filters", "2", "--depth", "2"]  # fmt: skip
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    assert "`lam` must be a finite number >= 0; got -1.0" in capsys.readouterr().err
    assert not out.exists()


# -- the lock -------------------------------------------------------------------------------


def test_lock_is_exclusive_and_names_the_holder(tmp_path):
    with RunLock(tmp_path, "train"):
        with pytest.raises(RunInUseError, match=rf"in use by process {os.getpid()} \(speccal "):
            RunLock(tmp_path, "evaluate").acquire()
    with RunLock(tmp_path, "evaluate") as lock:  # released on exit
        assert lock.held


def test_a_killed_holder_releases_the_lock(tmp_path):
    script = textwrap.dedent(f"""
        import sys, time
        from speccal.experiments._lock import RunLock
        RunLock({str(tmp_path)!r}, "train").acquire()
        print("locked", flush=True)
        time.sleep(120)
    """)
    holder = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(RunInUseError, match=rf"in use by process {holder.pid} "):
            RunLock(tmp_path).acquire()
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=60)
    finally:
        holder.kill()
    with RunLock(tmp_path) as lock:
        assert lock.held


def test_train_and_evaluate_refuse_a_folder_in_use(trained, tmp_path):
    config = RunConfig.load(trained)
    with RunLock(trained, "train"):
        for call in (
            lambda: train_run(config, trained, resume=True, progress=False),
            lambda: train_run(config, trained, overwrite=True, progress=False),
            lambda: train_run(config, trained, progress=False),
            lambda: evaluate_run(trained, progress=False),
        ):
            with pytest.raises(RunInUseError, match=rf"process {os.getpid()} \(speccal train\)"):
                call()


# -- a non-finite loss stops the run --------------------------------------------------------


def _poison_from(monkeypatch, first_patch):
    """Make every training patch from number ``first_patch`` on hold one NaN voxel."""
    real = _train._training_sampler

    def poisoned(volumes, config):
        sampler = real(volumes, config)
        sample = sampler.sample

        def patch(index):
            image, label = sample(index)
            if index >= first_patch:
                image = image.copy()
                image[0, 0, 0, 0] = np.nan
            return image, label

        sampler.sample = patch
        return sampler

    monkeypatch.setattr(_train, "_training_sampler", poisoned)


@pytest.mark.parametrize(
    ("loss", "what"),
    [
        ("cespectral", r"the loss found NaN or Inf logits \(the weights were not updated\)"),
        ("ce", r"the loss is nan"),
    ],
)
def test_non_finite_loss_stops_the_run_naming_step_and_cases(
    tmp_path, fake_dataset, monkeypatch, loss, what
):
    _poison_from(monkeypatch, first_patch=6)  # step 3 = epoch 2, batch 2 (batches of 2)
    run = tmp_path / "run"
    config = tiny_config(tmp_path, loss=loss, epochs=3)
    with pytest.raises(NonFiniteLossError) as info:
        train_run(config, run, progress=False)
    split = json.loads((run / "split.json").read_text())
    expected = sorted(
        {split["train"][int(np.random.default_rng([config.seed, i]).integers(4))] for i in (6, 7)}
    )
    message = str(info.value)
    assert "training stopped at step 3 (epoch 2, batch 2 of 2): " in message
    assert f"the batch holds patches of cases {expected} (patches 6..7)" in message
    assert f"`speccal train --out {run} --resume` continues from it" in message
    assert re.search(what, message)
    current = latest_checkpoint(run)
    assert (current.epoch, current.damage()) == (1, None)  # the last good one stays
    assert "training stopped at step 3" in (run / "train.log").read_text()
    monkeypatch.undo()
    monkeypatch.setattr(_train, "open_dataset", lambda name, root: fake_dataset)
    model = train_run(None, run, resume=True, progress=False)  # resumable once fixed
    assert latest_checkpoint(run).epoch == 3
    assert all(np.isfinite(w).all() for w in model.get_weights())


def test_patch_sampler_names_the_volume_of_each_patch():
    from speccal.datasets import PatchSampler

    volumes = [(np.full((6, 6, 6, 1), float(v)), np.zeros((6, 6, 6), int)) for v in range(5)]
    sampler = PatchSampler(volumes, (4, 4, 4), seed=7)
    for index in range(40):
        image, _ = sampler.sample(index)
        assert np.all(image == sampler.volume_of(index)), index
