"""Training runs: build, train, checkpoint (model, optimiser and loss state) and resume."""

import json
import logging
import time
from pathlib import Path

import numpy as np

from speccal.experiments._config import RunConfig, empty_output_dir
from speccal.experiments._data import load_volumes, open_dataset, run_split

CHECKPOINT_DIR = "checkpoint"
WEIGHTS_FILE = "weights.weights.h5"
LOSS_STATE_FILE = "loss_state.npz"
PROGRESS_FILE = "progress.json"
LOG_FILE = "train.log"
HISTORY_FILE = "history.csv"


def loss_variables(loss, prefix="loss", _depth=0, _seen=None):
    """Every variable a loss object holds (spectral buffer, CRaC multipliers, ...).

    Parameters
    ----------
    loss : object
        A loss; its attributes are searched (three levels deep) for TensorFlow or Keras
        variables.

    Returns
    -------
    dict of str to variable
        Variables keyed by attribute path (e.g. ``"loss.regularizer.buffer"``), sorted.

    Examples
    --------
    >>> import keras
    >>> loss_variables(keras.losses.SparseCategoricalCrossentropy())
    {}
    """
    import keras
    import tensorflow as tf

    seen = set() if _seen is None else _seen
    if id(loss) in seen or _depth > 3:
        return {}
    seen.add(id(loss))
    found = {}
    attributes = getattr(loss, "__dict__", {})
    for name in sorted(attributes):
        value = attributes[name]
        path = f"{prefix}.{name}"
        if isinstance(value, tf.Variable | keras.Variable):
            found[path] = value
        elif isinstance(value, list | tuple):
            for i, item in enumerate(value):
                if isinstance(item, tf.Variable | keras.Variable):
                    found[f"{path}.{i}"] = item
        elif hasattr(value, "__dict__") and not isinstance(value, type):
            if isinstance(value, keras.layers.Layer | keras.optimizers.Optimizer):
                continue
            found.update(loss_variables(value, path, _depth + 1, seen))
    return dict(sorted(found.items()))


def save_checkpoint(run_dir, model, loss, epoch):
    """Write weights + optimiser state, the loss variables and the finished epoch count."""
    ckpt = Path(run_dir) / CHECKPOINT_DIR
    ckpt.mkdir(exist_ok=True)
    model.save_weights(ckpt / WEIGHTS_FILE)
    state = {k: np.asarray(v.numpy()) for k, v in loss_variables(loss).items()}
    np.savez(ckpt / LOSS_STATE_FILE, **state)
    (ckpt / PROGRESS_FILE).write_text(json.dumps({"epoch": int(epoch)}) + "\n")


def restore_checkpoint(run_dir, model, loss):
    """Load a checkpoint written by :func:`save_checkpoint`; return the finished epochs."""
    ckpt = Path(run_dir) / CHECKPOINT_DIR
    epochs = finished_epochs(run_dir)
    if model.optimizer is not None and not model.optimizer.built:
        model.optimizer.build(model.trainable_variables)
    model.load_weights(ckpt / WEIGHTS_FILE)
    variables = loss_variables(loss)
    with np.load(ckpt / LOSS_STATE_FILE) as state:
        missing = sorted(set(variables) - set(state.files))
        if missing:
            raise ValueError(f"{ckpt / LOSS_STATE_FILE} lacks the loss variables {missing}.")
        extra = sorted(set(state.files) - set(variables))
        if extra:
            raise ValueError(
                f"{ckpt / LOSS_STATE_FILE} holds loss variables {extra} that the run's loss "
                f"({type(loss).__name__}) does not have; was the run's loss changed?"
            )
        for name, variable in variables.items():
            variable.assign(state[name])
    return epochs


def finished_epochs(run_dir):
    """Epochs completed by the run's last checkpoint."""
    path = Path(run_dir) / CHECKPOINT_DIR / PROGRESS_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: the run has no checkpoint to resume.")
    return json.loads(path.read_text())["epoch"]


def _training_batches(volumes, config, first_step):
    """An endless ``tf.data`` pipeline of training batches, keyed by the global step.

    Batch ``t`` holds patches ``t·B … t·B + B - 1`` of a seeded
    :class:`speccal.datasets.PatchSampler` (:func:`speccal.datasets.tfdata.patch_dataset`),
    so a resumed run sees exactly the batches an uninterrupted run would.
    """
    from speccal.datasets import Augmenter, PatchSampler
    from speccal.datasets.tfdata import patch_dataset

    sampler = PatchSampler(
        [(v.image, v.label) for v in volumes],
        config.patch_size,
        foreground_fraction=config.foreground_fraction,
        augment=Augmenter() if config.augment else None,
        seed=config.seed,
    )
    return patch_dataset(
        sampler, batch_size=config.batch_size, start=first_step * config.batch_size
    )


def build_model(config, in_channels, n_classes):
    """The run's network, built from its configuration."""
    from speccal.models import get_model

    params = {"patch_size": config.patch_size, **config.model_params}
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


def _prepare_run_dir(run_dir, config, resume, overwrite):
    run_dir = Path(run_dir)
    if resume:
        if config is None:
            return RunConfig.load(run_dir)
        config.save(run_dir)
        return config
    if config is None:
        raise ValueError("`config` must be given unless `resume=True`; got None.")
    root = Path(config.root).resolve()
    if run_dir.resolve() == root or root in run_dir.resolve().parents:
        raise ValueError(
            f"`out` must be outside the dataset folder {str(root)!r} (speccal never writes "
            f"into a dataset); got {str(run_dir)!r}."
        )
    empty_output_dir(run_dir, "out", overwrite, " or --resume to continue it")
    config.save(run_dir)
    return config


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


def _callbacks(run_dir, loss, config, validation, resume, logger):
    import keras

    class _Checkpoint(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            save_checkpoint(run_dir, self.model, loss, epoch + 1)
            shown = ", ".join(f"{k}={v:.4g}" for k, v in sorted((logs or {}).items()))
            logger.info("epoch %d/%d %s", epoch + 1, config.epochs, shown)

    callbacks = [keras.callbacks.CSVLogger(str(Path(run_dir) / HISTORY_FILE), append=resume)]
    if config.loss == "crac":
        from speccal.losses import CRaCCallback

        callbacks.append(CRaCCallback(validation, **config.loss_params.get("callback", {})))
    callbacks.append(_Checkpoint())  # last: it saves the loss state the others updated
    return callbacks


def train_run(config=None, run_dir=".", *, resume=False, overwrite=False, progress=True):
    """Train a segmentation model as configured and checkpoint it in ``run_dir``.

    Parameters
    ----------
    config : RunConfig, optional
        What to train; ignored (read from ``run_dir/config.json``) when ``resume=True``.
    run_dir : str or path
        Run directory; it receives ``config.json``, ``split.json`` (the seeded 4:1:1 case
        split), ``train.log``, ``history.csv`` and ``checkpoint/`` (weights, optimiser state,
        loss variables such as the spectral ring buffer or CRaC multipliers, finished epochs).
    resume : bool, default=False
        Continue from the last checkpoint up to ``config.epochs``.
    overwrite : bool, default=False
        Replace an existing non-empty ``run_dir``.
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
        If ``run_dir`` lies inside the dataset folder, or a dataset, loss or model name is
        unknown (the message lists the valid ones; nothing is written then).

    Notes
    -----
    Patches are sampled at random from the training cases (half of them centred on
    foreground by default), ``steps_per_epoch`` batches per epoch; validation uses a fixed,
    seeded set of patches from the validation cases. With ``strategy="mirrored"`` the model,
    its optimiser and the loss are created under ``tf.distribute.MirroredStrategy``, so
    ``batch_size`` is the global batch.

    Examples
    --------
    >>> from speccal.experiments import RunConfig, train_run  # doctest: +SKIP
    >>> cfg = RunConfig("synthetic", "data", loss="cespectral", epochs=1)  # doctest: +SKIP
    >>> model = train_run(cfg, "runs/cespectral")  # doctest: +SKIP
    """
    import keras

    # names and dataset are checked first, so a wrong one leaves no half-made run behind
    if config is not None:
        _check_names(config)
    dataset = None if config is None else open_dataset(config.dataset, config.root)
    config = _prepare_run_dir(run_dir, config, resume, overwrite)
    if dataset is None:
        dataset = open_dataset(config.dataset, config.root)
    logger = _logger(run_dir)
    keras.utils.set_random_seed(config.seed)
    parts = run_split(run_dir, dataset, config.split, config.seed)
    parts["train"] = _training_cases(parts["train"], config.train_cases)
    # one pass, so the dataset's median spacing (every case header) is computed once
    volumes = load_volumes(dataset, parts["train"] + parts["val"], config.cache_dir)
    train_volumes = volumes[: len(parts["train"])]
    validation = _validation_patches(volumes[len(parts["train"]) :], config)
    epochs_done = finished_epochs(run_dir) if resume else 0
    in_channels = train_volumes[0].image.shape[-1]
    n_classes = dataset.n_classes
    batches = _training_batches(train_volumes, config, epochs_done * config.steps_per_epoch)
    with _strategy(config.strategy).scope():
        model = build_model(config, in_channels, n_classes)
        loss = make_loss(config, n_classes)
        model.compile(optimizer=_optimizer(config), loss=loss)
    if resume:
        restore_checkpoint(run_dir, model, loss)
    logger.info(
        "%s %s: loss=%s %s, model=%s, %d train / %d val cases, from epoch %d",
        "resume" if resume else "start",
        config.dataset,
        config.loss,
        config.loss_params,
        config.model,
        len(train_volumes),
        len(parts["val"]),
        epochs_done,
    )
    started = time.perf_counter()
    if epochs_done < config.epochs:
        model.fit(
            batches,
            epochs=config.epochs,
            initial_epoch=epochs_done,
            steps_per_epoch=config.steps_per_epoch,
            validation_data=validation,
            callbacks=_callbacks(run_dir, loss, config, validation, resume, logger),
            verbose=1 if progress else 0,
            shuffle=False,
        )
    logger.info("done in %.1f s", time.perf_counter() - started)
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
        handler.close()
    return model
