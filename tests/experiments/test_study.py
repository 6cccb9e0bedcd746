"""``speccal study``: the issue's TOML through the command line on a LocalCluster, a kill and a
restart, refusals of malformed and changed configurations (tiny sizes: 16³ patches)."""

import csv
import json
import os
import signal
import subprocess
import sys
import time

import pytest
from fresh_python import modules_loaded_by

pytest.importorskip("tensorflow")
pytest.importorskip("distributed")

from speccal.cli import main  # noqa: E402
from speccal.experiments import RunConfig  # noqa: E402
from speccal.experiments._study import load_study  # noqa: E402

ISSUE_TOML = """\
[data]
dataset = "synthetic"
root = "data"
[train]                 # any `speccal train` option, same names with underscores
epochs = 2
steps_per_epoch = 2
patch_size = [16, 16, 16]
batch_size = 2
base_filters = 4
depth = 2
[grid]
seeds = [0, 1]          # optionally also lists of [train] values: the grid is their product
[[methods]]
name = "ce"
loss = "ce"
[[methods]]
name = "spectral-lam1"
loss = "cespectral"
params = { lam = 1.0, window = 10 }
[report]
reference = "ce"
"""
TRIALS = ("ce_seed0", "ce_seed1", "spectral-lam1_seed0", "spectral-lam1_seed1")


def _study_file(tmp_path, text=ISSUE_TOML):
    path = tmp_path / "study.toml"
    path.write_text(text)
    return path


def _study_command(path, out, workers=2):
    return [sys.executable, "-m", "speccal", "study", str(path), "--out", str(out),
            "--workers", str(workers)]  # fmt: skip


def _finished(out):
    return {p.parent.name: p.stat().st_mtime_ns for p in (out / "runs").glob("*/metrics.json")}


def _wait_for_first_trial(process, out, timeout=900):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _finished(out):
            return
        assert process.poll() is None, process.stdout.read()
        time.sleep(0.5)
    raise AssertionError("no trial finished in time")


@pytest.mark.slow
def test_issue_study_survives_a_kill_and_finishes_without_redoing_trials(tmp_path):
    import psutil

    from speccal.datasets import SyntheticPhantoms

    SyntheticPhantoms.write(tmp_path / "data", n_cases=6, shape=(16, 16, 12), seed=0)
    path = _study_file(tmp_path)
    out = tmp_path / "out"
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "SPECCAL_CACHE": str(tmp_path / "c")}
    first = subprocess.Popen(
        _study_command(path, out), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True, env=env, start_new_session=True,
    )  # fmt: skip
    _wait_for_first_trial(first, out)
    workers = psutil.Process(first.pid).children(recursive=True)
    assert workers  # the LocalCluster's worker processes
    os.kill(first.pid, signal.SIGKILL)  # the study alone: its workers must not train on
    first.wait()
    gone, alive = psutil.wait_procs(workers, timeout=30)
    assert not alive, f"orphaned workers {[p.pid for p in alive]}"
    before = _finished(out)
    assert before  # at least the first trial finished before the kill

    second = subprocess.run(
        _study_command(path, out), capture_output=True, text=True, env=env, timeout=1800
    )
    assert second.returncode == 0, second.stdout + second.stderr
    k = len(before)
    assert f"4 trials, {k} finished, {4 - k} to run on 2 local workers" in second.stdout
    after = _finished(out)
    assert sorted(after) == sorted(TRIALS)
    assert {name: after[name] for name in before} == before  # nothing finished was redone
    assert second.stdout.count("/4] ") == 4 - k  # one progress line per trial run
    assert "left" in second.stdout and "elapsed" in second.stdout

    with open(out / "results.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert sorted(r["trial"] for r in rows) == sorted(TRIALS)
    for row in rows:
        metrics = json.loads((out / "runs" / row["trial"] / "metrics.json").read_text())
        for key in ("ece", "sce", "tace", "nll", "dice"):
            assert float(row[key]) == pytest.approx(metrics[key])
        assert row["dataset"] == "synthetic" and row["seed"] in ("0", "1")
    spectral = [r for r in rows if r["method"] == "spectral-lam1"]
    assert {r["param_lam"] for r in spectral} == {"1.0"}
    assert {r["param_window"] for r in spectral} == {"10"}
    config = RunConfig.load(out / "runs" / "spectral-lam1_seed1")
    assert config.loss == "cespectral" and config.loss_params == {"lam": 1.0, "window": 10}
    assert config.patch_size == (16, 16, 16) and config.model_params["base_filters"] == 4
    assert config.seed == 1 and config.epochs == 2 and config.steps_per_epoch == 2
    report = (out / "report.md").read_text()
    assert "Status: 4 of 4 trials finished." in report
    assert "| spectral-lam1 | - | 2 | 2 |" in report  # 2 seeds x 1 test case = 2 pairs
    assert "## Run level: a seed is the unit" in report
    assert "| spectral-lam1 | - | 2 | " in report.split("## Run level")[1]
    assert "## speccal compare at -" in report  # the `speccal compare --reference` table
    assert "| metric | method | runs | mean ± sd | 95% CI | Δ vs ce |" in report
    assert (out / "figures" / "power_spectra.png").is_file()
    assert (out / "figures" / "paired_differences.png").is_file()

    # the same command again: nothing to run; a changed study is refused by trial name
    path.write_text(ISSUE_TOML.replace("epochs = 2", "epochs = 3"))
    with pytest.raises(SystemExit):
        main(["study", str(path), "--out", str(out)])


def test_a_changed_trial_is_refused_by_name(tmp_path, capsys):
    from speccal.experiments._study_run import check_existing_trials

    (tmp_path / "data").mkdir()
    study = load_study(_study_file(tmp_path))
    trials = study.trials(tmp_path / "out")
    run_dir = tmp_path / "out" / "runs" / "ce_seed1"
    run_dir.mkdir(parents=True)
    trial = next(t for t in trials if t.name == "ce_seed1")
    changed = RunConfig.from_dict({**trial.config.to_dict(), "epochs": 5})
    changed.save(run_dir)
    with pytest.raises(ValueError, match=r"trials ce_seed1 \(epochs: 5 -> 2\) were run in"):
        check_existing_trials(tmp_path / "out", trials)
    with pytest.raises(SystemExit):
        main(["study", str(tmp_path / "study.toml"), "--out", str(tmp_path / "out")])
    assert "ce_seed1 (epochs: 5 -> 2)" in capsys.readouterr().err


def test_dry_run_lists_trials_in_run_order_and_writes_nothing(tmp_path, capsys):
    (tmp_path / "data").mkdir()
    path = _study_file(tmp_path)
    assert main(["study", str(path), "--out", str(tmp_path / "out"), "--dry-run"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[1] for line in lines[:4]] == [
        "ce_seed0", "spectral-lam1_seed0", "ce_seed1", "spectral-lam1_seed1"
    ]  # fmt: skip
    assert lines[-1] == "4 trials, 0 finished, 4 to run (16 training steps)"
    assert not (tmp_path / "out").exists()


def test_dry_run_does_not_import_tensorflow(tmp_path):
    (tmp_path / "data").mkdir()
    path = _study_file(tmp_path)
    code = (
        "from speccal.cli import main\n"
        f"assert main(['study', {str(path)!r}, '--out', {str(tmp_path / 'out')!r}, "
        "'--dry-run']) == 0"
    )
    assert modules_loaded_by(code) == []


def test_grids_overrides_and_pairing(tmp_path):
    (tmp_path / "data").mkdir()
    text = ISSUE_TOML.replace("seeds = [0, 1]", "seeds = [0, 1]\nepochs = [1, 2]")
    text = text.replace(
        "params = { lam = 1.0, window = 10 }",
        "params = { lam = 1.0, window = 10 }\ntrain = { lr = 0.1, train_cases = 2 }",
    )
    match = "`methods.spectral-lam1` runs trial 'spectral-lam1_epochs1_seed0' at a setting "
    with pytest.raises(ValueError, match=match + "where the reference 'ce' does not run"):
        load_study(_study_file(tmp_path, text))
    text = text.replace(
        'loss = "ce"\n', 'loss = "ce"\ngrid = { lr = [0.01, 0.1], train_cases = [2] }\n'
    )
    study = load_study(_study_file(tmp_path, text))
    trials = {t.name: t for t in study.trials(tmp_path / "out")}
    assert len(trials) == 2 * 2 * 2 + 2 * 2
    trial = trials["spectral-lam1_epochs2_seed1"]
    assert trial.config.learning_rate == 0.1 and trial.config.train_cases == 2
    assert trial.config.epochs == 2 and trial.steps == 4
    assert trials["ce_epochs1_lr0.1_train_cases2_seed0"].setting == {
        **trial.setting, "epochs": 1
    }  # fmt: skip


@pytest.mark.parametrize(
    "edit, error, match",
    [
        (("[train]", "[train]\nepoch = 3"), ValueError,
         r"`train.epoch` is not a speccal train option; expected one of \["),
        (("[report]", "[reports]"), ValueError, r"`study.reports` is not a known key"),
        (('loss = "ce"', 'loss = "dice"'), ValueError,
         r"`methods.ce.loss` must be one of \('ce', 'cespectral'.*got 'dice'"),
        (('reference = "ce"', 'reference = "cee"'), ValueError,
         r"`report.reference` must be the name of one of the \[\[methods\]\] \['ce', "
         r"'spectral-lam1'\]; got 'cee'"),
        (("window = 10", "windw = 10"), ValueError,
         r"`methods.spectral-lam1.params.windw` is not a known key"),
        (("[train]", "[train]\nseed = 3"), ValueError,
         r"`train.seed` is set by \[grid\] seeds, not here"),
        (("[train]", "[train]\nlam = 3"), ValueError,
         r"`train.lam` is set by \[\[methods\]\] params, not here"),
        (("seeds = [0, 1]", "seeds = 1"), TypeError,
         r"`grid.seeds` must be a non-empty list of values; got 1"),
        (('root = "data"', 'root = "elsewhere"'), FileNotFoundError,
         r"`data.root` must be an existing folder \(relative to the study file\); "
         r"got 'elsewhere'"),
        (("", ""), None, None),
        (("depth = 2", "depth = 2\naugment = 1"), TypeError,
         r"`train.augment` must be true or false; got 1"),
        (('name = "ce"\nloss = "ce"', 'name = "ce"\nloss = "ce"\ntrain = { out = "x" }'),
         ValueError, r"`methods.ce.train.out` is set by the --out of speccal study"),
        (("epochs = 2", "epochs = 0"), ValueError, r"`epochs` must be an int >= 1; got 0"),
        (("[grid]", "[grid]\nbatch_size = 2"), TypeError,
         r"`grid.batch_size` must be a non-empty list of values; got 2"),
        (("[report]", '[[methods]]\nname = "ce"\nloss = "ls"\n[report]'), ValueError,
         r"`methods.ce` is declared twice; method names must be unique"),
        (("=", "= ="), ValueError, r"study.toml is not valid TOML"),
    ],
)  # fmt: skip
def test_malformed_study_is_refused_naming_the_key_before_anything_is_written(
    tmp_path, capsys, edit, error, match
):
    (tmp_path / "data").mkdir()
    old, new = edit
    text = ISSUE_TOML.replace(old, new, 1)
    if error is None:  # the unedited file is valid
        assert load_study(_study_file(tmp_path, text)).reference == "ce"
        return
    path = _study_file(tmp_path, text)
    with pytest.raises(error, match=match):
        load_study(path)
    with pytest.raises(SystemExit):
        main(["study", str(path), "--out", str(tmp_path / "out")])
    assert "speccal study: error:" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_phantoms_are_written_once_and_a_change_is_refused(tmp_path):
    from speccal.experiments._study_run import write_phantoms

    params = {"n_cases": 2, "shape": [8, 8, 6], "n_classes": 3, "seed": 0}
    data = write_phantoms(tmp_path, params)
    files = sorted(p.name for p in data.rglob("*"))
    assert files and not (tmp_path / "data.partial").exists()
    stamp = {p: p.stat().st_mtime_ns for p in data.rglob("*")}
    write_phantoms(tmp_path, params)
    assert {p: p.stat().st_mtime_ns for p in data.rglob("*")} == stamp
    with pytest.raises(ValueError, match=r"`data.phantoms` .* differs from the phantoms"):
        write_phantoms(tmp_path, {**params, "n_cases": 3})


def test_train_cases_is_checked():
    from speccal.experiments._train import _training_cases

    with pytest.raises(ValueError, match="`train_cases` must be None or an int >= 1; got 0"):
        RunConfig(dataset="synthetic", root=".", train_cases=0)
    assert _training_cases(["a", "b", "c"], 2) == ["a", "b"]
    assert _training_cases(["a", "b"], None) == ["a", "b"]
    with pytest.raises(ValueError, match="at most the 2 training cases of the split; got 3"):
        _training_cases(["a", "b"], 3)


@pytest.mark.parametrize(
    ("setting", "expected"),
    [
        ({"epochs": 12, "train_cases": 24}, "epochs=12"),  # only what differs from [train]
        ({"epochs": 12, "train_cases": 6}, "epochs=12, train_cases=6"),
        ({"epochs": 40, "train_cases": 24}, "[train]"),  # the centre: nothing differs
        ({}, "-"),  # nothing varies in the study
    ],
)
def test_report_labels_a_setting_by_what_differs_from_train(setting, expected):
    from speccal.experiments._study_report import _setting_text

    assert _setting_text(setting, {"epochs": 40, "train_cases": 24}) == expected
