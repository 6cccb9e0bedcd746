"""One process per run folder: an exclusive OS lock on ``RUN/.lock`` for the process's work.

The lock is :func:`fcntl.flock` on an open file: the kernel drops it when the file is closed
or the process ends in any way (exit, exception, ``SIGKILL``), so a killed run never leaves a
stale lock behind. The file itself stays (removing it would let a second process lock a new
file of the same name while the first still holds the old one); it holds the holder's pid and
command, which the refusal names.
"""

import os
from pathlib import Path

LOCK_FILE = ".lock"


class RunInUseError(RuntimeError):
    """Raised when another process holds a run folder's lock; the message names its pid.

    Examples
    --------
    >>> from speccal.experiments import RunInUseError
    >>> issubclass(RunInUseError, RuntimeError)
    True
    """


def _holder(fd):
    """The pid and command the holder wrote into the lock file (``"unknown"`` if none yet)."""
    os.lseek(fd, 0, os.SEEK_SET)
    text = os.read(fd, 4096).decode("utf-8", "replace").strip()
    pid, _, command = text.partition(" ")
    return (pid or "unknown"), command


class RunLock:
    """An exclusive, non-blocking lock on a run folder (a context manager).

    Parameters
    ----------
    run_dir : str or path
        The run folder; it must exist. ``RUN/.lock`` is created if needed.
    action : str, default="use"
        What the locking process does, written for a refused process to read.

    Raises
    ------
    RunInUseError
        On entering, if another process (or another lock in this process) holds the folder;
        the message names the holder's pid.

    Examples
    --------
    >>> import tempfile
    >>> run = tempfile.mkdtemp()
    >>> with RunLock(run, "train"):
    ...     try:
    ...         RunLock(run).acquire()
    ...     except RunInUseError as exc:
    ...         print("refused")
    refused
    """

    def __init__(self, run_dir, action="use"):
        self.run_dir = Path(run_dir)
        self.action = action
        self._fd = None

    @property
    def path(self):
        """pathlib.Path: the lock file."""
        return self.run_dir / LOCK_FILE

    def acquire(self):
        """Take the lock or raise :class:`RunInUseError`; return ``self``."""
        import fcntl

        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pid, command = _holder(fd)
            os.close(fd)
            doing = f" ({command})" if command else ""
            raise RunInUseError(
                f"run folder {str(self.run_dir)!r} is in use by process {pid}{doing}; one "
                "process per run folder: wait for it to finish or stop it (a stopped or killed "
                "process frees the folder by itself)."
            ) from None
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, f"{os.getpid()} speccal {self.action}\n".encode())
        self._fd = fd
        return self

    def release(self):
        """Drop the lock (the lock file stays)."""
        if self._fd is not None:
            os.close(self._fd)  # closing the last descriptor releases the flock
            self._fd = None

    @property
    def held(self):
        """bool: whether this object holds the lock."""
        return self._fd is not None

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc):
        self.release()
