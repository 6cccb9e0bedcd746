"""Cross-dataset ranking of methods (the paper's Fig. 7)."""

from dataclasses import dataclass

import numpy as np

from speccal._names import metric_label
from speccal.experiments._run_folder import RunResult
from speccal.plotting._base import PAPER_METRICS, metric_direction, new_axes, runs_by_name

__all__ = ["RankTable", "aggregate_ranks", "plot_rank_heatmap", "plot_rank_totals"]


@dataclass(frozen=True)
class RankTable:
    """Ranks of methods on every (dataset, metric) pair, from :func:`aggregate_ranks`.

    Attributes
    ----------
    methods : tuple of str
        Row labels.
    columns : tuple of (str, str)
        ``(dataset, metric)`` of each column.
    ranks : ndarray of shape (n_methods, n_columns)
        Rank 1 is best; ties share the mean of their ranks.
    totals : ndarray of shape (n_methods,)
        Sum of each method's ranks (lower is better).

    Examples
    --------
    >>> from speccal.plotting import aggregate_ranks
    >>> t = aggregate_ranks({("ce", "acdc"): {"dice": 0.8, "ece": 0.01},
    ...                      ("ours", "acdc"): {"dice": 0.9, "ece": 0.03}}, ("dice", "ece"))
    >>> t.methods, t.columns
    (('ce', 'ours'), (('acdc', 'dice'), ('acdc', 'ece')))
    >>> t.ranks.tolist(), t.totals.tolist()
    ([[2.0, 1.0], [1.0, 2.0]], [3.0, 3.0])
    """

    methods: tuple
    columns: tuple
    ranks: np.ndarray
    totals: np.ndarray


def _value(row, metric, key):
    if isinstance(row, RunResult):
        return row.metric(metric)
    if metric not in row:
        raise ValueError(f"`results[{key!r}]` lacks metric {metric!r}.")
    return float(np.mean(row[metric]))


def aggregate_ranks(results, metrics=PAPER_METRICS, *, higher_is_better=None):
    """Rank methods on every dataset-metric pair and sum the ranks (figure 7).

    Parameters
    ----------
    results : sequence of RunResult or mapping
        Runs (one per method and dataset), or ``{(method, dataset): {metric: value}}``.
        Per-class lists are averaged.
    metrics : sequence of str, default=("dice", "hd95", "asd", "ece", "sce", "tace")
        Metrics ranked on each dataset.
    higher_is_better : mapping of str to bool, optional
        Direction of metrics beyond the known ones.

    Returns
    -------
    table : RankTable

    Raises
    ------
    ValueError
        If a mapping key is not a ``(method, dataset)`` pair, a method lacks a dataset that
        another method has, a value is NaN, or a metric's direction is unknown.

    Notes
    -----
    On each pair the best method gets rank 1 (ties get the average of their ranks,
    :func:`scipy.stats.rankdata`); a method's aggregate score is the sum of its ranks,
    lower is better. Infinite distances rank last.

    Examples
    --------
    >>> from speccal.plotting import aggregate_ranks
    >>> t = aggregate_ranks({("ce", "acdc"): {"dice": 0.8, "ece": 0.03},
    ...                      ("ours", "acdc"): {"dice": 0.9, "ece": 0.01}}, ("dice", "ece"))
    >>> t.totals.tolist()
    [4.0, 2.0]
    """
    from scipy.stats import rankdata

    grid = runs_by_name(results, "results", by=("method", "dataset"))
    for key in grid:
        if not (isinstance(key, tuple) and len(key) == 2):
            raise ValueError(f"`results` keys must be (method, dataset) pairs; got {key!r}.")
    methods = tuple(dict.fromkeys(str(m) for m, _ in grid))
    datasets = tuple(dict.fromkeys(str(d) for _, d in grid))
    missing = [(m, d) for m in methods for d in datasets if (m, d) not in grid]
    if missing:
        raise ValueError(f"`results` must cover every method on every dataset; missing {missing}.")
    columns = tuple((d, metric) for d in datasets for metric in metrics)
    values = np.array(
        [[_value(grid[m, d], metric, (m, d)) for d, metric in columns] for m in methods]
    )
    if np.isnan(values).any():
        i, j = np.argwhere(np.isnan(values))[0]
        raise ValueError(
            f"`results` must hold numbers; got NaN for {methods[i]!r} on {columns[j]!r}."
        )
    sign = np.array([-1.0 if metric_direction(m, higher_is_better) else 1.0 for _, m in columns])
    ranks = rankdata(values * sign, method="average", axis=0)
    return RankTable(methods, columns, ranks, ranks.sum(axis=1))


def _as_table(ranks):
    return ranks if isinstance(ranks, RankTable) else aggregate_ranks(ranks)


def plot_rank_totals(ranks, *, ax=None):
    """Aggregate rank scores as horizontal bars, best on top (figure 7, left).

    Parameters
    ----------
    ranks : RankTable or results accepted by :func:`aggregate_ranks`
        Results are ranked on the paper's six metrics.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure when ``None``.

    Returns
    -------
    ax : matplotlib.axes.Axes
        One bar per method, its width the method's total rank (lower is better).

    Examples
    --------
    >>> from speccal.plotting import aggregate_ranks, plot_rank_totals
    >>> t = aggregate_ranks({("ce", "acdc"): {"dice": 0.8}, ("ours", "acdc"): {"dice": 0.9}},
    ...                     metrics=("dice",))
    >>> ax = plot_rank_totals(t)
    """
    table = _as_table(ranks)
    ax = new_axes(ax)
    order = np.argsort(table.totals, kind="stable")[::-1]
    labels = [table.methods[i] for i in order]
    bars = ax.barh(labels, table.totals[order], color="#2166ac")
    ax.bar_label(bars, fmt="%g", padding=2)
    ax.set_xlabel("aggregate rank (lower is better)")
    ax.set_ylabel("method")
    return ax


def plot_rank_heatmap(ranks, *, ax=None, cmap="Blues_r", annotate=True):
    """Heatmap of each method's rank on each dataset-metric pair (figure 7, right).

    Parameters
    ----------
    ranks : RankTable or results accepted by :func:`aggregate_ranks`
        Results are ranked on the paper's six metrics.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure when ``None``.
    cmap : str, default="Blues_r"
        Colormap; the default draws rank 1 darkest ("darker is better").
    annotate : bool, default=True
        Write each rank in its cell.

    Returns
    -------
    ax : matplotlib.axes.Axes
        ``ax.images[0]`` holds ``ranks.ranks`` (rows: methods, columns: dataset-metric pairs).

    Examples
    --------
    >>> from speccal.plotting import aggregate_ranks, plot_rank_heatmap
    >>> t = aggregate_ranks({("ce", "acdc"): {"dice": 0.8}, ("ours", "acdc"): {"dice": 0.9}},
    ...                     metrics=("dice",))
    >>> ax = plot_rank_heatmap(t)
    """
    table = _as_table(ranks)
    ax = new_axes(ax)
    artist = ax.imshow(table.ranks, cmap=cmap, aspect="auto", vmin=1, vmax=len(table.methods))
    ax.set_yticks(range(len(table.methods)), labels=table.methods)
    ax.set_xticks(
        range(len(table.columns)),
        labels=[f"{d} {metric_label(m)}" for d, m in table.columns],
        rotation=90,
    )
    ax.set(xlabel="dataset and metric", ylabel="method")
    if annotate:
        for (i, j), r in np.ndenumerate(table.ranks):
            ax.text(j, i, f"{r:g}", ha="center", va="center", fontsize=7, color="0.5")
    ax.figure.colorbar(artist, ax=ax, label="rank (1 = best)")
    return ax
