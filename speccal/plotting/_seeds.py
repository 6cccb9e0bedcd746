"""Several seeds per method in the figures: grouping, mean spectra with a band, pooled
reliability bins with a case-bootstrap band (numpy only; matplotlib imported lazily)."""

import numpy as np

from speccal.evaluation._statistics import percentile_interval, resample_counts
from speccal.experiments import column_labels
from speccal.plotting._base import PAPER_METRICS

__all__ = ["reliability_band"]


def group_seeds(runs):
    """``{label: [runs]}``: runs of one method and loss setting (seeds) together.

    Labels are :func:`speccal.experiments.column_labels` (``"cespectral (lam=0.5)"`` when one
    method was run with several loss parameters). Two runs of one label and seed are refused.
    """
    groups = {}
    for run, label in zip(runs, column_labels([r.metrics for r in runs]), strict=True):
        seed = run.metrics.get("seed")
        for other in groups.get(label, []):
            if other.metrics.get("seed") == seed:
                raise ValueError(
                    f"`runs` must hold one run per method and seed; got {label!r} seed {seed!r} "
                    f"twice ({other.path} and {run.path})."
                )
        groups.setdefault(label, []).append(run)
    return groups


def mean_metrics(groups, metrics=PAPER_METRICS):
    """``{label: {metric: mean over the group's runs}}`` of the summary metrics."""
    return {
        label: {m: float(np.mean([run.metric(m) for run in group])) for m in metrics}
        for label, group in groups.items()
    }


def pooled_values(groups, metric):
    """``{label: per-volume values of all the group's runs, concatenated}``."""
    return {
        label: np.concatenate([run.per_volume_values(metric) for run in group])
        for label, group in groups.items()
    }


def mean_spectrum(group):
    """Mean power over the group's runs and its sample standard deviation (0 for one run).

    Runs whose frequency grids differ (test volumes of other sizes) are interpolated linearly
    onto the coarsest grid.
    """
    spectra = [(run.spectrum["frequencies"], run.spectrum["power"]) for run in group]
    grid = min((f for f, _ in spectra), key=len)
    powers = np.array([np.interp(grid, f, p) for f, p in spectra])
    sd = powers.std(axis=0, ddof=1) if len(powers) > 1 else np.zeros(grid.size)
    return grid, powers.mean(axis=0), sd


def plot_spectra_with_band(groups, ax):
    """Fig. 3 with seeds: the mean spectrum of each group and a ±1 sd band over its seeds."""
    from speccal.plotting._figures import plot_power_spectra

    stats = {label: mean_spectrum(group) for label, group in groups.items()}
    plot_power_spectra({label: (f, mean) for label, (f, mean, _) in stats.items()}, ax=ax)
    for line, (label, (f, mean, sd)) in zip(ax.get_lines(), stats.items(), strict=True):
        if len(groups[label]) > 1:
            low = np.maximum(mean - sd, mean * 1e-3)  # a log axis: keep the band positive
            ax.fill_between(f, low, mean + sd, color=line.get_color(), alpha=0.2, linewidth=0)
    if any(len(group) > 1 for group in groups.values()):
        ax.text(0.02, 0.02, "band: ±1 sd over seeds", transform=ax.transAxes, fontsize=7)
    return ax


def reliability_band(volume_bin_sums, *, n_resamples=1000, confidence_level=0.95, random_state=0):
    """Case-bootstrap interval of each reliability bin's accuracy.

    Parameters
    ----------
    volume_bin_sums : array-like of shape (n_volumes, 3, n_bins)
        Per volume, the count, sum of confidences and sum of hits of each top-label bin
        (:attr:`speccal.evaluation.CalibrationEvaluator.volume_bin_sums_`, saved in a run's
        ``reliability.npz``).
    n_resamples : int, default=1000
        Resamples of the volumes (drawn as in
        :meth:`speccal.evaluation.CalibrationEvaluator.confidence_interval`).
    confidence_level : float, default=0.95
        Level of the band.
    random_state : None, int or numpy.random.Generator, default=0
        Seed of the resampling.

    Returns
    -------
    low, high : ndarray of shape (n_bins,)
        Percentile interval of the pooled accuracy of each bin over resamples of the volumes
        (resamples where the bin is empty are left out); NaN for a bin empty in every volume.

    Raises
    ------
    ValueError
        If ``volume_bin_sums`` is not of shape (n_volumes, 3, n_bins).

    Examples
    --------
    >>> import numpy as np
    >>> from speccal.plotting import reliability_band
    >>> sums = np.array([[[2, 0], [1.6, 0], [2, 0]], [[2, 1], [1.6, 0.2], [1, 0]]], float)
    >>> low, high = reliability_band(sums, n_resamples=200)
    >>> low.round(2).tolist(), high.round(2).tolist()
    ([0.5, 0.0], [1.0, 0.0])
    """
    sums = np.asarray(volume_bin_sums, dtype=np.float64)
    if sums.ndim != 3 or sums.shape[1] != 3 or sums.shape[0] == 0:
        raise ValueError(
            f"`volume_bin_sums` must be of shape (n_volumes, 3, n_bins); got {sums.shape}."
        )
    counts = resample_counts(sums.shape[0], n_resamples, random_state).astype(np.float64)
    count = counts @ sums[:, 0]  # (n_resamples, n_bins)
    hits = counts @ sums[:, 2]
    low = np.full(sums.shape[2], np.nan)
    high = np.full(sums.shape[2], np.nan)
    for b in range(sums.shape[2]):
        filled = count[:, b] > 0
        if filled.any():
            low[b], high[b] = percentile_interval(
                hits[filled, b] / count[filled, b], confidence_level
            )
    return low, high


def plot_pooled_reliability(group, label, ax):
    """Fig. 2b for one method: its runs' bins pooled, with a bootstrap band over volumes.

    The band needs ``volume_bin_sums`` in every run's ``reliability.npz``; without it (runs
    evaluated by an older speccal) the pooled bins are drawn alone.
    """
    from speccal.plotting._figures import plot_run_reliability
    from speccal.plotting._reliability import ReliabilityDisplay, legend_below

    if len(group) == 1 and "volume_bin_sums" not in group[0].reliability:
        return plot_run_reliability(group[0], ax=ax)
    count = sum(np.asarray(run.reliability["bin_count"], np.float64) for run in group)
    confidence = sum(
        np.nan_to_num(run.reliability["bin_confidence"] * run.reliability["bin_count"])
        for run in group
    )
    hits = sum(
        np.nan_to_num(run.reliability["bin_accuracy"] * run.reliability["bin_count"])
        for run in group
    )
    with np.errstate(invalid="ignore", divide="ignore"):
        display = ReliabilityDisplay(
            bin_count=count,
            bin_confidence=np.where(count > 0, confidence / count, np.nan),
            bin_accuracy=np.where(count > 0, hits / count, np.nan),
            score=float(np.abs(hits - confidence).sum() / count.sum()),
            label=f"{label} ({len(group)} runs)" if len(group) > 1 else label,
        ).plot(ax=ax)
    if all("volume_bin_sums" in run.reliability for run in group):
        sums = np.concatenate([run.reliability["volume_bin_sums"] for run in group])
        low, high = reliability_band(sums)
        centers = (np.arange(count.size) + 0.5) / count.size
        accuracy = display.bin_accuracy
        shown = np.isfinite(low) & (count > 0)
        ax.errorbar(
            centers[shown],
            accuracy[shown],
            yerr=[accuracy[shown] - low[shown], high[shown] - accuracy[shown]],
            fmt="none",
            ecolor="black",
            capsize=2,
            label="95% case bootstrap",
        )
        legend_below(ax)  # with the band's entry, still below the axes
    return display
