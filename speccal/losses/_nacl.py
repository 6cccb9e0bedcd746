"""Neighbour-aware calibration loss, NACL (Murugesan et al., MICCAI 2023)."""

import keras
import tensorflow as tf

from speccal.losses._base import (
    SegmentationLoss,
    box_kernel,
    check_kernel_size,
    check_scalar,
    fill_loss_doc,
    local_filter,
    softmax_cross_entropy,
)

_DISTANCES = ("l1", "l2")


@keras.saving.register_keras_serializable(package="speccal")
@fill_loss_doc
class NACLLoss(SegmentationLoss):
    """Cross-entropy plus a penalty pulling logits to the local class proportions (NACL).

    {call}

    Parameters
    ----------
    lam : float, default=0.1
        Weight :math:`\\lambda \\ge 0` of the penalty (MONAI's ``alpha``).
    kernel_size : int, default=3
        Odd size :math:`k` of the mean window.
    distance_type : {"l1", "l2"}, default="l1"
        Absolute or squared difference between the proportions and the logits.
    {common_parameters}

    Raises
    ------
    ValueError
        If ``lam`` is negative, ``kernel_size`` is not an odd int >= 3 or
        ``distance_type`` is unknown.

    Notes
    -----
    With :math:`\\tau_{ic}` the mean of :math:`\\mathrm{onehot}(y)_c` over the
    :math:`k^d` window around voxel :math:`i` and raw logits :math:`z`,

    .. math::

        \\mathcal{L} = \\mathrm{CE} + \\frac{\\lambda}{N C} \\sum_i \\sum_c
        |\\tau_{ic} - z_{ic}|.

    Border handling follows MONAI's ``NACLLoss``: the one-hot map is zero-padded, so
    near the border :math:`\\sum_c \\tau_{ic} < 1` (the authors' Bala93 code pads the
    *label map* with class 0 instead). Ignored voxels count as zero vectors, like the
    padding. MONAI's golden test value 1.1442 is reproduced in the tests.

    References
    ----------
    .. [1] Murugesan et al., "Trust your neighbours: penalty-based constraints for
       model calibration", MICCAI 2023.

    Examples
    --------
    >>> import numpy as np
    >>> from speccal.losses import NACLLoss
    >>> labels = np.zeros((1, 5, 5, 5), "int32")
    >>> logits = np.zeros((1, 5, 5, 5, 2), "float32")
    >>> round(float(NACLLoss(lam=0.0)(labels, logits)), 4)  # plain CE: log 2
    0.6931
    """

    def __init__(self, lam=0.1, kernel_size=3, distance_type="l1", *, name="nacl_loss", **kwargs):
        super().__init__(name=name, **kwargs)
        self.lam = check_scalar("lam", lam, minimum=0.0)
        self.kernel_size = check_kernel_size(kernel_size)
        if distance_type not in _DISTANCES:
            raise ValueError(
                f"`distance_type` must be one of {_DISTANCES}; got {distance_type!r}."
            )
        self.distance_type = distance_type

    def voxel_losses(self, labels, logits, onehot, valid):
        n_spatial = logits.shape.rank - 2
        kernel = box_kernel(n_spatial, self.kernel_size) / self.kernel_size**n_spatial
        proportions = local_filter(onehot, kernel, padding="zeros")
        diff = proportions - logits
        distance = tf.abs(diff) if self.distance_type == "l1" else tf.square(diff)
        return softmax_cross_entropy(onehot, logits) + self.lam * tf.reduce_mean(distance, -1)
