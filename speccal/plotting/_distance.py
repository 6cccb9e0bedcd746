"""How calibration changes with the distance to the reference boundary, methods overlaid."""

import numpy as np

from speccal.metrics._boundary import DistanceCalibration
from speccal.plotting._base import new_axes

#: What :func:`plot_calibration_by_distance` can draw per shell, and its axis label.
DISTANCE_QUANTITIES = {
    "ece": "ECE",
    "gap": "accuracy - confidence",
    "accuracy": "accuracy",
    "confidence": "mean confidence",
}


def plot_calibration_by_distance(results, *, quantity="ece", ax=None, unit="mm"):
    """Calibration per shell of distance to the reference boundary, one line per method.

    Parameters
    ----------
    results : DistanceCalibration or mapping of str to DistanceCalibration
        Results of :func:`speccal.metrics.calibration_by_distance` with the same ``edges``,
        by method name.
    quantity : {"ece", "gap", "accuracy", "confidence"}, default="ece"
        What to draw per shell: its ECE, accuracy minus mean confidence (negative:
        over-confident), its accuracy, or its mean confidence.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure when ``None``.
    unit : str, default="mm"
        Unit of the distances, for the shell labels.

    Returns
    -------
    ax : matplotlib.axes.Axes
        One line per method (markers at the shells; a gap where a shell has no voxel).

    Raises
    ------
    TypeError
        If ``results`` holds something else than DistanceCalibration objects.
    ValueError
        If ``quantity`` is unknown, ``results`` is empty, or the results' edges differ.

    See Also
    --------
    speccal.metrics.calibration_by_distance : computes one result.

    Examples
    --------
    >>> import numpy as np
    >>> from speccal.metrics import calibration_by_distance
    >>> from speccal.plotting import plot_calibration_by_distance
    >>> y_true = np.zeros((16, 16), dtype=int)
    >>> y_true[4:12, 4:12] = 1
    >>> sharp = np.where(y_true[..., None] == np.arange(2), 0.95, 0.05)
    >>> soft = np.where(y_true[..., None] == np.arange(2), 0.7, 0.3)
    >>> ax = plot_calibration_by_distance({
    ...     "sharp": calibration_by_distance(y_true, sharp, edges=(0, 1, 2, np.inf)),
    ...     "soft": calibration_by_distance(y_true, soft, edges=(0, 1, 2, np.inf)),
    ... })
    >>> [t.get_text() for t in ax.get_xticklabels()]
    ['[0, 1) mm', '[1, 2) mm', '>= 2 mm']
    """
    if quantity not in DISTANCE_QUANTITIES:
        raise ValueError(
            f"`quantity` must be one of {tuple(DISTANCE_QUANTITIES)}; got {quantity!r}."
        )
    if isinstance(results, DistanceCalibration):
        results = {"": results}
    if not hasattr(results, "items") or not results:
        raise ValueError(
            f"`results` must be a DistanceCalibration or a non-empty mapping of them; got "
            f"{results!r}."
        )
    edges = None
    for name, result in results.items():
        if not isinstance(result, DistanceCalibration):
            raise TypeError(
                f"`results[{name!r}]` must be a DistanceCalibration; got {type(result).__name__}."
            )
        if edges is None:
            edges = result.edges
        elif not np.array_equal(result.edges, edges):
            raise ValueError(
                f"`results` must share their edges; got {edges.tolist()!r} and "
                f"{result.edges.tolist()!r} ({name!r})."
            )
    ax = new_axes(ax)
    positions = np.arange(edges.shape[0] - 1)
    for name, result in results.items():
        if quantity == "gap":
            values = result.accuracy - result.confidence
        else:
            values = getattr(result, quantity)
        ax.plot(positions, values, marker="o", label=str(name) or None)
    if quantity == "gap":
        ax.axhline(0.0, color="0.6", linewidth=0.8)
    ax.set_xticks(positions, next(iter(results.values())).labels(unit))
    ax.set_xlabel("distance to the nearest reference boundary")
    ax.set_ylabel(DISTANCE_QUANTITIES[quantity])
    if any(str(name) for name in results):
        ax.legend()
    return ax
