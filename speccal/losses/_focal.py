"""Focal loss (FL-3) and the adaptive focal loss FLSD-53 for sparse segmentation labels."""

import keras
import tensorflow as tf

from speccal.losses._base import SegmentationLoss, check_scalar, fill_loss_doc


@keras.saving.register_keras_serializable(package="speccal")
@fill_loss_doc
class FocalLoss(SegmentationLoss):
    """Softmax focal loss on sparse labels (Lin et al. 2017; FL-3 of Mukhoti et al. 2020).

    {call}

    Wraps :func:`keras.losses.categorical_focal_crossentropy` with ``alpha=1`` on
    one-hot labels, so it equals
    ``keras.losses.CategoricalFocalCrossentropy(alpha=1, gamma=gamma, from_logits=True)``.

    Parameters
    ----------
    gamma : float, default=3.0
        Focusing parameter :math:`\\gamma \\ge 0`; ``gamma=0`` gives cross-entropy.
    {common_parameters}

    Raises
    ------
    ValueError
        If ``gamma`` is negative or not a finite number.

    Notes
    -----
    With :math:`p_t` the softmax probability of the true class of voxel :math:`i`,

    .. math::

        \\ell_i = -(1 - p_{t})^{\\gamma} \\log p_{t},

    averaged over the valid voxels. Keras clips :math:`p` to
    :math:`[10^{-7}, 1 - 10^{-7}]`.

    References
    ----------
    .. [1] Mukhoti et al., "Calibrating deep neural networks using focal loss",
       NeurIPS 2020.

    Examples
    --------
    >>> import numpy as np
    >>> from speccal.losses import FocalLoss
    >>> logits = np.zeros((1, 4, 4, 2), "float32")
    >>> labels = np.zeros((1, 4, 4), "int32")
    >>> round(float(FocalLoss(gamma=3.0)(labels, logits)), 4)  # 0.5**3 * log 2
    0.0866
    """

    def __init__(self, gamma=3.0, *, name="focal_loss", **kwargs):
        super().__init__(name=name, **kwargs)
        self.gamma = check_scalar("gamma", gamma, minimum=0.0)

    def voxel_losses(self, labels, logits, onehot, valid):
        return keras.losses.categorical_focal_crossentropy(
            onehot, logits, alpha=1.0, gamma=self.gamma, from_logits=True
        )


@keras.saving.register_keras_serializable(package="speccal")
@fill_loss_doc
class AdaptiveFocalLoss(SegmentationLoss):
    """Sample-dependent focal loss FLSD-53 (Mukhoti et al. 2020), vectorised over voxels.

    {call}

    Parameters
    ----------
    gamma : float, default=3.0
        Focusing parameter where the true-class probability is at least ``threshold``.
    gamma_low : float, default=5.0
        Focusing parameter where the true-class probability is below ``threshold``.
    threshold : float, default=0.2
        Probability in ``(0, 1)`` below which ``gamma_low`` applies.
    {common_parameters}

    Raises
    ------
    ValueError
        If a focusing parameter is negative or ``threshold`` is not in ``(0, 1)``.

    Notes
    -----
    .. math::

        \\gamma_i = \\begin{cases} \\gamma_{low} & p_{t,i} < \\text{threshold} \\\\
        \\gamma & \\text{otherwise} \\end{cases}, \\qquad
        \\ell_i = -(1 - p_{t,i})^{\\gamma_i} \\log p_{t,i}.

    The choice of :math:`\\gamma_i` carries no gradient (the reference picks it with
    ``.item()`` in a Python loop over samples). :math:`\\log p_t` comes from
    ``log_softmax``, without clipping.

    References
    ----------
    .. [1] Mukhoti et al., "Calibrating deep neural networks using focal loss",
       NeurIPS 2020 (torrvision/focal_calibration, ``focal_loss_adaptive_gamma.py``).

    Examples
    --------
    >>> import numpy as np
    >>> from speccal.losses import AdaptiveFocalLoss
    >>> logits = np.zeros((1, 3, 3, 2), "float32")
    >>> labels = np.ones((1, 3, 3), "int32")
    >>> round(float(AdaptiveFocalLoss()(labels, logits)), 4)  # p_t = 0.5 -> gamma 3
    0.0866
    """

    def __init__(
        self, gamma=3.0, gamma_low=5.0, threshold=0.2, *, name="adaptive_focal_loss", **kwargs
    ):
        super().__init__(name=name, **kwargs)
        self.gamma = check_scalar("gamma", gamma, minimum=0.0)
        self.gamma_low = check_scalar("gamma_low", gamma_low, minimum=0.0)
        self.threshold = check_scalar(
            "threshold", threshold, minimum=0, maximum=1, include_boundaries="neither"
        )

    def voxel_losses(self, labels, logits, onehot, valid):
        log_pt = tf.reduce_sum(onehot * tf.nn.log_softmax(logits), axis=-1)
        pt = tf.exp(log_pt)
        gamma = tf.where(tf.stop_gradient(pt) < self.threshold, self.gamma_low, self.gamma)
        # The floor keeps d/dp (1 - p)^gamma finite at p = 1 (and gamma = 0).
        modulating = tf.pow(tf.maximum(1.0 - pt, 1e-12), gamma)
        return -modulating * log_pt
