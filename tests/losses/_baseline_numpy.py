"""Independent numpy references for the baseline-loss tests (float64, loops over offsets)."""

import itertools

import numpy as np


def log_softmax(z):
    z = np.asarray(z, np.float64)
    shifted = z - z.max(-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(-1, keepdims=True))


def one_hot(labels, n_classes):
    return (np.asarray(labels)[..., None] == np.arange(n_classes)).astype(np.float64)


def cross_entropy(labels, z):
    """Per-voxel cross-entropy with integer labels."""
    logp = log_softmax(z)
    return -np.take_along_axis(logp, np.asarray(labels)[..., None].astype(int), -1)[..., 0]


def window_sum(x, weights, mode):
    """Sum over the k^d window around every voxel of x (B, *S, C); np.pad ``mode``."""
    weights = np.asarray(weights, np.float64)
    k = weights.shape[0]
    d = weights.ndim
    p = k // 2
    padded = np.pad(x, [(0, 0)] + [(p, p)] * d + [(0, 0)], mode=mode)
    spatial = x.shape[1:-1]
    out = np.zeros(x.shape, np.float64)
    for offset in itertools.product(range(k), repeat=d):
        window = tuple(slice(o, o + n) for o, n in zip(offset, spatial, strict=True))
        out += weights[offset] * padded[(slice(None), *window, slice(None))]
    return out


def random_case(rng, spatial, n_classes, batch=2, scale=3.0):
    """Blocky labels (so windows are both uniform and mixed) and random logits."""
    coarse = rng.integers(0, n_classes, size=(batch, *[(n + 1) // 2 for n in spatial]))
    labels = coarse
    for axis in range(1, len(spatial) + 1):
        labels = np.repeat(labels, 2, axis=axis)
    labels = labels[(slice(None), *[slice(0, n) for n in spatial])].astype(np.int32)
    logits = (scale * rng.normal(size=(batch, *spatial, n_classes))).astype(np.float32)
    return labels, logits
