"""Samples ``(n_samples, n_classes)`` of an array whose class axis is anywhere, read in chunks.

PyTorch and MONAI hand out channel-first arrays, ``(C, D, H, W)`` and ``(B, C, D, H, W)``;
speccal's kernels work on C-ordered rows ``(n_samples, n_classes)``. For channels-last input
the rows are a reshape view. For any other class axis, :class:`ClassAxisRows` reads rows chunk
by chunk, transposing one chunk at a time, so that no transposed copy of the whole array is
ever built. Row ``i`` is voxel ``i`` of ``np.moveaxis(array, class_axis, -1)`` in C order, so
every sum over rows sees the same values in the same order as for the channels-last array:
results computed chunk by chunk are bit for bit those of the channels-last layout.
"""

from numbers import Integral

import numpy as np

#: Rows gathered at once by :meth:`ClassAxisRows.__array__`.
CHUNK_ROWS = 1 << 16


def check_class_axis(class_axis, ndim, name="y_prob"):
    """``class_axis`` as an index in ``[0, ndim)``.

    Raises
    ------
    TypeError
        If ``class_axis`` is not an integer.
    ValueError
        If it is outside ``[-ndim, ndim)``.
    """
    if isinstance(class_axis, bool) or not isinstance(class_axis, Integral):
        raise TypeError(f"`class_axis` must be an int; got {class_axis!r}.")
    if not -ndim <= class_axis < ndim:
        raise ValueError(
            f"`class_axis` must be in [-{ndim}, {ndim}) for `{name}` with {ndim} dimensions; "
            f"got {class_axis!r}."
        )
    return int(class_axis) % ndim


def without_axis(shape, axis):
    """``shape`` without entry ``axis``."""
    return tuple(shape[:axis]) + tuple(shape[axis + 1 :])


def as_rows(array, class_axis=-1, keep=None):
    """Rows ``(n_samples, n_classes)`` of ``array``: a view (channels last) or lazy rows.

    Parameters
    ----------
    array : ndarray of shape (..., n_classes, ...)
    class_axis : int, default=-1
    keep : ndarray of bool, optional
        Voxels to keep, of the shape of ``array`` without its class axis.

    Returns
    -------
    ndarray of shape (n_samples, n_classes) or ClassAxisRows
        With the class axis last: ``array[keep]`` or a reshape view (a copy only where numpy
        must make one, as before ``class_axis`` existed); otherwise lazy rows.
    """
    axis = check_class_axis(class_axis, array.ndim)
    if axis == array.ndim - 1:
        if keep is not None:
            return array[keep]
        return array.reshape(-1, array.shape[-1])
    return ClassAxisRows(array, axis, keep)


class ClassAxisRows:
    """Read-only-by-chunk rows of an array whose class axis is not last (private helper).

    Supports what speccal's chunked code needs of a ``(n_samples, n_classes)`` array:
    ``len``, ``shape``, ``dtype``, ``ndim``, slicing and integer-array indexing (each gives a
    new C-contiguous ``(n, n_classes)`` array), ``rows[:, k]`` (the class-k values, read from
    the class's own slab of the array: no transposition), slice assignment (for outputs of the
    same layout) and ``np.asarray`` (filled chunk by chunk, in the requested dtype).

    Parameters
    ----------
    array : ndarray
    axis : int
        Class axis, in ``[0, array.ndim - 1)``.
    keep : ndarray of bool, optional
        Voxels kept (rows are then the kept voxels, in order).
    """

    ndim = 2

    def __init__(self, array, axis, keep=None):
        self.array, self.axis = array, axis
        n_classes = array.shape[axis]
        self.spatial_shape = without_axis(array.shape, axis)
        lead = int(np.prod(array.shape[:axis], dtype=np.int64))
        trail = int(np.prod(array.shape[axis + 1 :], dtype=np.int64))
        try:  # (lead, C, trail) as a view: contiguous slices of voxels are strided blocks
            self._blocks = array.reshape(lead, n_classes, trail, copy=False)
        except ValueError:  # an array numpy cannot reshape without a copy: gather by index
            self._blocks = None
            self._moved = np.moveaxis(array, axis, -1)
        self._trail = trail
        self._index = None if keep is None else np.flatnonzero(keep)
        n = lead * trail if keep is None else self._index.shape[0]
        self.shape = (n, n_classes)
        self.dtype = array.dtype

    def __len__(self):
        return self.shape[0]

    def __getitem__(self, key):
        if isinstance(key, tuple):  # rows[:, k]: the column of class k, read from its slab
            return self._column(key)
        if isinstance(key, slice):
            start, stop, step = key.indices(self.shape[0])
            if step != 1:
                return self[np.arange(start, stop, step)]
            if self._index is not None:
                return self._gather(self._index[start:stop])
            return self._range(start, max(start, stop))
        index = np.asarray(key)
        if index.dtype == bool:
            index = np.flatnonzero(index)
        if self._index is not None:
            index = self._index[index]
        return self._gather(index)

    def __setitem__(self, key, values):
        start, stop, step = key.indices(self.shape[0]) if isinstance(key, slice) else (0, 0, 0)
        if step != 1 or self._index is not None or self._blocks is None:
            raise TypeError("ClassAxisRows supports assignment to contiguous row slices only.")
        for block, t0, t1, at in self._pieces(start, stop):
            self._blocks[block, :, t0:t1] = values[at : at + t1 - t0].T

    def __array__(self, dtype=None, copy=None):
        if copy is False:
            raise ValueError("rows of a channel-first array cannot be an array without a copy.")
        out = np.empty(self.shape, dtype=dtype or self.dtype)
        for start in range(0, self.shape[0], CHUNK_ROWS):
            out[start : start + CHUNK_ROWS] = self[start : start + CHUNK_ROWS]
        return out

    def _column(self, key):
        rows, column = key if len(key) == 2 else (None, None)
        if rows != slice(None) or isinstance(column, bool) or not isinstance(column, Integral):
            raise TypeError(
                f"ClassAxisRows supports rows[:, k] only as a tuple index; got {key!r}."
            )
        values = np.take(self.array, column, axis=self.axis).reshape(-1)
        return values if self._index is None else values[self._index]

    def _pieces(self, start, stop):
        """``(block, t0, t1, offset)`` runs of voxels covering rows ``[start, stop)``."""
        trail = self._trail
        at = 0
        for block in range(start // trail, -(-stop // trail)):
            t0, t1 = max(start - block * trail, 0), min(stop - block * trail, trail)
            if t1 > t0:
                yield block, t0, t1, at
                at += t1 - t0

    def _range(self, start, stop):
        if self._blocks is None:
            return self._gather(np.arange(start, stop))
        out = np.empty((stop - start, self.shape[1]), dtype=self.dtype)
        for block, t0, t1, at in self._pieces(start, stop):
            out[at : at + t1 - t0] = self._blocks[block, :, t0:t1].T
        return out

    def _gather(self, index):
        if self._blocks is None:
            return self._moved[np.unravel_index(index, self.spatial_shape)]
        block, voxel = np.divmod(index, self._trail)
        return np.ascontiguousarray(self._blocks[block, :, voxel])
