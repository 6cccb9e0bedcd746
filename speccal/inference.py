"""Sliding-window inference of a segmentation model over whole volumes.

The volume is covered by overlapping patches; patch logits are blended with a Gaussian (or
constant) importance map, normalised by the summed weights, and turned into probabilities
with a softmax over the class axis.
"""

import math

import numpy as np
from scipy import special
from tqdm.auto import tqdm

_MODES = ("gaussian", "constant")


def _check_args(volume, patch_size, overlap, mode, batch_size):
    volume = np.asarray(volume)
    if volume.ndim < 2:
        raise ValueError(
            f"`volume` must have shape (*spatial, in_channels); got shape {volume.shape}."
        )
    spatial = volume.shape[:-1]
    patch_size = tuple(int(p) for p in np.atleast_1d(patch_size))
    if len(patch_size) != len(spatial) or min(patch_size) < 1:
        raise ValueError(
            f"`patch_size` must hold {len(spatial)} positive ints, one per spatial axis of "
            f"`volume` {volume.shape}; got {patch_size!r}."
        )
    if not 0 <= overlap < 1:
        raise ValueError(f"`overlap` must be in [0, 1); got {overlap!r}.")
    if mode not in _MODES:
        raise ValueError(f"`mode` must be one of {_MODES}; got {mode!r}.")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"`batch_size` must be an int >= 1; got {batch_size!r}.")
    if not np.all(np.isfinite(volume)):
        raise ValueError("`volume` must hold finite values; got NaN or inf.")
    return volume.astype(np.float32, copy=False), patch_size


def window_starts(length, patch, overlap):
    """Start indices of the windows covering one axis.

    Parameters
    ----------
    length : int
        Axis length, >= ``patch``.
    patch : int
        Window length.
    overlap : float
        Fraction of the window shared by neighbours, in [0, 1).

    Returns
    -------
    list of int
        Evenly spread starts from 0 to ``length - patch`` whose step never exceeds
        ``patch * (1 - overlap)`` (rounded down, at least 1).

    Examples
    --------
    >>> window_starts(10, 4, 0.5)
    [0, 2, 4, 6]
    """
    step = max(1, int(patch * (1 - overlap)))
    n = math.ceil((length - patch) / step) + 1
    if n == 1:
        return [0]
    return [round(i * (length - patch) / (n - 1)) for i in range(n)]


def importance_map(patch_size, mode="gaussian", sigma_scale=0.125):
    """Blending weights of one patch.

    Parameters
    ----------
    patch_size : tuple of int
        Spatial patch size.
    mode : {"gaussian", "constant"}, default="gaussian"
        ``"gaussian"`` weighs the patch centre most (nnU-Net); ``"constant"`` is uniform.
    sigma_scale : float, default=0.125
        Gaussian standard deviation as a fraction of each patch side.

    Returns
    -------
    ndarray of shape patch_size
        Weights in (0, 1], maximum 1.

    Notes
    -----
    .. math:: w(u) = \\prod_a \\exp\\Big(-\\frac{(u_a - c_a)^2}{2 (s\\, P_a)^2}\\Big),
              \\quad c_a = (P_a - 1)/2,

    floored at the smallest positive weight so that no voxel gets zero weight.
    """
    if mode == "constant":
        return np.ones(patch_size, dtype=np.float32)
    weights = np.ones(patch_size, dtype=np.float64)
    for axis, size in enumerate(patch_size):
        u = np.arange(size) - (size - 1) / 2
        profile = np.exp(-(u**2) / (2 * (sigma_scale * size) ** 2))
        shape = [1] * len(patch_size)
        shape[axis] = size
        weights = weights * profile.reshape(shape)
    weights /= weights.max()
    weights = np.maximum(weights, weights[weights > 0].min())
    return weights.astype(np.float32)


def _predict_batch(model, batch):
    if hasattr(model, "predict_on_batch"):
        return np.asarray(model.predict_on_batch(batch))
    return np.asarray(model(batch))


def sliding_window_predict(
    model,
    volume,
    patch_size,
    overlap=0.5,
    mode="gaussian",
    batch_size=2,
    *,
    return_logits=False,
    progress=False,
    sigma_scale=0.125,
):
    """Predict a whole volume patch by patch and blend the overlapping windows.

    Parameters
    ----------
    model : keras.Model or callable
        Maps ``(batch, *patch_size, in_channels)`` to logits
        ``(batch, *patch_size, n_classes)``.
    volume : array-like of shape (*spatial, in_channels)
        One image, channels last (e.g. ``(X, Y, Z, n_modalities)``).
    patch_size : tuple of int
        Spatial size of the windows the model is run on. Axes of the volume shorter than the
        patch are zero-padded symmetrically and cropped back afterwards.
    overlap : float, default=0.5
        Fraction of each window shared with its neighbour along an axis, in [0, 1).
    mode : {"gaussian", "constant"}, default="gaussian"
        Blending weights (see :func:`importance_map`).
    batch_size : int, default=2
        Windows per model call (the last batch is padded, so the model sees one shape).
    return_logits : bool, default=False
        Return the blended logits instead of the probabilities.
    progress : bool, default=False
        Show a tqdm progress bar over the batches.
    sigma_scale : float, default=0.125
        Gaussian width as a fraction of the patch side.

    Returns
    -------
    ndarray of shape (*spatial, n_classes), float32
        Softmax probabilities (or logits with ``return_logits=True``) for the whole volume.

    Raises
    ------
    ValueError
        If ``volume`` has no channel axis or non-finite values, or ``patch_size``,
        ``overlap``, ``mode`` or ``batch_size`` is invalid.

    Notes
    -----
    With windows :math:`w`, importance map :math:`g` and window logits :math:`z_w`, the
    blended logits are

    .. math:: z(x) = \\frac{\\sum_w g(x - o_w)\\, z_w(x - o_w)}{\\sum_w g(x - o_w)},

    and the probabilities are :math:`\\mathrm{softmax}(z)`. Logits are blended (as nnU-Net
    does), so a model with a constant output is reproduced exactly.

    Examples
    --------
    >>> import numpy as np
    >>> from speccal.models import unet3d
    >>> model = unet3d(in_channels=1, n_classes=2, depth=2)
    >>> probs = sliding_window_predict(model, np.zeros((20, 12, 9, 1)), (8, 8, 8))
    >>> probs.shape
    (20, 12, 9, 2)
    """
    volume, patch_size = _check_args(volume, patch_size, overlap, mode, batch_size)
    spatial = volume.shape[:-1]
    pad = [
        (max(0, p - s) // 2, max(0, p - s) - max(0, p - s) // 2)
        for s, p in zip(spatial, patch_size, strict=True)
    ]
    padded = np.pad(volume, [*pad, (0, 0)])
    starts = [
        window_starts(s, p, overlap) for s, p in zip(padded.shape[:-1], patch_size, strict=True)
    ]
    corners = list(np.stack(np.meshgrid(*starts, indexing="ij"), -1).reshape(-1, len(spatial)))
    weights = importance_map(patch_size, mode, sigma_scale)[..., None]
    logits = None
    norm = np.zeros((*padded.shape[:-1], 1), dtype=np.float32)
    batches = range(0, len(corners), batch_size)
    for first in tqdm(batches, desc="sliding window", disable=not progress, leave=False):
        chunk = corners[first : first + batch_size]
        slices = [
            tuple(slice(c, c + p) for c, p in zip(corner, patch_size, strict=True))
            for corner in chunk
        ]
        batch = np.stack([padded[s] for s in slices])
        if len(batch) < batch_size:
            fill = np.zeros((batch_size - len(batch), *batch.shape[1:]), dtype=np.float32)
            batch = np.concatenate([batch, fill])
        out = _predict_batch(model, batch).astype(np.float32)
        if logits is None:
            logits = np.zeros((*padded.shape[:-1], out.shape[-1]), dtype=np.float32)
        for s, patch_logits in zip(slices, out, strict=False):
            logits[s] += weights * patch_logits
            norm[s] += weights
    logits /= norm
    crop = tuple(slice(lo, lo + s) for (lo, _), s in zip(pad, spatial, strict=True))
    logits = logits[crop]
    if return_logits:
        return logits
    return special.softmax(logits, axis=-1).astype(np.float32)
