"""``speccal score``: the metrics of ``speccal evaluate`` on predictions saved by any framework."""

from dataclasses import replace
from functools import partial
from pathlib import Path

import numpy as np

from speccal.experiments._predictions import (
    check_axes,
    match_predictions,
    read_label,
    read_stored_prediction,
)
from speccal.experiments._results import (
    VolumeScores,
    example_slices,
    save_maps,
    score_volume,
    summary_metrics,
    write_evaluation,
)
from speccal.experiments._run_folder import METRICS_FILE


def score_case(pair, *, out_dir=None, protocol="speccal", from_logits=False, axes=None):
    """Read and score one case (one task of :func:`score_predictions`).

    Parameters
    ----------
    pair : PredictionPair
        The case's prediction and label files.
    out_dir : path, optional
        Where ``maps/`` is written; no maps when None.
    protocol, from_logits, axes
        As in :func:`score_predictions`.

    Returns
    -------
    VolumeScores

    Raises
    ------
    ValueError
        If a file cannot be read, the shapes differ, or the values are not finite
        probabilities summing to 1 (not finite logits); the message names the file.
    """
    label, spacing, affine = read_label(pair.label)
    stored, order = read_stored_prediction(pair.prediction, axes)
    if stored.flags.f_contiguous and not stored.flags.c_contiguous:
        # NIfTI data: its axes reversed, the same memory is a C-ordered array (no copy), as
        # nnU-Net's .npz arrays are read: class planes (C, Z, Y, X), scored in that order
        stored, order = stored.T, order[::-1]
    elif not (stored.flags.c_contiguous or isinstance(stored, np.memmap)):
        # the evaluators would gather each chunk's rows through an index, twice (the exact
        # TACE reads them again): one C-ordered copy is faster
        stored = np.ascontiguousarray(stored)
    y_prob = np.transpose(stored, [order.index(axis) for axis in "xyzc"])  # a view
    if y_prob.shape[:-1] != label.shape:
        raise ValueError(
            f"{str(pair.prediction)!r}: the prediction's spatial shape {y_prob.shape[:-1]} "
            f"(read as (X, Y, Z, C) = {y_prob.shape}) must equal the shape {label.shape} of the "
            f"label {str(pair.label)!r} (wrong --axes?)."
        )
    # scored in the stored order (no transposed copy): the label's axes follow it
    spatial = ["xyz".index(axis) for axis in order if axis != "c"]
    try:
        scores = score_volume(
            label.transpose(spatial),
            stored,
            spacing=tuple(spacing[i] for i in spatial),
            case_id=pair.case_id,
            protocol=protocol,
            from_logits=from_logits,
            class_axis=order.index("c"),
            example=False,
        )
    except ValueError as exc:
        hint = "" if from_logits else " (logits? pass --logits)"
        raise ValueError(f"{str(pair.prediction)!r}: {exc}{hint}") from exc
    scores.example = example_slices(label, y_prob, case_id=pair.case_id)
    if out_dir is not None:
        save_maps(out_dir, pair.case_id, label, y_prob, affine, from_logits=from_logits)
    return scores


def _check_out(out_dir, pred_dir, label_dir):
    """Create ``out_dir``; refuse a data folder or a non-empty folder that is not a result."""
    out = Path(out_dir).resolve()
    for name, folder in (("pred_dir", pred_dir), ("label_dir", label_dir)):
        folder = Path(folder).resolve()
        if out == folder or folder in out.parents:
            raise ValueError(
                f"`out` must lie outside `{name}` (speccal never writes into your data); got "
                f"{str(out_dir)!r} in {str(folder)!r}."
            )
    if out.is_dir() and any(out.iterdir()) and not (out / METRICS_FILE).is_file():
        raise FileExistsError(
            f"`out` {str(out_dir)!r} holds files but no {METRICS_FILE}: give a new or empty "
            "folder, or an earlier `speccal score` output to replace."
        )
    out.mkdir(parents=True, exist_ok=True)
    return out


def score_predictions(
    pred_dir,
    label_dir,
    out_dir,
    *,
    protocol="speccal",
    from_logits=False,
    axes=None,
    save_maps=False,
    jobs=1,
    scheduler=None,
    allow_missing=False,
    progress=True,
):
    """Score saved probability maps against reference labels; write a run-like folder.

    Parameters
    ----------
    pred_dir : str or path
        Predictions ``<case>.npz`` (nnU-Net v2 ``--save_probabilities``, ``(C, Z, Y, X)``),
        ``<case>.npy`` ``(X, Y, Z, C)`` or 4-D NIfTI ``<case>.nii.gz`` ``(X, Y, Z, C)``
        (MONAI ``SaveImage``); nnU-Net's ``.pkl``/``.json`` files and the label maps beside
        its ``.npz`` files are ignored.
    label_dir : str or path
        Reference labels ``<case>.nii.gz`` / ``<case>.nii``; the spacing comes from their
        headers.
    out_dir : str or path
        Output folder: new, empty, or an earlier output (its files are replaced); never inside
        ``pred_dir`` or ``label_dir``.
    protocol : str or EvaluationProtocol, default="speccal"
        Calibration protocol (a preset name: ``"speccal"``, ``"nixon"``, ``"mbls"``,
        ``"monai"``).
    from_logits : bool, default=False
        The files hold logits (a softmax over classes is applied).
    axes : str, optional
        Stored axis order overriding the per-format default, e.g. ``"czyx"``, ``"cxyz"``,
        ``"xyzc"``.
    save_maps : bool, default=False
        Write ``maps/<case>_prediction.nii.gz``, ``_confidence``, ``_entropy`` and ``_error``
        with the label's affine.
    jobs : int, default=1
        Local processes scoring volumes in parallel.
    scheduler : str, optional
        Address of a running Dask scheduler: each volume is scored on a worker (which must
        see the files at the same paths) and the scores merged here.
    allow_missing : bool, default=False
        Skip cases that have a prediction but no label (or the reverse) with a warning,
        instead of refusing them.
    progress : bool, default=True
        Show a progress bar.

    Returns
    -------
    dict
        The content of ``OUT/metrics.json``: ``method`` (the predictions' folder name),
        ``dataset`` (the labels' folder name), ``predictions``, ``labels``, ``n_volumes``,
        ``ece``, ``sce``, ``tace``, ``dice``, ``hd95``, ``asd`` (means over volumes),
        ``ece_pooled``, ``sce_pooled``, ``tace_pooled`` and ``protocol``, as
        :func:`speccal.experiments.evaluate_run` writes them.

    Raises
    ------
    ValueError
        For a missing case (unless ``allow_missing``), an unreadable or mismatched file (the
        message names it), or invalid arguments.
    FileExistsError
        If ``out_dir`` holds files of something else.

    Notes
    -----
    Volumes are read and scored one at a time (one per worker in parallel): peak memory is
    about one volume and its validated copies, plus the evaluators' fixed-size bin sums.
    ``per_volume.csv``, ``reliability.npz`` and ``example.npz`` (no ``image``: none is read)
    are written as by ``speccal evaluate``; ``spectrum.npz`` is not (the max-logit maps of
    the paper's spectra are not in probability files), so ``speccal figures`` leaves out the
    power-spectrum figure for such a folder. Same numbers with any ``jobs`` or scheduler.

    Examples
    --------
    >>> from speccal.experiments import score_predictions  # doctest: +SKIP
    >>> score_predictions("nnunet_out", "labelsTs", "scores")["ece"]  # doctest: +SKIP
    """
    from speccal._dask import check_engine, map_ordered
    from speccal.evaluation import EvaluationProtocol

    check_engine(jobs, scheduler)
    axes = check_axes(axes)
    if isinstance(protocol, str):
        protocol = EvaluationProtocol.preset(protocol)
    pairs = match_predictions(pred_dir, label_dir, allow_missing=allow_missing)
    out = _check_out(out_dir, pred_dir, label_dir)
    task = partial(
        score_case,
        out_dir=out if save_maps else None,
        protocol=protocol,
        from_logits=from_logits,
        axes=axes,
    )
    pairs = [replace(p, prediction=p.prediction.resolve(), label=p.label.resolve()) for p in pairs]
    scores = VolumeScores([])
    for volume_scores in map_ordered(
        task, pairs, jobs=jobs, scheduler=scheduler, progress=progress, desc="score"
    ):
        scores = scores + volume_scores
        del volume_scores  # not kept while the next volume is scored
    metrics = summary_metrics(
        scores,
        method=Path(pred_dir).resolve().name,
        dataset=Path(label_dir).resolve().name,
        predictions=str(Path(pred_dir).resolve()),
        labels=str(Path(label_dir).resolve()),
    )
    write_evaluation(out, metrics, scores)
    return metrics
