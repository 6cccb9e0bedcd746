"""Running a study's trials as independent Dask tasks, restartably.

Guarantees (tested in ``tests/experiments/test_study.py``):

- A trial is finished when its ``metrics.json`` exists (written last, atomically, by
  :func:`evaluate_run`); a rerun skips it. A trial with a checkpoint but no metrics resumes
  from the checkpoint; one without a checkpoint starts again.
- Before anything runs, every existing trial folder's ``config.json`` is compared with the
  trial's configuration: a trial whose configuration changed is refused by name.
- One process per run folder: each trial holds an exclusive lock (``OUT/locks/NAME.lock``,
  ``fcntl.flock``) while it trains and evaluates; a second process that reaches the same
  trial waits for it and then finds it finished.
- Local workers die with the study: each worker process watches its parent (the study's
  process, which holds the :class:`distributed.LocalCluster`) and exits within a second when
  it is gone, so a killed study leaves no orphan training. On a cluster (``--scheduler``) a
  trial that is running when the study's client dies runs to its end on its worker (Dask
  cannot interrupt a running task); its result is kept and a rerun skips it, or waits for
  it through the lock when the locks are on a shared file system.
"""

import contextlib
import os
import shutil
import threading
import time
from pathlib import Path

from distributed.diagnostics.plugin import WorkerPlugin

from speccal.experiments._config import CONFIG_FILE, RunConfig
from speccal.experiments._run_folder import METRICS_FILE, read_json, write_json
from speccal.experiments._study import CACHE_DIR, DATA_DIR, PHANTOMS_FILE, RUNS_DIR

LOCKS_DIR = "locks"


def trial_status(out, trial):
    """``"done"``, ``"started"`` (a folder without ``metrics.json``) or ``"new"``."""
    run_dir = Path(out) / RUNS_DIR / trial.name
    if (run_dir / METRICS_FILE).is_file():
        return "done"
    return "started" if run_dir.exists() else "new"


def check_existing_trials(out, trials):
    """Refuse trials whose folder holds a different configuration, naming them."""
    changed = []
    for trial in trials:
        path = Path(out) / RUNS_DIR / trial.name / CONFIG_FILE
        if not path.is_file():
            continue
        saved = RunConfig.load(path.parent).to_dict()
        wanted = trial.config.to_dict()
        keys = sorted(k for k in wanted if saved.get(k) != wanted[k])
        if keys:
            diff = ", ".join(f"{k}: {saved.get(k)!r} -> {wanted[k]!r}" for k in keys)
            changed.append(f"{trial.name} ({diff})")
    if changed:
        raise ValueError(
            f"the study's trials {'; '.join(changed)} were run in {str(out)!r} with another "
            "configuration; a study file must not change once it has run (declare a new "
            "study, or use a new --out)."
        )


def write_phantoms(out, params):
    """Write the study's synthetic phantoms into ``OUT/data`` once (atomic switch-in).

    ``OUT/phantoms.json`` records the parameters; a rerun with other parameters is refused.
    """
    out = Path(out)
    data, record = out / DATA_DIR, out / PHANTOMS_FILE
    if data.is_dir() and record.is_file():
        saved = read_json(record)
        if saved != params:
            raise ValueError(
                f"`data.phantoms` {params!r} differs from the phantoms already written in "
                f"{str(data)!r} ({saved!r}); a study file must not change once it has run."
            )
        return data
    from speccal.datasets import SyntheticPhantoms

    partial = out / (DATA_DIR + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    shutil.rmtree(data, ignore_errors=True)
    params = dict(params)
    if "shape" in params:
        params["shape"] = tuple(params["shape"])
    SyntheticPhantoms.write(partial, **params)
    os.replace(partial, data)
    write_json(record, dict(params, **_shape_list(params)))
    return data


def _shape_list(params):
    return {"shape": list(params["shape"])} if "shape" in params else {}


@contextlib.contextmanager
def _exclusive(lock_path):
    """Hold an exclusive ``flock`` on ``lock_path`` (waits while another process holds it)."""
    import fcntl

    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _limit_threads(threads):
    """TensorFlow's thread pools to ``threads`` each, if TensorFlow has not started yet."""
    import tensorflow as tf

    with contextlib.suppress(RuntimeError):  # already initialised: the env vars held
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)


def run_trial(config, out, name, threads=None):
    """Train and evaluate one trial (a Dask task); return its metrics and wall time.

    Parameters
    ----------
    config : dict
        :meth:`RunConfig.to_dict` of the trial.
    out : str
        The study's output folder.
    name : str
        The trial's folder name under ``OUT/runs/``.
    threads : int, optional
        TensorFlow threads per pool in this process.

    Returns
    -------
    dict
        ``{"metrics": metrics.json content, "seconds": wall time, "skipped": bool}``.
    """
    from speccal.experiments._evaluate import evaluate_run
    from speccal.experiments._run_folder import read_results
    from speccal.experiments._train import train_run

    if threads is not None:
        _limit_threads(threads)
    run_dir = Path(out) / RUNS_DIR / name
    started = time.perf_counter()
    with _exclusive(Path(out) / LOCKS_DIR / f"{name}.lock"):
        if (run_dir / METRICS_FILE).is_file():
            return {"metrics": read_results([run_dir])[0], "seconds": 0.0, "skipped": True}
        if (run_dir / CONFIG_FILE).is_file():  # started: resume (from step 0 if no checkpoint)
            train_run(None, run_dir, resume=True, progress=False)
        else:
            train_run(RunConfig.from_dict(config), run_dir, overwrite=True, progress=False)
        metrics = evaluate_run(run_dir, progress=False)
    return {"metrics": metrics, "seconds": time.perf_counter() - started, "skipped": False}


class _ParentWatch(WorkerPlugin):
    """Worker plugin: limit thread counts and exit when the parent process is gone.

    A :class:`distributed.LocalCluster` worker process is a child of the study's process; if
    that process is killed (``kill -9``), nothing tells the worker, which would go on
    training. The watch polls the parent pid every ``interval`` seconds and ends the process
    when it changes (the worker was re-parented).
    """

    name = "speccal-study-parent-watch"

    def __init__(self, interval=1.0):
        super().__init__()
        self.interval = interval

    def setup(self, worker):
        parent = os.getppid()

        def watch():
            while True:
                time.sleep(self.interval)
                if os.getppid() != parent:
                    os._exit(3)

        threading.Thread(target=watch, daemon=True, name="speccal-parent-watch").start()


def worker_env(threads):
    """Environment of local trial workers: ``threads`` TensorFlow/OpenMP threads each."""
    return {
        "TF_NUM_INTRAOP_THREADS": str(threads),
        "TF_NUM_INTEROP_THREADS": str(threads),
        "OMP_NUM_THREADS": str(threads),
        "TF_CPP_MIN_LOG_LEVEL": os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2"),
    }


def run_trials(trials, out, *, workers=2, scheduler=None, on_result=None):
    """Run the unfinished ``trials`` on Dask; call ``on_result(trial, result)`` as each ends.

    Returns the list of ``(trial, exception)`` of the trials that failed.
    """
    from distributed import as_completed

    from speccal._dask import dask_client, threads_per_worker

    threads = threads_per_worker(workers) if scheduler is None else None
    env = worker_env(threads) if scheduler is None else None
    failures = []
    with dask_client(scheduler=scheduler, workers=workers, worker_env=env) as client:
        if scheduler is None:
            client.register_plugin(_ParentWatch())
        futures = {}
        for index, trial in enumerate(trials):
            future = client.submit(
                run_trial,
                trial.config.to_dict(),
                str(out),
                trial.name,
                threads,
                key=f"speccal-trial-{trial.name}",
                priority=len(trials) - index,  # in the study file's order
                pure=False,
            )
            futures[future] = trial
        for future in as_completed(futures):
            trial = futures[future]
            try:
                result = future.result()
            except Exception as exc:  # a trial's failure is reported, the others go on
                failures.append((trial, exc))
                result = None
            if on_result is not None:
                on_result(trial, result)
    return failures


__all__ = ["check_existing_trials", "run_trial", "run_trials", "trial_status", "write_phantoms"]
_ = CACHE_DIR  # the cache folder is set in each trial's RunConfig (see _study.Study.trials)
