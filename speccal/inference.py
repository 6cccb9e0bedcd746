"""Sliding-window inference of a segmentation model over whole volumes.

The volume is covered by overlapping patches; patch logits are blended with a Gaussian (or
constant) importance map, normalised by the summed weights, and turned into probabilities
with a softmax over the class axis. Cutting, model calls and blending run on the device
(TensorFlow); the host sends the window corners and the summed weights and receives the
blended result.
"""

import math
import weakref

import numpy as np
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


def window_corners(shape, patch_size, overlap):
    """Window corners covering ``shape``, the last axis outermost.

    Returns
    -------
    ndarray of int32 of shape (n_windows, len(shape))
        Consecutive windows share their last-axis start, so a slab along the last axis is a
        run of consecutive windows.

    Examples
    --------
    >>> window_corners((6, 6), (4, 4), 0.5).tolist()
    [[0, 0], [2, 0], [0, 2], [2, 2]]
    """
    starts = [window_starts(s, p, overlap) for s, p in zip(shape, patch_size, strict=True)]
    grid = np.meshgrid(*starts[::-1], indexing="ij")  # the last axis varies slowest
    return np.stack(grid[::-1], -1).reshape(-1, len(shape)).astype(np.int32)


def _slabs(last_starts, patch, slab_depth):
    """Group the sorted last-axis starts into slabs spanning at most ``slab_depth`` voxels."""
    groups = [[last_starts[0]]]
    for start in last_starts[1:]:
        if slab_depth is not None and start + patch - groups[-1][0] > slab_depth:
            groups.append([])
        groups[-1].append(start)
    return groups


def _call(model, batch):
    import keras

    if isinstance(model, keras.layers.Layer):
        return model(batch, training=False)
    return model(batch)


class _Blender:
    """The compiled step of one model, patch size and batch: cut, run, blend on the device.

    ``step(acc, image, corners, valid)`` cuts the windows at ``corners`` from the
    device-resident slab ``image``, runs the model on them (split over the replicas of
    ``strategy``, ``batch_size`` each), and adds ``weights * logits`` to the device variable
    ``acc``, one in-place scatter-add per window, in window order. ``valid`` (1 or 0 per
    window) zeroes the windows that only pad the last batch. The sum of the weights does not
    depend on the model: :func:`_weight_sums` adds it up on the host, once per volume (a
    second scatter-add per window, for the weights, cost as much as the first: without it,
    ``benchmarks/bench_inference.py`` (a) on 128 x 128 x 96 went from 1.08 to 1.01 times the
    bare model calls, old and new code run one after the other beside other work).
    """

    def __init__(self, model, patch_size, weights, batch_size, strategy, in_channels):
        import tensorflow as tf

        self.tf, self.model, self.strategy = tf, model, strategy
        self.patch_size, self.batch_size = patch_size, batch_size
        self.in_channels = in_channels
        self.replicas = strategy.num_replicas_in_sync if strategy is not None else 1
        self.per_step = batch_size * self.replicas
        self.weights = tf.constant(weights.reshape(-1, 1))  # the importance map, built once
        grid = np.indices(patch_size).reshape(len(patch_size), -1).T
        self.offsets = tf.constant(grid.astype(np.int32))  # (prod(patch_size), ndim)
        spec = tf.TensorSpec((batch_size, *patch_size, in_channels), tf.float32)
        traced = tf.function(lambda x: _call(model, x)).get_concrete_function(spec)
        self.n_classes = int(traced.structured_outputs.shape[-1])
        self.step = tf.function(self._step, reduce_retracing=True)

    def _cut(self, image, corners, count):
        tf = self.tf
        # a static window shape: with the channel size left open (-1) the traced model's
        # shapes are partly unknown, and TensorFlow's CPU graph ran ~1.4x slower (issue 20)
        size = [*self.patch_size, self.in_channels]
        windows = [tf.slice(image, tf.concat([corners[i], [0]], 0), size) for i in range(count)]
        return tf.stack(windows)

    def _run(self, image, corners):
        tf = self.tf
        if self.strategy is None:
            logits = _call(self.model, self._cut(image, corners, self.batch_size))
            return tf.cast(logits, tf.float32)
        n = self.batch_size

        def replica_step(image, corners):
            replica = tf.distribute.get_replica_context().replica_id_in_sync_group
            mine = corners[replica * n : (replica + 1) * n]
            return tf.cast(_call(self.model, self._cut(image, mine, n)), tf.float32)

        per_replica = self.strategy.run(replica_step, args=(image, corners))
        return self.strategy.gather(per_replica, axis=0)

    def _step(self, acc, image, corners, valid):
        tf = self.tf
        logits = self._run(image, corners)
        for i in range(self.per_step):
            weights = self.weights * valid[i]
            acc.scatter_nd_add(
                self.offsets + corners[i], tf.reshape(logits[i], [-1, self.n_classes]) * weights
            )


#: model -> {settings: _Blender}; a model's compiled steps live as long as the model.
_BLENDERS = weakref.WeakKeyDictionary()


def _blender(model, patch_size, weights, batch_size, strategy, in_channels, settings):
    """One compiled step per model and settings, traced once and reused across volumes."""
    try:
        steps = _BLENDERS.setdefault(model, {})
    except TypeError:  # not weakly referenceable: compile for this call only
        steps = {}
    key = (patch_size, batch_size, id(strategy), in_channels, *settings)
    if key not in steps:
        steps[key] = _Blender(model, patch_size, weights, batch_size, strategy, in_channels)
    return steps[key]


def _model_strategy(model):
    """The strategy whose scope is entered or that built ``model``, if it has > 1 replica."""
    import tensorflow as tf

    strategy = tf.distribute.get_strategy() if tf.distribute.has_strategy() else None
    strategy = strategy or getattr(model, "distribute_strategy", None)
    if strategy is None or strategy.num_replicas_in_sync == 1:
        return None
    return strategy


def _check_slab_depth(slab_depth, patch_size):
    if slab_depth is not None and (
        isinstance(slab_depth, bool)
        or not isinstance(slab_depth, (int, np.integer))
        or slab_depth < patch_size[-1]
    ):
        raise ValueError(
            f"`slab_depth` must be None or an int >= the patch's last side {patch_size[-1]}; "
            f"got {slab_depth!r}."
        )


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
    slab_depth=None,
):
    r"""Predict a whole volume patch by patch and blend the overlapping windows on the device.

    Parameters
    ----------
    model : keras.Model or callable
        Maps a tensor ``(batch, *patch_size, in_channels)`` to logits
        ``(batch, *patch_size, n_classes)``. It is called inside a ``tf.function``, so a
        plain callable must use TensorFlow or ``keras.ops`` operations. A model built under
        a ``tf.distribute.MirroredStrategy`` (or called in its scope) gets each batch of
        windows split over the replicas, ``batch_size`` windows per replica.
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
        Windows per model call (per replica); the last batch is padded, so the model sees
        one shape.
    return_logits : bool, default=False
        Return the blended logits instead of the probabilities.
    progress : bool, default=False
        Show a tqdm progress bar over the batches.
    sigma_scale : float, default=0.125
        Gaussian width as a fraction of the patch side.
    slab_depth : int, optional
        Largest extent, in voxels along the last spatial axis, of the part of the volume held
        on the device (input slab, blended logits and weights), for volumes larger than
        device memory: windows are blended slab by slab, and each finished part is
        normalised and copied to the host. At least the patch's last side; None (default):
        the whole volume at once. The blended logits do not depend on it, bit for bit (the
        same additions in the same order); the probabilities may differ in the last bit
        (TensorFlow vectorises the softmax by tensor shape).

    Returns
    -------
    ndarray of shape (*spatial, n_classes), float32
        Softmax probabilities (or logits with ``return_logits=True``) for the whole volume.

    Raises
    ------
    ValueError
        If ``volume`` has no channel axis or non-finite values, or ``patch_size``,
        ``overlap``, ``mode``, ``batch_size`` or ``slab_depth`` is invalid.

    Notes
    -----
    With windows :math:`w`, importance map :math:`g` and window logits :math:`z_w`, the
    blended logits are

    .. math:: z(x) = \frac{\sum_w g(x - o_w)\, z_w(x - o_w)}{\sum_w g(x - o_w)},

    and the probabilities are :math:`\mathrm{softmax}(z)`. Logits are blended (as nnU-Net
    does), so a model with a constant output is reproduced exactly.

    The logits stay on the device: a compiled step per batch cuts the windows from the
    volume (sent once), runs the model and adds each window's weighted logits into a device
    variable by an in-place scatter-add; the summed weights, which do not depend on the model,
    are added up on the host and sent once; the normalised result crosses to the host once per
    slab (once per volume by default). Windows are visited with the last axis outermost
    (:func:`window_corners`), so a slab is a run of consecutive windows and the part it
    shares with the next slab is carried over on the device. The values
    equal those of speccal 0.1's host-side blending to float32 rounding (each voxel's sum
    runs over the windows in another order).

    Examples
    --------
    >>> import numpy as np
    >>> from speccal.models import unet3d
    >>> model = unet3d(in_channels=1, n_classes=2, depth=2)
    >>> probs = sliding_window_predict(model, np.zeros((20, 12, 9, 1)), (8, 8, 8))
    >>> probs.shape
    (20, 12, 9, 2)
    """
    import tensorflow as tf

    volume, patch_size = _check_args(volume, patch_size, overlap, mode, batch_size)
    _check_slab_depth(slab_depth, patch_size)
    spatial = volume.shape[:-1]
    pad = [
        (max(0, p - s) // 2, max(0, p - s) - max(0, p - s) // 2)
        for s, p in zip(spatial, patch_size, strict=True)
    ]
    padded = np.pad(volume, [*pad, (0, 0)])
    weights = importance_map(patch_size, mode, sigma_scale)
    blender = _blender(
        model,
        patch_size,
        weights,
        batch_size,
        _model_strategy(model),
        volume.shape[-1],
        (mode, sigma_scale),
    )
    corners = window_corners(padded.shape[:-1], patch_size, overlap)
    slabs = _slabs(sorted(set(corners[:, -1].tolist())), patch_size[-1], slab_depth)
    n_steps = sum(-(-np.isin(corners[:, -1], slab).sum() // blender.per_step) for slab in slabs)
    result = np.empty((*padded.shape[:-1], blender.n_classes), dtype=np.float32)
    finish = _finisher(result, _weight_sums(padded.shape[:-1], corners, weights), return_logits)
    held = None  # (low, acc) of the slab before
    with tqdm(total=n_steps, desc="sliding window", disable=not progress, leave=False) as bar:
        for slab in slabs:
            low, high = slab[0], slab[-1] + patch_size[-1]
            acc = _slab_state(held, low, high, result.shape, finish)
            image = tf.constant(padded[..., low:high, :])
            mine = corners[np.isin(corners[:, -1], slab)] - np.int32(
                [0] * (len(spatial) - 1) + [low]
            )
            for first in range(0, len(mine), blender.per_step):
                batch = mine[first : first + blender.per_step]
                valid = np.zeros(blender.per_step, np.float32)
                valid[: len(batch)] = 1
                batch = np.concatenate(
                    [batch, np.repeat(batch[-1:], blender.per_step - len(batch), 0)]
                )
                blender.step(acc, image, tf.constant(batch), tf.constant(valid))
                bar.update()
            held = (low, acc)
    finish(*held, result.shape[-2])
    crop = tuple(slice(lo, lo + s) for (lo, _), s in zip(pad, spatial, strict=True))
    return result[crop]


def _weight_sums(shape, corners, weights):
    """The summed importance map of the windows at ``corners``, ``shape + (1,)``, float32.

    Added in window order, as the device adds the weighted logits: the same sums, bit for bit,
    as a scatter-add of the weights beside them.
    """
    sums = np.zeros((*shape, 1), dtype=np.float32)
    for corner in corners:
        window = tuple(slice(c, c + p) for c, p in zip(corner, weights.shape, strict=True))
        sums[window] += weights[..., None]
    return sums


def _finisher(result, weight_sums, return_logits):
    """``finish(low, acc, stop)``: normalise ``[low, stop)`` by ``weight_sums`` on the device
    and copy it to the host."""
    import tensorflow as tf

    def finish(low, acc, stop):
        logits = acc[..., : stop - low, :] / weight_sums[..., low:stop, :]
        values = logits if return_logits else tf.nn.softmax(logits, axis=-1)
        result[..., low:stop, :] = values.numpy()

    return finish


def _slab_state(held, low, high, shape, finish):
    """The device variable for the slab ``[low, high)``, carrying over what the slab before
    shares with it (and finishing the rest of the slab before)."""
    import tensorflow as tf

    depth = high - low
    if held is None:
        return tf.Variable(tf.zeros((*shape[:-2], depth, shape[-1])))
    before, acc = held
    finish(before, acc, low)
    kept = acc[..., low - before :, :]
    fill = tf.zeros((*shape[:-2], depth - kept.shape[-2], shape[-1]))
    return tf.Variable(tf.concat([kept, fill], axis=-2))
