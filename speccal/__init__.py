"""speccal: calibration toolkit for medical image segmentation.

speccal implements the spectral entropy regularizer of "Rethinking model calibration
through spectral entropy regularization in medical image segmentation" as a Keras 3 loss,
together with the in-training baselines it is compared against, post-hoc calibrators,
calibration and surface-distance metrics, dataset loaders, 3D U-Nets, sliding-window
inference and the command line that reproduces the paper's tables.

Submodules are imported lazily, so ``import speccal`` is cheap and the numpy side
(:mod:`speccal.metrics`, :mod:`speccal.evaluation`, :mod:`speccal.posthoc`,
:mod:`speccal.plotting`, :mod:`speccal.analysis`, :mod:`speccal.datasets`) never imports
TensorFlow.
"""

import importlib

__version__ = "0.1.0"

_SUBMODULES = (
    "analysis",
    "datasets",
    "evaluation",
    "experiments",
    "inference",
    "losses",
    "metrics",
    "models",
    "plotting",
    "posthoc",
    "spectral",
)

__all__ = sorted([*_SUBMODULES, "__version__"])


def __getattr__(name):
    if name in _SUBMODULES:
        module = importlib.import_module(f"speccal.{name}")
        globals()[name] = module
        return module
    raise AttributeError(f"module 'speccal' has no attribute {name!r}")


def __dir__():
    return __all__
