"""Evaluation of a run on its test cases: metrics, per-volume table, reliability, spectrum."""

from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path

import numpy as np
from scipy import special

from speccal.experiments._checkpoint import CHECKPOINTS_DIR, LATEST_FILE, latest_checkpoint
from speccal.experiments._config import RunConfig
from speccal.experiments._data import load_volumes, open_dataset, run_split
from speccal.experiments._lock import RunLock
from speccal.experiments._results import (
    VolumeScores,
    save_maps,
    score_volume,
    summary_metrics,
    write_evaluation,
)

#: Per process: run folder -> (checkpoint stamp, config, dataset, model), so that a loop or a
#: Dask worker scoring several cases of one run opens its dataset and loads its model once.
_OPEN_RUNS = {}


def _mean_spectrum(max_logit_maps):
    from speccal.analysis import radial_power_spectrum

    n_bins = min(min(m.shape) // 2 + 1 for m in max_logit_maps)
    spectra = [radial_power_spectrum(m, window="hamming", n_bins=n_bins) for m in max_logit_maps]
    return {"frequencies": spectra[0][0], "power": np.mean([p for _, p in spectra], axis=0)}


def load_trained_model(run_dir, config, in_channels, n_classes):
    """Rebuild the run's network and load its current checkpoint's weights.

    Raises
    ------
    FileNotFoundError
        If the run has no complete checkpoint.
    CheckpointError
        If the checkpoint's weights file is damaged (named, with how to recover) or does not
        fit the model.
    """
    from speccal.experiments._checkpoint import CheckpointError, _recovery, load_weights
    from speccal.experiments._train import build_model

    checkpoint = latest_checkpoint(run_dir)
    if checkpoint is None:
        raise FileNotFoundError(
            f"{Path(run_dir) / CHECKPOINTS_DIR / LATEST_FILE} not found: the run has no "
            "complete checkpoint; train it (or `speccal train --out RUN --resume` it) before "
            "evaluating."
        )
    damage = checkpoint.damage()
    if damage is not None:
        raise CheckpointError(
            f"the run's checkpoint is damaged: {damage}; {_recovery(run_dir, checkpoint.epoch)}"
        )
    model = build_model(config, in_channels, n_classes)
    load_weights(model, checkpoint)
    return model


def _open_run(run_dir):
    """The run's config, dataset and model (None until a first volume gives its channels)."""
    run_dir = Path(run_dir).resolve()
    checkpoint = latest_checkpoint(run_dir)
    stamp = None if checkpoint is None else (checkpoint.path.name, checkpoint.files)
    cached = _OPEN_RUNS.get(run_dir)
    if cached is None or cached[0] != stamp:
        from speccal.datasets import PreprocessedDataset

        config = RunConfig.load(run_dir)
        dataset = open_dataset(config.dataset, config.root)
        # wrapped once: the median spacing is read from every case's header
        prepared = PreprocessedDataset(dataset, cache_dir=config.cache_dir)
        cached = [stamp, config, prepared, None]
        _OPEN_RUNS.clear()  # one run at a time per process
        _OPEN_RUNS[run_dir] = cached
    return cached


def evaluate_case(run_dir, case_id, *, batch_size=2, protocol="speccal", save_maps_to=None):
    """Predict one test case of a run and score it (one task of :func:`evaluate_run`).

    Runs in the calling process or on a Dask worker, which then needs the run folder, the
    dataset and the preprocessing cache at the same paths (shared storage).

    Returns
    -------
    VolumeScores
        With the case's max-logit map, for ``spectrum.npz``.
    """
    volume, logits = predict_case(run_dir, case_id, batch_size=batch_size)
    return score_case(volume, logits, protocol=protocol, save_maps_to=save_maps_to)


def predict_case(run_dir, case_id, *, batch_size=2):
    """The test case ``case_id`` of a run and its blended logits (sliding window)."""
    from speccal.inference import sliding_window_predict

    opened = _open_run(run_dir)
    _, config, dataset, model = opened
    volume = load_volumes(dataset, [case_id])[0]
    if model is None:
        model = opened[3] = load_trained_model(
            run_dir, config, volume.image.shape[-1], dataset.n_classes
        )
    logits = sliding_window_predict(
        model,
        volume.image,
        config.patch_size,
        overlap=config.overlap,
        batch_size=batch_size,
        return_logits=True,
    )
    return volume, logits


def score_case(volume, logits, *, protocol="speccal", save_maps_to=None):
    """Scores of one predicted case (numpy only: runs on a host thread beside inference)."""
    probs = special.softmax(logits, axis=-1)
    scores = score_volume(
        volume.label,
        probs,
        spacing=volume.spacing,
        case_id=volume.case_id,
        protocol=protocol,
        image=volume.image,
    )
    if save_maps_to is not None:
        save_maps(save_maps_to, volume.case_id, volume.label, probs, volume.affine)
    scores.max_logits.append(logits.max(-1))
    return scores


def overlapped_scores(run_dir, case_ids, *, batch_size=2, protocol, save_maps_to, progress):
    """Yield each case's scores in order, scoring case i on a host thread while case i + 1
    is predicted (numpy and TensorFlow both release the GIL), so that the metrics hide
    behind inference. At most two cases are held: the one scored and the one predicted.
    The numbers are those of :func:`evaluate_case` run one after the other."""
    from tqdm.auto import tqdm

    score = partial(score_case, protocol=protocol, save_maps_to=save_maps_to)
    with (
        ThreadPoolExecutor(max_workers=1, thread_name_prefix="speccal-score") as pool,
        tqdm(total=len(case_ids), desc="evaluate", disable=not progress) as bar,
    ):
        pending = None
        for predicted, case_id in enumerate(case_ids, start=1):
            bar.set_postfix_str(f"predicting {predicted}/{len(case_ids)}")
            volume, logits = predict_case(run_dir, case_id, batch_size=batch_size)
            if pending is not None:
                yield pending.result()
                bar.update()
            pending = pool.submit(score, volume, logits)
            del volume, logits
        if pending is not None:
            bar.set_postfix_str("scoring the last case")
            yield pending.result()
            bar.update()


def evaluate_run(
    run_dir, *, batch_size=2, protocol="speccal", save_maps=False, scheduler=None, progress=True
):
    """Evaluate a trained run on its test cases and write the result files.

    Parameters
    ----------
    run_dir : str or path
        A run written by :func:`speccal.experiments.train_run`.
    batch_size : int, default=2
        Windows per model call in sliding-window inference.
    protocol : str or EvaluationProtocol, default="speccal"
        Calibration protocol: a preset of :class:`speccal.evaluation.EvaluationProtocol`
        (``"speccal"``, ``"nixon"``, ``"mbls"``, ``"monai"``) or a protocol object.
    save_maps : bool, default=False
        Also write ``maps/<case>_prediction.nii.gz``, ``_confidence``, ``_entropy`` and
        ``_error`` per test case (on the preprocessed grid, with its affine).
    scheduler : str, optional
        Address of a running Dask scheduler (``tcp://host:8786``): each test case is
        predicted and scored on a worker, the scores merged here in case order (same numbers
        as without). Workers need speccal, the run folder, the dataset and the preprocessing
        cache at the same paths.
    progress : bool, default=True
        Show a progress bar over the scored test volumes (its postfix: the volume being
        predicted).

    Returns
    -------
    dict
        The content of ``metrics.json``: ``method``, ``dataset``, ``loss_params``, ``seed``,
        ``n_volumes``, ``ece``, ``sce``, ``tace``, ``boundary_ece``, ``nll``, ``dice``,
        ``hd95``, ``asd`` (means over the test volumes), ``ece_pooled``, ``sce_pooled``,
        ``tace_pooled``, ``boundary_ece_pooled``, ``nll_pooled`` and ``protocol``.
        ``boundary_ece`` is the ECE of the voxels within ``BOUNDARY_WIDTH`` = 2 mm of a
        boundary of the reference (:func:`speccal.metrics.boundary_calibration_error`, with
        each volume's spacing); its mean leaves out a volume with a single reference label
        (no boundary: NaN in ``per_volume.csv``, with a warning). ``nll`` is the mean
        negative log-likelihood of the true class over the voxels.
        ``hd95`` and ``asd`` are ``inf`` when a test volume misses a class the reference has
        (or the reverse); ``metrics.json`` then holds the string ``"inf"`` (standard JSON,
        read back as a float by :func:`speccal.experiments.read_results`).

    Raises
    ------
    FileNotFoundError
        If ``run_dir`` holds no configuration or no complete checkpoint.
    ValueError
        If ``protocol`` is not a preset name or protocol.
    CheckpointError
        If the checkpoint is damaged (the message names the file and how to recover).
    RunInUseError
        If another process uses ``run_dir`` (e.g. still trains it; the message names it).

    Notes
    -----
    Each test volume is predicted with
    :func:`speccal.inference.sliding_window_predict` (Gaussian blending, the run's patch
    size and overlap, blended on the device); without a scheduler, volume i is scored on a
    host thread while volume i + 1 is predicted (two volumes in memory, the same numbers as
    one after the other). Written files: ``metrics.json``;
    ``per_volume.csv`` (``case_id`` and each metric per volume); ``reliability.npz``
    (``bin_count``, ``bin_confidence``, ``bin_accuracy`` of the pooled top-label ECE bins);
    ``spectrum.npz`` (``frequencies``, ``power``: the mean Hamming-windowed radial power
    spectrum of the test volumes' max-logit maps,
    :func:`speccal.analysis.radial_power_spectrum`); ``example.npz`` (``image``, ``label``,
    ``confidence``, ``probability`` slices of the test case with most foreground).

    Examples
    --------
    >>> from speccal.experiments import evaluate_run  # doctest: +SKIP
    >>> evaluate_run("runs/cespectral", protocol="mbls")["ece"]  # doctest: +SKIP
    """
    from speccal.evaluation import EvaluationProtocol

    if isinstance(protocol, str):
        protocol = EvaluationProtocol.preset(protocol)
    run_dir = Path(run_dir)
    config = RunConfig.load(run_dir)
    with RunLock(run_dir, "evaluate"):
        return _evaluate(run_dir, config, batch_size, protocol, save_maps, scheduler, progress)


def _evaluate(run_dir, config, batch_size, protocol, save_maps, scheduler, progress):
    from speccal._dask import map_ordered

    dataset = open_dataset(config.dataset, config.root)
    case_ids = run_split(run_dir, dataset, config.split, config.seed)["test"]
    task = partial(
        evaluate_case,
        run_dir.resolve(),
        batch_size=batch_size,
        protocol=protocol,
        save_maps_to=run_dir.resolve() if save_maps else None,
    )
    if scheduler is None:  # one process: score each case while the next is predicted
        results = overlapped_scores(
            run_dir.resolve(),
            case_ids,
            batch_size=batch_size,
            protocol=protocol,
            save_maps_to=task.keywords["save_maps_to"],
            progress=progress,
        )
    else:
        results = map_ordered(
            task, case_ids, scheduler=scheduler, progress=progress, desc="evaluate"
        )
    scores = VolumeScores([])
    try:
        for volume_scores in results:
            scores = scores + volume_scores
    finally:
        _OPEN_RUNS.pop(run_dir.resolve(), None)  # the model of a local loop
    metrics = summary_metrics(scores, **config._identity_fields())
    write_evaluation(run_dir, metrics, scores, spectrum=_mean_spectrum(scores.max_logits))
    return metrics
