"""Run ``speccal`` commands in child processes that can be killed (SIGKILL) or raced.

Children are forked from a multiprocessing *forkserver* that has imported TensorFlow and
speccal once, so a child starts in well under a second instead of paying the imports again.
"""

import multiprocessing
import os
import sys
import time

PRELOAD = ["tensorflow", "keras", "speccal.cli", "speccal.experiments", "speccal.losses",
           "speccal.models", "speccal.datasets", "speccal.inference"]  # fmt: skip
TINY = ["--steps-per-epoch", "2", "--patch-size", "16", "16", "16", "--batch-size", "2",
        "--base-filters", "4", "--depth", "2", "--loss", "cespectral", "--lam", "0.5",
        "--window", "3", "--bands", "3", "--seed", "1", "--quiet"]  # fmt: skip


def _context():
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(PRELOAD)
    return context


def _child(argv, cache_dir, log_path):
    os.environ["SPECCAL_CACHE"] = str(cache_dir)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    with open(log_path, "a") as log:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        sys.stdout = sys.stderr = log
        from speccal.cli import main

        try:
            status = main(argv)
        except SystemExit as exc:
            status = exc.code
        log.flush()
    os._exit(int(status or 0))


def start(argv, cache_dir, log_path):
    """Start ``speccal ARGV`` in a child; its stdout and stderr go to ``log_path``."""
    process = _context().Process(target=_child, args=(list(argv), cache_dir, log_path))
    process.start()
    return process


def wait_for(condition, process, timeout=600.0, interval=0.002):
    """Poll ``condition()`` until true (returns True) or ``process`` ends (returns False)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        if not process.is_alive():
            return bool(condition())
        time.sleep(interval)
    raise TimeoutError("the child neither reached the condition nor ended")
