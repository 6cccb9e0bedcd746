"""Keras 3 losses for calibrated segmentation (TensorFlow backend).

Every loss takes sparse integer labels ``(batch, *spatial)`` and logits
``(batch, *spatial, n_classes)``, channels last, 2D or 3D.
"""

# -- spectral entropy regularizer (issue 2) --
from speccal.losses._spectral import CESpectral, SpectralEntropyRegularizer

# -- in-training baselines and the name registry (issue 5) --
from speccal.losses._crac import CRaCCallback, CRaCLoss
from speccal.losses._focal import AdaptiveFocalLoss, FocalLoss
from speccal.losses._label_smoothing import LabelSmoothingLoss
from speccal.losses._margin import MarginLabelSmoothingLoss
from speccal.losses._meep import MEEPLoss
from speccal.losses._nacl import NACLLoss
from speccal.losses._penalty import ConfidencePenaltyLoss
from speccal.losses._registry import LOSS_NAMES, get_loss
from speccal.losses._svls import SpatiallyVaryingLabelSmoothingLoss
