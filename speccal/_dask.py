"""Dask distributed, speccal's one engine past one machine (DESIGN §5): a client on a
:class:`distributed.LocalCluster` of worker processes, or on a running cluster.

Shared by the commands that map independent tasks to workers: ``speccal study`` (trainings),
``speccal score`` and ``speccal evaluate`` (volumes). Dask is imported here only, when a
command needs it.

API
---
``dask_client(*, scheduler=None, workers=1, worker_env=None)``
    Context manager yielding a ``distributed.Client``: on the running cluster at
    ``scheduler`` (``tcp://host:8786``, started with ``dask scheduler`` / ``dask worker``),
    else on a ``LocalCluster`` of ``workers`` single-threaded processes on the loopback
    interface, closed on exit.
``map_ordered(function, items, *, jobs=1, scheduler=None, progress=False, desc=None)``
    Yield ``function(item)`` for each item **in the order of items** while the tasks run
    concurrently: a plain loop in this process for ``jobs=1`` without a scheduler (Dask is
    not imported), else on ``dask_client(workers=jobs, scheduler=scheduler)``. Results are
    yielded as soon as every earlier one has come, so a caller that folds them
    (``total = total + result``) gets the numbers of the plain loop, in the same order.
    ``function`` and ``items`` are pickled to the workers: ``function`` must be importable
    there (module level, or a ``functools.partial`` of such a function), speccal installed on
    the workers, and every path in the items must mean the same file there (shared storage).
    The first task that raises ends the call: the unfinished tasks are cancelled and the
    task's own exception is raised here (Dask re-raises the worker's exception type and
    message, so an error naming a corrupt file still names it).
``check_engine(jobs=1, scheduler=None)``
    Validate ``jobs`` (int >= 1) and ``scheduler`` (a non-empty str; not with ``jobs > 1``).
``threads_per_worker(workers)``
    ``cores // workers``: the threads each local worker process may use.
"""

import contextlib
import logging
import numbers
import os

__all__ = ["check_engine", "dask_client", "map_ordered", "threads_per_worker"]

_INSTALL_HINT = 'Dask distributed is needed here: pip install "dask[distributed]>=2026.8"'


def _distributed():
    try:
        import distributed
    except ImportError as exc:  # pragma: no cover - a declared dependency
        raise ImportError(_INSTALL_HINT) from exc
    return distributed


def threads_per_worker(workers):
    """Threads each of ``workers`` local processes may use so that together they use the
    machine's cores once: ``cores // workers``, at least 1."""
    return max(1, (os.cpu_count() or 1) // workers)


def _check_workers(workers):
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"`--workers` must be an int >= 1; got {workers!r}.")
    return workers


@contextlib.contextmanager
def dask_client(*, scheduler=None, workers=1, worker_env=None):
    """A :class:`distributed.Client`, closed (with its local cluster) on exit.

    Parameters
    ----------
    scheduler : str, optional
        Address of a running scheduler (``tcp://host:8786``); its workers are used as they
        are. ``None`` starts a :class:`distributed.LocalCluster`.
    workers : int, default=1
        Worker processes of the local cluster, one task at a time each.
    worker_env : dict, optional
        Environment variables of the local worker processes, set before they import
        anything (e.g. TensorFlow's thread counts).

    Yields
    ------
    distributed.Client

    Raises
    ------
    ValueError
        If ``workers`` is not an int >= 1.
    OSError
        If no scheduler answers at ``scheduler`` (the message names the address).
    """
    distributed = _distributed()
    if scheduler is not None:
        try:
            client = distributed.Client(scheduler, timeout="20s")
        except OSError as exc:
            raise OSError(
                f"no Dask scheduler answers at `--scheduler` {scheduler!r}: {exc}"
            ) from exc
        with client:
            yield client
        return
    import dask

    # Dask spawns its workers with MALLOC_TRIM_THRESHOLD_=65536, which also fixes glibc's mmap
    # threshold: every temporary array of the chunked metrics is then mapped and faulted in
    # afresh, and `speccal score --jobs 2` ran 3x slower than `--jobs 1` (6 BraTS-sized
    # volumes: 44 s vs 14 s; one process with that setting: 30 s). The workers keep glibc's
    # defaults, as this process has them (a value set in the environment is still passed on).
    with dask.config.set({"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None}):
        cluster = distributed.LocalCluster(
            n_workers=_check_workers(workers),
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=":0",  # a free port: no clash with other clusters on 8787
            env=dict(worker_env or {}),
            memory_limit=0,  # tasks here are whole trainings: no nanny restarts on memory use
            silence_logs=logging.CRITICAL,  # closed-heartbeat noise at shutdown; tasks raise
        )
    with cluster, distributed.Client(cluster) as client:
        yield client


def check_engine(jobs=1, scheduler=None):
    """Check ``jobs`` and ``scheduler``; return them.

    Raises
    ------
    ValueError
        If ``jobs`` is not an int >= 1, ``scheduler`` is not a non-empty str, or both a
        scheduler and ``jobs > 1`` are given (the cluster's workers run the tasks).
    """
    if isinstance(jobs, bool) or not isinstance(jobs, numbers.Integral) or jobs < 1:
        raise ValueError(f"`jobs` must be an integer >= 1; got {jobs!r}.")
    if scheduler is not None and (not isinstance(scheduler, str) or not scheduler.strip()):
        raise ValueError(
            f"`scheduler` must be the address of a Dask scheduler, e.g. 'tcp://host:8786'; "
            f"got {scheduler!r}."
        )
    if scheduler is not None and jobs > 1:
        raise ValueError(
            f"`jobs` must be 1 with a `scheduler` (the cluster's workers run the tasks); got "
            f"jobs={jobs!r} and scheduler={scheduler!r}."
        )
    return int(jobs), scheduler


def map_ordered(function, items, *, jobs=1, scheduler=None, progress=False, desc=None):
    """Yield ``function(item)`` for each item in order; see the module docstring.

    Parameters
    ----------
    function : callable
        Picklable (module-level) when ``jobs > 1`` or with a scheduler.
    items : iterable
    jobs : int, default=1
        Local worker processes; 1 runs in this process.
    scheduler : str, optional
        Address of a running Dask scheduler.
    progress : bool, default=False
        Show a tqdm progress bar over the finished tasks.
    desc : str, optional
        The progress bar's label.

    Yields
    ------
    object
        The results, in the order of ``items``.

    Raises
    ------
    ValueError
        For invalid ``jobs``/``scheduler``, or an unreachable scheduler.
    Exception
        The first exception raised by a task.
    """
    from tqdm.auto import tqdm

    items = list(items)
    check_engine(jobs, scheduler)
    with tqdm(total=len(items), desc=desc, disable=not progress) as bar:
        if jobs == 1 and scheduler is None:
            for item in items:
                result = function(item)
                bar.update()
                yield result
                del result  # the caller's now: not kept while the next item runs
            return
        yield from _map_on_cluster(function, items, jobs, scheduler, bar)


def _map_on_cluster(function, items, jobs, scheduler, bar):
    with contextlib.ExitStack() as stack:
        try:
            client = stack.enter_context(dask_client(scheduler=scheduler, workers=jobs))
        except OSError as exc:  # an unreachable scheduler: a bad value of the argument
            raise ValueError(f"`scheduler` must be a running Dask scheduler; {exc}") from exc
        futures = client.map(function, items, pure=False)
        position = {future.key: i for i, future in enumerate(futures)}
        done, next_index = {}, 0
        try:
            for future in _distributed().as_completed(futures):
                if future.status == "error":
                    future.result()  # raises the task's exception here
                done[position[future.key]] = future
                bar.update()
                while next_index in done:
                    yield done.pop(next_index).result()
                    futures[next_index] = None  # let the client forget it
                    next_index += 1
        finally:
            client.cancel([f for f in futures if f is not None])
