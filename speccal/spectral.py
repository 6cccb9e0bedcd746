"""Spectral ops on segmentation logits (TensorFlow, channels last, 2D and 3D).

These are the building blocks of the spectral entropy regularizer (paper §3, DESIGN §1):
the max-logit confidence map (Eq. 1), its centred power spectrum (Eq. 2-3), radial band
powers (Eq. 4-5) and the spectral entropy of a band-power vector (Eq. 7-8). The radial bands
come from :func:`speccal._bands.band_index`, the one band definition shared with the numpy
twins in :mod:`speccal.analysis`.

Every op computes in float32, also when the logits are float16 (``mixed_float16``), and
works eagerly, inside :func:`tf.function` and under XLA (``jit_compile=True``). The heavy
parts run as small XLA-compiled kernels even when the caller is not compiled, so the first
call for a new input shape takes a moment to compile.
"""

import functools
import sys
import warnings

import numpy as np
import tensorflow as tf

from speccal._bands import band_index, separable_window
from speccal._utils import check_option, check_scalar

__all__ = ["TAPERS", "band_powers", "confidence_map", "power_spectrum", "spectral_entropy"]

#: Windows :func:`band_powers` and the regularizer may multiply into the maps before the FFT.
TAPERS = (None, "hamming")

_RFFT = {2: tf.signal.rfft2d, 3: tf.signal.rfft3d}
_FFT = {2: tf.signal.fft2d, 3: tf.signal.fft3d}
_MAX_CHAIN = 16  # class counts up to which the max is a chain of elementwise maxima

# The kernels below are XLA-compiled even when their caller is not (Keras trains without XLA
# on CPU-only hosts): XLA fuses each into one or two passes over the logits, where plain
# TensorFlow runs one pass per op. Inside an XLA-compiled caller they are simply inlined.
# TensorFlow's Apple GPU plugin has no XLA, so macOS runs them as ordinary graphs.
_xla = functools.partial(tf.function, jit_compile=sys.platform != "darwin", autograph=False)


def _check_spatial(tensor, name, n_trailing):
    """Validate a float tensor ``(batch, *spatial, *trailing)``; return it and ``spatial``."""
    tensor = tf.convert_to_tensor(tensor)
    if not tensor.dtype.is_floating:
        raise TypeError(
            f"`{name}` must be a floating-point tensor; got dtype {tensor.dtype.name}."
        )
    shape = tuple(tensor.shape)
    if tensor.shape.rank is None or len(shape) - 1 - n_trailing not in (2, 3):
        layout = "(batch, *spatial, n_classes)" if n_trailing else "(batch, *spatial)"
        raise ValueError(
            f"`{name}` must have shape {layout} with 2 or 3 spatial axes; got shape {shape!r}."
        )
    spatial = shape[1 : len(shape) - n_trailing]
    if any(n is None for n in spatial):
        raise ValueError(f"`{name}` must have static spatial sizes; got shape {shape!r}.")
    return tensor, spatial


def confidence_map(logits):
    """Max-logit confidence map of a batch of segmentation logits (equation 1).

    Parameters
    ----------
    logits : tf.Tensor of shape (batch, height, width, n_classes) or \
(batch, depth, height, width, n_classes)
        Logits (not probabilities), channels last, any float dtype.

    Returns
    -------
    tf.Tensor of float32, shape (batch, *spatial)
        :math:`c_b = \\max_c z_{b,c}` at every voxel.

    Raises
    ------
    TypeError
        If ``logits`` is not a floating-point tensor.
    ValueError
        If ``logits`` does not have 2 or 3 static spatial axes and a class axis.

    Notes
    -----
    .. math:: c_b(\\mathbf{x}) = \\max_{c = 1, \\dots, C} z_{b,c}(\\mathbf{x}) \\qquad (1)

    The maximum is taken in the input dtype (it is exact) and cast to float32.

    Examples
    --------
    >>> import tensorflow as tf
    >>> from speccal.spectral import confidence_map
    >>> confidence_map(tf.constant([[[[0.0, 2.0], [1.0, -1.0]]]])).numpy()
    array([[[2., 1.]]], dtype=float32)
    """
    logits, _ = _check_spatial(logits, "logits", 1)
    return _channel_max(logits)


def _channel_max(logits):
    """float32 max over the class axis with a one-pass gradient (for :func:`confidence_map`).

    Up to 16 classes the forward pass also records which classes reach the maximum as a
    per-voxel bit mask (:func:`_max_mask_kernel`), so the backward pass writes the gradient
    from the mask without reading the logits again.
    """
    n_classes = logits.shape[-1]
    if n_classes is not None and n_classes <= _MAX_CHAIN:
        conf, mask = _max_mask_kernel(tf.stop_gradient(logits), False)

        @tf.custom_gradient
        def attach_gradient(x):
            return conf, lambda upstream: _mask_grad_kernel(mask, upstream, n_classes)

    else:
        conf = _max_kernel(tf.stop_gradient(logits), False)

        @tf.custom_gradient
        def attach_gradient(x):
            return conf, lambda upstream: _max_grad_kernel(x, conf, upstream)

    return tf.cast(attach_gradient(logits), tf.float32)


def _class_bits(n_classes):
    """Bit ``c`` for class ``c``, in the narrowest unsigned dtype that holds them all."""
    dtype = tf.uint8 if n_classes <= 8 else tf.uint16
    return tf.constant(1 << np.arange(n_classes), dtype)


def _nan_where_not_finite(conf, finite):
    """``conf`` with NaN where ``finite`` is False."""
    return tf.where(finite, conf, tf.constant(np.nan, conf.dtype))


@_xla
def _max_kernel(x, poison):
    """Max over the last axis, NaN where a logit is not finite if ``poison``: one fused pass
    under XLA (used above 16 classes)."""
    conf = tf.reduce_max(x, axis=-1)
    if poison:
        conf = _nan_where_not_finite(conf, tf.reduce_all(tf.math.is_finite(x), axis=-1))
    return conf


@_xla
def _max_mask_kernel(x, poison):
    """:func:`_max_kernel` and the bit mask of the classes equal to the max (at most 16).

    Everything is a chain of elementwise ops over the class slices: under XLA a reduction
    over a short innermost axis (``tf.reduce_max``/``reduce_sum``) runs several times slower.
    """
    slices = tf.unstack(x, axis=-1)
    conf = functools.reduce(tf.maximum, slices)
    bits = _class_bits(len(slices))
    zero = tf.zeros((), bits.dtype)
    mask = functools.reduce(
        tf.add, [tf.where(tf.equal(s, conf), bits[c], zero) for c, s in enumerate(slices)]
    )
    if poison:
        finite = functools.reduce(tf.logical_and, [tf.math.is_finite(s) for s in slices])
        conf = _nan_where_not_finite(conf, finite)
    return conf, mask


def _spread_by_mask(mask, upstream, n_classes, dtype):
    """Gradient of the max from the bit mask of :func:`_max_mask_kernel`: ``upstream`` to
    the maximal class, split evenly between tied classes (as TensorFlow's own ``Max``
    gradient does), in ``dtype``."""
    bits = _class_bits(n_classes)
    hit = tf.not_equal(tf.bitwise.bitwise_and(mask[..., None], bits), 0)
    share = upstream / tf.cast(tf.raw_ops.PopulationCount(x=mask), upstream.dtype)
    return tf.cast(tf.where(hit, share[..., None], tf.zeros((), upstream.dtype)), dtype)


@_xla
def _mask_grad_kernel(mask, upstream, n_classes):
    """:func:`_max_grad_kernel` from the bit mask of :func:`_max_mask_kernel`: the same
    values, without a second pass over the logits."""
    return _spread_by_mask(mask, upstream, n_classes, upstream.dtype)


@_xla
def _max_grad_kernel(x, conf, upstream):
    """Gradient of the max: to the maximal class, split evenly between tied classes (as
    TensorFlow's own ``Max`` gradient does)."""
    hit = tf.equal(x, conf[..., None])
    share = upstream / tf.math.count_nonzero(hit, axis=-1, dtype=upstream.dtype)
    return tf.where(hit, share[..., None], tf.zeros((), upstream.dtype))


def power_spectrum(conf):
    """Centred power spectrum of a batch of confidence maps (equations 2-3).

    This is the full, zero-frequency-centred spectrum, for inspection and plots;
    :func:`band_powers` reaches the same band sums faster through a real-input FFT.

    Parameters
    ----------
    conf : tf.Tensor of shape (batch, height, width) or (batch, depth, height, width)
        Confidence maps, e.g. from :func:`confidence_map`.

    Returns
    -------
    tf.Tensor of float32, same shape as ``conf``
        :math:`E_b = |\\mathrm{shift}(\\mathcal{F}(c_b))|^2`; on an axis of length ``n``
        position ``i`` holds frequency ``i - n // 2``.

    Raises
    ------
    TypeError
        If ``conf`` is not a floating-point tensor.
    ValueError
        If ``conf`` does not have 2 or 3 static spatial axes after the batch axis.

    Notes
    -----
    .. math::
        F_b = \\mathrm{SC}\\left(\\mathcal{F}[c_b]\\right) \\quad (2), \\qquad
        E_b = |F_b|^2 \\quad (3)

    Examples
    --------
    >>> import tensorflow as tf
    >>> from speccal.spectral import power_spectrum
    >>> power_spectrum(tf.ones((1, 2, 2))).numpy()  # all power at the centre (DC)
    array([[[ 0.,  0.],
            [ 0., 16.]]], dtype=float32)
    """
    conf, spatial = _check_spatial(conf, "conf", 0)
    axes = tuple(range(1, len(spatial) + 1))
    spectrum = _FFT[len(spatial)](tf.complex(tf.cast(conf, tf.float32), 0.0))
    real, imag = tf.math.real(spectrum), tf.math.imag(spectrum)
    return tf.signal.fftshift(real * real + imag * imag, axes=axes)


def _band_segments(spatial_shape, bands, include_dc, include_corners):
    """Band of every entry of the rfft half spectrum, ``bands`` for none (int32)."""
    index = band_index(
        spatial_shape,
        bands,
        include_dc=include_dc,
        include_corners=include_corners,
        layout="rfft",
    )
    return np.where(index < 0, bands, index).astype(np.int32)


def _warn_if_degenerate(segments, spatial_shape, bands):
    """Warn when the shape leaves fewer than two bands (or no band of one) holding a
    frequency: the spectral entropy is then 0 whatever the logits."""
    n_filled = np.unique(segments[segments < bands]).size
    if n_filled < min(bands, 2):
        warnings.warn(
            f"spectral maps of spatial size {tuple(spatial_shape)!r} leave {bands - n_filled} "
            f"of the {bands} bands empty: with fewer than two bands holding a frequency the "
            "spectral entropy and the spectral term are 0 and train nothing; use larger "
            "patches or fewer `bands`.",
            UserWarning,
            stacklevel=5,
        )


@functools.lru_cache(maxsize=16)
def _band_constants(spatial_shape, bands, include_dc, include_corners):
    """:func:`_band_segments` as a cached eager constant, which graphs capture.

    Warns (once per shape, as the result is cached) when the shape is too small for the bands.
    """
    segments = _band_segments(spatial_shape, bands, include_dc, include_corners)
    _warn_if_degenerate(segments, spatial_shape, bands)
    with tf.init_scope():
        return tf.constant(segments)


def _band_sums(logits, segments, n_segments, poison, taper=None):
    """Power of the confidence maps of ``logits`` (times ``taper``, a window of the spatial
    shape, if given) in every segment of the rfft half spectrum (the bands, then the
    frequencies of no band), with an explicit gradient.

    TensorFlow registers no gradient for ``RFFT3D``, so the whole chain (max over classes,
    real FFT, power, segment sums) has one hand-written gradient. For segment sums
    :math:`S_k = \\sum_f M_{fk} |Y_f|^2` of a real map ``x`` with full spectrum
    :math:`Y = \\mathcal{F}x` and upstream ``g``, the gradient w.r.t. ``x`` is
    :math:`2 N\\, \\mathcal{F}^{-1}(A \\odot Y) = 2 N\\, (x \\circledast a)` with
    :math:`A_f = g_{k(f)}` and :math:`a = \\mathcal{F}^{-1}A`. ``A`` is real and even (the
    segments are radial), so in the Hartley domain (:func:`_hartley`) the circular
    convolution is a plain product and :math:`2 N (x \\circledast a) = 2\\,
    \\mathcal{H}(A \\odot \\mathcal{H}x)`, with :math:`\\mathcal{H}x` read off the
    forward spectrum. The backward pass thus costs one more real-input FFT instead of an
    inverse real FFT, which TensorFlow runs 1.5-2x slower on CPU; the last Hartley
    unfolding is fused with writing the gradient of the max. A taper ``w`` enters as
    ``x = w * c``: the gradient w.r.t. ``c`` is ``w`` times the one w.r.t. ``x``, fused into
    the same pass.
    """
    n_classes = logits.shape[-1]
    spatial = tuple(logits.shape[1:-1])
    rfft = _RFFT[len(spatial)]
    use_mask = n_classes is not None and n_classes <= _MAX_CHAIN

    @tf.custom_gradient
    def forward(z):
        z = tf.stop_gradient(z)
        if use_mask:
            conf, mask = _max_mask_kernel(z, poison)
        else:
            conf = _max_kernel(z, poison)
        sums, spectrum = _power_kernel(tf.cast(conf, tf.float32), segments, n_segments, taper)

        def grad(upstream):
            product = rfft(_hartley_product_kernel(spectrum, upstream, segments, spatial[-1]))
            if use_mask:
                return _hartley_mask_grad_kernel(
                    product, mask, spatial[-1], n_classes, z.dtype, taper
                )
            conf_grad = tf.cast(_tapered_hartley_kernel(product, spatial[-1], taper), z.dtype)
            return _max_grad_kernel(z, conf, conf_grad)

        return sums, grad

    return forward(logits)


def _hartley(spectrum, n_last):
    """Hartley transform :math:`\\mathcal{H}x = \\mathrm{Re}\\,\\mathcal{F}x -
    \\mathrm{Im}\\,\\mathcal{F}x` of real maps, unfolded from their rfft half spectrum.

    The missing half holds the mirrored entries :math:`Y_{-f}`, whose real part is the
    same and imaginary part the negative; under XLA the mirroring (reversals and slices)
    fuses into the consumer as index arithmetic.
    """
    n_half = spectrum.shape[-1]
    mirror = spectrum[..., 1 : n_last - n_half + 1]
    for axis in range(1, spectrum.shape.rank):  # frequency j -> (-j) mod n on every axis
        if axis == spectrum.shape.rank - 1:
            mirror = tf.reverse(mirror, [axis])
        else:
            lead = (slice(None),) * axis
            head, tail = mirror[lead + (slice(0, 1),)], mirror[lead + (slice(1, None),)]
            mirror = tf.concat([head, tf.reverse(tail, [axis])], axis)
    return tf.concat(
        [
            tf.math.real(spectrum) - tf.math.imag(spectrum),
            tf.math.real(mirror) + tf.math.imag(mirror),
        ],
        axis=-1,
    )


@_xla
def _tapered_hartley_kernel(spectrum, n_last, taper):
    """:func:`_hartley`, times ``taper`` if given (the gradient w.r.t. untapered maps)."""
    out = _hartley(spectrum, n_last)
    return out if taper is None else out * taper


@_xla
def _hartley_product_kernel(spectrum, upstream, segments, n_last):
    """:math:`2 A \\odot \\mathcal{H}x`, ``A`` selected by segment; its Hartley transform is
    the gradient w.r.t. the confidence maps (see :func:`_band_sums`).

    The product is taken on the half spectrum and then unfolded: ``A`` is even, so the
    mirrored half carries the same factors.
    """
    upstream = 2.0 * upstream
    batch_first = (slice(None),) + (None,) * (spectrum.shape.rank - 1)
    scale = tf.zeros(tf.shape(spectrum), upstream.dtype)
    for k in range(upstream.shape[1]):
        scale = tf.where(tf.equal(segments, k), upstream[:, k][batch_first], scale)
    weighted = tf.complex(tf.math.real(spectrum) * scale, tf.math.imag(spectrum) * scale)
    return _hartley(weighted, n_last)


@_xla
def _hartley_mask_grad_kernel(product_spectrum, mask, n_last, n_classes, dtype, taper):
    """Gradient w.r.t. the logits: the Hartley transform of the product (times ``taper`` if
    given: the gradient of the confidence maps), spread over the classes by the max mask,
    in one pass."""
    conf_grad = _hartley(product_spectrum, n_last)
    if taper is not None:
        conf_grad = conf_grad * taper
    return _spread_by_mask(mask, conf_grad, n_classes, dtype)


def _hermitian_weights(n_last, n_half):
    """Multiplicity of each entry along the last rfft axis, as in
    :func:`speccal._bands.rfft_weights`, from an iota: XLA computes it in place instead of
    reading a constant."""
    j = tf.range(n_half)
    single = tf.equal(j, 0) | tf.equal(2 * j, n_last)
    return tf.where(single, tf.constant(1.0), tf.constant(2.0))


@_xla
def _power_kernel(x, segments, n_segments, taper):
    """Weighted half-spectrum power of ``x`` (times ``taper`` if given) summed by segment,
    shape ``(batch, n_segments)``, and the spectrum.

    The sum is a segment sum over the frequencies; on CPU it runs several times faster than
    a matmul with a one-hot band matrix and needs no ``(bands, n_freq)`` constant.
    """
    if taper is not None:
        x = x * taper
    spectrum = _RFFT[x.shape.rank - 1](x)
    real, imag = tf.math.real(spectrum), tf.math.imag(spectrum)
    power = (real * real + imag * imag) * _hermitian_weights(x.shape[-1], spectrum.shape[-1])
    per_frequency = tf.transpose(tf.reshape(power, (tf.shape(x)[0], -1)))
    sums = tf.math.unsorted_segment_sum(per_frequency, tf.reshape(segments, [-1]), n_segments)
    return tf.transpose(sums), spectrum


def band_powers(logits, bands=5, *, include_dc=False, include_corners=False, taper=None):
    """Radial band powers of the confidence maps of a batch of logits (equations 1-5).

    Parameters
    ----------
    logits : tf.Tensor of shape (batch, height, width, n_classes) or \
(batch, depth, height, width, n_classes)
        Logits, channels last, any float dtype; spatial sizes must be static.
    bands : int, default=5
        Number of radial bands ``K``.
    include_dc : bool, default=False
        Count the DC term (radius 0) in the first band.
    include_corners : bool, default=False
        Count the corner frequencies (radius above ``min(spatial) / 2``) in the last band.
    taper : {None, "hamming"}, default=None
        Separable window multiplied into each confidence map before the FFT. ``None`` is
        the paper's loss (Algorithm 1); ``"hamming"`` is the window of its Fig. 1 analysis
        (periodic form, as :func:`speccal.analysis.confidence_band_powers` with
        ``window="hamming"``).

    Returns
    -------
    tf.Tensor of float32, shape (batch, bands)
        :math:`S_b^{(k)}`, the power of each sample's (tapered) confidence map in each band.

    Raises
    ------
    TypeError
        If ``logits`` is not a floating-point tensor.
    ValueError
        If ``logits`` has the wrong rank or dynamic spatial sizes, ``bands < 1`` or
        ``taper`` is not one of :data:`TAPERS`.

    Notes
    -----
    With frequency indices :math:`(u, v, w)` of the centred spectrum, :math:`R = \\min(S)/2`
    and :math:`r_k = kR/K`,

    .. math::
        \\mathcal{I}_k = \\{(u, v, w) : r_{k-1} < \\sqrt{u^2 + v^2 + w^2} \\le r_k\\}
        \\quad (4), \\qquad
        S_b^{(k)} = \\sum_{(u, v, w) \\in \\mathcal{I}_k} E_b(u, v, w) \\quad (5)

    The power is taken from a real-input FFT (``rfft3d``/``rfft2d``) of the confidence map;
    each half-spectrum entry is weighted by its Hermitian multiplicity, so the sums equal
    full-spectrum sums. The band sums are segment sums over the frequencies. TensorFlow
    registers no gradient for ``RFFT3D``, so the gradient is written out: a second
    real-input FFT in the Hartley domain, then the max's gradient to the maximal classes.

    **Taper.** Without a window, and with the DC term excluded, a map
    :math:`c = 1 - (1 - \\alpha) \\mathbf{1}_{\\partial}` (confident everywhere, confidence
    :math:`\\alpha` on a boundary ring) has the same *normalised* band powers for every
    :math:`\\alpha < 1`: the spectral entropy sees the shape of the map, not the confidence
    level at its boundaries. The window :math:`w` of ``taper`` makes the map
    :math:`w \\cdot c`, whose DC-free spectrum also carries the leakage of the constant part
    through the window's own spectrum, so the normalised powers do change with
    :math:`\\alpha` (see :func:`speccal.analysis.boundary_confidence_experiment`).

    Examples
    --------
    >>> import numpy as np, tensorflow as tf
    >>> from speccal.spectral import band_powers
    >>> logits = tf.constant(np.random.default_rng(0).normal(size=(2, 8, 9, 10, 3)), tf.float32)
    >>> band_powers(logits, bands=4).shape
    TensorShape([2, 4])
    """
    return _band_powers_and_finite(
        logits, bands, include_dc, include_corners, poison=False, taper=taper
    )[0]


def check_taper(taper):
    """``taper`` if it is one of :data:`TAPERS`; a ``ValueError`` naming it otherwise."""
    return check_option("taper", taper, TAPERS)


@functools.lru_cache(maxsize=16)
def _taper_constant(spatial_shape, taper):
    """The window of ``taper`` over ``spatial_shape`` as a cached float32 constant, or None."""
    if taper is None:
        return None
    window = separable_window(spatial_shape, taper).astype(np.float32)
    with tf.init_scope():
        return tf.constant(window)


def _band_powers_and_finite(logits, bands, include_dc, include_corners, *, poison, taper=None):
    """:func:`band_powers` and whether the sums of all segments are finite.

    With ``poison`` (the regularizer's check) the flag tells whether all logits are finite:
    the maps are NaN where a logit is not (see :func:`_max_mask_kernel`), and the DC term,
    which sums the whole map, lies in some segment (a band or the segment of none). A taper
    (Hamming: no zeros) keeps NaN and Inf where they are.
    """
    logits, spatial = _check_spatial(logits, "logits", 1)
    # `bands` is validated by the shared `band_index`.
    segments = _band_constants(spatial, bands, bool(include_dc), bool(include_corners))
    window = _taper_constant(spatial, check_taper(taper))
    sums = _band_sums(logits, segments, bands + 1, poison, window)
    return sums[:, :bands], tf.reduce_all(tf.math.is_finite(sums))


def spectral_entropy(powers, eps=1e-6):
    """Shannon entropy of normalised band powers (equations 7-8).

    Parameters
    ----------
    powers : tf.Tensor of shape (..., bands)
        Non-negative band powers, e.g. from :func:`band_powers`.
    eps : float, default=1e-6
        The :math:`\\varepsilon` of the normalisation and of the logarithm.

    Returns
    -------
    tf.Tensor of float32, shape (...)
        :math:`H(P)` for each power vector; ``(batch,)`` for ``(batch, bands)`` input.

    Raises
    ------
    ValueError
        If ``eps`` is not a positive number.

    Notes
    -----
    .. math::
        P^{(k)} = \\frac{S^{(k)}}{\\sum_{j=1}^K S^{(j)} + \\varepsilon} \\quad (7), \\qquad
        H(P) = -\\sum_{k=1}^K P^{(k)} \\log\\left(P^{(k)} + \\varepsilon\\right) \\quad (8)

    A zero power vector (a constant map with the DC term excluded) has entropy 0.

    Examples
    --------
    >>> import tensorflow as tf
    >>> from speccal.spectral import spectral_entropy
    >>> round(float(spectral_entropy(tf.constant([[1.0, 1.0, 1.0, 1.0]]))[0]), 4)  # log 4
    1.3863
    """
    eps = check_scalar("eps", eps, minimum=0, include_boundaries="right")
    powers = tf.cast(powers, tf.float32)
    prob = powers / (tf.reduce_sum(powers, axis=-1, keepdims=True) + eps)
    return -tf.reduce_sum(prob * tf.math.log(prob + eps), axis=-1)
