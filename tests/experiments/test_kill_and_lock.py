"""A run killed (SIGKILL) at any moment resumes and evaluates; one process per run folder.

Real child processes (``speccal train``), killed at chosen moments: before the first
checkpoint, while a checkpoint is being written (its temporary folder exists), right after a
checkpoint is switched in (``latest.json`` changed), and after random delays.
"""

import random

import h5py
import numpy as np
import pytest

pytest.importorskip("tensorflow")

from _processes import TINY, start, wait_for  # noqa: E402

from speccal.experiments import evaluate_run, latest_checkpoint  # noqa: E402

EPOCHS = 4
#: The kill schedule: 8 kills, each followed by a resume (and an evaluation when possible).
SCHEDULE = ["started", "writing", "switched", "random", "writing", "switched", "random",
            "switched"]  # fmt: skip


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    from speccal.datasets import SyntheticPhantoms

    root = tmp_path_factory.mktemp("kill")
    SyntheticPhantoms.write(root / "data", n_cases=6, shape=(16, 16, 12), seed=0)
    return root


def _train(data, out, *extra):
    argv = ["train", "--dataset", "synthetic", "--root", str(data / "data"), "--out", str(out),
            "--epochs", str(EPOCHS), *TINY, *extra]  # fmt: skip
    if "--resume" in extra:
        argv = ["train", "--out", str(out), "--resume", "--quiet"]
    return start(argv, data / "cache", data / "children.log")


def _stamp(path):
    try:
        stat = path.stat()
    except FileNotFoundError:
        return None
    return (stat.st_ino, stat.st_mtime_ns)


def _event(kind, run, rng):
    """A condition that turns true at the moment to kill for ``kind``."""
    checkpoints = run / "checkpoints"
    latest = checkpoints / "latest.json"
    if kind == "started":  # the run folder is written, no checkpoint yet
        return lambda: (run / "split.json").is_file()
    if kind == "writing":
        return lambda: (
            checkpoints.is_dir() and any(p.name.startswith(".tmp-") for p in checkpoints.iterdir())
        )
    if kind == "switched":
        before = _stamp(latest)
        return lambda: _stamp(latest) not in (before, None)
    log = run / "train.log"
    size = log.stat().st_size if log.is_file() else 0
    delay = rng.uniform(0.0, 2.0)
    state = {}

    def after_delay():  # a random moment after the child starts training
        import time

        if "t" not in state and log.is_file() and log.stat().st_size > size:
            state["t"] = time.monotonic()
        return "t" in state and time.monotonic() - state["t"] > delay

    return after_delay


def _weights(path):
    with h5py.File(path) as handle:
        out = {}
        handle.visititems(lambda k, v: out.update({k: v[()]}) if hasattr(v, "shape") else None)
    return out


@pytest.mark.slow
def test_runs_killed_at_any_moment_resume_and_evaluate(data):
    reference = data / "reference"
    child = _train(data, reference)
    child.join()
    assert child.exitcode == 0

    run = data / "killed"
    rng = random.Random(0)
    kills = resumes = evaluations = 0
    child = _train(data, run)
    for kind in SCHEDULE:
        if not wait_for(_event(kind, run, rng), child):
            break  # finished before the moment came
        child.kill()
        child.join()
        kills += 1
        current = latest_checkpoint(run) if (run / "config.json").is_file() else None
        if current is not None:
            assert current.damage() is None
            metrics = evaluate_run(run, progress=False)
            assert np.isfinite(metrics["ece"])
            evaluations += 1
        child = _train(data, run, "--resume")
        resumes += 1
    child.join()
    assert child.exitcode == 0, (data / "children.log").read_text()[-3000:]
    print(f"kills={kills} resumes={resumes} evaluations={evaluations}")
    assert kills >= 6, f"only {kills} kills happened"
    assert "no complete checkpoint yet: starting again from step 0" in (
        (run / "train.log").read_text()
    )
    final = latest_checkpoint(run)
    assert (final.epoch, final.step) == (EPOCHS, 2 * EPOCHS)
    assert final.damage() is None
    expected = _weights(latest_checkpoint(reference).weights)
    got = _weights(final.weights)
    assert sorted(got) == sorted(expected)
    assert "loss/vars/buffer" in got  # the spectral ring buffer is part of the checkpoint
    for name, value in expected.items():
        np.testing.assert_allclose(got[name], value, rtol=1e-5, atol=1e-7, err_msg=name)
    history = (run / "history.csv").read_text().splitlines()
    assert [row.split(",")[0] for row in history[1:]] == [str(e) for e in range(EPOCHS)]
    evaluate_run(run, progress=False)


@pytest.mark.slow
def test_a_second_process_is_refused_and_the_first_finishes_intact(data, capsys):
    from speccal.cli import main
    from speccal.experiments import RunInUseError

    run = data / "locked"
    first = _train(data, run)
    assert wait_for(lambda: (run / "split.json").is_file(), first)
    pid = str(first.pid)
    tries = {
        "train": ["train", "--root", str(data / "data"), "--out", str(run), *TINY],
        "--overwrite": [
            "train",
            "--root",
            str(data / "data"),
            "--out",
            str(run),
            *TINY,
            "--overwrite",
        ],  # fmt: skip
        "--resume": ["train", "--out", str(run), "--resume", "--quiet"],
        "evaluate": ["evaluate", str(run), "--quiet"],
    }
    for name, argv in tries.items():
        with pytest.raises(SystemExit) as info:
            main(argv)
        assert info.value.code == 2, name
        err = capsys.readouterr().err
        assert f"is in use by process {pid} (speccal train)" in err, (name, err)
    with pytest.raises(RunInUseError, match=f"in use by process {pid}"):
        evaluate_run(run, progress=False)
    first.join()
    assert first.exitcode == 0
    final = latest_checkpoint(run)
    assert (final.epoch, final.step) == (EPOCHS, 2 * EPOCHS) and final.damage() is None
    history = (run / "history.csv").read_text().splitlines()
    assert len(history) == 1 + EPOCHS
    assert main(["evaluate", str(run), "--quiet"]) == 0  # free again once the first ended
