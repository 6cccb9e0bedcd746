"""Segmentation networks (Keras 3 functional models, logits out, channels last).

``unet3d`` (the paper's network), ``attention_unet3d`` and ``unet_pp3d`` (its Fig. 4
architecture study) and ``unet2d``; :func:`get_model` builds one by name.
"""

from speccal.models._unet import MODELS, attention_unet3d, unet2d, unet3d, unet_pp3d

MODEL_NAMES = tuple(MODELS)


def get_model(name, in_channels, n_classes, **params):
    """Build a model by its registry name.

    Parameters
    ----------
    name : {"unet3d", "attention_unet3d", "unet_pp3d", "unet2d"}
        Architecture.
    in_channels, n_classes : int
        Input channels and output classes.
    **params
        Keyword arguments of the architecture (``base_filters``, ``depth``, ``patch_size``,
        ``normalization``, ``seed``).

    Returns
    -------
    keras.Model
        The model, logits out.

    Raises
    ------
    ValueError
        If ``name`` is unknown (the message lists the valid names).

    Examples
    --------
    >>> from speccal.models import get_model
    >>> get_model("unet3d", 1, 2, patch_size=(8, 8, 8), depth=2).output_shape
    (None, 8, 8, 8, 2)
    """
    if name not in MODELS:
        raise ValueError(f"`model` must be one of {', '.join(MODEL_NAMES)}; got {name!r}.")
    return MODELS[name](in_channels, n_classes, **params)


__all__ = [
    "MODEL_NAMES",
    "attention_unet3d",
    "get_model",
    "unet2d",
    "unet3d",
    "unet_pp3d",
]
