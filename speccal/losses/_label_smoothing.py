"""Label smoothing (Szegedy et al. 2016) for sparse segmentation labels."""

import keras

from speccal.losses._base import SegmentationLoss, check_scalar, fill_loss_doc


@keras.saving.register_keras_serializable(package="speccal")
@fill_loss_doc
class LabelSmoothingLoss(SegmentationLoss):
    """Cross-entropy against uniformly smoothed one-hot targets.

    {call}

    Wraps :func:`keras.losses.categorical_crossentropy` with ``label_smoothing=alpha``
    on one-hot labels, so it equals
    ``keras.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=alpha)``.

    Parameters
    ----------
    alpha : float, default=0.1
        Smoothing mass in ``[0, 1]``; ``alpha=0`` gives cross-entropy.
    {common_parameters}

    Raises
    ------
    ValueError
        If ``alpha`` is not in ``[0, 1]``.

    Notes
    -----
    Every class, the true one included, receives :math:`\\alpha / C`:

    .. math::

        q_c = (1 - \\alpha)\\,[c = y_i] + \\frac{\\alpha}{C}, \\qquad
        \\ell_i = -\\sum_c q_c \\log p_{ic}.

    References
    ----------
    .. [1] Szegedy et al., "Rethinking the Inception architecture for computer
       vision", CVPR 2016.
    .. [2] Müller et al., "When does label smoothing help?", NeurIPS 2019.

    Examples
    --------
    >>> import numpy as np
    >>> from speccal.losses import LabelSmoothingLoss
    >>> logits = np.zeros((1, 3, 3, 2), "float32")
    >>> labels = np.zeros((1, 3, 3), "int32")
    >>> round(float(LabelSmoothingLoss(alpha=0.1)(labels, logits)), 4)  # log 2
    0.6931
    """

    def __init__(self, alpha=0.1, *, name="label_smoothing_loss", **kwargs):
        super().__init__(name=name, **kwargs)
        self.alpha = check_scalar("alpha", alpha, minimum=0.0, maximum=1.0)

    def voxel_losses(self, labels, logits, onehot, valid):
        return keras.losses.categorical_crossentropy(
            onehot, logits, from_logits=True, label_smoothing=self.alpha
        )
