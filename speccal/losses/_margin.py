"""Margin-based label smoothing, MbLS (Liu et al., CVPR 2022)."""

import keras
import tensorflow as tf

from speccal.losses._base import (
    SegmentationLoss,
    check_scalar,
    fill_loss_doc,
    softmax_cross_entropy,
)


@keras.saving.register_keras_serializable(package="speccal")
@fill_loss_doc
class MarginLabelSmoothingLoss(SegmentationLoss):
    """Cross-entropy plus an L1 hinge on logit gaps beyond a margin (MbLS).

    {call}

    Parameters
    ----------
    lam : float, default=0.1
        Weight :math:`\\lambda \\ge 0` of the margin penalty.
    margin : float, default=5.0
        Margin :math:`m \\ge 0` on the gap between the largest logit and each logit
        (5 for segmentation in the authors' MedIA setting, 10 for classification).
    {common_parameters}

    Raises
    ------
    ValueError
        If ``lam`` or ``margin`` is negative.

    Notes
    -----
    On raw logits :math:`z`, with the penalty averaged over voxels *and* classes
    (as ``F.relu(diff - margin).mean()`` in the reference code):

    .. math::

        \\mathcal{L} = \\mathrm{CE} + \\frac{\\lambda}{N C} \\sum_{i} \\sum_{k}
        \\max\\bigl(0, \\max_j z_{ij} - z_{ik} - m\\bigr).

    References
    ----------
    .. [1] Liu et al., "The devil is in the margin: margin-based label smoothing for
       network calibration", CVPR 2022.

    Examples
    --------
    >>> import numpy as np
    >>> from speccal.losses import MarginLabelSmoothingLoss
    >>> logits = np.zeros((1, 3, 3, 2), "float32")
    >>> logits[..., 0] = 7.0  # gap 7 > margin 5: hinge 2 on class 1, mean 1
    >>> labels = np.zeros((1, 3, 3), "int32")
    >>> loss = MarginLabelSmoothingLoss(lam=0.1, margin=5.0)(labels, logits)
    >>> round(float(loss), 4)  # log(1 + e^-7) + 0.1
    0.1009
    """

    def __init__(self, lam=0.1, margin=5.0, *, name="margin_label_smoothing_loss", **kwargs):
        super().__init__(name=name, **kwargs)
        self.lam = check_scalar("lam", lam, minimum=0.0)
        self.margin = check_scalar("margin", margin, minimum=0.0)

    def voxel_losses(self, labels, logits, onehot, valid):
        gaps = tf.reduce_max(logits, axis=-1, keepdims=True) - logits
        hinge = tf.reduce_mean(tf.nn.relu(gaps - self.margin), axis=-1)
        return softmax_cross_entropy(onehot, logits) + self.lam * hinge
