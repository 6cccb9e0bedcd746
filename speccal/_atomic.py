"""Writes that survive a kill: a temporary name, flushed to disk, then ``os.replace``.

A reader sees either the old file or the new one, never a torn one: ``os.replace`` is an
atomic rename on POSIX and Windows when both names are in one folder, and the data is
``fsync``-ed before the rename (and the folder after it), so a power cut cannot reorder them.
"""

import contextlib
import os
from pathlib import Path


def fsync_dir(path):
    """Flush a folder's entries (new, renamed, removed names) to disk; no-op where unsupported."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # Windows cannot open folders; its renames are journaled
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def fsync_file(path):
    """Flush a file's data to disk."""
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())


def write_atomic(path, data):
    """Write ``data`` (str or bytes) to ``path`` so that a kill leaves the old or new content.

    Parameters
    ----------
    path : str or path
        Destination; its folder must exist.
    data : str or bytes
        Text is encoded as UTF-8.

    Returns
    -------
    pathlib.Path
        ``path``.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "a.json"
    >>> _ = write_atomic(path, '{"epoch": 1}\\n')
    >>> path.read_text()
    '{"epoch": 1}\\n'
    """
    path = Path(path)
    data = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    temporary = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(temporary, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
    fsync_dir(path.parent)
    return path
