"""Training runs: check, build, train, checkpoint (model, optimiser and loss state), resume.

Every check (configuration, loss, model, dataset, split, cases) runs before the first byte
of a new run folder is written; the folder is then locked (:class:`RunLock`) for the whole
run, and checkpoints are switched in atomically (:mod:`speccal.experiments._checkpoint`).
"""

import csv
import dataclasses
import io
import logging
import time
import warnings
from pathlib import Path

import numpy as np

from speccal._atomic import write_atomic
from speccal.experiments._checkpoint import restore_checkpoint, save_checkpoint
from speccal.experiments._config import (
    CONFIG_FILE,
    RunConfig,
    _content,
    check_output_dir,
    empty_output_dir,
)
from speccal.experiments._data import load_volumes, open_dataset, run_split
from speccal.experiments._lock import RunLock

LOG_FILE = "train.log"
HISTORY_FILE = "history.csv"
_OUT_HINT = " or --resume to continue it"


def _training_sampler(volumes, config):
    """The seeded :class:`speccal.datasets.PatchSampler` of the training cases."""
    from speccal.datasets import Augmenter, PatchSampler

    return PatchSampler(
        [(v.image, v.label) for v in volumes],
        config.patch_size,
        foreground_fraction=config.foreground_fraction,
        augment=Augmenter() if config.augment else None,
        seed=config.seed,
    )


def _training_batches(sampler, config, first_step):
    """An endless ``tf.data`` pipeline of training batches, keyed by the global step.

    Batch ``t`` holds patches ``t·B … t·B + B - 1`` of the seeded ``sampler``
    (:func:`speccal.datasets.tfdata.patch_dataset`), so a resumed run sees exactly the
    batches an uninterrupted run would.
    """
    from speccal.datasets.tfdata import patch_dataset

    return patch_dataset(
        sampler, batch_size=config.batch_size, start=first_step * config.batch_size
    )


def build_model(config, in_channels, n_classes):
    """The run's network, built from its configuration; its initial weights are seeded by the
    run's seed alone (see ``seed`` of :func:`speccal.models.unet3d`)."""
    from speccal.models import get_model

    params = {"patch_size": config.patch_size, "seed": config.seed, **config.model_params}
    return get_model(config.model, in_channels, n_classes, **params)


def make_loss(config, n_classes):
    """The run's loss from :func:`speccal.losses.get_loss` (``callback`` params excluded).

    CRaC gets ``n_classes`` so that its multipliers exist before the first batch: a resumed
    run can then restore them instead of silently starting them afresh.
    """
    from speccal.losses import get_loss

    params = {k: v for k, v in config.loss_params.items() if k != "callback"}
    if config.loss == "crac":
        params.setdefault("n_classes", n_classes)
    return get_loss(config.loss, **params)


def _training_cases(case_ids, train_cases):
    """The first ``train_cases`` of the split's training cases (all for None)."""
    if train_cases is None:
        return case_ids
    if train_cases > len(case_ids):
        raise ValueError(
            f"`train_cases` must be at most the {len(case_ids)} training cases of the split; "
            f"got {train_cases}."
        )
    return case_ids[:train_cases]


def _check_names(config):
    """Refuse an unknown loss or model before a run directory is made or a case is read."""
    from speccal.losses import LOSS_NAMES
    from speccal.models import MODEL_NAMES

    if str(config.loss).lower() not in LOSS_NAMES:
        raise ValueError(f"`loss` must be one of {', '.join(LOSS_NAMES)}; got {config.loss!r}.")
    if config.model not in MODEL_NAMES:
        raise ValueError(f"`model` must be one of {', '.join(MODEL_NAMES)}; got {config.model!r}.")


def _optimizer(config):
    import keras

    if config.optimizer == "adam":
        return keras.optimizers.Adam(config.learning_rate)
    return keras.optimizers.SGD(config.learning_rate, momentum=config.momentum)


def _strategy(name):
    import tensorflow as tf

    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    return tf.distribute.get_strategy()


def _logger(run_dir):
    logger = logging.getLogger(f"speccal.run.{Path(run_dir).resolve()}")
    logger.setLevel(logging.INFO)
    logger.propagate = False
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
        handler.close()
    handler = logging.FileHandler(Path(run_dir) / LOG_FILE)
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
    logger.addHandler(handler)
    return logger


def _check_out(run_dir, config):
    root = Path(config.root).resolve()
    resolved = Path(run_dir).resolve()
    if resolved == root or root in resolved.parents:
        raise ValueError(
            f"`out` must be outside the dataset folder {str(root)!r} (speccal never writes "
            f"into a dataset); got {str(run_dir)!r}."
        )


def _validation_patches(volumes, config):
    """A fixed, seeded set of ``2·batch_size`` validation patches ``(images, labels)``."""
    from speccal.datasets import PatchSampler

    sampler = PatchSampler(
        [(v.image, v.label) for v in volumes],
        config.patch_size,
        foreground_fraction=config.foreground_fraction,
        seed=config.seed + 1,
    )
    return sampler.batch(range(max(2, 2 * config.batch_size)))


@dataclasses.dataclass
class _Plan:
    """Everything a run needs, built and checked before its folder is written."""

    config: RunConfig
    dataset: object
    parts: dict
    train_case_ids: list
    sampler: object
    validation: tuple
    model: object
    loss: object
    extra_callbacks: list


def _plan(config, run_dir):
    """Check and build the whole run (names, loss, model, dataset, split, cases); write nothing."""
    import keras

    _check_names(config)
    dataset = open_dataset(config.dataset, config.root)
    keras.utils.set_random_seed(config.seed)
    parts = run_split(run_dir, dataset, config.split, config.seed, write=False)
    parts["train"] = _training_cases(parts["train"], config.train_cases)
    # one pass, so the dataset's median spacing (every case header) is computed once
    volumes = load_volumes(dataset, parts["train"] + parts["val"], config.cache_dir)
    train_volumes = volumes[: len(parts["train"])]
    validation = _validation_patches(volumes[len(parts["train"]) :], config)
    n_classes = dataset.n_classes
    with _strategy(config.strategy).scope():
        model = build_model(config, train_volumes[0].image.shape[-1], n_classes)
        loss = make_loss(config, n_classes)
        model.compile(optimizer=_optimizer(config), loss=loss)
    extra = []
    if config.loss == "crac":
        from speccal.losses import CRaCCallback

        extra.append(CRaCCallback(validation, **config.loss_params.get("callback", {})))
    return _Plan(
        config,
        dataset,
        parts,
        [v.case_id for v in train_volumes],
        _training_sampler(train_volumes, config),
        validation,
        model,
        loss,
        extra,
    )


def _trim_history(run_dir, epochs):
    """Keep the rows of ``history.csv`` of the first ``epochs`` epochs (atomic rewrite).

    A run killed after Keras wrote an epoch's row but before its checkpoint switched in
    would otherwise repeat that epoch's row on resume.
    """
    path = Path(run_dir) / HISTORY_FILE
    if not path.is_file():
        return
    rows = list(csv.reader(io.StringIO(path.read_text(), newline="")))
    if not rows or epochs == 0:
        path.unlink()
        return
    header, body = rows[0], rows[1:]
    kept = [row for row in body if len(row) == len(header) and int(row[0]) < epochs]
    out = io.StringIO(newline="")
    csv.writer(out, lineterminator="\n").writerows([header, *kept])
    write_atomic(path, out.getvalue())


class NonFiniteLossError(FloatingPointError):
    """Raised when a training step's loss is NaN or infinite.

    The message names the optimiser step, the epoch and batch, and the cases of the batch's
    patches; the run's last complete checkpoint stays resumable.

    Examples
    --------
    >>> from speccal.experiments import NonFiniteLossError
    >>> issubclass(NonFiniteLossError, FloatingPointError)
    True
    """


def _stop_message(run_dir, plan, epoch, batch, what):
    config = plan.config
    step = epoch * config.steps_per_epoch + batch
    first = step * config.batch_size
    cases = [
        plan.train_case_ids[plan.sampler.volume_of(i)]
        for i in range(first, first + config.batch_size)
    ]
    return (
        f"training stopped at step {step} (epoch {epoch + 1}, batch {batch + 1} of "
        f"{config.steps_per_epoch}): {what}; the batch holds patches of cases "
        f"{sorted(set(cases))} (patches {first}..{first + config.batch_size - 1}): check "
        f"their images and labels, or lower the learning rate. No checkpoint was written "
        f"after it; the last good one stays: `speccal train --out {run_dir} --resume` "
        "continues from it."
    )


def _callbacks(run_dir, plan, resume, logger):
    import keras

    config = plan.config

    class _Checkpoint(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            save_checkpoint(run_dir, self.model, epoch + 1, (epoch + 1) * config.steps_per_epoch)
            shown = ", ".join(f"{k}={v:.4g}" for k, v in sorted((logs or {}).items()))
            logger.info("epoch %d/%d %s", epoch + 1, config.epochs, shown)

    class _StopOnNonFinite(keras.callbacks.Callback):
        """Stop at the first batch whose loss is not finite, naming it."""

        epoch = batch = 0

        def on_epoch_begin(self, epoch, logs=None):
            self.epoch = epoch

        def on_train_batch_begin(self, batch, logs=None):
            self.batch = batch

        def on_train_batch_end(self, batch, logs=None):
            value = (logs or {}).get("loss")
            # Keras' "loss" is the epoch's running mean: it turns NaN/Inf at the first bad batch
            if value is not None and not np.isfinite(float(np.asarray(value))):
                raise NonFiniteLossError(
                    _stop_message(run_dir, plan, self.epoch, batch, f"the loss is {value}")
                )

    watch = _StopOnNonFinite()
    callbacks = [
        keras.callbacks.CSVLogger(str(Path(run_dir) / HISTORY_FILE), append=resume),
        watch,
        *plan.extra_callbacks,
        _Checkpoint(),  # last: it saves the loss state the others updated
    ]
    return callbacks, watch


def _fit(run_dir, plan, resume, progress):
    """Restore (on resume) and train the planned run in its locked folder."""
    import tensorflow as tf

    config, model = plan.config, plan.model
    logger = _logger(run_dir)
    try:
        checkpoint = restore_checkpoint(run_dir, model) if resume else None
        epochs_done = 0 if checkpoint is None else checkpoint.epoch
        if resume and checkpoint is None:
            notice = (
                f"{run_dir} has no complete checkpoint yet: starting again from step 0 with "
                "its config.json."
            )
            logger.info(notice)
            warnings.warn(notice, UserWarning, stacklevel=3)
        _trim_history(run_dir, epochs_done)
        logger.info(
            "%s %s: loss=%s %s, model=%s, %d train / %d val cases, from epoch %d",
            "resume" if resume else "start",
            config.dataset,
            config.loss,
            config.loss_params,
            config.model,
            len(plan.parts["train"]),
            len(plan.parts["val"]),
            epochs_done,
        )
        started = time.perf_counter()
        if epochs_done < config.epochs:
            callbacks, watch = _callbacks(run_dir, plan, resume, logger)
            batches = _training_batches(plan.sampler, config, epochs_done * config.steps_per_epoch)
            try:
                model.fit(
                    batches,
                    epochs=config.epochs,
                    initial_epoch=epochs_done,
                    steps_per_epoch=config.steps_per_epoch,
                    validation_data=plan.validation,
                    callbacks=callbacks,
                    verbose=1 if progress else 0,
                    shuffle=False,
                )
            except tf.errors.InvalidArgumentError as exc:
                if "must be finite" not in exc.message:
                    raise
                what = "the loss found NaN or Inf logits (the weights were not updated)"
                message = _stop_message(run_dir, plan, watch.epoch, watch.batch, what)
                raise NonFiniteLossError(message) from None
        logger.info("done in %.1f s", time.perf_counter() - started)
    except NonFiniteLossError as exc:
        logger.info("%s", exc)
        raise
    finally:
        for handler in list(logger.handlers):
            logger.removeHandler(handler)
            handler.close()
    return model


def train_run(config=None, run_dir=".", *, resume=False, overwrite=False, progress=True):
    """Train a segmentation model as configured and checkpoint it in ``run_dir``.

    Parameters
    ----------
    config : RunConfig, optional
        What to train. With ``resume=True``: None continues as ``run_dir/config.json``
        says; a config (e.g. with more ``epochs``) replaces it.
    run_dir : str or path
        Run directory; it receives ``config.json``, ``split.json`` (the seeded 4:1:1 case
        split), ``train.log``, ``history.csv`` and ``checkpoints/`` (weights, optimiser
        state, loss state such as the spectral ring buffer or CRaC multipliers, finished
        epochs), and a lock file ``.lock``.
    resume : bool, default=False
        Continue from the last complete checkpoint up to ``config.epochs`` (from step 0,
        with a warning, if the run was stopped before its first checkpoint).
    overwrite : bool, default=False
        Replace an existing non-empty ``run_dir`` (only once every check has passed).
    progress : bool, default=True
        Show Keras progress bars.

    Returns
    -------
    keras.Model
        The trained model (the loss stays reachable as ``model.loss``).

    Raises
    ------
    FileExistsError
        If ``run_dir`` exists, is not empty and neither ``resume`` nor ``overwrite`` is set.
    ValueError
        If ``run_dir`` lies inside the dataset folder, or a dataset, loss, model or parameter
        is invalid (the message names it; nothing is written then).
    RunInUseError
        If another process uses ``run_dir`` (the message names its pid).
    NonFiniteLossError
        If a training step's loss is NaN or infinite: the message names the step and the
        cases of its batch; the last complete checkpoint stays resumable.

    Notes
    -----
    Patches are sampled at random from the training cases (half of them centred on
    foreground by default), ``steps_per_epoch`` batches per epoch; validation uses a fixed,
    seeded set of patches from the validation cases. With ``strategy="mirrored"`` the model,
    its optimiser and the loss are created under ``tf.distribute.MirroredStrategy``, so
    ``batch_size`` is the global batch.

    Reliability: every check runs before a new ``run_dir`` is created; the folder is locked
    while the run trains; ``config.json``, ``split.json`` and each checkpoint are switched in
    atomically, so a run killed at any moment resumes (see the user guide's "Reliability").

    Examples
    --------
    >>> from speccal.experiments import RunConfig, train_run  # doctest: +SKIP
    >>> cfg = RunConfig("synthetic", "data", loss="cespectral", epochs=1)  # doctest: +SKIP
    >>> model = train_run(cfg, "runs/cespectral")  # doctest: +SKIP
    """
    run_dir = Path(run_dir)
    lock = RunLock(run_dir, "train --resume" if resume else "train")
    try:
        if resume:
            if run_dir.is_dir():
                lock.acquire()  # before reading: the config may be being written
            saved = RunConfig.load(run_dir)
            config = saved if config is None else config
        else:
            if config is None:
                raise ValueError("`config` must be given unless `resume=True`; got None.")
            _check_names(config)
            open_dataset(config.dataset, config.root)  # lazy: a wrong root is named first
            _check_out(run_dir, config)
            if run_dir.is_dir() and _content(run_dir):
                lock.acquire()  # a folder in use is refused before anything else
            check_output_dir(run_dir, "out", overwrite, _OUT_HINT)
        plan = _plan(config, run_dir)
        if not lock.held:
            run_dir.mkdir(parents=True, exist_ok=True)
            lock.acquire()
        if not resume:
            empty_output_dir(run_dir, "out", overwrite, _OUT_HINT)
        if not resume or config != saved or not (run_dir / CONFIG_FILE).is_file():
            config.save(run_dir)
        run_split(run_dir, plan.dataset, config.split, config.seed)
        return _fit(run_dir, plan, resume, progress)
    finally:
        lock.release()
