"""Building blocks shared by the U-Net family (Keras 3 layers, channels last)."""

import zlib

import keras
import numpy as np
from keras import layers

_NORMALIZATIONS = ("instance", "batch", None)


def _conv_cls(spatial_dims):
    return {2: layers.Conv2D, 3: layers.Conv3D}[spatial_dims]


def _transpose_cls(spatial_dims):
    return {2: layers.Conv2DTranspose, 3: layers.Conv3DTranspose}[spatial_dims]


def _pool_cls(spatial_dims):
    return {2: layers.MaxPooling2D, 3: layers.MaxPooling3D}[spatial_dims]


def check_architecture(in_channels, n_classes, base_filters, depth, normalization, seed=None):
    """Validate the hyperparameters every U-Net variant shares."""
    for name, value, low in (
        ("in_channels", in_channels, 1),
        ("n_classes", n_classes, 2),
        ("base_filters", base_filters, 1),
        ("depth", depth, 1),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ValueError(f"`{name}` must be an int >= {low}; got {value!r}.")
    if normalization not in _NORMALIZATIONS:
        raise ValueError(
            f"`normalization` must be one of {_NORMALIZATIONS}; got {normalization!r}."
        )
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or seed < 0):
        raise ValueError(f"`seed` must be None or an int >= 0; got {seed!r}.")


def check_spatial_shape(patch_size, spatial_dims, depth):
    """Return ``patch_size`` as a tuple after checking ``depth`` can pool it.

    ``None`` entries are allowed (fully convolutional use); every known size must be a
    positive multiple of ``2 ** (depth - 1)`` so that each pooling halves it exactly and the
    decoder restores it.
    """
    if patch_size is None:
        return (None,) * spatial_dims
    patch_size = tuple(patch_size)
    if len(patch_size) != spatial_dims:
        raise ValueError(
            f"`patch_size` must have {spatial_dims} entries for a {spatial_dims}D network; "
            f"got {patch_size!r}."
        )
    factor = 2 ** (depth - 1)
    for size in patch_size:
        if size is None:
            continue
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise ValueError(f"`patch_size` must hold positive ints or None; got {patch_size!r}.")
        if size % factor:
            raise ValueError(
                f"`patch_size` must be a multiple of 2**(depth-1) = {factor} along every axis "
                f"for depth={depth}; got {patch_size!r}."
            )
    return patch_size


def normalize(x, normalization, name):
    """Instance (per-sample, per-channel), batch or no normalisation."""
    if normalization == "instance":
        return layers.GroupNormalization(groups=-1, epsilon=1e-5, name=name)(x)
    if normalization == "batch":
        return layers.BatchNormalization(name=name)(x)
    return x


def initializer(kind, seed, name):
    """The kernel initializer ``kind`` of layer ``name``: Keras' own by name when ``seed`` is
    None, else seeded from ``(seed, name)``.

    Keras draws an unseeded initializer's seed from Python's global :mod:`random` when the
    layer is built. That module is shared by every thread of the process, and a Dask worker's
    threads draw from it too, so ``keras.utils.set_random_seed`` alone does not fix a model's
    initial weights there (two runs of one config in a worker started from different
    weights). A seed per layer, from the model's seed and the layer's name (stable across
    processes, unlike ``hash``), does.
    """
    if seed is None:
        return kind
    state = np.random.SeedSequence([int(seed), zlib.crc32(name.encode())]).generate_state(1)
    classes = {
        "he_normal": keras.initializers.HeNormal,
        "glorot_uniform": keras.initializers.GlorotUniform,
    }
    return classes[kind](seed=int(state[0] >> 1))


def conv_block(x, filters, *, spatial_dims, normalization, name, seed=None):
    """Two ``3^d`` convolutions, each followed by normalisation and a leaky ReLU."""
    conv = _conv_cls(spatial_dims)
    for i in (1, 2):
        x = conv(
            filters,
            3,
            padding="same",
            use_bias=normalization is None,
            kernel_initializer=initializer("he_normal", seed, f"{name}_conv{i}"),
            name=f"{name}_conv{i}",
        )(x)
        x = normalize(x, normalization, name=f"{name}_norm{i}")
        x = layers.LeakyReLU(negative_slope=0.01, name=f"{name}_act{i}")(x)
    return x


def downsample(x, *, spatial_dims, name):
    """Halve every spatial size with a ``2^d`` max pooling."""
    return _pool_cls(spatial_dims)(pool_size=2, name=name)(x)


def upsample(x, filters, *, spatial_dims, name, seed=None):
    """Double every spatial size with a stride-2 transposed convolution."""
    return _transpose_cls(spatial_dims)(
        filters,
        2,
        strides=2,
        padding="same",
        kernel_initializer=initializer("glorot_uniform", seed, name),
        name=name,
    )(x)


def attention_gate(skip, gate, *, spatial_dims, name, seed=None):
    """Additive attention gate of Oktay et al. (2018) on a skip connection.

    ``gate`` is the decoder feature map already upsampled to the resolution of ``skip``;
    the gate returns ``skip * sigmoid(psi(relu(W_x skip + W_g gate)))``.
    """
    conv = _conv_cls(spatial_dims)
    inter = max(1, skip.shape[-1] // 2)
    theta = conv(
        inter,
        1,
        kernel_initializer=initializer("glorot_uniform", seed, f"{name}_wx"),
        name=f"{name}_wx",
    )(skip)
    phi = conv(
        inter,
        1,
        kernel_initializer=initializer("glorot_uniform", seed, f"{name}_wg"),
        name=f"{name}_wg",
    )(gate)
    act = layers.Activation("relu", name=f"{name}_relu")(
        layers.Add(name=f"{name}_add")([theta, phi])
    )
    psi = conv(
        1,
        1,
        activation="sigmoid",
        kernel_initializer=initializer("glorot_uniform", seed, f"{name}_psi"),
        name=f"{name}_psi",
    )(act)
    return layers.Multiply(name=f"{name}_gate")([skip, psi])


def head(x, n_classes, *, spatial_dims, name="logits", seed=None):
    """A ``1^d`` convolution to ``n_classes`` logits, kept in float32 under mixed precision."""
    return _conv_cls(spatial_dims)(
        n_classes,
        1,
        dtype="float32",
        kernel_initializer=initializer("glorot_uniform", seed, name),
        name=name,
    )(x)


def input_layer(patch_size, in_channels):
    """The model input ``(batch, *patch_size, in_channels)``."""
    return keras.Input(shape=(*patch_size, in_channels), name="image")
