"""Maximum entropy on erroneous predictions, MEEP (Larrazabal et al., MICCAI 2023)."""

import keras
import tensorflow as tf

from speccal.losses._base import (
    SegmentationLoss,
    check_scalar,
    fill_loss_doc,
    softmax_cross_entropy,
)

_EPS = 1e-7  # keras.backend.epsilon(), the clip of the TensorFlow reference


@keras.saving.register_keras_serializable(package="speccal")
@fill_loss_doc
class MEEPLoss(SegmentationLoss):
    """Cross-entropy plus a pull towards the uniform distribution on misclassified voxels.

    {call}

    The KL form of MEEP (``CE + MEEP_KL`` of the reference, its default).

    Parameters
    ----------
    lam : float, default=0.3
        Weight :math:`\\lambda \\ge 0` of the regulariser.
    {common_parameters}

    Raises
    ------
    ValueError
        If ``lam`` is negative.

    Notes
    -----
    With :math:`M = \\{i : \\arg\\max_c p_{ic} \\ne y_i\\}` (a mask without gradient),

    .. math::

        \\mathcal{L} = \\mathrm{CE} + \\frac{\\lambda}{|M|} \\sum_{i \\in M}
        \\frac{1}{C} \\sum_c -\\log \\mathrm{clip}(p_{ic}, 10^{-7}, 1),

    i.e. :math:`\\lambda` times the mean over :math:`M` of
    :math:`\\mathrm{KL}(U \\,\\|\\, p_i) + \\log C`. When no voxel is misclassified the
    regulariser is 0 (the reference divides 0 by 0). Categorical CE replaces the
    reference's binary CE, which equals it only for two classes.

    References
    ----------
    .. [1] Larrazabal et al., "Maximum entropy on erroneous predictions improves model
       calibration", MICCAI 2023.

    Examples
    --------
    >>> import numpy as np
    >>> from speccal.losses import MEEPLoss
    >>> labels = np.zeros((1, 3, 3), "int32")
    >>> logits = np.zeros((1, 3, 3, 2), "float32")
    >>> logits[..., 0] = 1.0  # all voxels correct: the regulariser vanishes
    >>> round(float(MEEPLoss()(labels, logits)), 4)  # log(1 + e^-1)
    0.3133
    """

    def __init__(self, lam=0.3, *, name="meep_loss", **kwargs):
        super().__init__(name=name, **kwargs)
        self.lam = check_scalar("lam", lam, minimum=0.0)

    def voxel_losses(self, labels, logits, onehot, valid):
        log_probs = tf.maximum(tf.nn.log_softmax(logits), tf.math.log(_EPS))
        wrong = tf.not_equal(tf.argmax(logits, axis=-1, output_type=tf.int32), labels) & valid
        wrong = tf.cast(wrong, tf.float32)
        # Scale so that the mean over valid voxels is the mean over misclassified ones.
        scale = tf.math.divide_no_nan(
            tf.reduce_sum(tf.cast(valid, tf.float32)), tf.reduce_sum(wrong)
        )
        regulariser = -tf.reduce_mean(log_probs, axis=-1) * wrong * scale
        return softmax_cross_entropy(onehot, logits) + self.lam * regulariser
