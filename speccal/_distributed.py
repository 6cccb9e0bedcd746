"""Independent tasks run here, in local processes, or on a Dask cluster: speccal's one engine.

Past one machine speccal uses Dask distributed (DESIGN.md §5): scoring or evaluating a test set
maps volumes to workers, a study maps trials to workers. This module is the only place that
talks to Dask; the rest of speccal calls :func:`map_ordered`.

API
---
``map_ordered(function, items, *, jobs=1, scheduler=None, progress=False, desc=None)``
    Yield ``function(item)`` for each item, **in the order of items**, while the tasks run
    concurrently. Where they run:

    - ``jobs=1`` and no ``scheduler``: a plain loop in this process (Dask is not imported);
    - ``jobs=N > 1``: a ``distributed.LocalCluster`` of N single-threaded worker processes
      on the loopback interface, started for the call and closed after it;
    - ``scheduler="tcp://host:8786"``: a client of that running cluster (``dask scheduler`` and
      ``dask worker`` started by the user). ``function`` and ``items`` are pickled to the
      workers, so ``function`` must be importable there (a module-level function, or a
      ``functools.partial`` of one), speccal must be installed on the workers, and every path
      in the items must mean the same file there (shared storage).

    Results come back to this process and are yielded as soon as every earlier one has come,
    so a caller that folds them (``total = total + result``) gets the numbers of the plain
    loop in the same order. The first task that raises ends the call: the tasks not yet
    finished are cancelled and the task's own exception is raised here (Dask re-raises the
    worker's exception type and message, so an error naming a corrupt file still names it).

``check_engine(jobs, scheduler)``
    Validate the two arguments (``jobs`` an int >= 1; ``scheduler`` a non-empty string;
    not both) and return them.

``cluster_client(jobs=1, scheduler=None)``
    Context manager yielding a ``distributed.Client`` for ``jobs > 1`` or a scheduler
    address, and None for the plain loop; used by :func:`map_ordered`, usable for other
    patterns (``client.map``/``client.submit``) such as a study's trials.
"""

import contextlib
import logging
import numbers

__all__ = ["check_engine", "cluster_client", "map_ordered"]


def check_engine(jobs=1, scheduler=None):
    """Check ``jobs`` and ``scheduler``; return them.

    Raises
    ------
    ValueError
        If ``jobs`` is not an int >= 1, ``scheduler`` is not a non-empty str, or both a
        scheduler and ``jobs > 1`` are given (the cluster decides its workers).
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


@contextlib.contextmanager
def cluster_client(jobs=1, scheduler=None):
    """A Dask client for ``jobs > 1`` (a local cluster) or a scheduler address, else None."""
    jobs, scheduler = check_engine(jobs, scheduler)
    if jobs == 1 and scheduler is None:
        yield None
        return
    try:
        from distributed import Client, LocalCluster
    except ImportError as exc:  # pragma: no cover - a core dependency
        raise ImportError(
            "Running on several processes or a cluster needs Dask: "
            "pip install 'dask[distributed]'."
        ) from exc
    if scheduler is not None:
        try:
            client = Client(scheduler, timeout="20s")
        except OSError as exc:
            raise ValueError(
                f"`scheduler` must be the address of a running Dask scheduler; could not "
                f"connect to {scheduler!r}: {exc}"
            ) from exc
        with client:
            yield client
        return
    cluster = LocalCluster(
        n_workers=jobs,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=":0",  # a free port: several clusters may run on one machine
        silence_logs=logging.ERROR,
    )
    with cluster, Client(cluster) as client:
        yield client


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
            return
        yield from _map_on_cluster(function, items, jobs, scheduler, bar)


def _map_on_cluster(function, items, jobs, scheduler, bar):
    from distributed import as_completed

    with cluster_client(jobs, scheduler) as client:
        futures = client.map(function, items, pure=False)
        position = {future.key: i for i, future in enumerate(futures)}
        done, next_index = {}, 0
        try:
            for future in as_completed(futures):
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
