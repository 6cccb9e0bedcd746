"""Keras 3 losses for calibrated segmentation (TensorFlow backend).

Every loss takes sparse integer labels ``(batch, *spatial)`` and logits
``(batch, *spatial, n_classes)``, channels last, 2D or 3D.
"""

from speccal.losses._crac import CRaCCallback, CRaCLoss
from speccal.losses._focal import AdaptiveFocalLoss, FocalLoss
from speccal.losses._label_smoothing import LabelSmoothingLoss
from speccal.losses._margin import MarginLabelSmoothingLoss
from speccal.losses._meep import MEEPLoss
from speccal.losses._nacl import NACLLoss
from speccal.losses._penalty import ConfidencePenaltyLoss
from speccal.losses._registry import LOSS_NAMES, get_loss
from speccal.losses._spectral import CESpectral, SpectralEntropyRegularizer
from speccal.losses._svls import SpatiallyVaryingLabelSmoothingLoss

__all__ = [
    "AdaptiveFocalLoss",
    "CESpectral",
    "CRaCCallback",
    "CRaCLoss",
    "ConfidencePenaltyLoss",
    "FocalLoss",
    "LOSS_NAMES",
    "LabelSmoothingLoss",
    "MEEPLoss",
    "MarginLabelSmoothingLoss",
    "NACLLoss",
    "SpatiallyVaryingLabelSmoothingLoss",
    "SpectralEntropyRegularizer",
    "get_loss",
]
