"""Keras streaming calibration metrics: the only TensorFlow/Keras module of speccal.metrics.

Import it explicitly: ``from speccal.metrics.keras import ECEMetric``; ``import speccal.metrics``
never loads Keras.
"""

import keras
from keras import ops

from speccal.metrics._binning import check_n_bins

__all__ = ["ECEMetric"]


@keras.saving.register_keras_serializable(package="speccal")
class ECEMetric(keras.metrics.Metric):
    """Expected calibration error as a streaming Keras metric with fixed-shape state.

    The state is three float64 vectors of ``n_bins`` entries — count, sum of confidences and
    sum of hits per equal-width bin — summed over batches (and across replicas under
    ``tf.distribute``), so ``model.evaluate`` reports the ECE of every voxel it saw, for any
    number of voxels, and equals :class:`speccal.evaluation.ECEEvaluator` on the same data.

    Parameters
    ----------
    n_bins : int, default=15
        Number of equal-width bins; bin b = [b/M, (b+1)/M), 1.0 in the last bin.
    from_logits : bool, default=False
        ``y_pred`` holds logits (a softmax over the last axis is applied).
    name : str, default="ece"
    dtype : str or None, default=None
        Dtype of the result.

    Raises
    ------
    ValueError
        If ``n_bins`` is not an integer >= 1.

    See Also
    --------
    speccal.evaluation.ECEEvaluator : the numpy evaluator it equals.

    Notes
    -----
    ``update_state(y_true, y_pred, sample_weight=None)`` takes integer labels of shape
    ``(batch, *spatial)`` (a trailing axis of size 1 is dropped) and probabilities of shape
    ``(batch, *spatial, n_classes)``; ``sample_weight`` (same shape as the labels) weights each
    voxel. With confidence :math:`c_i` and hit :math:`a_i`,

    .. math:: \\mathrm{ECE} = \\sum_b \\frac{1}{N}
        \\left| \\sum_{i \\in b} a_i - \\sum_{i \\in b} c_i \\right|.

    Examples
    --------
    >>> import numpy as np
    >>> from speccal.metrics.keras import ECEMetric
    >>> metric = ECEMetric(n_bins=15)
    >>> metric.update_state(np.array([0, 1]), np.array([[0.8, 0.2], [0.8, 0.2]]))
    >>> round(float(metric.result()), 6)
    0.3
    """

    def __init__(self, n_bins=15, from_logits=False, name="ece", dtype=None):
        n_bins = check_n_bins(n_bins)
        super().__init__(name=name, dtype=dtype)
        self.n_bins = n_bins
        self.from_logits = from_logits
        self.bin_sums = self.add_variable(
            shape=(3, n_bins), initializer="zeros", dtype="float64", name="bin_sums"
        )

    def update_state(self, y_true, y_pred, sample_weight=None):
        """Add the bins of one batch to the state."""
        y_pred = ops.convert_to_tensor(y_pred)
        if self.from_logits:
            y_pred = ops.softmax(y_pred, axis=-1)
        y_true = ops.convert_to_tensor(y_true)
        if len(y_true.shape) == len(y_pred.shape):
            y_true = ops.squeeze(y_true, axis=-1)
        y_true = ops.reshape(ops.cast(y_true, "int32"), (-1,))
        y_pred = ops.reshape(y_pred, (-1, ops.shape(y_pred)[-1]))
        confidence = ops.cast(ops.max(y_pred, axis=-1), "float64")
        hit = ops.cast(
            ops.equal(ops.cast(ops.argmax(y_pred, axis=-1), "int32"), y_true), "float64"
        )
        index = ops.minimum(ops.cast(confidence * self.n_bins, "int32"), self.n_bins - 1)
        weight = ops.ones_like(confidence)
        if sample_weight is not None:
            weight = ops.reshape(ops.cast(sample_weight, "float64"), (-1,))
        data = ops.stack([weight, weight * confidence, weight * hit], axis=1)
        sums = ops.segment_sum(data, index, num_segments=self.n_bins)
        self.bin_sums.assign_add(ops.transpose(sums))

    def result(self):
        """The ECE of everything seen since the last reset (0 before any data)."""
        count, confidence, hits = self.bin_sums[0], self.bin_sums[1], self.bin_sums[2]
        total = ops.maximum(ops.sum(count), 1e-300)
        return ops.cast(ops.sum(ops.abs(hits - confidence)) / total, self.dtype)

    def reset_state(self):
        """Zero the bin sums."""
        self.bin_sums.assign(ops.zeros_like(self.bin_sums))

    def get_config(self):
        """Every constructor argument (for ``from_config`` and ``model.save``)."""
        return {**super().get_config(), "n_bins": self.n_bins, "from_logits": self.from_logits}
