"""Confidence penalty (Pereyra et al., ICLR workshop 2017)."""

import keras
import tensorflow as tf

from speccal.losses._base import (
    SegmentationLoss,
    check_scalar,
    fill_loss_doc,
    softmax_cross_entropy,
)

_EPS = 1e-10


@keras.saving.register_keras_serializable(package="speccal")
@fill_loss_doc
class ConfidencePenaltyLoss(SegmentationLoss):
    """Cross-entropy minus a multiple of the prediction entropy (confidence penalty).

    {call}

    Parameters
    ----------
    beta : float, default=0.1
        Weight :math:`\\beta \\ge 0` of the entropy bonus.
    {common_parameters}

    Raises
    ------
    ValueError
        If ``beta`` is negative.

    Notes
    -----
    As in the MbLS/MarginLoss ``penalty_entropy.py`` reference, the entropy terms are
    averaged over voxels *and* classes and :math:`p` is clipped to
    :math:`[10^{-10}, 1 - 10^{-10}]`:

    .. math::

        \\mathcal{L} = \\mathrm{CE} - \\frac{\\beta}{N C} \\sum_i \\sum_c
        \\bigl(-p_{ic} \\log p_{ic}\\bigr).

    References
    ----------
    .. [1] Pereyra et al., "Regularizing neural networks by penalizing confident
       output distributions", ICLR workshop 2017.

    Examples
    --------
    >>> import numpy as np
    >>> from speccal.losses import ConfidencePenaltyLoss
    >>> labels = np.zeros((1, 3, 3), "int32")
    >>> logits = np.zeros((1, 3, 3, 2), "float32")
    >>> round(float(ConfidencePenaltyLoss(beta=1.0)(labels, logits)), 4)  # log2 - log2 / 2
    0.3466
    """

    def __init__(self, beta=0.1, *, name="confidence_penalty_loss", **kwargs):
        super().__init__(name=name, **kwargs)
        self.beta = check_scalar("beta", beta, minimum=0.0)

    def voxel_losses(self, labels, logits, onehot, valid):
        probs = tf.clip_by_value(tf.nn.softmax(logits), _EPS, 1.0 - _EPS)
        entropy = tf.reduce_mean(-probs * tf.math.log(probs), axis=-1)
        return softmax_cross_entropy(onehot, logits) - self.beta * entropy
