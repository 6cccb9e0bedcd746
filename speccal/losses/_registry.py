"""Losses by name, for the command line and experiment configs (``--loss mbls``)."""

import importlib
import inspect

from speccal._names import LOSS_NAMES

# name -> (module, class); modules are imported on demand, so a missing one only
# affects its own name.
_CLASSES = {
    "cespectral": ("speccal.losses._spectral", "CESpectral"),
    "focal": ("speccal.losses._focal", "FocalLoss"),
    "flsd": ("speccal.losses._focal", "AdaptiveFocalLoss"),
    "ls": ("speccal.losses._label_smoothing", "LabelSmoothingLoss"),
    "mbls": ("speccal.losses._margin", "MarginLabelSmoothingLoss"),
    "svls": ("speccal.losses._svls", "SpatiallyVaryingLabelSmoothingLoss"),
    "crac": ("speccal.losses._crac", "CRaCLoss"),
    "nacl": ("speccal.losses._nacl", "NACLLoss"),
    "cpenalty": ("speccal.losses._penalty", "ConfidencePenaltyLoss"),
    "meep": ("speccal.losses._meep", "MEEPLoss"),
}
_CE_PARAMETERS = ("ignore_class", "reduction", "name", "dtype")


def _cross_entropy(**params):
    import keras

    return keras.losses.SparseCategoricalCrossentropy(from_logits=True, **params)


def _factory(name):
    if name == "ce":
        return _cross_entropy, _CE_PARAMETERS
    module, attribute = _CLASSES[name]
    cls = getattr(importlib.import_module(module), attribute)
    parameters = [
        p.name
        for p in inspect.signature(cls.__init__).parameters.values()
        if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    ]
    return cls, tuple(parameters)


def get_loss(name, **params):
    """Build a loss from its short name.

    Parameters
    ----------
    name : str
        One of :data:`LOSS_NAMES`: ``"ce"`` (sparse cross-entropy from logits),
        ``"cespectral"`` (:class:`~speccal.losses.CESpectral`), ``"focal"``,
        ``"flsd"``, ``"ls"``, ``"mbls"``, ``"svls"``, ``"crac"``, ``"nacl"``,
        ``"cpenalty"``, ``"meep"``. Case-insensitive.
    **params
        Constructor arguments of that loss, e.g. ``gamma=3.0`` for ``"focal"``.

    Returns
    -------
    keras.losses.Loss
        A loss called as ``loss(y_true, y_pred)`` with integer labels
        ``(batch, *spatial)`` and logits ``(batch, *spatial, n_classes)``.

    Raises
    ------
    ValueError
        If ``name`` is unknown (the message lists the valid names) or a parameter is
        not an argument of that loss (the message lists the valid ones).

    Examples
    --------
    >>> from speccal.losses import get_loss
    >>> get_loss("mbls", margin=10.0).margin
    10.0
    >>> get_loss("ce", ignore_class=255).ignore_class
    255
    """
    key = name.lower() if isinstance(name, str) else name
    if key not in LOSS_NAMES:
        raise ValueError(f"`name` must be one of {LOSS_NAMES}; got {name!r}.")
    factory, allowed = _factory(key)
    unknown = sorted(set(params) - set(allowed))
    if unknown:
        raise ValueError(
            f"`params` must be arguments of the {key!r} loss, i.e. among {sorted(allowed)}; "
            f"got unknown {unknown}."
        )
    return factory(**params)
