"""What ``speccal evaluate`` and ``speccal score`` compute per volume and write into a folder.

One volume is scored by :func:`score_volume` into a :class:`VolumeScores`; the scores of several
volumes merge with ``+`` (the calibration evaluators' additive bin sums, the per-volume rows
concatenated), so volumes can be scored in any process or on any Dask worker and merged on the
client in case order: the result equals one pass over the volumes. The metric keys live here
once, for both commands: :data:`CALIBRATION_KEYS` (adding a metric that
:class:`~speccal.evaluation.CalibrationEvaluator` computes is one entry there) and
:data:`SEGMENTATION_KEYS`.

numpy, scipy, nibabel only: TensorFlow is never imported here.
"""

import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from speccal._names import SEGMENTATION_METRICS, TABLE_CALIBRATION_METRICS
from speccal.experiments._run_folder import save_run, write_nifti

CALIBRATION_KEYS = (*TABLE_CALIBRATION_METRICS, "boundary_ece", "nll")
SEGMENTATION_KEYS = SEGMENTATION_METRICS
N_BINS = 15
TACE_THRESHOLD = 1e-3
#: Width (mm) of the boundary band of ``boundary_ece``.
BOUNDARY_WIDTH = 2.0
#: Metrics of ``per_volume.csv`` also given per class, as columns ``{metric}_{k}`` (the naming
#: of the segmentation columns ``dice_{k}``).
PER_CLASS_KEYS = ("sce", "tace")
MAPS_DIR = "maps"
#: The voxel maps of ``--save-maps``, ``maps/<case>_<name>.nii.gz``.
MAP_NAMES = ("prediction", "confidence", "entropy", "error")

AGGREGATION = (
    "the protocol says which voxels and bins count and how the *_pooled keys of metrics.json "
    "combine volumes; the table values are per-volume means: each metric computed on each test "
    "volume alone, then the unweighted mean over the test volumes; "
    f"boundary_ece: top-label ECE of the voxels within {BOUNDARY_WIDTH:g} mm of a boundary of "
    "the reference, mean over the volumes that have one; "
    "dice/hd95/asd average the foreground classes of a volume, distances in mm"
)


@dataclass
class VolumeScores:
    """Scores of one or more volumes; ``a + b`` holds the volumes of ``a`` then of ``b``.

    Attributes
    ----------
    rows : list of dict
        One row of ``per_volume.csv`` per volume: ``case_id``, the metric keys, and the
        per-class ``dice_1``, ``hd95_1``, ... columns.
    calibration : CalibrationEvaluator or None
        Fitted on the volumes' selected voxels (None when no volume had one).
    example : tuple (int, dict) or None
        Foreground voxel count and slices of the volume with most foreground (the first one
        on ties), for ``example.npz``.
    max_logits : list of ndarray
        Max-logit maps, kept by ``speccal evaluate`` for ``spectrum.npz``.
    """

    rows: list
    calibration: object = None
    example: tuple = None
    max_logits: list = field(default_factory=list)

    def __add__(self, other):
        if self.calibration is None or other.calibration is None:
            calibration = self.calibration if other.calibration is None else other.calibration
        else:
            calibration = self.calibration + other.calibration
        example = self.example
        if other.example is not None and (example is None or other.example[0] > example[0]):
            example = other.example
        return VolumeScores(
            self.rows + other.rows, calibration, example, self.max_logits + other.max_logits
        )


def calibration_evaluator(protocol="speccal", from_logits=False, class_axis=-1):
    """The calibration evaluator of ``evaluate`` and ``score`` (one value per volume kept)."""
    from speccal.evaluation import CalibrationEvaluator

    return CalibrationEvaluator(
        class_axis=class_axis,
        metrics=CALIBRATION_KEYS,
        n_bins=N_BINS,
        threshold=TACE_THRESHOLD,
        boundary_width=BOUNDARY_WIDTH,
        protocol=protocol,
        per_volume=True,
        from_logits=from_logits,
    )


def example_slices(label, y_prob, image=None, case_id=None):
    """Slices through the largest foreground section along the last spatial axis.

    ``y_prob`` is channels last. Returns ``(foreground voxel count, {name: slice})``;
    ``image`` is included when given (``speccal score`` has no image).
    """
    axis_sum = (label > 0).sum(axis=tuple(range(label.ndim - 1)))
    index = int(np.argmax(axis_sum))
    probability = np.array(y_prob[..., index, :], dtype=np.float64)  # a copy, not a view
    slices = {
        "slice_index": np.array(index),
        "label": np.array(label[..., index]),  # a copy: a view would keep the whole label
        "confidence": probability.max(-1),
        "probability": probability,
    }
    if image is not None:
        slices["image"] = np.asarray(image[..., index, 0])
    if case_id is not None:
        slices["case_id"] = np.array(case_id)
    return int(axis_sum.sum()), slices


def predicted_labels(y_prob, class_axis=-1):
    """Argmax class map of ``y_prob``, as uint8 (uint16 past 256 classes).

    Computed slab by slab along the first spatial axis, so that no int64 map of the whole
    volume is made (8 bytes per voxel, half of a float32 4-class volume); a slab holds at most
    2**20 voxels and 1/16 of the volume, so that its int64 map and the contiguous copy that
    ``argmax`` makes of a channel-first slab stay small.
    """
    moved = np.moveaxis(y_prob, class_axis, -1)  # a view
    dtype = np.uint8 if moved.shape[-1] <= 256 else np.uint16
    labels = np.empty(moved.shape[:-1], dtype)
    section = max(1, int(np.prod(moved.shape[1:-1])))
    step = max(1, min(1 << 20, labels.size // 16) // section)
    for start in range(0, moved.shape[0], step):
        labels[start : start + step] = moved[start : start + step].argmax(-1)
    return labels


def score_volume(
    y_true,
    y_prob,
    *,
    spacing,
    case_id,
    protocol="speccal",
    from_logits=False,
    class_axis=-1,
    image=None,
    example=True,
):
    """Calibration and segmentation scores of one volume.

    Parameters
    ----------
    y_true : ndarray of int of shape (X, Y, Z)
        In the spatial axis order of ``y_prob`` (any order: the scores do not depend on it).
    y_prob : ndarray of float of shape (X, Y, Z, n_classes)
        Probabilities, or logits with ``from_logits=True``; the classes on ``class_axis``.
        Read as stored, in chunks: a channel-first array is not copied.
    spacing : sequence of 3 float
        Voxel size in mm, in the order of the spatial axes.
    case_id : str
    protocol : str or EvaluationProtocol, default="speccal"
        The calibration protocol (:class:`speccal.evaluation.EvaluationProtocol`).
    from_logits : bool, default=False
    class_axis : int, default=-1
    image : ndarray of shape (X, Y, Z, n_channels), optional
        Kept in the example slices.
    example : bool, default=True
        Keep example slices (along the last spatial axis, channels last); False leaves them
        to the caller (``VolumeScores.example`` is then None).

    Returns
    -------
    VolumeScores

    Raises
    ------
    ValueError
        From the evaluators: shapes, non-finite values, probabilities not summing to 1.
    """
    from speccal.evaluation import SegmentationEvaluator

    calibration = calibration_evaluator(protocol, from_logits, class_axis)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UserWarning)
        try:
            calibration.fit(y_true=y_true, y_prob=y_prob, spacing=spacing)
        except ValueError:
            if not any("no voxel under the protocol; it is" in str(w.message) for w in caught):
                raise
            calibration = None  # e.g. no foreground under a foreground-only protocol
    messages = [str(w.message) for w in caught if issubclass(w.category, UserWarning)]
    if calibration is None:
        messages = [
            "no voxel under the protocol: its calibration values are NaN and it is left out "
            "of the calibration means."
        ]
    for message in dict.fromkeys(messages):
        warnings.warn(f"case {case_id!r}: {message}", UserWarning, stacklevel=2)
    n_classes = y_prob.shape[class_axis]
    segmentation = SegmentationEvaluator(n_classes=n_classes)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # inf distances are kept and shown
        segmentation.fit(
            y_true=y_true,
            y_pred=predicted_labels(y_prob, class_axis),
            spacing=spacing,
            case_id=case_id,
        )
    row = {"case_id": case_id}
    for key in CALIBRATION_KEYS:
        value = np.nan if calibration is None else calibration.volume_scores_[key][0]
        row[key] = float(value)
    row.update({k: float(np.mean(segmentation.scores_[k][0])) for k in SEGMENTATION_KEYS})
    row.update({k: v for k, v in segmentation.records_[0].items() if k != "case_id"})
    for key in PER_CLASS_KEYS:  # class k's own SCE / TACE term
        for k in range(n_classes):
            value = np.nan if calibration is None else calibration.volume_class_scores_[key][0][k]
            row[f"{key}_{k}"] = float(value)
    slices = example_slices(y_true, y_prob, image, case_id) if example else None
    return VolumeScores([row], calibration, slices)


def protocol_statement(calibration):
    """The ``protocol`` sentence of ``metrics.json``."""
    bins = f"{N_BINS} bins (TACE: equal-mass, threshold {TACE_THRESHOLD:g})"
    return f"voxels and bins: {calibration.protocol_.describe()}; {bins}; {AGGREGATION}"


def summary_metrics(scores, **identity):
    """The content of ``metrics.json``: ``identity`` first, then the metrics.

    Means over volumes (``ece``, ..., ``asd``; calibration means over the volumes that have
    a value: ``boundary_ece`` is NaN for a volume without a reference boundary, every
    calibration value for one without a voxel under the protocol; NaN if no volume has one),
    the protocol's pooled values (``*_pooled``), ``n_classes`` (runs of different class
    counts are not compared), ``n_volumes`` and ``protocol``.

    Raises
    ------
    ValueError
        If no volume had a voxel under the calibration protocol.
    """
    if scores.calibration is None:
        raise ValueError("no volume has a voxel under the calibration protocol; nothing to score.")
    rows = scores.rows
    means = {key: float(np.mean([r[key] for r in rows])) for key in SEGMENTATION_KEYS}
    for key in CALIBRATION_KEYS:  # NaN: no voxel under the protocol, or no boundary
        values = [r[key] for r in rows if not np.isnan(r[key])]
        means[key] = float(np.mean(values)) if values else float("nan")
    return {
        **identity,
        "n_classes": int(scores.calibration.n_classes_),
        "n_volumes": len(rows),
        **means,
        **{f"{k}_pooled": float(scores.calibration.scores_[k]) for k in CALIBRATION_KEYS},
        "protocol": protocol_statement(scores.calibration),
    }


def write_evaluation(run_dir, metrics, scores, *, spectrum=None):
    """Write the results through :func:`speccal.experiments.save_run`.

    ``metrics.json``, ``per_volume.csv``, ``reliability.npz``, ``example.npz`` and, when
    ``spectrum`` (``frequencies``, ``power``) is given, ``spectrum.npz``.
    """
    calibration = scores.calibration
    return save_run(
        run_dir,
        metrics=metrics,
        per_volume={key: [row[key] for row in scores.rows] for key in scores.rows[0]},
        reliability={
            "bin_count": calibration.bin_count_,
            "bin_confidence": calibration.bin_confidence_,
            "bin_accuracy": calibration.bin_accuracy_,
            "volume_bin_sums": calibration.volume_bin_sums_,  # for bootstrap bands
        },
        spectrum=spectrum,
        example=scores.example[1],
    )


def _entropy(probs):
    """Shannon entropy (nats) of each voxel's distribution, 0·log 0 = 0."""
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(probs > 0, probs * np.log(probs), 0.0)
    return -terms.sum(-1)


def save_maps(out_dir, case_id, y_true, y_prob, affine, *, from_logits=False):
    """Write the voxel maps of one case as NIfTI files with the label's affine.

    ``maps/<case>_prediction.nii.gz`` (argmax class, uint8 or uint16),
    ``_confidence`` (max probability, float32), ``_entropy`` (Shannon entropy in nats,
    float32) and ``_error`` (uint8, 1 where the prediction differs from the label).

    Parameters
    ----------
    out_dir : str or path
        The output folder; ``maps/`` is created in it.
    case_id : str
    y_true : ndarray of int of shape (X, Y, Z)
    y_prob : ndarray of float of shape (X, Y, Z, n_classes)
    affine : ndarray of shape (4, 4)
    from_logits : bool, default=False
        ``y_prob`` holds logits (a softmax is applied first).

    Returns
    -------
    list of pathlib.Path
    """
    from scipy import special

    folder = Path(out_dir) / MAPS_DIR
    folder.mkdir(parents=True, exist_ok=True)
    probs = np.asarray(y_prob, dtype=np.float32)
    if from_logits:
        probs = special.softmax(probs, axis=-1)
    prediction = predicted_labels(probs)
    maps = {
        "prediction": prediction,
        "confidence": probs.max(-1).astype(np.float32),
        "entropy": _entropy(probs).astype(np.float32),
        "error": (prediction != y_true).astype(np.uint8),
    }
    return [
        write_nifti(folder / f"{case_id}_{name}.nii.gz", maps[name], affine) for name in MAP_NAMES
    ]
