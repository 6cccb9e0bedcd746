"""A run's checkpoints, written so that a kill at any moment leaves a complete one.

Layout inside a run folder::

    checkpoints/
        latest.json              {"checkpoint": "epoch-0004", "epoch": 4}
        epoch-0003/              the previous checkpoint, kept until the next switch
            weights.weights.h5   model weights, optimiser state and loss state (Keras saving)
            progress.json        {"epoch": 3, "step": 30, "files": {name: {bytes, sha256}}}
        epoch-0004/              the current one

A checkpoint is written whole into a temporary folder (``.tmp-epoch-0005-<pid>``), flushed
to disk, renamed to ``epoch-0005`` and then switched in by replacing ``latest.json``
(:func:`os.replace`, atomic): until that moment ``latest.json`` names the previous, complete
checkpoint. Afterwards checkpoints older than the previous one are removed.

The loss state (the spectral ring buffer, CRaC's multipliers) is saved by Keras' own saving
protocol: ``model.save_weights`` visits the compiled loss and calls its
``save_own_variables``, so the weights file holds model, optimiser and loss together.
"""

import dataclasses
import hashlib
import json
import os
import shutil
import warnings
from pathlib import Path

from speccal._atomic import fsync_dir, fsync_file, write_atomic

CHECKPOINTS_DIR = "checkpoints"
LATEST_FILE = "latest.json"
WEIGHTS_FILE = "weights.weights.h5"
MANIFEST_FILE = "progress.json"
_PREFIX = "epoch-"


class CheckpointError(ValueError):
    """A checkpoint that cannot be read: damaged, missing or from another loss or model.

    The message names the file and how to recover (resume from the previous checkpoint).

    Examples
    --------
    >>> from speccal.experiments import CheckpointError
    >>> issubclass(CheckpointError, ValueError)
    True
    """


def _sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclasses.dataclass(frozen=True)
class Checkpoint:
    """One complete checkpoint of a run.

    Attributes
    ----------
    path : pathlib.Path
        Its folder (``RUN/checkpoints/epoch-0004``).
    epoch : int
        Epochs finished when it was written.
    step : int
        Optimiser steps finished when it was written.
    files : dict
        ``{file name: {"bytes": int, "sha256": str}}`` as written.

    Examples
    --------
    >>> from pathlib import Path
    >>> from speccal.experiments import Checkpoint
    >>> Checkpoint(Path("run/checkpoints/epoch-0002"), epoch=2, step=40, files={}).weights.name
    'weights.weights.h5'
    """

    path: Path
    epoch: int
    step: int
    files: dict

    @property
    def weights(self):
        """pathlib.Path: the Keras weights file (model, optimiser and loss state)."""
        return self.path / WEIGHTS_FILE

    def damage(self):
        """Why a file of the checkpoint differs from what was written, or None if intact."""
        for name, expected in sorted(self.files.items()):
            path = self.path / name
            if not path.is_file():
                return f"{path} is missing"
            size = path.stat().st_size
            if size != expected["bytes"]:
                return f"{path} has {size} bytes, {expected['bytes']} were written"
            if _sha256(path) != expected["sha256"]:
                return f"{path} differs from what was written (sha256)"
        return None


def _read_manifest(folder):
    path = Path(folder) / MANIFEST_FILE
    try:
        data = json.loads(path.read_text())
        return Checkpoint(Path(folder), int(data["epoch"]), int(data["step"]), dict(data["files"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _latest_name(run_dir):
    path = Path(run_dir) / CHECKPOINTS_DIR / LATEST_FILE
    if not path.is_file():
        return None
    try:
        return str(json.loads(path.read_text())["checkpoint"])
    except (ValueError, KeyError, TypeError) as exc:
        raise CheckpointError(f"{path} is corrupt: {exc!r}.") from exc


def latest_checkpoint(run_dir):
    """The run's current checkpoint, or None when it has not completed one.

    Parameters
    ----------
    run_dir : str or path

    Returns
    -------
    Checkpoint or None

    Raises
    ------
    CheckpointError
        If ``checkpoints/latest.json`` names a folder without a readable ``progress.json``.

    Examples
    --------
    >>> import tempfile
    >>> latest_checkpoint(tempfile.mkdtemp()) is None
    True
    """
    name = _latest_name(run_dir)
    if name is None:
        return None
    folder = Path(run_dir) / CHECKPOINTS_DIR / name
    checkpoint = _read_manifest(folder)
    if checkpoint is None:
        raise CheckpointError(
            f"{folder / MANIFEST_FILE} is missing or corrupt; {_recovery(run_dir, None)}"
        )
    return checkpoint


def list_checkpoints(run_dir):
    """Every checkpoint folder of the run with a readable manifest, newest first."""
    folder = Path(run_dir) / CHECKPOINTS_DIR
    if not folder.is_dir():
        return []
    found = [_read_manifest(p) for p in folder.glob(f"{_PREFIX}*") if p.is_dir()]
    return sorted((c for c in found if c is not None), key=lambda c: -c.epoch)


def _previous_intact(run_dir, before):
    """The newest intact checkpoint older than epoch ``before`` (None: any age)."""
    for checkpoint in list_checkpoints(run_dir):
        if (before is None or checkpoint.epoch < before) and checkpoint.damage() is None:
            return checkpoint
    return None


def _recovery(run_dir, epoch):
    """How to recover from a damaged checkpoint of ``epoch``."""
    previous = _previous_intact(run_dir, epoch)
    if previous is None:
        return (
            "no intact earlier checkpoint is left: `speccal train --out "
            f"{run_dir} --resume` starts the run again from step 0 with its config.json."
        )
    return (
        f"the previous checkpoint (epoch {previous.epoch}) is intact: `speccal train --out "
        f"{run_dir} --resume` continues from it; evaluate after that."
    )


def _switch(run_dir, name, epoch):
    """Point ``latest.json`` at checkpoint folder ``name`` (atomic)."""
    data = json.dumps({"checkpoint": name, "epoch": int(epoch)}) + "\n"
    write_atomic(Path(run_dir) / CHECKPOINTS_DIR / LATEST_FILE, data)


def save_checkpoint(run_dir, model, epoch, step):
    """Write a complete checkpoint of ``model`` and switch it in atomically.

    Parameters
    ----------
    run_dir : str or path
        The run folder (held under its lock by the caller).
    model : keras.Model
        Compiled model; its weights file holds the optimiser and the compiled loss's state.
    epoch, step : int
        Epochs and optimiser steps finished.

    Returns
    -------
    Checkpoint
        The new current checkpoint.
    """
    root = Path(run_dir) / CHECKPOINTS_DIR
    root.mkdir(exist_ok=True)
    name = f"{_PREFIX}{int(epoch):04d}"
    temporary = root / f".tmp-{name}-{os.getpid()}"
    shutil.rmtree(temporary, ignore_errors=True)
    temporary.mkdir()
    model.save_weights(temporary / WEIGHTS_FILE)
    fsync_file(temporary / WEIGHTS_FILE)
    files = {
        WEIGHTS_FILE: {
            "bytes": (temporary / WEIGHTS_FILE).stat().st_size,
            "sha256": _sha256(temporary / WEIGHTS_FILE),
        }
    }
    manifest = {"epoch": int(epoch), "step": int(step), "files": files}
    write_atomic(temporary / MANIFEST_FILE, json.dumps(manifest, indent=2) + "\n")
    previous = _latest_name(run_dir)
    final = root / name
    if final.exists():  # left by a run killed between this rename and its switch
        if previous == name:
            raise CheckpointError(f"{final} is the current checkpoint; it is not rewritten.")
        shutil.rmtree(final)
    os.replace(temporary, final)
    fsync_dir(root)
    _switch(run_dir, name, epoch)  # the commit point
    keep = {name, previous}
    for stale in root.iterdir():
        if stale.is_dir() and stale.name not in keep:
            shutil.rmtree(stale, ignore_errors=True)
    return Checkpoint(final, int(epoch), int(step), files)


def load_weights(model, checkpoint):
    """Load a checkpoint's weights file into ``model``, naming the file on failure."""
    try:
        model.load_weights(checkpoint.weights)
    except OSError as exc:  # h5py: truncated or not an HDF5 file
        raise CheckpointError(
            f"{checkpoint.weights} cannot be read ({exc}); "
            f"{_recovery(checkpoint.path.parent.parent, checkpoint.epoch)}"
        ) from exc
    except ValueError as exc:  # Keras: a layer or the loss state does not fit
        raise CheckpointError(
            f"{checkpoint.weights} does not fit the run's model and loss (was config.json "
            f"changed?): {exc}"
        ) from exc


def restore_checkpoint(run_dir, model):
    """Load the run's newest intact checkpoint into ``model``; return it (None: none yet).

    A damaged current checkpoint (a file differing from what was written) is set aside
    with a warning, and the previous one, if intact, becomes current again; with none left
    the run starts again from step 0 (None is returned).

    Parameters
    ----------
    run_dir : str or path
    model : keras.Model
        Compiled as the run's model; its optimiser is built here so that its state loads.

    Returns
    -------
    Checkpoint or None

    Raises
    ------
    CheckpointError
        If the checkpoint does not fit the model or loss.
    """
    current = latest_checkpoint(run_dir)
    if current is None:
        return None
    damage = current.damage()
    if damage is not None:
        previous = _previous_intact(run_dir, current.epoch)
        instead = (
            "step 0" if previous is None else f"the previous checkpoint (epoch {previous.epoch})"
        )
        warnings.warn(
            f"the run's checkpoint is damaged: {damage}; resuming from {instead} instead.",
            UserWarning,
            stacklevel=3,
        )
        if previous is None:
            os.unlink(Path(run_dir) / CHECKPOINTS_DIR / LATEST_FILE)
            fsync_dir(Path(run_dir) / CHECKPOINTS_DIR)
            return None
        _switch(run_dir, previous.path.name, previous.epoch)
        current = previous
    if model.optimizer is not None and not model.optimizer.built:
        model.optimizer.build(model.trainable_variables)
    load_weights(model, current)
    return current
