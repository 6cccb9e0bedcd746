"""The spectral entropy regularizer (paper §3, Algorithm 1) and ``CE + lam * L_spectral``."""

import sys

import keras
import numpy as np
import tensorflow as tf

from speccal._utils import check_option, check_scalar
from speccal.losses._base import check_ignore_class, check_labels, expand_sample_weight
from speccal.spectral import _band_powers_and_finite, check_taper, spectral_entropy

__all__ = ["CESpectral", "SpectralEntropyRegularizer"]

_WARMUPS = ("replicate", "partial")
# Keras runs `model.evaluate`, validation inside `fit` and `predict` through these methods.
_EVALUATION_STEPS = frozenset({"test_step", "predict_step"})
#: Keras versions :func:`_in_keras_evaluation` is tested on (tests/losses/test_spectral_keras.py).
TESTED_KERAS_VERSIONS = ("3.15",)


def _in_keras_evaluation():
    """Whether the caller runs inside a Keras ``Model.test_step`` or ``predict_step``.

    Tested on Keras 3.15 (:data:`TESTED_KERAS_VERSIONS`). Keras 3 has no public way for a
    loss to learn that it is being evaluated: ``Model.compute_loss`` takes ``training``
    (since 3.3) but its default implementation drops it before calling the compiled loss
    (``keras/src/trainers/trainer.py``), and the feature request for such a signal
    (keras-team/keras issue 18212) is open. So the call stack is read here, in this one
    function. Under :func:`tf.function` this runs once, at trace time (eagerly, with
    ``run_eagerly=True``, once per call). ``test_evaluation_steps_keep_their_names`` fails
    if a Keras release renames the steps or stops calling the loss from inside them.

    Why it holds: Keras' ``evaluate``, the validation inside ``fit`` and ``predict`` all run
    ``Model.test_step``/``predict_step`` (or a user's override, which keeps the name), and
    the loss is called from inside it. Under a ``tf.distribute`` strategy the step itself is
    what ``strategy.run`` calls, so it is on the stack of each replica thread too. Only the
    method name and ``self`` being a :class:`keras.Model` are checked, so unrelated functions
    named ``test_step`` do not count. A custom training loop bypasses this: it passes
    ``training`` explicitly. ``tests/losses/test_spectral_keras.py`` pins the behaviour for
    ``fit`` with validation, ``evaluate`` and ``predict`` (graph, eager, XLA, mirrored).
    """
    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_code.co_name in _EVALUATION_STEPS and isinstance(
            frame.f_locals.get("self"), keras.Model
        ):
            return True
        frame = frame.f_back
    return False


def _keras_training_optimizer():
    """The optimizer of the Keras ``Model.train_step`` running the caller, or None.

    Found as :func:`_in_keras_evaluation` finds the evaluation steps (the method name and
    ``self`` being a :class:`keras.Model`), at trace time, and tested on the same Keras
    versions (:data:`TESTED_KERAS_VERSIONS`):
    ``test_non_finite_batch_fails_before_the_optimiser_changes_anything`` fails if a Keras
    release renames ``train_step`` (the step counter would then move on a failed step).
    """
    frame = sys._getframe(1)
    while frame is not None:
        model = frame.f_locals.get("self")
        if frame.f_code.co_name == "train_step" and isinstance(model, keras.Model):
            return getattr(model, "optimizer", None)
        frame = frame.f_back
    return None


def _order_after(check):
    """Make the running Keras optimizer's step counter wait for ``check`` (graph mode).

    The counter's increment in ``Optimizer.apply`` depends on no gradient, so a failed check
    would still count the step; a read of the counter behind ``check`` is ordered before
    that increment by ``tf.function``'s automatic control dependencies.
    """
    optimizer = _keras_training_optimizer()
    if check is None or optimizer is None or not optimizer.built:
        return
    with tf.control_dependencies([check]):
        tf.identity(optimizer.iterations.value)


def _global_batch_mean(powers):
    """Mean of ``powers`` over the batch of every replica (all-reduce in a replica context)."""
    total = tf.reduce_sum(powers, axis=0)
    count = tf.cast(tf.shape(powers)[0], tf.float32)
    context = tf.distribute.get_replica_context()
    if context is not None and context.num_replicas_in_sync > 1:
        total, count = context.all_reduce(tf.distribute.ReduceOp.SUM, [total, count])
    return total / count


@keras.saving.register_keras_serializable(package="speccal")
class SpectralEntropyRegularizer(tf.Module):
    """Spectral entropy regularizer with a temporally smoothed target (paper §3, Algorithm 1).

    Calling it on a batch of logits returns :math:`\\mathcal{L}_{\\text{Spectral}}`
    (Eq. 9), a float32 scalar, and -- in a training step -- writes the batch-mean band
    powers into a ring buffer of the last ``window`` batches, whose mean gives the target.

    Parameters
    ----------
    window : int, default=50
        Number ``W`` of batches in the smoothing window (Eq. 6). ``window=1`` is the paper's
        "w/o smoothing" ablation: the target is the current batch mean.
    bands : int, default=5
        Number ``K`` of radial frequency bands (Eq. 4).
    warmup : {"replicate", "partial"}, default="replicate"
        How the window starts. ``"replicate"`` (paper §3.2): the first training batch fills
        all ``W`` slots. ``"partial"`` (Algorithm 1): the target averages only the slots
        filled so far.
    eps : float, default=1e-6
        :math:`\\varepsilon` of the normalisation and the logarithm (Eq. 7-8).
    include_dc : bool, default=False
        Count the DC term in the first band (see :func:`speccal.spectral.band_powers`).
    include_corners : bool, default=False
        Count the corner frequencies beyond ``min(spatial) / 2`` in the last band.
    taper : {None, "hamming"}, default=None
        Window multiplied into each confidence map before the FFT (see
        :func:`speccal.spectral.band_powers`). ``None`` is the paper's Algorithm 1;
        ``"hamming"`` applies the window of the paper's Fig. 1 analysis, under which the
        spectral entropy also responds to the confidence level at boundaries, not only to
        the shape of the map (a variant the paper leaves open).
    name : str, default="spectral_entropy_regularizer"
        Name of the module and its variables.

    Attributes
    ----------
    buffer : tf.Variable of float32, shape (window, bands)
        Non-trainable ring buffer of batch-mean band powers, all zeros before the first
        training step.
    step : tf.Variable of int64, shape ()
        Number of training steps written so far; batch ``t`` (from 0) goes to slot
        ``t % window``.

    Raises
    ------
    ValueError
        If ``window < 1``, ``bands < 1``, ``eps`` is not a finite positive float, or
        ``warmup`` or ``taper`` is unknown.

    See Also
    --------
    CESpectral : ``CE + lam * L_spectral`` as a Keras loss.
    speccal.spectral.band_powers, speccal.spectral.spectral_entropy

    Notes
    -----
    For logits ``(B, *S, C)`` with band powers :math:`S_b` (Eq. 1-5), the batch mean
    :math:`\\bar S = \\frac1B \\sum_b S_b` enters the buffer and

    .. math::
        \\tilde S = \\frac{1}{|\\mathcal{S}_{\\text{hist}}|}
            \\sum_{S' \\in \\mathcal{S}_{\\text{hist}}} S' \\quad (6), \\qquad
        \\mathcal{L}_{\\text{Spectral}} = \\frac1B \\sum_b
            \\max\\left(0, H(\\tilde P) - H(P_b)\\right)^2 \\quad (9)

    with :math:`P = S / (\\sum_k S^{(k)} + \\varepsilon)` and
    :math:`H(P) = -\\sum_k P^{(k)} \\log(P^{(k)} + \\varepsilon)` (Eq. 7-8). The target
    :math:`H(\\tilde P)` is computed after the current batch is written and carries no
    gradient.

    **Which calls are training steps.** A direct call is a training step: it writes the
    buffer and advances ``step``. Inside Keras, ``model.evaluate``, validation during
    ``fit`` and ``predict`` run ``Model.test_step``/``predict_step``; Keras does not pass
    its ``training`` flag on to losses, so the regularizer looks for those methods on the
    Python call stack (once per trace under :func:`tf.function`, so at no cost per step).
    There the loss is computed against the target the batch *would* give, and nothing is
    written. Pass ``training=True`` or ``False`` to override, e.g. for validation batches
    in a custom training loop.

    **Distribution.** In a replica context of a :class:`tf.distribute.Strategy` with more
    than one replica, the band-power sums and sample counts are all-reduced, so the buffer
    holds the mean over the *global* batch: N replicas of batch b give the same target as
    one device with batch N·b. Create the regularizer (or the loss holding it) inside
    ``strategy.scope()``, so that its variables are mirrored.

    **State.** The module is a :class:`tf.Module`: ``tf.train.Checkpoint`` saves ``buffer``
    and ``step``. :meth:`save_own_variables`/:meth:`load_own_variables` implement Keras'
    saving protocol (used by :class:`CESpectral`). :meth:`get_config` holds the
    hyperparameters only, like a Keras layer's config holds no weights.

    **Non-finite logits.** Outside XLA, a ``tf.debugging.Assert`` raises
    ``InvalidArgumentError`` naming ``logits``; in :class:`CESpectral` the cross-entropy
    depends on that assertion, so in ``model.fit`` the step fails before the optimiser
    changes any weight or its ``iterations``. The check reads no extra pass over the
    logits: a voxel with a NaN or infinite logit in any class is NaN in the confidence map,
    which the FFT spreads to every band sum; finite logits so large that their power
    spectrum overflows float32 are reported the same way. XLA (``jit_compile=True``) compiles
    runtime checks away: then the loss is NaN and the buffer is left untouched, so the
    target stays valid; stop training with
    ``keras.callbacks.TerminateOnNaN(raise_error=True)``.

    References
    ----------
    .. [1] "Rethinking model calibration through spectral entropy regularization in medical
       image segmentation", §3 and Algorithm 1.

    Examples
    --------
    >>> import numpy as np, tensorflow as tf
    >>> from speccal.losses import SpectralEntropyRegularizer
    >>> reg = SpectralEntropyRegularizer(window=4, bands=3)
    >>> logits = tf.constant(np.random.default_rng(0).normal(size=(2, 8, 8, 8, 3)), tf.float32)
    >>> float(reg(logits)) >= 0.0
    True
    >>> int(reg.step), reg.buffer.shape
    (1, TensorShape([4, 3]))
    """

    def __init__(
        self,
        window=50,
        bands=5,
        warmup="replicate",
        eps=1e-6,
        include_dc=False,
        include_corners=False,
        taper=None,
        name="spectral_entropy_regularizer",
    ):
        super().__init__(name=name)
        self.window = check_scalar("window", window, integer=True, minimum=1)
        self.bands = check_scalar("bands", bands, integer=True, minimum=1)
        self.warmup = check_option("warmup", warmup, _WARMUPS)
        self.eps = check_scalar("eps", eps, minimum=0, include_boundaries="right")
        self.include_dc = bool(include_dc)
        self.include_corners = bool(include_corners)
        self.taper = check_taper(taper)
        with self.name_scope:
            self.buffer = tf.Variable(
                tf.zeros((self.window, self.bands), tf.float32),
                trainable=False,
                name="buffer",
                aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA,
            )
            self.step = tf.Variable(
                tf.constant(0, tf.int64),
                trainable=False,
                name="step",
                aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA,
            )

    def __call__(self, logits, *, training=None):
        """Return the batch ``L_spectral`` (Eq. 9) and, if training, update the buffer.

        Parameters
        ----------
        logits : tf.Tensor of shape (batch, *spatial, n_classes)
            Logits, channels last, 2 or 3 static spatial axes, any float dtype.
        training : bool or None, default=None
            Whether to write the buffer. ``None``: yes, unless called from a Keras
            ``test_step``/``predict_step`` (see Notes of the class).

        Returns
        -------
        tf.Tensor of float32, shape ()

        Raises
        ------
        TypeError
            If ``logits`` is not a floating-point tensor.
        ValueError
            If ``logits`` lacks a class axis, has 1 or more than 3 spatial axes, or dynamic
            spatial sizes.
        tf.errors.InvalidArgumentError
            If ``logits`` holds NaN or Inf values (outside XLA; see Notes of the class).
        """
        return self._loss_and_gate(logits, training)[0]

    def _loss_and_gate(self, logits, training):
        """``L_spectral`` and ``logits`` gated behind the finiteness assertion.

        A loss computed from the gated logits cannot be evaluated, nor its gradient applied,
        before the assertion has passed: :class:`CESpectral` computes its cross-entropy
        from them, so a batch with NaN or Inf logits fails before the optimiser changes any
        weight (outside XLA, which compiles assertions away).
        """
        if training is None:
            training = not _in_keras_evaluation()
        powers, finite = _band_powers_and_finite(
            logits,
            self.bands,
            self.include_dc,
            self.include_corners,
            poison=True,
            taper=self.taper,
        )
        check = tf.debugging.Assert(
            finite,
            [
                "`logits` must be finite; got NaN or Inf values (or logits so large that "
                "the power spectrum of their confidence map overflows float32)."
            ],
        )
        with tf.control_dependencies([check] if check is not None else []):
            gated = tf.identity(logits)
        _order_after(check)
        batch_mean = _global_batch_mean(tf.stop_gradient(powers))
        new_buffer, target_powers = self._next_state(batch_mean)
        target = tf.stop_gradient(spectral_entropy(target_powers, self.eps))
        deficit = tf.nn.relu(target - spectral_entropy(powers, self.eps))
        if training:
            write = tf.logical_and(finite, tf.reduce_all(tf.math.is_finite(batch_mean)))
            self.buffer.assign(tf.where(write, new_buffer, self.buffer))
            self.step.assign_add(tf.cast(write, tf.int64))
        # The NaN branch is taken only under XLA, which compiles the assertion away.
        value = tf.where(finite, tf.reduce_mean(tf.square(deficit)), np.float32(np.nan))
        return value, gated

    def _next_state(self, batch_mean):
        """Buffer after writing ``batch_mean`` and the smoothed band powers it gives."""
        step = tf.convert_to_tensor(self.step)
        rows = tf.range(self.window, dtype=tf.int64)
        write = tf.equal(rows, step % self.window)
        if self.warmup == "replicate":
            write = tf.logical_or(write, tf.equal(step, 0))
        new_buffer = tf.where(write[:, None], batch_mean[None, :], self.buffer)
        if self.warmup == "replicate":
            return new_buffer, tf.reduce_mean(new_buffer, axis=0)
        n_filled = tf.minimum(step + 1, self.window)
        filled = tf.where((rows < n_filled)[:, None], new_buffer, 0.0)
        return new_buffer, tf.reduce_sum(filled, axis=0) / tf.cast(n_filled, tf.float32)

    def reset_state(self):
        """Empty the buffer and reset ``step`` to 0 (the next training step warms up)."""
        self.buffer.assign(tf.zeros_like(self.buffer))
        self.step.assign(0)

    def save_own_variables(self, store):
        """Write ``buffer`` and ``step`` into a Keras weights store (``model.save``)."""
        store["buffer"] = self.buffer.numpy()
        store["step"] = np.asarray(self.step.numpy())

    def load_own_variables(self, store):
        """Restore ``buffer`` and ``step`` from a Keras weights store.

        Raises
        ------
        ValueError
            If the stored buffer's shape is not ``(window, bands)``.
        """
        buffer = np.asarray(store["buffer"])
        if buffer.shape != (self.window, self.bands):
            raise ValueError(
                f"saved spectral buffer must have shape (window, bands) = "
                f"{(self.window, self.bands)}; got {buffer.shape}."
            )
        self.buffer.assign(buffer)
        self.step.assign(int(np.asarray(store["step"])))

    def get_config(self):
        """Hyperparameters of the regularizer (no state), for :meth:`from_config`."""
        return {
            "window": self.window,
            "bands": self.bands,
            "warmup": self.warmup,
            "eps": self.eps,
            "include_dc": self.include_dc,
            "include_corners": self.include_corners,
            "taper": self.taper,
            "name": self.name,
        }

    @classmethod
    def from_config(cls, config):
        """A new regularizer (empty buffer) from :meth:`get_config` output."""
        return cls(**config)


@keras.saving.register_keras_serializable(package="speccal")
class CESpectral(keras.losses.Loss, tf.__internal__.tracking.AutoTrackable):
    """Cross-entropy plus the spectral regularizer, ``CE + lam * L_spectral`` (equation 10).

    Parameters
    ----------
    lam : float, default=0.01
        Weight :math:`\\lambda \\ge 0` of the spectral term; ``lam=0`` is plain sparse
        categorical cross-entropy.
    window, bands, warmup, eps, include_dc, include_corners, taper
        Passed to :class:`SpectralEntropyRegularizer`.
    from_logits : bool, default=True
        Whether ``y_pred`` holds logits. With ``False`` it holds probabilities and the
        confidence map is the maximum probability (the paper uses logits).
    ignore_class : int or None, default=None
        Label excluded from the cross-entropy (e.g. a void label), as in
        :class:`keras.losses.SparseCategoricalCrossentropy`. The spectral term sees the
        whole map.
    reduction : str, default="sum_over_batch_size"
        Keras reduction of the cross-entropy term; the spectral term is a batch scalar added
        to it (to every voxel for ``reduction=None``).
    name : str, default="ce_spectral"
    dtype : str or None, default=None
        Dtype of the returned loss (float32 unless ``keras.backend.floatx()`` says
        otherwise); the spectral term is always computed in float32.

    Attributes
    ----------
    regularizer : SpectralEntropyRegularizer
        The spectral term; its ring buffer is ``regularizer.buffer``.

    Raises
    ------
    ValueError
        If ``lam`` is negative or infinite, ``ignore_class`` is not None or an int, or
        the regularizer's parameters are out of range; on call, if
        ``y_true`` does not match ``y_pred`` without its class axis, or ``y_pred`` has no
        class axis.

    See Also
    --------
    SpectralEntropyRegularizer : the spectral term, its buffer semantics and state.

    Notes
    -----
    .. math::
        \\mathcal{L}_{\\text{total}} = \\mathcal{L}_{\\text{CE}}
            + \\lambda \\mathcal{L}_{\\text{Spectral}} \\qquad (10)

    The cross-entropy is Keras' ``SparseCategoricalCrossentropy`` (with ``sample_weight``,
    ``ignore_class`` and the reduction applying to it). Called directly, each call is a
    training step unless ``training=False`` is passed; inside ``model.fit`` only training
    batches move the buffer, and ``evaluate``, validation and ``predict`` leave it untouched
    (see :class:`SpectralEntropyRegularizer` for the mechanism and for distribution).

    The buffer is part of the model's saved state: Keras' saving visits the compiled loss,
    so ``model.save``/``keras.models.load_model``, ``model.save_weights``/``load_weights``,
    ``ModelCheckpoint`` and ``BackupAndRestore`` carry ``buffer`` and ``step``. The loss is
    also trackable, so ``tf.train.Checkpoint(model=model)`` saves them (the model tracks its
    ``loss``). :meth:`get_config` holds the hyperparameters only.

    Examples
    --------
    >>> import numpy as np, tensorflow as tf
    >>> from speccal.losses import CESpectral
    >>> rng = np.random.default_rng(0)
    >>> logits = tf.constant(rng.normal(size=(2, 8, 8, 8, 3)), tf.float32)
    >>> labels = tf.constant(rng.integers(0, 3, size=(2, 8, 8, 8)))
    >>> loss = CESpectral(lam=0.01, window=10)
    >>> float(loss(labels, logits)) > 0
    True
    >>> int(loss.regularizer.step)
    1
    """

    def __init__(
        self,
        lam=0.01,
        window=50,
        bands=5,
        warmup="replicate",
        from_logits=True,
        ignore_class=None,
        eps=1e-6,
        include_dc=False,
        include_corners=False,
        taper=None,
        reduction="sum_over_batch_size",
        name="ce_spectral",
        dtype=None,
    ):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.lam = check_scalar("lam", lam, minimum=0)
        self.from_logits = bool(from_logits)
        self.ignore_class = check_ignore_class(ignore_class)
        self.regularizer = SpectralEntropyRegularizer(
            window=window,
            bands=bands,
            warmup=warmup,
            eps=eps,
            include_dc=include_dc,
            include_corners=include_corners,
            taper=taper,
            name=f"{name}_regularizer",
        )
        self._cross_entropy = keras.losses.SparseCategoricalCrossentropy(
            from_logits=self.from_logits,
            ignore_class=ignore_class,
            reduction=reduction,
            name=f"{name}_ce",
            dtype=self.dtype,
        )

    def __call__(self, y_true, y_pred, sample_weight=None, *, training=None):
        """Return ``CE + lam * L_spectral`` for labels ``(batch, *spatial)``.

        Parameters
        ----------
        y_true : tensor of shape (batch, *spatial) or (batch, *spatial, 1)
            Integer labels.
        y_pred : tensor of shape (batch, *spatial, n_classes)
            Logits (or probabilities with ``from_logits=False``).
        sample_weight : tensor, optional
            Weights of the cross-entropy term: per sample ``(batch,)`` or per voxel, any
            shape that broadcasts to ``(batch, *spatial)`` once trailing axes are added.
        training : bool or None, default=None
            Whether this is a training step that writes the regularizer's buffer.
            ``None``: yes, unless called from a Keras ``test_step``/``predict_step``. Pass
            ``False`` for validation batches in a custom training loop.

        Returns
        -------
        tf.Tensor
            Scalar, or ``(batch, *spatial)`` with ``reduction=None``.

        Raises
        ------
        ValueError
            If ``y_pred`` has no class axis or ``y_true`` does not match its other axes.
        tf.errors.InvalidArgumentError
            If ``y_pred`` holds NaN or Inf values, or ``y_true`` a label outside
            ``[0, n_classes)`` other than ``ignore_class`` (outside XLA; the message names
            the value).
        """
        with tf.name_scope(self.name):
            y_true, y_pred = self._check_inputs(y_true, y_pred)
            # the cross-entropy reads the gated logits: no update from a non-finite batch
            spectral, y_pred = self.regularizer._loss_and_gate(y_pred, training)
            if sample_weight is not None:
                sample_weight = expand_sample_weight(sample_weight, y_pred)
            ce = self._cross_entropy(y_true, y_pred, sample_weight=sample_weight)
            return ce + tf.cast(self._spectral_weight(ce) * spectral, ce.dtype)

    def call(self, y_true, y_pred):
        """Unreduced ``CE + lam * L_spectral`` per voxel, shape ``(batch, *spatial)``."""
        y_true, y_pred = self._check_inputs(y_true, y_pred)
        spectral, y_pred = self.regularizer._loss_and_gate(y_pred, None)
        ce = self._cross_entropy.call(y_true, y_pred)
        return ce + tf.cast(self.lam * spectral, ce.dtype)

    def _spectral_weight(self, ce):
        """``lam``, divided by the replica count where Keras divides the CE mean by it."""
        weight = self.lam
        mean = self.reduction in ("sum_over_batch_size", "mean", "mean_with_sample_weight")
        if mean and ce.shape.rank == 0:
            weight /= tf.distribute.get_strategy().num_replicas_in_sync
        return weight

    def _check_inputs(self, y_true, y_pred):
        y_pred = tf.convert_to_tensor(y_pred)
        y_true = tf.convert_to_tensor(y_true)
        if y_pred.shape.rank is None or y_pred.shape.rank not in (4, 5):
            raise ValueError(
                "`y_pred` must have shape (batch, *spatial, n_classes) with 2 or 3 spatial "
                f"axes; got shape {tuple(y_pred.shape)!r}."
            )
        expected = y_pred.shape[:-1]
        label_shape = y_true.shape
        if label_shape.rank == expected.rank + 1 and label_shape[-1] == 1:
            label_shape = label_shape[:-1]
        if not label_shape.is_compatible_with(expected):
            raise ValueError(
                f"`y_true` must have shape (batch, *spatial) = {tuple(expected)!r} to match "
                f"`y_pred` of shape {tuple(y_pred.shape)!r}; got shape {tuple(y_true.shape)!r}."
            )
        _, label_check = check_labels(y_true, y_pred.shape[-1], self.ignore_class)
        with tf.control_dependencies([label_check]):
            return tf.identity(y_true), tf.identity(y_pred)

    def get_config(self):
        """All constructor arguments (the buffer is state, saved with the model)."""
        reg = self.regularizer
        return {
            **super().get_config(),
            "lam": self.lam,
            "window": reg.window,
            "bands": reg.bands,
            "warmup": reg.warmup,
            "from_logits": self.from_logits,
            "ignore_class": self.ignore_class,
            "eps": reg.eps,
            "include_dc": reg.include_dc,
            "include_corners": reg.include_corners,
            "taper": reg.taper,
            "dtype": self.dtype,
        }

    def save_own_variables(self, store):
        """Keras saving protocol: store the regularizer's ``buffer`` and ``step``."""
        self.regularizer.save_own_variables(store)

    def load_own_variables(self, store):
        """Keras saving protocol: restore the regularizer's ``buffer`` and ``step``."""
        self.regularizer.load_own_variables(store)
