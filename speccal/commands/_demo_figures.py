"""Figures of ``speccal demo``: seed-averaged spectra and reliability, plus the paper figures."""

from pathlib import Path

import numpy as np


def group_by_method(runs):
    """``{method: [RunResult, ...]}`` in order of first appearance."""
    grouped = {}
    for run in runs:
        grouped.setdefault(run.method, []).append(run)
    return grouped


def mean_spectra(grouped):
    """``{method: (frequencies, power averaged over its runs)}``."""
    return {
        method: (runs[0].spectrum["frequencies"], np.mean([r.spectrum["power"] for r in runs], 0))
        for method, runs in grouped.items()
    }


def pooled_reliability(runs):
    """Reliability bins of several runs pooled: counts add, means are count-weighted.

    Returns
    -------
    dict
        ``bin_count``, ``bin_confidence`` and ``bin_accuracy`` (NaN for empty bins).
    """
    counts = np.sum([r.reliability["bin_count"] for r in runs], axis=0).astype(np.float64)
    out = {"bin_count": counts}
    for key in ("bin_confidence", "bin_accuracy"):
        weighted = [np.nan_to_num(r.reliability[key]) * r.reliability["bin_count"] for r in runs]
        with np.errstate(invalid="ignore", divide="ignore"):
            out[key] = np.where(counts > 0, np.sum(weighted, axis=0) / counts, np.nan)
    return out


def write_figures(runs_dir, fig_dir, dpi=100):
    """Write the demo's figures; return the written paths.

    ``power_spectra.png`` (mean radial PSD of the max-logit maps per method, averaged over
    seeds), ``reliability.png`` (reliability diagram per method, bins pooled over seeds) and,
    for the first seed of each method, the paper's figures (:func:`speccal.plotting.save_figures`)
    under ``seed0/``.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from speccal.experiments import load_run
    from speccal.plotting import plot_power_spectra, save_figures

    fig_dir = Path(fig_dir)
    fig_dir.mkdir(parents=True, exist_ok=True)
    runs = [load_run(path) for path in sorted(Path(runs_dir).iterdir()) if path.is_dir()]
    grouped = group_by_method(runs)
    written = []

    ax = plot_power_spectra(mean_spectra(grouped))
    ax.set_title("Mean radial PSD of test max-logit maps (mean over seeds)")
    written.append(fig_dir / "power_spectra.png")
    ax.figure.savefig(written[-1], dpi=dpi, bbox_inches="tight")
    plt.close(ax.figure)

    written.append(_reliability_figure(grouped, fig_dir / "reliability.png", dpi))

    first_seed = [group[0] for group in grouped.values()]
    seed_written, _ = save_figures(first_seed, fig_dir / "seed0", dpi=dpi)
    return written + list(seed_written)


def _reliability_figure(grouped, path, dpi):
    """One reliability diagram per method (bins pooled over seeds) and their overlay."""
    import matplotlib.pyplot as plt

    from speccal.plotting import ReliabilityDisplay

    figure, axes = plt.subplots(1, len(grouped) + 1, figsize=(4 * (len(grouped) + 1), 4))
    displays = []
    for ax, (method, runs) in zip(axes, grouped.items(), strict=False):
        display = ReliabilityDisplay(
            **pooled_reliability(runs),
            score=float(np.mean([r.metrics["ece_pooled"] for r in runs])),
            label=method,
        )
        display.plot(ax=ax)
        ax.set_title(f"{method} ({len(runs)} seeds)")
        displays.append(display)
    ReliabilityDisplay.overlay(displays, ax=axes[-1])  # redraws each display as a curve
    axes[-1].set_title("overlay")
    figure.tight_layout()
    figure.savefig(path, dpi=dpi, bbox_inches="tight")
    plt.close(figure)
    return path
