"""Plumbing shared by the baseline losses.

One place for: hyperparameter checks, label and logit validation, float32 casting,
one-hot encoding with an ignore mask, the flat mean over valid voxels, per-sample
weights broadcast to the voxel grid, and the local
window filters (mean, Gaussian, box counts) that SVLS, NACL and CRaC apply to one-hot
label maps.
"""

import inspect
import numbers

import keras
import numpy as np
import tensorflow as tf

from speccal._utils import check_scalar, fill_doc

_MEAN_REDUCTIONS = ("sum_over_batch_size", "mean")


def check_kernel_size(kernel_size):
    """Validate an odd window size >= 3 (``kernel_size``) and return it as an int."""
    kernel_size = check_scalar("kernel_size", kernel_size, minimum=3, integer=True)
    if kernel_size % 2 == 0:
        raise ValueError(f"`kernel_size` must be an odd int >= 3; got {kernel_size!r}.")
    return kernel_size


def check_ignore_class(ignore_class):
    """Validate ``ignore_class`` (None or an int label) and return it."""
    if ignore_class is None:
        return None
    if isinstance(ignore_class, bool | np.bool_) or not isinstance(ignore_class, numbers.Integral):
        raise TypeError(f"`ignore_class` must be None or an int; got {ignore_class!r}.")
    return int(ignore_class)


def check_labels(y_true, n_classes, ignore_class=None):
    """``y_true`` as int32 labels and an op asserting they lie in ``[0, n_classes)``.

    Labels equal to ``ignore_class`` pass too. Run the returned op (as a control dependency)
    before using the labels. The error names ``y_true`` and the offending value. Integer
    labels are read twice (a min and a max reduction, no temporaries); float labels are also
    compared with their integer part. The offending value is looked up only when the check
    fails, inside the false branch of a :func:`tf.cond`, so a passing check costs nothing
    more. Works eagerly and in graphs; XLA compiles the assertion away.

    Parameters
    ----------
    y_true : tensor of int or float
        Labels, any shape.
    n_classes : int
        Number of classes.
    ignore_class : int or None
        A label allowed outside the range.

    Returns
    -------
    labels : tf.Tensor of int32, shape of ``y_true``
    check : tf.Tensor of bool, shape ()
        True; evaluating it raises ``tf.errors.InvalidArgumentError`` for a bad label.
    """
    raw = tf.convert_to_tensor(y_true)
    labels = tf.cast(raw, tf.int32)
    considered = labels
    if ignore_class is not None:
        considered = tf.where(tf.equal(labels, ignore_class), tf.zeros_like(labels), labels)
    if raw.dtype.is_floating:
        # a float label is bad when it is not an integer or lies outside the range
        flat = tf.reshape(raw, [-1])
        in_range = (flat >= 0) & (flat < n_classes) & tf.equal(tf.math.floor(flat), flat)
        if ignore_class is not None:
            in_range |= tf.equal(flat, ignore_class)
        ok = tf.reduce_all(in_range)

        def offending():
            return tf.gather(flat, tf.argmin(tf.cast(in_range, tf.int32)))

    else:
        low, high = tf.reduce_min(considered), tf.reduce_max(considered)
        ok = tf.logical_or(tf.equal(tf.size(labels), 0), (low >= 0) & (high < n_classes))

        def offending():
            return tf.where(low < 0, low, high)

    allowed = f" or ignore_class={ignore_class}" if ignore_class is not None else ""
    message = f"`y_true` must hold integer labels in [0, {n_classes}){allowed}; got"

    def passed():
        return tf.constant(True)

    def failed():
        if tf.executing_eagerly():
            value = offending().numpy().item()
            raise tf.errors.InvalidArgumentError(None, None, f"{message} {value!r}.")
        with tf.control_dependencies([tf.debugging.Assert(ok, [message, offending()])]):
            return tf.identity(ok)

    return labels, tf.cond(ok, passed, failed)


def prepare_inputs(y_true, y_pred, ignore_class=None):
    """Check shapes and return int32 labels ``(B, *S)`` and float32 logits ``(B, *S, C)``.

    Labels may carry a trailing axis of size 1. Label values must be integers in
    ``[0, C)`` or equal ``ignore_class``, and logits must be finite; both are asserted
    at run time (eagerly and in graphs; XLA drops the assertions).
    """
    logits = tf.cast(y_pred, tf.float32)
    labels = tf.convert_to_tensor(y_true)
    rank = logits.shape.rank
    if rank not in (4, 5):
        raise ValueError(
            "`y_pred` must be logits of shape (batch, *spatial, n_classes) with 2 or 3 "
            f"spatial axes; got shape {tuple(logits.shape)}."
        )
    if labels.shape.rank == rank and labels.shape[-1] == 1:
        labels = tf.squeeze(labels, -1)
    if labels.shape.rank != rank - 1 or not labels.shape.is_compatible_with(logits.shape[:-1]):
        raise ValueError(
            "`y_true` must be integer labels of shape (batch, *spatial) matching `y_pred` "
            f"(batch, *spatial, n_classes); got y_true {tuple(labels.shape)} and y_pred "
            f"{tuple(logits.shape)}."
        )
    n_classes = logits.shape[-1]
    if n_classes is None or n_classes < 2:
        raise ValueError(f"`y_pred` must have a known class axis >= 2; got {n_classes!r}.")
    labels, label_check = check_labels(labels, n_classes, ignore_class)
    checks = [
        label_check,
        tf.debugging.Assert(
            tf.reduce_all(tf.math.is_finite(logits)),
            ["`y_pred` must be finite logits; got NaN or inf."],
        ),
    ]
    with tf.control_dependencies(checks):
        return tf.identity(labels), tf.identity(logits)


def one_hot_with_mask(labels, n_classes, ignore_class=None):
    """One-hot labels ``(B, *S, C)`` float32 (zero vector where ignored) and the valid mask."""
    if ignore_class is None:
        valid = tf.ones_like(labels, dtype=tf.bool)
    else:
        valid = tf.not_equal(labels, ignore_class)
    onehot = tf.one_hot(tf.where(valid, labels, -1), n_classes, dtype=tf.float32)
    return onehot, valid


def expand_sample_weight(sample_weight, y_pred):
    """Broadcast per-sample (or coarser) weights to the voxel grid ``(batch, *spatial)``.

    Keras' loss reduction only adds or drops one trailing axis of ``sample_weight``, so
    weights of shape ``(batch,)`` would not reach 2D or 3D per-voxel losses. Weights of
    lower rank than the grid get trailing axes of size 1 and are broadcast; weights of
    other ranks, or ``y_pred`` without 2 or 3 spatial axes, are returned unchanged (the
    input checks then report the shape).
    """
    sample_weight = tf.convert_to_tensor(sample_weight)
    rank = tf.convert_to_tensor(y_pred).shape.rank
    missing = (rank or 0) - 1 - sample_weight.shape.rank
    if rank not in (4, 5) or missing < 0:
        return sample_weight
    if missing > 0:
        sample_weight = tf.reshape(
            sample_weight, tf.concat([tf.shape(sample_weight), tf.ones(missing, tf.int32)], 0)
        )
    return tf.broadcast_to(sample_weight, tf.shape(y_pred)[:-1])


def softmax_cross_entropy(targets, logits):
    """Per-voxel ``-sum_c targets_c log softmax(logits)_c``; no gradient into ``targets``."""
    return tf.nn.softmax_cross_entropy_with_logits(labels=tf.stop_gradient(targets), logits=logits)


def local_filter(x, kernel, padding="zeros"):
    """Filter every channel of ``x`` ``(B, *S, C)`` with one spatial ``kernel`` ``(k,)*d``.

    Parameters
    ----------
    x : tf.Tensor of shape (batch, *spatial, channels)
    kernel : array-like of shape (k,) * n_spatial
        Odd-sized kernel, applied as a correlation.
    padding : {"zeros", "replicate"}
        Zero padding (``"same"``) or edge replication.

    Returns
    -------
    tf.Tensor of the shape of ``x``.
    """
    rank = x.shape.rank
    n_spatial = rank - 2
    kernel = np.asarray(kernel, dtype=np.float32)
    half = kernel.shape[0] // 2
    channels_first = [0, rank - 1, *range(1, rank - 1)]
    moved = tf.transpose(x, channels_first)
    shape = tf.shape(moved)
    flat = tf.reshape(moved, tf.concat([[-1], shape[2:], [1]], 0))
    if padding == "replicate":
        # SYMMETRIC padding of width 1 copies the edge; repeating it replicates further.
        for _ in range(half):
            flat = tf.pad(flat, [[0, 0]] + [[1, 1]] * n_spatial + [[0, 0]], mode="SYMMETRIC")
        conv_padding = "VALID"
    else:
        conv_padding = "SAME"
    out = tf.nn.convolution(flat, kernel[..., None, None], padding=conv_padding)
    out = tf.reshape(out, shape)
    inverse = [0, *range(2, rank), 1]
    return tf.transpose(out, inverse)


def box_kernel(n_spatial, kernel_size):
    """Kernel of ones of shape ``(kernel_size,) * n_spatial``."""
    return np.ones((kernel_size,) * n_spatial, dtype=np.float32)


def _shared_options():
    """The keyword-only options of :class:`SegmentationLoss` (``ignore_class``, ...), in order."""
    parameters = inspect.signature(SegmentationLoss.__init__).parameters.values()
    return {p.name: p for p in parameters if p.kind is inspect.Parameter.KEYWORD_ONLY}


def _with_shared_options(init):
    """The signature of a subclass's ``__init__`` with ``**kwargs`` spelled out.

    ``**kwargs`` is replaced by the options every loss shares, in the base class's order;
    the subclass's own keyword-only parameters among them (its ``name``) keep their
    defaults. A constructor without ``**kwargs`` keeps its signature.
    """
    signature = inspect.signature(init)
    *parameters, last = signature.parameters.values()
    if last.kind is not inspect.Parameter.VAR_KEYWORD:
        return signature
    shared = _shared_options()
    own = {p.name: p for p in parameters if p.name in shared}
    parameters = [p for p in parameters if p.name not in shared]
    parameters += [own.get(name, option) for name, option in shared.items()]
    return signature.replace(parameters=parameters)


class SegmentationLoss(keras.losses.Loss):
    """Base class: sparse labels, logits, ignore mask, flat mean over valid voxels.

    Subclasses implement ``voxel_losses(labels, logits, onehot, valid)`` returning the
    per-voxel loss ``(B, *S)``; the base class validates inputs, masks ignored voxels and
    rescales so that Keras' ``"sum_over_batch_size"`` reduction is the mean over valid
    voxels (and ``"mean_with_sample_weight"`` the weighted mean over them).
    ``sample_weight`` may be per sample ``(batch,)`` or per voxel.

    A subclass's constructor takes its hyperparameters, its default ``name`` and
    ``**kwargs``, which carry the options every loss shares (``ignore_class``,
    ``reduction``, ``dtype``) here: ``def __init__(self, gamma=3.0, *, name="focal_loss",
    **kwargs)``. Its signature, as :func:`inspect.signature`, ``help`` and the docs show it,
    names those options instead of ``**kwargs`` (:func:`_with_shared_options`), and
    :meth:`get_config` holds every argument: the hyperparameters are read back from the
    attributes of the same names (:meth:`hyperparameters`).
    """

    def __init__(
        self,
        *,
        ignore_class=None,
        reduction="sum_over_batch_size",
        name=None,
        dtype=None,
        **unknown,
    ):
        if unknown:  # named here, not as SegmentationLoss.__init__ by Python
            shown = ", ".join(list(inspect.signature(type(self)).parameters))
            raise TypeError(
                f"{type(self).__name__}() got an unexpected keyword argument "
                f"{next(iter(unknown))!r}; its parameters are {shown}."
            )
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.ignore_class = check_ignore_class(ignore_class)

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "__init__" in vars(cls):
            cls.__init__.__signature__ = _with_shared_options(cls.__init__)

    def __call__(self, y_true, y_pred, sample_weight=None):
        if sample_weight is not None:
            sample_weight = expand_sample_weight(sample_weight, y_pred)
        if self.ignore_class is not None and self.reduction == "mean_with_sample_weight":
            sample_weight = self._without_ignored(y_true, y_pred, sample_weight)
        return super().__call__(y_true, y_pred, sample_weight=sample_weight)

    def _without_ignored(self, y_true, y_pred, sample_weight):
        """Weights that are 0 on ignored voxels, for ``"mean_with_sample_weight"``.

        That reduction divides by the sum of the weights, so the rescaling in :meth:`call`
        cannot reach it; Keras' own ``ignore_class`` masks the weights the same way. Shapes
        that do not fit are left for the input checks to report.
        """
        labels = tf.convert_to_tensor(y_true)
        grid = tf.convert_to_tensor(y_pred).shape[:-1]
        if labels.shape.rank == grid.rank + 1 and labels.shape[-1] == 1:
            labels = tf.squeeze(labels, -1)
        if not labels.shape.is_compatible_with(grid):
            return sample_weight
        valid = tf.cast(tf.not_equal(tf.cast(labels, tf.int32), self.ignore_class), tf.float32)
        return valid if sample_weight is None else tf.cast(sample_weight, tf.float32) * valid

    def call(self, y_true, y_pred):
        labels, logits = prepare_inputs(y_true, y_pred, self.ignore_class)
        onehot, valid = one_hot_with_mask(labels, logits.shape[-1], self.ignore_class)
        losses = self.voxel_losses(labels, logits, onehot, valid)
        losses = tf.where(valid, losses, 0.0)
        if self.ignore_class is not None and self.reduction in _MEAN_REDUCTIONS:
            total = tf.cast(tf.size(valid), tf.float32)
            n_valid = tf.reduce_sum(tf.cast(valid, tf.float32))
            losses = losses * tf.math.divide_no_nan(total, n_valid)
        return losses

    def voxel_losses(self, labels, logits, onehot, valid):
        """Per-voxel loss ``(B, *S)``; implemented by every subclass."""
        raise NotImplementedError(f"{type(self).__name__} must implement `voxel_losses`.")

    def hyperparameters(self):
        """The subclass's own constructor arguments, for :meth:`get_config`.

        Read from the attributes named like the parameters of its constructor (less the
        options every loss shares); a subclass whose state differs from its arguments
        overrides this.
        """
        parameters = inspect.signature(type(self).__init__).parameters
        return {
            name: getattr(self, name)
            for name in parameters
            if name != "self" and name not in _shared_options()
        }

    def get_config(self):
        config = super().get_config()
        config.update(self.hyperparameters())
        config["ignore_class"] = self.ignore_class
        return config


_COMMON_PARAMETERS = """ignore_class : int or None, default=None
        Label value whose voxels are left out: they add nothing to the loss and the
        mean runs over the remaining voxels only.
    reduction : str, default="sum_over_batch_size"
        Keras reduction of the per-voxel losses; the default is the flat mean over
        the valid voxels of the batch.
    name : str or None, default=None
        Name of the loss.
    dtype : str or None, default=None
        Keras dtype policy of the loss; the computation itself is always float32."""


_CALL = """Called as ``loss(y_true, y_pred)`` with integer labels ``y_true`` of shape
    ``(batch, *spatial)`` (a trailing axis of size 1 is accepted) and logits ``y_pred``
    of shape ``(batch, *spatial, n_classes)``, channels last, with 2 or 3 spatial axes;
    returns the scalar loss."""


#: Completes a loss docstring: ``{call}`` (the call convention, after the summary) and
#: ``{common_parameters}`` (the parameters every loss shares).
fill_loss_doc = fill_doc(call=_CALL, common_parameters=_COMMON_PARAMETERS)
