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

#: Constructor arguments of each loss, as :func:`speccal.losses.get_loss` accepts them, so that
#: a study file's loss parameters are checked without importing TensorFlow (a test keeps this
#: equal to the signatures).
_KERAS_LOSS_ARGUMENTS = ("ignore_class", "reduction", "name", "dtype")
LOSS_ARGUMENTS = {
    "ce": _KERAS_LOSS_ARGUMENTS,
    "cespectral": (
        "lam",
        "window",
        "bands",
        "warmup",
        "from_logits",
        "ignore_class",
        "eps",
        "include_dc",
        "include_corners",
        "taper",
        "reduction",
        "name",
        "dtype",
    ),
    "focal": ("gamma", *_KERAS_LOSS_ARGUMENTS),
    "flsd": ("gamma", "gamma_low", "threshold", *_KERAS_LOSS_ARGUMENTS),
    "ls": ("alpha", *_KERAS_LOSS_ARGUMENTS),
    "mbls": ("lam", "margin", *_KERAS_LOSS_ARGUMENTS),
    "svls": ("sigma", "kernel_size", *_KERAS_LOSS_ARGUMENTS),
    "crac": (
        "margin",
        "rho_min",
        "rho_max",
        "lambd_min",
        "lambd_max",
        "n_classes",
        "multipliers",
        "penalty_parameters",
        "previous_constraints",
        *_KERAS_LOSS_ARGUMENTS,
    ),
    "nacl": ("lam", "kernel_size", "distance_type", *_KERAS_LOSS_ARGUMENTS),
    "cpenalty": ("beta", *_KERAS_LOSS_ARGUMENTS),
    "meep": ("lam", *_KERAS_LOSS_ARGUMENTS),
}

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
