"""U-Net, Attention U-Net and UNet++ as Keras 3 functional models (logits out, channels last).

The defaults are honest CPU sizes (``base_filters=8``, ``depth=3``, instance normalisation);
the paper's networks are ``base_filters=32, depth=5`` on 96³ patches.
"""

import keras
from keras import layers

from speccal._utils import fill_doc
from speccal.models._blocks import (
    attention_gate,
    check_architecture,
    check_spatial_shape,
    conv_block,
    downsample,
    head,
    input_layer,
    upsample,
)

_PARAMS_DOC = """in_channels : int
        Number of image channels (modalities), >= 1.
    n_classes : int
        Number of output classes, >= 2 (background included).
    base_filters : int, default=8
        Filters of the first level; level ``l`` has ``base_filters * 2**l``. The paper's
        networks use 32.
    depth : int, default=3
        Number of resolution levels (``depth - 1`` poolings). The paper's networks use 5.
    patch_size : tuple of int or None, default=None
        Spatial input size. ``None`` (or ``None`` entries) builds a fully convolutional model
        that accepts any size divisible by ``2**(depth-1)``.
    normalization : {"instance", "batch", None}, default="instance"
        Normalisation after each convolution. Instance normalisation suits the small batches
        of 3D segmentation (batch 2 in the paper).
    seed : int or None, default=None
        Seeds every layer's kernel initializer (from the seed and the layer's name), so the
        initial weights depend on nothing else. ``None`` leaves the seeds to Keras, which draws
        them from Python's global :mod:`random` (``keras.utils.set_random_seed``): not
        reproducible where other threads draw from it too, as in a Dask worker.
    name : str, optional
        Model name."""

_RETURNS_RAISES_DOC = """Returns
    -------
    keras.Model
        Maps ``(batch, *spatial, in_channels)`` images to ``(batch, *spatial, n_classes)``
        logits (float32, also under mixed precision).

    Raises
    ------
    ValueError
        If a hyperparameter is out of range, or a known spatial size is not a multiple of
        ``2**(depth-1)``."""


_fill_doc = fill_doc(params=_PARAMS_DOC, returns_raises=_RETURNS_RAISES_DOC)


def _encoder(x, *, base_filters, depth, spatial_dims, normalization, seed):
    skips = []
    for level in range(depth):
        if level:
            x = downsample(x, spatial_dims=spatial_dims, name=f"enc{level}_pool")
        x = conv_block(
            x,
            base_filters * 2**level,
            spatial_dims=spatial_dims,
            normalization=normalization,
            name=f"enc{level}",
            seed=seed,
        )
        skips.append(x)
    return skips


def _build_unet(
    in_channels,
    n_classes,
    *,
    spatial_dims,
    base_filters,
    depth,
    patch_size,
    normalization,
    attention,
    seed,
    name,
):
    check_architecture(in_channels, n_classes, base_filters, depth, normalization, seed)
    patch_size = check_spatial_shape(patch_size, spatial_dims, depth)
    inputs = input_layer(patch_size, in_channels)
    skips = _encoder(
        inputs,
        base_filters=base_filters,
        depth=depth,
        spatial_dims=spatial_dims,
        normalization=normalization,
        seed=seed,
    )
    x = skips[-1]
    for level in range(depth - 2, -1, -1):
        filters = base_filters * 2**level
        x = upsample(x, filters, spatial_dims=spatial_dims, name=f"dec{level}_up", seed=seed)
        skip = skips[level]
        if attention:
            skip = attention_gate(
                skip, x, spatial_dims=spatial_dims, name=f"dec{level}_att", seed=seed
            )
        x = layers.Concatenate(name=f"dec{level}_concat")([skip, x])
        x = conv_block(
            x,
            filters,
            spatial_dims=spatial_dims,
            normalization=normalization,
            name=f"dec{level}",
            seed=seed,
        )
    logits = head(x, n_classes, spatial_dims=spatial_dims, seed=seed)
    return keras.Model(inputs, logits, name=name)


@_fill_doc
def unet3d(
    in_channels,
    n_classes,
    *,
    base_filters=8,
    depth=3,
    patch_size=None,
    normalization="instance",
    seed=None,
    name="unet3d",
):
    """3D U-Net (Çiçek et al., 2016) returning per-voxel logits.

    Each level holds two ``3×3×3`` convolutions with normalisation and leaky ReLU; levels are
    joined by ``2×2×2`` max pooling and stride-2 transposed convolutions, with skip
    concatenations, and a ``1×1×1`` convolution gives the logits.

    Parameters
    ----------
    {params}

    {returns_raises}

    Examples
    --------
    >>> from speccal.models import unet3d
    >>> model = unet3d(in_channels=1, n_classes=3, patch_size=(16, 16, 16))
    >>> model.output_shape
    (None, 16, 16, 16, 3)
    """
    return _build_unet(
        in_channels,
        n_classes,
        spatial_dims=3,
        base_filters=base_filters,
        depth=depth,
        patch_size=patch_size,
        normalization=normalization,
        attention=False,
        seed=seed,
        name=name,
    )


@_fill_doc
def unet2d(
    in_channels,
    n_classes,
    *,
    base_filters=8,
    depth=3,
    patch_size=None,
    normalization="instance",
    seed=None,
    name="unet2d",
):
    """2D U-Net (Ronneberger et al., 2015) returning per-pixel logits.

    Same blocks as :func:`unet3d` with ``3×3`` convolutions, for slice-wise training.

    Parameters
    ----------
    {params}

    {returns_raises}

    Examples
    --------
    >>> from speccal.models import unet2d
    >>> unet2d(in_channels=1, n_classes=2, patch_size=(32, 24)).output_shape
    (None, 32, 24, 2)
    """
    return _build_unet(
        in_channels,
        n_classes,
        spatial_dims=2,
        base_filters=base_filters,
        depth=depth,
        patch_size=patch_size,
        normalization=normalization,
        attention=False,
        seed=seed,
        name=name,
    )


@_fill_doc
def attention_unet3d(
    in_channels,
    n_classes,
    *,
    base_filters=8,
    depth=3,
    patch_size=None,
    normalization="instance",
    seed=None,
    name="attention_unet3d",
):
    """3D Attention U-Net (Oktay et al., 2018) returning per-voxel logits.

    A :func:`unet3d` whose skip connections pass through additive attention gates driven by
    the upsampled decoder features (the paper's Fig. 4 architecture study).

    Parameters
    ----------
    {params}

    {returns_raises}

    Notes
    -----
    With skip features :math:`x` and upsampled decoder features :math:`g` the gate is

    .. math:: \\hat{x} = x \\cdot \\sigma\\big(\\psi^\\top \\mathrm{ReLU}(W_x x + W_g g)\\big).

    Examples
    --------
    >>> from speccal.models import attention_unet3d
    >>> attention_unet3d(1, 2, patch_size=(16, 16, 8)).output_shape
    (None, 16, 16, 8, 2)
    """
    return _build_unet(
        in_channels,
        n_classes,
        spatial_dims=3,
        base_filters=base_filters,
        depth=depth,
        patch_size=patch_size,
        normalization=normalization,
        attention=True,
        seed=seed,
        name=name,
    )


@_fill_doc
def unet_pp3d(
    in_channels,
    n_classes,
    *,
    base_filters=8,
    depth=3,
    patch_size=None,
    normalization="instance",
    seed=None,
    name="unet_pp3d",
):
    """3D UNet++ (Zhou et al., 2018) returning per-voxel logits.

    Nested, densely connected skip pathways: node :math:`X^{i,j}` (level ``i``, column
    ``j``) convolves the concatenation of every earlier node of its level with the upsampled
    node :math:`X^{i+1,j-1}`; the logits come from :math:`X^{0,depth-1}` (no deep
    supervision).

    Parameters
    ----------
    {params}

    {returns_raises}

    Notes
    -----
    .. math:: X^{i,j} = H\\big([X^{i,0}, \\dots, X^{i,j-1}, U(X^{i+1,j-1})]\\big),
              \\quad j \\ge 1.

    Examples
    --------
    >>> from speccal.models import unet_pp3d
    >>> unet_pp3d(1, 2, patch_size=(8, 8, 8)).output_shape
    (None, 8, 8, 8, 2)
    """
    check_architecture(in_channels, n_classes, base_filters, depth, normalization, seed)
    patch_size = check_spatial_shape(patch_size, 3, depth)
    inputs = input_layer(patch_size, in_channels)
    grid = {}
    for level, x in enumerate(
        _encoder(
            inputs,
            base_filters=base_filters,
            depth=depth,
            spatial_dims=3,
            normalization=normalization,
            seed=seed,
        )
    ):
        grid[level, 0] = x
    for col in range(1, depth):
        for level in range(depth - col):
            filters = base_filters * 2**level
            up = upsample(
                grid[level + 1, col - 1],
                filters,
                spatial_dims=3,
                name=f"x{level}{col}_up",
                seed=seed,
            )
            parts = [grid[level, j] for j in range(col)] + [up]
            x = layers.Concatenate(name=f"x{level}{col}_concat")(parts)
            grid[level, col] = conv_block(
                x,
                filters,
                spatial_dims=3,
                normalization=normalization,
                name=f"x{level}{col}",
                seed=seed,
            )
    logits = head(grid[0, depth - 1], n_classes, spatial_dims=3, seed=seed)
    return keras.Model(inputs, logits, name=name)


MODELS = {
    "unet3d": unet3d,
    "attention_unet3d": attention_unet3d,
    "unet_pp3d": unet_pp3d,
    "unet2d": unet2d,
}
