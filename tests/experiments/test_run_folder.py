"""The run folder's result files: one writer (standard JSON, os.replace), one reader."""

import json

import numpy as np
import pytest
from run_folders import save_fake_run

from speccal.experiments import RunResult, _run_folder, load_run, read_results, save_run


def _strict_json(text):
    """``json.loads`` that refuses the non-standard ``Infinity``, ``-Infinity`` and ``NaN``."""

    def refuse(name):
        raise ValueError(f"non-standard JSON constant {name}")

    return json.loads(text, parse_constant=refuse)


# -- one writer, standard JSON ---------------------------------------------------------------


def test_metrics_json_is_standard_json_and_round_trips_non_finite_numbers(tmp_path, rng):
    run_dir = save_fake_run(
        tmp_path / "r",
        rng,
        hd95=np.float64(np.inf),
        asd=[1.5, float("inf")],
        boundary_ece=float("nan"),
        low=-np.inf,
        seed=np.int64(3),
    )
    stored = _strict_json((run_dir / "metrics.json").read_text())
    assert (stored["hd95"], stored["asd"], stored["boundary_ece"]) == ("inf", [1.5, "inf"], "nan")
    assert (stored["low"], stored["seed"]) == ("-inf", 3)
    for metrics in (load_run(run_dir).metrics, read_results([run_dir])[0]):
        assert metrics["hd95"] == np.inf and metrics["low"] == -np.inf
        assert metrics["asd"] == [1.5, np.inf]
        assert np.isnan(metrics["boundary_ece"])
    assert load_run(run_dir).metric("asd") == np.inf


def test_files_written_before_the_standard_form_still_read(tmp_path, rng):
    run_dir = save_fake_run(tmp_path / "r", rng)
    metrics = json.loads((run_dir / "metrics.json").read_text())
    (run_dir / "metrics.json").write_text(json.dumps({**metrics, "hd95": float("inf")}))
    assert "Infinity" in (run_dir / "metrics.json").read_text()
    assert load_run(run_dir).metric("hd95") == np.inf


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path, rng, monkeypatch):
    run_dir = save_fake_run(tmp_path / "r", rng)
    before = load_run(run_dir).spectrum["power"].copy()

    def killed(handle, **arrays):
        handle.write(b"PK\x03\x04 half a zip")
        raise KeyboardInterrupt

    monkeypatch.setattr(_run_folder.np, "savez", killed)
    with pytest.raises(KeyboardInterrupt):
        _run_folder.write_npz(run_dir / "spectrum.npz", {"frequencies": [0.0], "power": [9.0]})
    monkeypatch.undo()
    np.testing.assert_array_equal(load_run(run_dir).spectrum["power"], before)
    assert sorted(p.name for p in run_dir.iterdir()) == [
        "example.npz",
        "metrics.json",
        "per_volume.csv",
        "reliability.npz",
        "spectrum.npz",
    ]


def test_config_json_goes_through_the_same_writer(tmp_path):
    from speccal.experiments import RunConfig

    config = RunConfig(dataset="synthetic", root=str(tmp_path), loss="ce")
    path = config.save(tmp_path)
    assert _strict_json(path.read_text()) == config.to_dict()
    assert RunConfig.load(tmp_path) == config


# -- reading: values, and errors that name the file ----------------------------------------


def test_load_run_reads_hand_written_files(tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    metrics = {"method": "ls", "dataset": "brats2020", "protocol": {"voxels": "all"}}
    metrics |= {"ece": 0.01, "sce": 0.02, "tace": 0.03, "hd95": [2.0, 4.0], "asd": 1.0}
    metrics["dice"] = [0.8, 0.9]
    (run_dir / "metrics.json").write_text(json.dumps(metrics))
    (run_dir / "per_volume.csv").write_text(
        "case_id,dice_1,dice_2,ece\n001,0.8,0.6,0.01\n002,0.9,0.7,inf\n"
    )
    np.savez(run_dir / "reliability.npz", bin_count=[1, 2], bin_confidence=[0.2, 0.8],
             bin_accuracy=[0.1, 0.9])  # fmt: skip
    np.savez(run_dir / "spectrum.npz", frequencies=[0.0, 0.5], power=[3.0, 1.0])
    example = {"case_id": "002", "slice_index": 1, "image": np.ones((3, 3))}
    example |= {"label": np.eye(3, dtype=int), "confidence": np.eye(3)}
    np.savez(
        run_dir / "example.npz", probability=np.stack([1 - np.eye(3), np.eye(3)], -1), **example
    )
    run = load_run(run_dir)
    assert (run.method, run.dataset) == ("ls", "brats2020")
    assert run.metric("dice") == pytest.approx(0.85)
    assert run.metric("hd95") == pytest.approx(3.0)
    np.testing.assert_allclose(run.per_volume_values("dice"), [0.7, 0.8])
    np.testing.assert_array_equal(run.per_volume_values("ece"), [0.01, np.inf])
    assert run.per_volume["case_id"].tolist() == ["001", "002"]
    np.testing.assert_array_equal(run.example["confidence"], np.eye(3))
    np.testing.assert_array_equal(run.spectrum["power"], [3.0, 1.0])


def test_save_run_round_trip(tmp_path, rng):
    run = load_run(save_fake_run(tmp_path / "r", rng, n_cases=3))
    assert run.per_volume["case_id"].tolist() == ["case_000", "case_001", "case_002"]
    assert run.per_volume["dice"].dtype == np.float64
    assert run.example["probability"].shape == (12, 10, 2)
    assert run.metrics["protocol"] == "pooled"


@pytest.mark.parametrize(
    "name", ["metrics.json", "per_volume.csv", "reliability.npz", "spectrum.npz", "example.npz"]
)
def test_load_run_names_a_missing_file(tmp_path, rng, name):
    run_dir = save_fake_run(tmp_path / "r", rng)
    (run_dir / name).unlink()
    with pytest.raises(FileNotFoundError, match=rf"{name} is missing: run `speccal evaluate"):
        load_run(run_dir)


def test_load_run_names_corrupt_files(tmp_path, rng):
    run_dir = save_fake_run(tmp_path / "r", rng)
    with pytest.raises(FileNotFoundError, match="`run_dir` must be a run directory"):
        load_run(tmp_path / "nowhere")
    (run_dir / "spectrum.npz").write_bytes(b"not a zip")
    with pytest.raises(ValueError, match=r"spectrum.npz is not a readable .npz file"):
        load_run(run_dir)
    np.savez(run_dir / "spectrum.npz", frequencies=[0.0])
    with pytest.raises(
        ValueError, match=r"spectrum.npz must hold the keys .* missing \['power'\]"
    ):
        load_run(run_dir)
    (run_dir / "metrics.json").write_text("{oops")
    with pytest.raises(ValueError, match=r"metrics.json is not valid JSON"):
        load_run(run_dir)
    (run_dir / "metrics.json").write_text(json.dumps({"method": "ce"}))
    with pytest.raises(ValueError, match=r"metrics.json must hold the keys .*'dataset'"):
        load_run(run_dir)


def test_run_result_errors(tmp_path, rng):
    runs = [load_run(save_fake_run(tmp_path / "r", rng))]
    with pytest.raises(ValueError, match="`name` must be a metric of .*metrics.json; got 'nll'"):
        runs[0].metric("nll")
    with pytest.raises(ValueError, match="`name` must be a numeric column of .*got 'asd'"):
        runs[0].per_volume_values("asd")
    with pytest.raises(ValueError, match="`per_volume` columns must have one length"):
        save_run(
            "unused", metrics=runs[0].metrics, per_volume={"case_id": [1, 2], "dice": [1]},
            reliability=runs[0].reliability, spectrum=runs[0].spectrum, example=runs[0].example,
        )  # fmt: skip


RUN = {"method": "ce", "dice": 0.80, "ece": 0.20, "protocol": "P"}


def test_read_results_names_the_unevaluated_run(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "metrics.json").write_text(json.dumps(RUN))
    assert read_results([tmp_path / "a"]) == [RUN]
    with pytest.raises(FileNotFoundError, match=r"run `speccal evaluate .*b` before comparing"):
        read_results([tmp_path / "a", tmp_path / "b"])


def test_run_result_from_fields():
    run = RunResult(
        path=None, metrics={"method": "ce", "dataset": "acdc", "dice": [0.8, 0.9]},
        per_volume={}, reliability={}, spectrum={}, example={},
    )  # fmt: skip
    assert (run.method, run.dataset, run.metric("dice")) == ("ce", "acdc", pytest.approx(0.85))
