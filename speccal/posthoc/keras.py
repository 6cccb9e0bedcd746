"""Keras layer carrying a fitted post-hoc calibration (imports Keras; load it explicitly).

:mod:`speccal.posthoc` itself never imports TensorFlow or Keras; this module is imported by
:meth:`speccal.posthoc.TemperatureScaling.as_keras_layer` and
:meth:`speccal.posthoc.VectorScaling.as_keras_layer`. Keras only auto-imports its own
packages when loading a model, so import this module before
``keras.models.load_model`` of a model that contains the layer::

    import speccal.posthoc.keras  # registers "speccal>LogitScaling"
    model = keras.models.load_model("calibrated.keras")
"""

from numbers import Real

import keras
from keras import ops

_OUTPUTS = ("logits", "probabilities")


@keras.saving.register_keras_serializable(package="speccal")
class LogitScaling(keras.layers.Layer):
    """Affine post-hoc calibration of logits on the last (class) axis.

    Parameters
    ----------
    scale : float or list of float
        One scale for every class (``1 / T`` for temperature scaling) or one per class.
    bias : list of float or None, default=None
        Per-class bias added after scaling.
    output_mode : {"logits", "probabilities"}, default="logits"
        Return the calibrated logits, or their softmax over the last axis.
    **kwargs
        Passed to :class:`keras.layers.Layer` (``name``, ``dtype``).

    Raises
    ------
    ValueError
        If ``output_mode`` is unknown, or ``bias`` and a per-class ``scale`` have different
        lengths.

    Notes
    -----
    .. math:: q = s \\odot z + b, \\qquad
              \\text{output} = q \\text{ or } \\operatorname{softmax}(q).

    The layer has no weights: its constants live
    in the config, so ``get_config``/``from_config`` and ``model.save``/``load_model``
    restore it exactly.

    Examples
    --------
    >>> import numpy as np
    >>> from speccal.posthoc.keras import LogitScaling
    >>> layer = LogitScaling(scale=0.5)
    >>> np.asarray(layer(np.array([[2.0, 4.0]], dtype="float32"))).tolist()
    [[1.0, 2.0]]
    """

    def __init__(self, scale, bias=None, output_mode="logits", **kwargs):
        super().__init__(**kwargs)
        if output_mode not in _OUTPUTS:
            raise ValueError(f"`output_mode` must be one of {_OUTPUTS}; got {output_mode!r}.")
        per_class = not isinstance(scale, Real)
        if bias is not None and per_class and len(bias) != len(scale):
            raise ValueError(
                f"`bias` must have one value per class like `scale` ({len(scale)}); "
                f"got {len(bias)}."
            )
        self.scale = float(scale) if not per_class else tuple(float(s) for s in scale)
        self.bias = None if bias is None else tuple(float(b) for b in bias)
        self.output_mode = output_mode

    def call(self, inputs):
        logits = inputs
        logits = logits * ops.convert_to_tensor(self.scale, dtype=logits.dtype)
        if self.bias is not None:
            logits = logits + ops.convert_to_tensor(self.bias, dtype=logits.dtype)
        if self.output_mode == "probabilities":
            return ops.softmax(logits, axis=-1)
        return logits

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            scale=list(self.scale) if isinstance(self.scale, tuple) else self.scale,
            bias=None if self.bias is None else list(self.bias),
            output_mode=self.output_mode,
        )
        return config
