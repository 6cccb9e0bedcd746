"""Helpers shared by the figure functions: axes creation, result tables, slicing."""

import numpy as np

from speccal._names import HIGHER_IS_BETTER, SEGMENTATION_METRICS, TABLE_CALIBRATION_METRICS
from speccal.experiments._run_folder import RunResult

#: The six metrics of the paper's tables, radar (Fig. 5) and ranks (Fig. 7).
PAPER_METRICS = SEGMENTATION_METRICS + TABLE_CALIBRATION_METRICS


def metric_direction(metric, higher_is_better=None):
    """Whether larger values of ``metric`` are better.

    Parameters
    ----------
    metric : str
        A metric key such as ``"dice"`` or ``"ece"``.
    higher_is_better : mapping of str to bool, optional
        Overrides and additions to :data:`speccal.plotting.HIGHER_IS_BETTER`.

    Returns
    -------
    bool

    Raises
    ------
    ValueError
        If the metric is unknown and not in ``higher_is_better``.
    """
    table = {**HIGHER_IS_BETTER, **dict(higher_is_better or {})}
    if metric not in table:
        raise ValueError(
            f"`higher_is_better` must say whether larger {metric!r} is better; it is not one "
            f"of the known metrics {sorted(table)}."
        )
    return bool(table[metric])


def new_axes(ax, *, polar=False):
    """``ax`` itself, or a new Axes on a new pyplot figure."""
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    _, ax = plt.subplots(subplot_kw={"projection": "polar"} if polar else None)
    return ax


def new_axes_row(ax, n, name, *, size=3.2):
    """``n`` axes in a row: ``ax`` if given (a sequence of ``n`` Axes), else a new figure
    with ``size``-inch square panels."""
    if ax is None:
        import matplotlib.pyplot as plt

        _, axes = plt.subplots(1, n, figsize=(size * n, size), squeeze=False)
        return axes[0]
    axes = np.asarray(ax, dtype=object).ravel()
    if axes.size != n:
        raise ValueError(f"`{name}` must be None or a sequence of {n} Axes; got {axes.size}.")
    return axes


def runs_by_name(results, name, *, by=("method",)):
    """``{label: item}`` from a mapping, or from a sequence of :class:`RunResult`.

    A run's label is its attribute ``by[0]`` (``run.method`` by default), or the tuple of the
    attributes ``by`` when there are several, e.g. ``("method", "dataset")``.
    """
    if isinstance(results, RunResult):
        results = [results]
    if hasattr(results, "items"):
        out = dict(results.items())
    else:
        out = {}
        for run in results:
            if not isinstance(run, RunResult):
                raise TypeError(
                    f"`{name}` must be a mapping or a sequence of RunResult; got an item of "
                    f"type {type(run).__name__}."
                )
            label = tuple(getattr(run, attr) for attr in by)
            label = label[0] if len(by) == 1 else label
            if label in out:
                per = by[0] if len(by) == 1 else f"({', '.join(by)})"
                raise ValueError(
                    f"`{name}` must hold one run per {per}; got {label!r} twice "
                    f"({out[label].path} and {run.path})."
                )
            out[label] = run
    if not out:
        raise ValueError(f"`{name}` must not be empty; got {results!r}.")
    return out


def metric_table(results, metrics, name="results"):
    """``(methods, values)``: values of shape (n_methods, n_metrics), NaN rejected."""
    rows = runs_by_name(results, name)
    values = np.empty((len(rows), len(metrics)))
    for i, (method, row) in enumerate(rows.items()):
        for j, metric in enumerate(metrics):
            if isinstance(row, RunResult):
                values[i, j] = row.metric(metric)
            elif metric in row:
                values[i, j] = float(np.mean(row[metric]))
            else:
                raise ValueError(f"`{name}` lacks metric {metric!r} for method {method!r}.")
    if np.isnan(values).any():
        i, j = np.argwhere(np.isnan(values))[0]
        raise ValueError(
            f"`{name}` must hold numbers; got NaN for method {list(rows)[i]!r}, "
            f"metric {metrics[j]!r}."
        )
    return list(rows), values


def as_slice(volume, name, slice_index=None, axis=-1):
    """A 2D float slice of a 2D map or of a 3D volume (middle slice along ``axis`` by default)."""
    arr = np.asarray(volume, dtype=np.float64)
    if arr.ndim == 2:
        return arr
    if arr.ndim != 3:
        raise ValueError(f"`{name}` must be a 2D map or a 3D volume; got shape {arr.shape!r}.")
    n = arr.shape[axis]
    index = n // 2 if slice_index is None else slice_index
    if not -n <= index < n:
        raise ValueError(f"`slice_index` must be in [{-n}, {n}); got {slice_index!r}.")
    return np.take(arr, index, axis=axis)
