"""Scoring and evaluation on a Dask cluster equal the local loop (one LocalCluster per module)."""

import filecmp

import numpy as np
import pytest
from tiny_runs import tiny_config

from speccal._dask import check_engine, map_ordered
from speccal.experiments import score_predictions

distributed = pytest.importorskip("distributed")

from prediction_files import SHAPES, SPACINGS, make_case, write_labels, write_predictions  # noqa: E402


@pytest.fixture(scope="module")
def scheduler():
    """The address of a two-process LocalCluster on the loopback interface."""
    import logging

    with distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=":0",  # a free port: several clusters may run on one machine
        silence_logs=logging.ERROR,
    ) as cluster:
        yield cluster.scheduler_address


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    rng = np.random.default_rng(1)
    cases = []
    for i in range(5):
        label, logits = make_case(rng, SHAPES[i % 3])
        cases.append((f"case_{i}", label, logits, SPACINGS[i % 3], np.diag([*SPACINGS[i % 3], 1])))
    root = tmp_path_factory.mktemp("distributed")
    return write_predictions(root / "preds", cases, "npz"), write_labels(root / "labels", cases)


def _same_outputs(a, b):
    for name in ("metrics.json", "per_volume.csv"):
        assert filecmp.cmp(a / name, b / name, shallow=False), name
    for name in ("reliability.npz", "example.npz"):
        with np.load(a / name) as left, np.load(b / name) as right:
            assert left.files == right.files
            for key in left.files:
                np.testing.assert_array_equal(left[key], right[key], err_msg=f"{name}:{key}")


def test_scheduler_and_jobs_equal_the_local_loop(tmp_path, scheduler, folders):
    preds, labels = folders
    local = score_predictions(preds, labels, tmp_path / "local", progress=False)
    on_cluster = score_predictions(
        preds, labels, tmp_path / "cluster", scheduler=scheduler, progress=False
    )
    assert on_cluster == local
    _same_outputs(tmp_path / "local", tmp_path / "cluster")
    in_processes = score_predictions(preds, labels, tmp_path / "jobs", jobs=2, progress=False)
    assert in_processes == local
    _same_outputs(tmp_path / "local", tmp_path / "jobs")


def test_a_worker_failing_on_a_corrupt_file_names_it(tmp_path, scheduler, folders):
    preds, labels = folders
    broken = tmp_path / "preds"
    broken.mkdir()
    for path in preds.iterdir():
        (broken / path.name).write_bytes(path.read_bytes())
    data = (broken / "case_3.npz").read_bytes()
    (broken / "case_3.npz").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=r"could not read .*case_3\.npz.*truncated or corrupt"):
        score_predictions(broken, labels, tmp_path / "out", scheduler=scheduler, progress=False)


def _square(x):
    return x * x


def test_map_ordered_keeps_the_order_and_checks_its_arguments(scheduler):
    assert list(map_ordered(_square, range(7), scheduler=scheduler)) == [x * x for x in range(7)]
    assert list(map_ordered(_square, range(3))) == [0, 1, 4]
    with pytest.raises(ValueError, match=r"`jobs` must be an integer >= 1; got 0"):
        check_engine(0)
    with pytest.raises(ValueError, match=r"`jobs` must be 1 with a `scheduler`"):
        check_engine(2, "tcp://127.0.0.1:8786")
    with pytest.raises(ValueError, match=r"`scheduler` must be the address of a Dask sched"):
        check_engine(1, "")


@pytest.mark.slow
def test_evaluate_on_the_cluster_equals_local(tmp_path, scheduler):
    pytest.importorskip("tensorflow")
    from speccal.datasets import SyntheticPhantoms
    from speccal.experiments import evaluate_run, train_run

    data = tmp_path / "data"
    SyntheticPhantoms.write(data, n_cases=6, shape=(16, 16, 12), seed=0)
    config = tiny_config(tmp_path, epochs=1, steps_per_epoch=1, seed=0)
    run = tmp_path / "run"
    train_run(config, run, progress=False)
    local = evaluate_run(run, progress=False)
    (run / "metrics.json").rename(tmp_path / "local_metrics.json")
    on_cluster = evaluate_run(run, scheduler=scheduler, progress=False)
    assert on_cluster.keys() == local.keys()
    for key, value in local.items():
        if isinstance(value, float):
            assert on_cluster[key] == pytest.approx(value, rel=1e-9, abs=1e-12), key
        else:
            assert on_cluster[key] == value, key


def _malloc_setting():
    import os

    return os.environ.get("MALLOC_TRIM_THRESHOLD_"), os.environ.get("OMP_NUM_THREADS")


def test_local_workers_keep_glibc_malloc_defaults(monkeypatch):
    # Dask's default MALLOC_TRIM_THRESHOLD_=65536 made `score --jobs 2` 3x slower than
    # `--jobs 1`: the workers must start without it, and still with one thread for BLAS
    from speccal._dask import dask_client

    monkeypatch.delenv("MALLOC_TRIM_THRESHOLD_", raising=False)
    with dask_client(workers=1) as client:
        settings = list(client.run(_malloc_setting).values())
    assert settings == [(None, "1")]
