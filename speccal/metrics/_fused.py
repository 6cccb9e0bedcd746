"""One read of a chunk for the top-label bins and one class-wise histogram (optional numba).

The numpy kernel of :mod:`speccal.metrics._binning` makes about ten passes over the
``n_samples * n_classes`` values of a chunk for a fine histogram (scale, clip, threshold,
cast, key offsets, three ``bincount`` s) and five for the top-label bins; each pass is as
long as the column-wise max pass the benchmarks use as the memory floor, so numpy alone stays
above ten times that floor. With numba installed (``pip install speccal[fast]``) and
``SPECCAL_NUMBA=1``, one compiled loop reads each row once and adds it to every state. It is
an opt-in accelerator only: on 5e7 x 4 float32 values (``benchmarks/bench_calibration.py``,
idle 2-core machine) it makes ECE + SCE + TACE 1.4x (one-shot) to 1.5x (streaming) faster
than numpy, and its first call in a process compiles for seconds. Neither path reaches 4x a
column-wise max pass: the per-class fine histogram that exact TACE's edges and SCE are read
from (2^14 bins per class, a count and a float64 sum per value, in row order for bit-identical
sums) costs 6.1x that pass by itself in this loop (4.4x with 2^12 bins, 3.6x with 2^10, which
would change the histogram mode's values and widen its bound). The numpy path is the
reference, used when numba is absent or not asked for, for float16 and for the rules the loop
does not cover, and the two agree bit for bit:

- bin indices: ``floor(float64(p) * M)`` clipped to ``M - 1`` is what
  :func:`~speccal.metrics._binning.bin_index` and :func:`~speccal.metrics._binning._scaled`
  compute (a product of a float32 by an integer below 2^29 is exact in float64, so the
  float32 power-of-two path gives the same number); the threshold is compared in the dtype
  of ``p``, as numpy compares an array with a Python float;
- top label: the first maximum of the row (``>`` over the columns), as ``top_label``;
- sums: each chunk's values are summed from zero in row order (the order in which
  ``bincount`` adds its weights) in a scratch array (counts beside sums, one cache line per
  slot), which is then added to the state, as the numpy path adds each chunk's ``bincount``;
  counts and hits are integers, exact in float64 in any order.
"""

import importlib.util
import os
import threading

import numpy as np

#: numba is installed (imported on first use only: ``import speccal.metrics`` stays fast).
AVAILABLE = importlib.util.find_spec("numba") is not None
#: Use the compiled loop: opt-in, ``SPECCAL_NUMBA=1`` with numba installed.
ENABLED = AVAILABLE and os.environ.get("SPECCAL_NUMBA", "0") == "1"
#: Largest number of fine bins the loop serves: above 2^24, numpy clips float32 values with
#: ``F - 1`` rounded to float32, which the loop does not reproduce.
MAX_FINE_BINS = 1 << 24


def usable(labels, probs):
    """Whether the compiled loop applies to this chunk (dtypes it reproduces exactly)."""
    return (
        ENABLED
        and probs.dtype in (np.float32, np.float64)
        and labels.dtype.kind in "iu"
        and probs.ndim == 2
    )


def _loop(labels, probs, top, top_sums, n_bins, fine, fine_sums, n_fine, threshold, discard):
    # branch-free where the data decide (a mispredicted branch costs more than the arithmetic)
    n_rows, n_classes = probs.shape
    do_top = top.shape[1] > 0
    do_fine = fine.shape[1] > 0
    for i in range(n_rows):
        label = labels[i]
        if do_top:
            best = probs[i, 0]
            arg = 0
            for k in range(1, n_classes):
                value = probs[i, k]
                arg = k if value > best else arg
                best = value if value > best else best
            b = int(min(np.float64(best) * n_bins, n_bins - 1))
            top[0, b] += 1.0  # counts and hits are integers: exact in any order
            top_sums[b] += np.float64(best)  # this chunk's sum, from 0 in row order
            top[2, b] += 1.0 if arg == label else 0.0
        if do_fine:
            hit = 0
            for k in range(n_classes):
                p = probs[i, k]
                f = int(min(np.float64(p) * n_fine, n_fine - 1))
                f = n_fine if discard and p <= threshold else f
                hit = f if k == label else hit
                fine_sums[k, f, 0] += 1.0  # count and sum side by side: one cache line
                fine_sums[k, f, 1] += np.float64(p)
            fine[2, label, hit] += 1.0


_compiled = []


def _kernel():
    """The loop compiled by numba (once per process; cached on disk by numba)."""
    if not _compiled:
        import numba

        _compiled.append(numba.njit(cache=True, nogil=True)(_loop))
    return _compiled[0]


def accumulate(labels, probs, *, top=None, n_bins=0, fine=None, n_fine=0, threshold=-1.0):
    """Add one chunk to the top-label state and/or one class-wise histogram, in one read.

    Parameters
    ----------
    labels : ndarray of int of shape (n_samples,)
    probs : ndarray of float32 or float64 of shape (n_samples, n_classes)
    top : ndarray of shape (3, n_bins + 2), optional
        Top-label count, confidence sum and hit sum per bin ("left" rule), added to in place.
    n_bins : int
    fine : ndarray of shape (3, n_classes, slots), optional
        Per-class count, sum of ``p_k`` and sum of ``1[y = k]``, ``slots >= n_fine + 1``,
        added to in place; values ``p_k <= threshold`` go to slot ``n_fine``.
    n_fine : int
    threshold : float
        Negative: nothing is discarded.
    """
    probs = np.ascontiguousarray(probs)  # one compiled version per dtype (a chunk: a copy)
    if top is None:
        top = np.zeros((3, 0))
    if fine is None:
        fine = np.zeros((3, 0, 0))
    top_sums, fine_sums = _scratch(top.shape[1:]), _scratch((*fine.shape[1:], 2))
    _kernel()(
        labels,
        probs,
        top,
        top_sums,
        n_bins,
        fine,
        fine_sums,
        n_fine,
        probs.dtype.type(threshold),
        threshold >= 0,
    )
    # add the chunk's sums to the state (adding 0.0 changes nothing) and clear the scratch
    top[1] += top_sums
    fine[0] += fine_sums[..., 0]
    fine[1] += fine_sums[..., 1]
    top_sums.fill(0.0)
    fine_sums.fill(0.0)


_local = threading.local()


def _scratch(shape):
    """A zeroed float64 array of ``shape`` kept per thread (left zeroed after each use)."""
    cache = _local.__dict__.setdefault("arrays", {})
    if shape not in cache:
        cache[shape] = np.zeros(shape)
    return cache[shape]
