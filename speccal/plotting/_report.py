"""Render every figure of the paper for a set of evaluated runs into PNG files."""

import numbers
import re
from pathlib import Path

from speccal.analysis import boundary_confidence_experiment
from speccal.experiments._run_folder import RunResult
from speccal.plotting._figures import (
    plot_boundary_experiment,
    plot_confidence_map,
    plot_hotspots,
    plot_metric_distributions,
    plot_radar,
    plot_segmentation,
)
from speccal.plotting._ranks import aggregate_ranks, plot_rank_heatmap, plot_rank_totals
from speccal.plotting._seeds import (
    group_seeds,
    mean_metrics,
    plot_pooled_reliability,
    plot_spectra_with_band,
    pooled_values,
)

__all__ = ["save_figures"]

#: The baseline and the method of the paper, used for the Fig. 8 difference map.
BASELINE_METHOD = "ce"
OURS_METHOD = "cespectral"


def _safe(name):
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)


def _figure(ncols=1, *, width=4.0, height=3.5, polar=False):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width * ncols, height), layout="constrained")
    axes = fig.subplots(
        1, ncols, squeeze=False, subplot_kw={"projection": "polar"} if polar else None
    )
    return fig, list(axes[0])


def _hotspot_pair(firsts):
    """Baseline (label ``ce`` if present, else the first) and the run it is compared to."""
    labels = list(firsts)
    baseline = BASELINE_METHOD if BASELINE_METHOD in firsts else labels[0]
    others = [label for label in labels if label != baseline]
    if not others:
        return firsts[baseline], None
    ours = OURS_METHOD if OURS_METHOD in others else others[-1]
    return firsts[baseline], firsts[ours]


def _dataset_figures(dataset, runs, bands):
    """``{file name: Figure}`` of the per-dataset figures (Figs. 2a–c, 3, 5, 6, 8).

    Runs of one method and loss setting (seeds) are one group: the slices (Figs. 2a, 2c, 8)
    come from its first run, the other figures from all of them.
    """
    tag = _safe(dataset)
    groups = group_seeds(runs)
    firsts = {label: group[0] for label, group in groups.items()}
    figures = {}
    fig, axes = _figure(len(groups), width=3.2, height=3.2)
    for (label, run), ax in zip(firsts.items(), axes, strict=True):
        plot_confidence_map(run, ax=ax)
        ax.set_title(_slice_title(label, groups[label]))
    figures[f"fig2a_confidence_maps_{tag}.png"] = fig

    fig, axes = _figure(len(groups), width=4.0, height=3.6)
    for (label, group), ax in zip(groups.items(), axes, strict=True):
        plot_pooled_reliability(group, label, ax).ax_.set_title(label)
    figures[f"fig2b_reliability_{tag}.png"] = fig

    fig, axes = _figure(len(groups) + 1, width=3.0, height=3.2)
    plot_segmentation(runs[0].example["label"], ax=axes[0], title="ground truth")
    for (label, run), ax in zip(firsts.items(), axes[1:], strict=True):
        plot_segmentation(run, ax=ax, title=_slice_title(label, groups[label]))
    figures[f"fig2c_segmentations_{tag}.png"] = fig

    with_spectrum = {
        label: [run for run in group if run.spectrum] for label, group in groups.items()
    }
    with_spectrum = {label: group for label, group in with_spectrum.items() if group}
    if with_spectrum:
        fig, (ax,) = _figure(width=5.0)
        plot_spectra_with_band(with_spectrum, ax).set_title(dataset)
        figures[f"fig3_power_spectra_{tag}.png"] = fig

    fig, (ax,) = _figure(width=5.0, height=4.5, polar=True)
    plot_radar(mean_metrics(groups), ax=ax).set_title(dataset)
    figures[f"fig5_radar_{tag}.png"] = fig

    fig, axes = _figure(2)
    for metric, ax in zip(("dice", "ece"), axes, strict=True):
        plot_metric_distributions(pooled_values(groups, metric), metric, ax=ax).set_title(dataset)
    figures[f"fig6_distributions_{tag}.png"] = fig

    baseline, ours = _hotspot_pair(firsts)
    fig, axes = _figure(2 if ours is None else 3, width=3.4, height=3.2)
    plot_hotspots(baseline, ours, bands=bands, ax=axes)
    figures[f"fig8_hotspots_{tag}.png"] = fig
    return figures


def _slice_title(label, group):
    """The title of a slice figure: the label, and which seed when there are several."""
    if len(group) == 1:
        return label
    return f"{label}, seed {group[0].metrics.get('seed', '?')}"


def _mean_table(runs):
    """``{(label, dataset): {metric: mean over seeds}}`` for the ranks (Fig. 7)."""
    table = {}
    for dataset in dict.fromkeys(run.dataset for run in runs):
        groups = group_seeds([run for run in runs if run.dataset == dataset])
        for label, means in mean_metrics(groups).items():
            table[label, dataset] = means
    return table


def save_figures(runs, out_dir, *, bands=5, dpi=100):
    """Render the paper's figures for evaluated runs into PNG files.

    Parameters
    ----------
    runs : sequence of RunResult
        Runs from :func:`~speccal.experiments.load_run`; runs of several datasets are grouped
        by dataset, and runs of one method and loss setting (several seeds) by
        :func:`speccal.experiments.column_labels`.
    out_dir : str or path-like
        Output folder, created when missing; existing files of the same names are replaced.
    bands : int, default=5
        Radial bands of the hotspot analysis (Fig. 8).
    dpi : int, default=100
        Resolution of the PNG files.

    Returns
    -------
    written : list of pathlib.Path
        The files written: ``fig1_boundary_experiment.png``; per dataset
        ``fig2a_confidence_maps_*``, ``fig2b_reliability_*``, ``fig2c_segmentations_*``,
        ``fig3_power_spectra_*`` (of the runs with a ``spectrum.npz``: a folder of
        ``speccal score`` has none),
        ``fig5_radar_*``, ``fig6_distributions_*``, ``fig8_hotspots_*``; and
        ``fig7_ranks.png`` when every method was run on every dataset.
    skipped : list of str
        Why a figure was not drawn (``fig7_ranks.png`` on an incomplete method × dataset grid,
        ``fig3_power_spectra_*`` without spectra).

    Raises
    ------
    ValueError
        If ``bands`` is not an int >= 1 or ``dpi`` not a positive number, two runs share a
        method, loss setting, dataset and seed, or their contents do not fit together (e.g.
        example slices of different shapes).

    Notes
    -----
    Fig. 8 compares the run of method ``"ce"`` (else the first run) with the run of method
    ``"cespectral"`` (else the last other run) of the same dataset.

    Several seeds of a method: the slices (Figs. 2a, 2c, 8) show its first run (the title
    names the seed); Fig. 2b pools the bins of all its runs, with a 95 % case-bootstrap
    interval of each bin's accuracy over their test volumes
    (:func:`reliability_band`, from ``volume_bin_sums`` of ``reliability.npz``); Fig. 3 draws
    the mean spectrum over seeds with a band of ±1 sample sd over seeds; Figs. 5 and 7 use
    the mean over seeds of each metric, Fig. 6 the per-volume values of all seeds.

    Examples
    --------
    >>> from speccal.experiments import load_run
    >>> from speccal.plotting import save_figures
    >>> runs = [load_run(d) for d in ("runs/ce", "runs/cespectral")]  # doctest: +SKIP
    >>> written, skipped = save_figures(runs, "figures")  # doctest: +SKIP
    """
    runs = list(runs)
    if not runs or not all(isinstance(run, RunResult) for run in runs):
        raise ValueError(f"`runs` must be a non-empty sequence of RunResult; got {runs!r}.")
    # Checked before any drawing: a bad value would otherwise surface after minutes of work.
    if isinstance(bands, bool) or not isinstance(bands, numbers.Integral) or bands < 1:
        raise ValueError(f"`bands` must be an int >= 1; got {bands!r}.")
    if isinstance(dpi, bool) or not isinstance(dpi, numbers.Real) or not dpi > 0:
        raise ValueError(f"`dpi` must be a positive number; got {dpi!r}.")
    figures = {}
    experiment = boundary_confidence_experiment()
    fig, axes = _figure(len(experiment.alphas) + 1, width=2.6, height=2.8)
    plot_boundary_experiment(experiment, ax=axes)
    figures["fig1_boundary_experiment.png"] = fig
    datasets = dict.fromkeys(run.dataset for run in runs)
    skipped = []
    for dataset in datasets:
        group = [run for run in runs if run.dataset == dataset]
        figures.update(_dataset_figures(dataset, group, bands))
        if not any(run.spectrum for run in group):
            skipped.append(
                f"fig3_power_spectra_{_safe(dataset)}.png: no run of {dataset!r} has a "
                "spectrum.npz (a `speccal score` folder has none)"
            )
    try:
        table = aggregate_ranks(_mean_table(runs))
    except ValueError as exc:
        skipped.append(f"fig7_ranks.png: {exc}")
    else:
        fig, (left, right) = _figure(2, width=5.0, height=max(3.0, 0.5 * len(table.methods)))
        plot_rank_totals(table, ax=left)
        plot_rank_heatmap(table, ax=right)
        figures["fig7_ranks.png"] = fig
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)  # only once every figure was drawn
    written = []
    for name, fig in figures.items():
        path = out / name
        fig.savefig(path, dpi=dpi)
        written.append(path)
    return written, skipped
