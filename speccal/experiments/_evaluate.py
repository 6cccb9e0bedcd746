"""Evaluation of a run on its test cases: metrics, per-volume table, reliability, spectrum."""

import warnings
from pathlib import Path

import numpy as np

from speccal._names import SEGMENTATION_METRICS as SEGMENTATION_KEYS
from speccal._names import TABLE_CALIBRATION_METRICS
from speccal.experiments._config import RunConfig
from speccal.experiments._data import load_volumes, open_dataset, run_split
from speccal.experiments._run_folder import save_run

CALIBRATION_KEYS = (*TABLE_CALIBRATION_METRICS, "boundary_ece", "nll")
#: Metrics of ``per_volume.csv`` also given per class, as columns ``{metric}_{k}`` (the naming
#: of the segmentation columns ``dice_{k}``).
PER_CLASS_KEYS = ("sce", "tace")
N_BINS = 15
TACE_THRESHOLD = 1e-3
#: Width (mm) of the boundary band of ``boundary_ece``.
BOUNDARY_WIDTH = 2.0

AGGREGATION = (
    "table values are unweighted means over the test volumes of each volume's value "
    "(the protocol's pooled ece/sce/tace/boundary_ece are the *_pooled keys of metrics.json); "
    f"boundary_ece: top-label ECE of the voxels within {BOUNDARY_WIDTH:g} mm of a boundary of "
    "the reference, mean over the volumes that have one; "
    "dice/hd95/asd average the foreground classes of a volume, distances in mm"
)


def _protocol(evaluator):
    bins = f"{N_BINS} bins (TACE: equal-mass, threshold {TACE_THRESHOLD:g})"
    return f"voxels and bins: {evaluator.protocol_.describe()}; {bins}; {AGGREGATION}"


def _example(volume, probs):
    """Slices through the test case's largest foreground section along the last axis."""
    axis_sum = (volume.label > 0).sum(axis=tuple(range(volume.label.ndim - 1)))
    index = int(np.argmax(axis_sum))
    return {
        "case_id": np.array(volume.case_id),
        "slice_index": np.array(index),
        "image": volume.image[..., index, 0],
        "label": volume.label[..., index],
        "confidence": probs[..., index, :].max(-1),
        "probability": probs[..., index, :],
    }


def _mean_spectrum(max_logit_maps):
    from speccal.analysis import radial_power_spectrum

    n_bins = min(min(m.shape) // 2 + 1 for m in max_logit_maps)
    spectra = [radial_power_spectrum(m, window="hamming", n_bins=n_bins) for m in max_logit_maps]
    return spectra[0][0], np.mean([p for _, p in spectra], axis=0)


def _class_columns(calibration, index):
    """``{metric}_{k}`` of volume ``index``: class k's own SCE / TACE term."""
    return {
        f"{key}_{k}": float(value)
        for key in PER_CLASS_KEYS
        for k, value in enumerate(calibration.volume_class_scores_[key][index])
    }


def _volume_mean(rows, key):
    """Mean of a column of ``per_volume.csv``; boundary_ece leaves out the NaN of volumes
    without a boundary (NaN if no volume has one)."""
    values = np.array([row[key] for row in rows], dtype=float)
    if key == "boundary_ece":
        values = values[~np.isnan(values)]
        if values.size == 0:
            return float("nan")
    return float(np.mean(values))


def load_trained_model(run_dir, config, in_channels, n_classes):
    """Rebuild the run's network and load its last checkpointed weights."""
    from speccal.experiments._train import CHECKPOINT_DIR, WEIGHTS_FILE, build_model

    weights = Path(run_dir) / CHECKPOINT_DIR / WEIGHTS_FILE
    if not weights.is_file():
        raise FileNotFoundError(f"{weights} not found: train the run before evaluating it.")
    model = build_model(config, in_channels, n_classes)
    model.load_weights(weights, skip_mismatch=False)
    return model


def evaluate_run(run_dir, *, batch_size=2, progress=True):
    """Evaluate a trained run on its test cases and write the result files.

    Parameters
    ----------
    run_dir : str or path
        A run written by :func:`speccal.experiments.train_run`.
    batch_size : int, default=2
        Windows per model call in sliding-window inference.
    progress : bool, default=True
        Show a progress bar over the test volumes.

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
        If ``run_dir`` holds no configuration or no checkpoint.

    Notes
    -----
    Each test volume is predicted with
    :func:`speccal.inference.sliding_window_predict` (Gaussian blending, the run's patch
    size and overlap). Written files: ``metrics.json``; ``per_volume.csv`` (``case_id``,
    each metric per volume, the per-class segmentation columns ``dice_{k}``, ``hd95_{k}``,
    ``asd_{k}`` of the foreground classes, then for every class k = 0..n_classes-1,
    background included, ``sce_{k}`` (class k's class-wise ECE, the term SCE averages) and
    ``tace_{k}`` (class k's TACE term));
    ``reliability.npz`` (``bin_count``, ``bin_confidence``, ``bin_accuracy`` of the pooled
    top-label ECE bins); ``spectrum.npz`` (``frequencies``, ``power``: the mean
    Hamming-windowed radial power spectrum of the test volumes' max-logit maps,
    :func:`speccal.analysis.radial_power_spectrum`); ``example.npz`` (``image``, ``label``,
    ``confidence``, ``probability`` slices of the test case with most foreground).

    Examples
    --------
    >>> from speccal.experiments import evaluate_run  # doctest: +SKIP
    >>> evaluate_run("runs/cespectral")["ece"]  # doctest: +SKIP
    """
    from scipy import special
    from tqdm.auto import tqdm

    from speccal.evaluation import CalibrationEvaluator, SegmentationEvaluator
    from speccal.inference import sliding_window_predict

    run_dir = Path(run_dir)
    config = RunConfig.load(run_dir)
    dataset = open_dataset(config.dataset, config.root)
    parts = run_split(run_dir, dataset, config.split, config.seed)
    volumes = load_volumes(dataset, parts["test"], config.cache_dir)
    n_classes = dataset.n_classes
    model = load_trained_model(run_dir, config, volumes[0].image.shape[-1], n_classes)
    calibration = CalibrationEvaluator(
        metrics=CALIBRATION_KEYS,
        n_bins=N_BINS,
        threshold=TACE_THRESHOLD,
        boundary_width=BOUNDARY_WIDTH,
        per_volume=True,
    )
    segmentation = SegmentationEvaluator(n_classes=n_classes)
    max_logits, example = [], None
    for volume in tqdm(volumes, desc="evaluate", disable=not progress):
        logits = sliding_window_predict(
            model,
            volume.image,
            config.patch_size,
            overlap=config.overlap,
            batch_size=batch_size,
            return_logits=True,
        )
        probs = special.softmax(logits, axis=-1)
        calibration.partial_fit(volume.label, probs, spacing=volume.spacing)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # inf distances are kept and shown
            segmentation.partial_fit(
                y_true=volume.label,
                y_pred=probs.argmax(-1),
                spacing=volume.spacing,
                case_id=volume.case_id,
            )
        max_logits.append(logits.max(-1))
        foreground = int((volume.label > 0).sum())
        if example is None or foreground > example[0]:
            example = (foreground, _example(volume, probs))
    rows = []
    for i, record in enumerate(segmentation.records_):
        row = {"case_id": record["case_id"]}
        row.update({k: float(calibration.volume_scores_[k][i]) for k in CALIBRATION_KEYS})
        row.update({k: float(np.mean(segmentation.scores_[k][i])) for k in SEGMENTATION_KEYS})
        row.update({k: v for k, v in record.items() if k != "case_id"})
        row.update(_class_columns(calibration, i))
        rows.append(row)
    frequencies, power = _mean_spectrum(max_logits)
    metrics = {
        "method": config.method,
        "dataset": config.dataset,
        "loss_params": config.loss_params,
        "model": config.model,
        "seed": config.seed,
        "n_volumes": len(rows),
        **{k: _volume_mean(rows, k) for k in (*CALIBRATION_KEYS, *SEGMENTATION_KEYS)},
        **{f"{k}_pooled": float(calibration.scores_[k]) for k in CALIBRATION_KEYS},
        "protocol": _protocol(calibration),
    }
    save_run(
        run_dir,
        metrics=metrics,
        per_volume={key: [row[key] for row in rows] for key in rows[0]},
        reliability={
            "bin_count": calibration.bin_count_,
            "bin_confidence": calibration.bin_confidence_,
            "bin_accuracy": calibration.bin_accuracy_,
        },
        spectrum={"frequencies": frequencies, "power": power},
        example=example[1],
    )
    return metrics
