"""Dask distributed, speccal's one engine past one machine (DESIGN §5): a client on a
:class:`distributed.LocalCluster` of worker processes, or on a running cluster.

Shared by the commands that map independent tasks to workers (``speccal study``; scoring).
Dask is imported here only, when a command needs it.
"""

import contextlib
import logging
import os

__all__ = ["dask_client", "threads_per_worker"]

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
    cluster = distributed.LocalCluster(
        n_workers=_check_workers(workers),
        threads_per_worker=1,
        processes=True,
        dashboard_address=":0",  # a free port: no clash with other clusters on 8787
        env=dict(worker_env or {}),
        memory_limit=0,  # tasks here are whole trainings: no nanny restarts on memory use
        silence_logs=logging.ERROR,
    )
    with cluster, distributed.Client(cluster) as client:
        yield client
