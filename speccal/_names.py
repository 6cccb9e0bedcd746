"""Names shared across speccal, defined once: registries, metric keys and their directions.

Plain tuples and dicts, importable without numpy or TensorFlow: ``speccal --help`` builds
argparse ``choices`` from them, and the registries (:func:`speccal.losses.get_loss`,
:func:`speccal.datasets.get_dataset`), evaluators, tables and plots read the metric keys,
directions and labels from here instead of keeping copies.
"""

#: Losses by registry name (:func:`speccal.losses.get_loss`).
LOSS_NAMES = (
    "ce",
    "cespectral",
    "focal",
    "flsd",
    "ls",
    "mbls",
    "svls",
    "crac",
    "nacl",
    "cpenalty",
    "meep",
)

#: Datasets by registry name (:func:`speccal.datasets.get_dataset`).
DATASET_NAMES = (
    "brats2020",
    "acdc",
    "flare2021",
    "iseg2017",
    "atlas2023",
    "promise12",
    "synthetic",
    "msd",
    "nnunet",
)

#: Formats of :func:`speccal.experiments.results_table`.
TABLE_FORMATS = ("markdown", "csv", "latex")

#: The segmentation metrics, per class: keys of :func:`speccal.metrics.segmentation_scores`,
#: of :class:`speccal.evaluation.SegmentationEvaluator` and of the paper's Table 1.
SEGMENTATION_METRICS = ("dice", "hd95", "asd")

#: Every calibration metric :class:`speccal.evaluation.CalibrationEvaluator` computes.
CALIBRATION_METRICS = (
    "ece",
    "mce",
    "rmsce",
    "sce",
    "ace",
    "tace",
    "brier",
    "nll",
    "boundary_ece",
)

#: The calibration rows of the paper's Table 2, which ``speccal evaluate`` and ``compare``
#: print.
TABLE_CALIBRATION_METRICS = ("ece", "sce", "tace")

#: Whether larger values of a metric are better (overlap vs. distances and errors).
HIGHER_IS_BETTER = {
    "dice": True,
    "dsc": True,
    "hd95": False,
    "asd": False,
    **dict.fromkeys(CALIBRATION_METRICS, False),
}

#: Names the paper prints for metric keys that are not simply upper-cased.
METRIC_LABELS = {"dice": "DSC", "dsc": "DSC", "boundary_ece": "Boundary ECE"}

#: Units of the metrics that have one.
METRIC_UNITS = {"hd95": "mm", "asd": "mm"}


def metric_label(metric):
    """Display name of a metric key (``"dice"`` -> ``"DSC"``, ``"hd95"`` -> ``"HD95"``)."""
    return METRIC_LABELS.get(metric, metric.upper())
