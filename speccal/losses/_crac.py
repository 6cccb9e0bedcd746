"""Class- and region-adaptive constraints, CRaC (Murugesan et al., MICCAI 2024)."""

import keras
import numpy as np
import tensorflow as tf

from speccal.losses._base import (
    SegmentationLoss,
    box_kernel,
    check_scalar,
    fill_loss_doc,
    local_filter,
    one_hot_with_mask,
    prepare_inputs,
    softmax_cross_entropy,
)

_WINDOW = 3
_NO_PREVIOUS = -1.0  # previous_constraints before the first epoch-end update
_STATE_NAMES = ("multipliers", "penalty_parameters", "previous_constraints")


def _state(name, value, n_classes, default, *, positive=True):
    """A (2, n_classes) float32 array from a nested list, or filled with ``default``."""
    if value is None:
        return np.full((2, n_classes), default, dtype=np.float32)
    array = np.asarray(value, dtype=np.float32)
    if positive:
        bad_sign = np.any(array <= 0)
    else:
        bad_sign = not (np.all(array >= 0) or np.all(array == _NO_PREVIOUS))
    if array.shape != (2, n_classes) or not np.all(np.isfinite(array)) or bad_sign:
        kind = "positive" if positive else "non-negative (or all -1)"
        raise ValueError(
            f"`{name}` must be {kind} finite values of shape (2, {n_classes}) "
            f"(boundary row, inner row); got {value!r}."
        )
    return array


@keras.saving.register_keras_serializable(package="speccal")
@fill_loss_doc
class CRaCLoss(SegmentationLoss):
    """Cross-entropy plus augmented-Lagrangian constraints per class and region (CRaC).

    {call}

    Every voxel is *boundary* if its :math:`3^d` label window holds two or more
    classes, *inner* otherwise. Each (region, class) pair has its own Lagrange
    multiplier :math:`\\lambda` and penalty parameter :math:`\\rho`, held in
    non-trainable variables and updated once per epoch on validation data by
    :class:`CRaCCallback`.

    Parameters
    ----------
    margin : float, default=5.0
        Target logit :math:`m \\ge 0` of the true class on inner voxels.
    rho_min : float, default=0.1
        Initial and smallest penalty parameter :math:`\\rho` (> 0).
    rho_max : float, default=10.0
        Largest penalty parameter (>= ``rho_min``).
    lambd_min : float, default=1e-6
        Initial and smallest multiplier (> 0).
    lambd_max : float, default=1e6
        Largest multiplier (>= ``lambd_min``).
    n_classes : int or None, default=None
        Number of classes; inferred from the logits at the first call when None.
    multipliers : array-like of shape (2, n_classes) or None, default=None
        Current :math:`\\lambda` (row 0 boundary, row 1 inner); restores a saved state.
    penalty_parameters : array-like of shape (2, n_classes) or None, default=None
        Current :math:`\\rho`, same layout.
    previous_constraints : array-like of shape (2, n_classes) or None, default=None
        Mean validation constraints :math:`H` of the last update, which the next
        :math:`\\rho` step compares against (all -1: no update yet); restores a saved
        state.
    {common_parameters}

    Attributes
    ----------
    multipliers : tf.Variable of shape (2, n_classes)
        Lagrange multipliers :math:`\\lambda_{r,c}`; None until built.
    penalty_parameters : tf.Variable of shape (2, n_classes)
        Penalty parameters :math:`\\rho_{r,c}`; None until built.
    previous_constraints : tf.Variable of shape (2, n_classes)
        :math:`H` of the last epoch-end update, all -1 before the first; None until
        built.

    Raises
    ------
    ValueError
        If a hyperparameter is out of range or a saved state has the wrong shape.

    Notes
    -----
    With :math:`\\tau_{ic}` the class proportions of the :math:`3^d` window (label map
    padded with class 0, as the reference's ``Unfold``) and raw logits :math:`z`,

    .. math::

        h_{ic} = \\begin{cases} |\\tau_{ic} - z_{ic}| & i \\text{ boundary} \\\\
        |m \\tau_{ic} - z_{ic}| & i \\text{ inner} \\end{cases}, \\qquad
        P(h; \\lambda, \\rho) = \\frac{\\max(0, \\lambda + \\rho h)^2 - \\lambda^2}{2\\rho},

    .. math::

        \\mathcal{L} = \\mathrm{CE} + \\frac{1}{2 N C} \\sum_i \\sum_c
        P\\bigl(h_{ic}; \\lambda_{r(i),c}, \\rho_{r(i),c}\\bigr).

    The boundary test is "the window holds two or more classes" (max differs from min),
    as the authors intended; their code tests a float sum that rounding can make zero.
    Ignored voxels count as no class. 3D uses :math:`3 \\times 3 \\times 3` windows.

    References
    ----------
    .. [1] Murugesan et al., "Class and region-adaptive constraints for network
       calibration", MICCAI 2024.

    Examples
    --------
    >>> import numpy as np
    >>> from speccal.losses import CRaCLoss
    >>> loss = CRaCLoss(margin=5.0, n_classes=2)
    >>> labels = np.zeros((1, 4, 4, 4), "int32")
    >>> logits = np.zeros((1, 4, 4, 4, 2), "float32")
    >>> value = float(loss(labels, logits))  # inner voxels, h = m on class 0
    >>> round(value, 3)  # log 2 + (rho m^2 / 2) / (2 C)
    1.006
    >>> loss.multipliers.shape
    TensorShape([2, 2])
    """

    def __init__(
        self,
        margin=5.0,
        rho_min=0.1,
        rho_max=10.0,
        lambd_min=1e-6,
        lambd_max=1e6,
        n_classes=None,
        multipliers=None,
        penalty_parameters=None,
        previous_constraints=None,
        *,
        name="crac_loss",
        **kwargs,
    ):
        super().__init__(name=name, **kwargs)
        self.margin = check_scalar("margin", margin, minimum=0.0)
        self.rho_min = check_scalar("rho_min", rho_min, minimum=0.0, include_boundaries="right")
        self.rho_max = check_scalar("rho_max", rho_max, minimum=self.rho_min)
        self.lambd_min = check_scalar(
            "lambd_min", lambd_min, minimum=0.0, include_boundaries="right"
        )
        self.lambd_max = check_scalar("lambd_max", lambd_max, minimum=self.lambd_min)
        if n_classes is None and multipliers is not None:
            n_classes = len(multipliers[0])
        if n_classes is not None:
            n_classes = check_scalar("n_classes", n_classes, minimum=2, integer=True)
        self.n_classes = n_classes
        self.multipliers = None
        self.penalty_parameters = None
        self.previous_constraints = None
        if n_classes is not None:
            self.build(n_classes, multipliers, penalty_parameters, previous_constraints)
        elif previous_constraints is not None or penalty_parameters is not None:
            raise ValueError(
                "`n_classes` must be given (or `multipliers`) with a saved CRaC state; got None."
            )

    def build(
        self, n_classes, multipliers=None, penalty_parameters=None, previous_constraints=None
    ):
        """Create the state variables for ``n_classes`` classes.

        Called by the constructor when ``n_classes`` (or a saved state) is given, else
        at the first call. Pass ``n_classes`` when the variables must exist before
        training, e.g. to restore a checkpoint into them.
        """
        lambd = _state("multipliers", multipliers, n_classes, self.lambd_min)
        rho = _state("penalty_parameters", penalty_parameters, n_classes, self.rho_min)
        previous = _state(
            "previous_constraints", previous_constraints, n_classes, _NO_PREVIOUS, positive=False
        )
        with tf.init_scope():  # eager creation, also when first called inside tf.function
            self.multipliers = tf.Variable(lambd, trainable=False, name="crac_multipliers")
            self.penalty_parameters = tf.Variable(rho, trainable=False, name="crac_rho")
            self.previous_constraints = tf.Variable(
                previous, trainable=False, name="crac_previous_constraints"
            )
        self.n_classes = n_classes

    def constraints(self, logits, onehot):
        """Constraint values ``h`` ``(B, *S, C)`` and the boundary mask ``(B, *S)``."""
        n_spatial = logits.shape.rank - 2
        kernel = box_kernel(n_spatial, _WINDOW)
        counts = local_filter(onehot, kernel, padding="zeros")
        # Positions outside the image count as class 0 (the reference zero-pads labels).
        inside = local_filter(tf.ones_like(onehot[..., :1]), kernel, padding="zeros")
        outside = kernel.size - inside
        counts = tf.concat([counts[..., :1] + outside, counts[..., 1:]], axis=-1)
        n_present = tf.reduce_sum(tf.cast(counts > 0.5, tf.int32), axis=-1)
        boundary = n_present >= 2
        proportions = counts / kernel.size
        targets = tf.where(boundary[..., None], proportions, self.margin * proportions)
        return tf.abs(targets - logits), boundary

    def _region_state(self, boundary):
        lambd = tf.where(boundary[..., None], self.multipliers[0], self.multipliers[1])
        rho = tf.where(boundary[..., None], self.penalty_parameters[0], self.penalty_parameters[1])
        return lambd, rho

    def voxel_losses(self, labels, logits, onehot, valid):
        n_classes = logits.shape[-1]
        if self.multipliers is None:
            self.build(n_classes)
        elif n_classes != self.n_classes:
            raise ValueError(
                f"`y_pred` must have {self.n_classes} classes, as this CRaCLoss was built "
                f"with; got {n_classes}."
            )
        h, boundary = self.constraints(logits, onehot)
        lambd, rho = self._region_state(boundary)
        penalty = (tf.square(tf.nn.relu(lambd + rho * h)) - tf.square(lambd)) / (2.0 * rho)
        return softmax_cross_entropy(onehot, logits) + tf.reduce_sum(penalty, -1) / (2 * n_classes)

    def multiplier_statistics(self, y_true, logits):
        """Sums over the valid voxels of a batch for the epoch-end update.

        Returns
        -------
        gradient_sum : tf.Tensor of shape (2, n_classes)
            :math:`\\sum_i \\mathrm{clip}(\\lambda_{r,c} + \\rho_{r,c} h_{ic} 1[r(i) = r])`.
        constraint_sum : tf.Tensor of shape (2, n_classes)
            :math:`\\sum_i h_{ic} 1[r(i) = r]`.
        count : tf.Tensor, scalar
            Number of valid voxels.
        """
        labels, logits = prepare_inputs(y_true, logits, self.ignore_class)
        onehot, valid = one_hot_with_mask(labels, logits.shape[-1], self.ignore_class)
        if self.multipliers is None:
            self.build(logits.shape[-1])
        h, boundary = self.constraints(logits, onehot)
        in_region = tf.stack([boundary, ~boundary], axis=-1) & valid[..., None]
        h_regions = h[..., None, :] * tf.cast(in_region, tf.float32)[..., None]
        gradient = tf.clip_by_value(
            tf.nn.relu(self.multipliers + self.penalty_parameters * h_regions),
            self.lambd_min,
            self.lambd_max,
        )
        gradient *= tf.cast(valid, tf.float32)[..., None, None]
        axes = list(range(logits.shape.rank - 1))
        count = tf.reduce_sum(tf.cast(valid, tf.float32))
        return tf.reduce_sum(gradient, axes), tf.reduce_sum(h_regions, axes), count

    def save_own_variables(self, store):
        """Keras saving protocol: store the multipliers, penalties and previous constraints.

        Called by ``model.save``/``save_weights`` for a compiled loss; nothing is stored
        before the state is built.
        """
        if self.multipliers is None:
            return
        for name in _STATE_NAMES:
            store[name] = getattr(self, name).numpy()

    def load_own_variables(self, store):
        """Keras saving protocol: restore the state written by :meth:`save_own_variables`.

        Builds the state from the store when this loss is not built yet; an empty store (a
        loss saved before it was built) leaves the state as it is.

        Raises
        ------
        ValueError
            If the store lacks part of the state or its class count differs from this loss's.
        """
        present = [name for name in _STATE_NAMES if name in store]
        if not present:
            return
        missing = [name for name in _STATE_NAMES if name not in store]
        if missing:
            raise ValueError(
                f"saved CRaC state must hold {list(_STATE_NAMES)}; {missing} missing."
            )
        values = {name: np.asarray(store[name], dtype=np.float32) for name in _STATE_NAMES}
        n_classes = values["multipliers"].shape[-1]
        if self.multipliers is None:
            self.build(n_classes, **values)
            return
        for name, value in values.items():
            variable = getattr(self, name)
            if value.shape != tuple(variable.shape):
                raise ValueError(
                    f"saved CRaC `{name}` must have shape (2, n_classes) = "
                    f"{tuple(variable.shape)}; got {value.shape}."
                )
            variable.assign(value)

    def hyperparameters(self):
        built = self.multipliers is not None
        return {
            "margin": self.margin,
            "rho_min": self.rho_min,
            "rho_max": self.rho_max,
            "lambd_min": self.lambd_min,
            "lambd_max": self.lambd_max,
            "n_classes": self.n_classes,
            "multipliers": self.multipliers.numpy().tolist() if built else None,
            "penalty_parameters": self.penalty_parameters.numpy().tolist() if built else None,
            "previous_constraints": (
                self.previous_constraints.numpy().tolist() if built else None
            ),
        }


class CRaCCallback(keras.callbacks.Callback):
    """Update a :class:`CRaCLoss`'s multipliers and penalties after every epoch.

    At the end of each epoch the model is run (``training=False``) over the
    validation data and, for every region :math:`r` and class :math:`c`,

    .. math::

        \\lambda_{r,c} \\leftarrow \\mathrm{clip}\\Bigl(\\frac{1}{N}\\sum_i
        \\mathrm{clip}(\\lambda_{r,c} + \\rho_{r,c} h_{ic} 1[r(i) = r])\\Bigr), \\qquad
        H_{r,c} = \\frac{1}{N}\\sum_i h_{ic} 1[r(i) = r],

    and every ``rho_step`` epochs :math:`\\rho_{r,c} \\leftarrow \\gamma \\rho_{r,c}`
    where :math:`H_{r,c} > \\mu \\max(H^{prev}_{r,c}, 0)`, then clipped to
    ``[rho_min, rho_max]`` (Bala93/CRac ``SpatialBndClsAugLagrangian``). All state
    (:math:`\\lambda`, :math:`\\rho`, :math:`H^{prev}`) lives in the loss, so it is saved
    with the model and a resumed run (``fit(initial_epoch=...)``) continues it.

    Parameters
    ----------
    validation_data : tf.data.Dataset, iterable of (x, y[, w]) batches, or tuple (x, y)
        Validation batches; a tuple of arrays is cut into batches of ``batch_size``.
    gamma : float, default=1.2
        Growth factor (> 0) of :math:`\\rho`.
    mu : float, default=0.9
        Required relative decrease of the constraints (the reference's ``tao``), >= 0.
    rho_step : int, default=10
        Epoch period of the :math:`\\rho` update; 0 disables it.
    batch_size : int, default=2
        Batch size used when ``validation_data`` is a tuple of arrays.
    loss : CRaCLoss or None, default=None
        The loss to update; by default the :class:`CRaCLoss` the model was compiled with.

    Raises
    ------
    ValueError
        If a hyperparameter is out of range, or (at the end of the first epoch) no
        :class:`CRaCLoss` is found or the validation data are empty.

    Examples
    --------
    >>> import keras, numpy as np
    >>> from speccal.losses import CRaCCallback, CRaCLoss
    >>> x = np.random.default_rng(0).normal(size=(2, 6, 6, 1)).astype("float32")
    >>> y = (x[..., 0] > 0).astype("int32")
    >>> conv = keras.layers.Conv2D(2, 3, padding="same")
    >>> model = keras.Sequential([keras.Input((6, 6, 1)), conv])
    >>> model.compile(optimizer="sgd", loss=CRaCLoss(n_classes=2))
    >>> callback = CRaCCallback((x, y))
    >>> _ = model.fit(x, y, epochs=1, verbose=0, callbacks=[callback])
    >>> bool(np.all(model.loss.multipliers.numpy() > 1e-6))
    True
    """

    def __init__(
        self, validation_data, gamma=1.2, mu=0.9, rho_step=10, *, batch_size=2, loss=None
    ):
        super().__init__()
        self.validation_data = validation_data
        self.gamma = check_scalar("gamma", gamma, minimum=0.0, include_boundaries="right")
        self.mu = check_scalar("mu", mu, minimum=0.0)
        self.rho_step = check_scalar("rho_step", rho_step, minimum=0, integer=True)
        self.batch_size = check_scalar("batch_size", batch_size, minimum=1, integer=True)
        if loss is not None and not isinstance(loss, CRaCLoss):
            raise ValueError(f"`loss` must be a CRaCLoss or None; got {loss!r}.")
        self.loss = loss
        self._statistics = None

    def set_model(self, model):
        super().set_model(model)
        self._statistics = None

    def _find_loss(self):
        if self.loss is not None:
            return self.loss
        found = [
            obj
            for obj in keras.tree.flatten(getattr(self.model, "loss", None))
            if isinstance(obj, CRaCLoss)
        ]
        if len(found) != 1:
            raise ValueError(
                "`loss` must be given when the model is not compiled with exactly one "
                f"CRaCLoss; found {len(found)}."
            )
        return found[0]

    def _batches(self):
        data = self.validation_data
        if isinstance(data, tuple) and len(data) in (2, 3) and hasattr(data[0], "shape"):
            for start in range(0, len(data[0]), self.batch_size):
                stop = start + self.batch_size
                yield data[0][start:stop], data[1][start:stop]
        else:
            for batch in data:
                yield batch[0], batch[1]

    def on_epoch_end(self, epoch, logs=None):
        loss = self._find_loss()
        if self._statistics is None:
            model = self.model

            def statistics(x, y):
                return loss.multiplier_statistics(y, model(x, training=False))

            self._statistics = tf.function(statistics, reduce_retracing=True)
        gradient_sum = constraint_sum = 0.0
        count = 0.0
        for x, y in self._batches():
            gradient, constraint, n = self._statistics(x, y)
            gradient_sum += gradient.numpy().astype(np.float64)
            constraint_sum += constraint.numpy().astype(np.float64)
            count += float(n)
        if count == 0:
            raise ValueError("`validation_data` must hold at least one valid voxel; got none.")
        lambd = np.clip(gradient_sum / count, loss.lambd_min, loss.lambd_max)
        loss.multipliers.assign(lambd.astype(np.float32))
        constraints = constraint_sum / count
        if self.rho_step > 0:
            previous = loss.previous_constraints.numpy().astype(np.float64)
            has_previous = np.all(previous != _NO_PREVIOUS)
            if (epoch + 1) % self.rho_step == 0 and has_previous:
                rho = loss.penalty_parameters.numpy().astype(np.float64)
                grow = constraints > self.mu * np.maximum(previous, 0.0)
                rho = np.clip(np.where(grow, self.gamma * rho, rho), loss.rho_min, loss.rho_max)
                loss.penalty_parameters.assign(rho.astype(np.float32))
            loss.previous_constraints.assign(constraints.astype(np.float32))
