"""Spatially varying label smoothing, SVLS (Islam & Glocker, IPMI 2021)."""

import keras
import numpy as np
import tensorflow as tf

from speccal.losses._base import (
    SegmentationLoss,
    check_kernel_size,
    check_scalar,
    fill_loss_doc,
    local_filter,
    softmax_cross_entropy,
)


def svls_kernel(n_spatial, sigma, kernel_size=3):
    """Effective SVLS weights: a Gaussian whose centre is reset so that it holds half the mass.

    Parameters
    ----------
    n_spatial : {2, 3}
        Number of spatial axes.
    sigma : float
        Standard deviation of the Gaussian, in voxels.
    kernel_size : int, default=3
        Odd window size.

    Returns
    -------
    kernel : ndarray of float64, shape (kernel_size,) * n_spatial
        Weights summing to 1, centre 0.5.
    """
    centre = (kernel_size - 1) / 2.0
    axes = np.meshgrid(*[np.arange(kernel_size)] * n_spatial, indexing="ij")
    squared = sum((a - centre) ** 2 for a in axes)
    gauss = np.exp(-squared / (2.0 * sigma**2))
    gauss /= gauss.sum()
    middle = (kernel_size // 2,) * n_spatial
    neighbours = 1.0 - gauss[middle]
    gauss[middle] = neighbours
    kernel = gauss / neighbours
    return kernel / kernel.sum()


@keras.saving.register_keras_serializable(package="speccal")
@fill_loss_doc
class SpatiallyVaryingLabelSmoothingLoss(SegmentationLoss):
    """Cross-entropy against one-hot labels smoothed by a local Gaussian (SVLS).

    {call}

    Parameters
    ----------
    sigma : float, default=2.0
        Standard deviation (voxels) of the Gaussian that splits the neighbour mass.
    kernel_size : int, default=3
        Odd window size :math:`k` (the reference uses 3).
    {common_parameters}

    Raises
    ------
    ValueError
        If ``sigma <= 0`` or ``kernel_size`` is not an odd int >= 3.

    Notes
    -----
    Let :math:`g` be the normalised Gaussian on the :math:`k^d` window and
    :math:`g_c` its centre. The reference replaces the centre by :math:`1 - g_c`,
    divides by :math:`1 - g_c` and by the kernel sum (2), giving weights

    .. math::

        w_c = \\tfrac12, \\qquad w_n = \\frac{g_n}{2 (1 - g_c)}, \\qquad
        q_i = \\sum_{n \\in \\mathcal{W}(i)} w_n\\, \\mathrm{onehot}(y_n), \\qquad
        \\ell_i = -\\sum_c q_{ic} \\log p_{ic},

    with replicate padding at the border and no gradient through :math:`q`. Voxels in
    a uniform window keep a one-hot target. Ignored voxels contribute the zero vector
    to their neighbours' targets, which are then renormalised to sum to one.

    References
    ----------
    .. [1] Islam & Glocker, "Spatially varying label smoothing: capturing uncertainty
       from expert annotations", IPMI 2021.

    Examples
    --------
    >>> import numpy as np
    >>> from speccal.losses import SpatiallyVaryingLabelSmoothingLoss
    >>> loss = SpatiallyVaryingLabelSmoothingLoss(sigma=2.0)
    >>> round(float(loss.kernel_weights(3)[1, 1, 1]), 3)
    0.5
    >>> labels = np.zeros((1, 4, 4, 4), "int32")
    >>> logits = np.zeros((1, 4, 4, 4, 2), "float32")
    >>> round(float(loss(labels, logits)), 4)  # log 2
    0.6931
    """

    def __init__(self, sigma=2.0, kernel_size=3, *, name="svls_loss", **kwargs):
        super().__init__(name=name, **kwargs)
        self.sigma = check_scalar("sigma", sigma, minimum=0.0, include_boundaries="right")
        self.kernel_size = check_kernel_size(kernel_size)

    def kernel_weights(self, n_spatial):
        """Effective kernel for ``n_spatial`` (2 or 3) axes; see :func:`svls_kernel`."""
        return svls_kernel(n_spatial, self.sigma, self.kernel_size)

    def voxel_losses(self, labels, logits, onehot, valid):
        kernel = self.kernel_weights(logits.shape.rank - 2)
        targets = local_filter(onehot, kernel, padding="replicate")
        if self.ignore_class is not None:
            targets = tf.math.divide_no_nan(targets, tf.reduce_sum(targets, -1, keepdims=True))
        return softmax_cross_entropy(targets, logits)
