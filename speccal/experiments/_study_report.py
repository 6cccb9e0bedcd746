"""A study's results: ``results.csv`` (one row per trial), ``report.md`` (paired comparisons
with the reference) and ``figures/``.

Comparisons pair a method's trial with the reference's trial of the same setting and seed,
and within them the test volumes by case: the unit of a paired test is a (case, seed) pair,
as DESIGN §5b says. Per metric, the report gives the mean difference (method - reference)
over the pairs, a 95 % bootstrap interval of it (pairs resampled), the two-sided Wilcoxon
signed-rank p-value (:func:`scipy.stats.wilcoxon`) and how many seeds moved each way.

Those treat the pairs as independent, but the test cases of one seed share one training run:
as evidence about a training method they count for less than their number. The report
therefore also gives the run-level view, where a seed is the unit: a two-stage bootstrap
interval (seeds resampled, then pairs within each drawn seed) and the two-sided sign-flip test
of the per-seed mean differences (:func:`speccal.evaluation.compare_paired_clustered`; exact
up to 10 seeds), whose smallest p-value with n seeds is 2 / 2**n; with one seed there is none.
"""

import csv
import json
import os
from pathlib import Path

import numpy as np

from speccal.evaluation._statistics import compare_paired_clustered
from speccal.experiments._run_folder import (
    METRICS_FILE,
    PER_VOLUME_FILE,
    SPECTRUM_FILE,
    read_csv,
    read_npz,
    read_results,
)
from speccal.experiments._study import RUNS_DIR

RESULTS_FILE = "results.csv"
REPORT_FILE = "report.md"
FIGURES_DIR = "figures"
#: Metrics of the paired comparisons (those a run's per_volume.csv has), lower is better
#: except Dice.
COMPARED = ("ece", "sce", "tace", "boundary_ece", "nll", "dice")
HIGHER_IS_BETTER = {"dice"}
N_BOOTSTRAP = 2000
_NOT_METRICS = {"method", "dataset", "loss_params", "model", "seed", "protocol"}


def read_per_volume(run_dir):
    """``per_volume.csv`` of an evaluated run as ``{case_id: {metric: float}}``."""
    columns = read_csv(Path(run_dir) / PER_VOLUME_FILE)
    numeric = {k: v for k, v in columns.items() if k != "case_id" and v.dtype.kind == "f"}
    return {
        case: {key: float(values[i]) for key, values in numeric.items()}
        for i, case in enumerate(columns["case_id"])
    }


def finished(out, trials):
    """``{trial.name: metrics}`` of the trials whose ``metrics.json`` exists."""
    done = {}
    for trial in trials:
        run_dir = Path(out) / RUNS_DIR / trial.name
        if (run_dir / METRICS_FILE).is_file():
            done[trial.name] = read_results([run_dir])[0]
    return done


def _varying(trials):
    """Setting keys whose value differs between trials, in a fixed order."""
    keys = []
    for key in trials[0].setting:
        if len({json.dumps(t.setting[key]) for t in trials}) > 1:
            keys.append(key)
    return keys


def _atomic_write(path, text):
    partial = Path(str(path) + ".partial")
    partial.write_text(text)
    os.replace(partial, path)


def write_results_csv(out, trials, done):
    """``OUT/results.csv``: one row per finished trial."""
    varying = _varying(trials)
    params = sorted({k for t in trials for k in t.config.loss_params})
    metric_keys = []
    for metrics in done.values():
        for key, value in metrics.items():
            if key not in _NOT_METRICS and key not in metric_keys and _is_number(value):
                metric_keys.append(key)
    header = ["trial", "method", "loss", "seed", *varying, "steps", "dataset"]
    header += [f"param_{k}" for k in params] + metric_keys
    rows = []
    for trial in trials:
        if trial.name not in done:
            continue
        metrics = done[trial.name]
        row = {"trial": trial.name, "method": trial.method, "loss": trial.config.loss}
        row.update({"seed": trial.seed, "steps": trial.steps, "dataset": trial.config.dataset})
        row.update({k: _cell(trial.setting[k]) for k in varying})
        row.update({f"param_{k}": _cell(trial.config.loss_params.get(k, "")) for k in params})
        row.update({k: metrics.get(k, "") for k in metric_keys})
        rows.append(row)
    path = Path(out) / RESULTS_FILE
    partial = Path(str(path) + ".partial")
    with open(partial, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=header)
        writer.writeheader()
        writer.writerows(rows)
    os.replace(partial, path)
    return path


def _cell(value):
    if isinstance(value, list | tuple):
        return "x".join(str(v) for v in value)
    return "" if value is None else value


def _is_number(value):
    return isinstance(value, int | float) and not isinstance(value, bool)


def paired_difference(method_values, reference_values, seeds, rng, run_rng=None):
    """Mean difference, 95 % bootstrap interval, Wilcoxon p and seeds better/worse, and the
    run-level interval and p-value (see the module's docstring; NaN with one seed).

    ``method_values`` and ``reference_values`` are equal-length arrays of paired values
    (one per (case, seed)); ``seeds`` the seed of each pair. ``run_rng`` draws the two-stage
    bootstrap (default: ``rng``), so that the case-level draws of ``rng`` stay as they were.
    """
    from scipy import stats

    diff = np.asarray(method_values, float) - np.asarray(reference_values, float)
    keep = np.isfinite(diff)
    diff, seeds = diff[keep], np.asarray(seeds)[keep]
    if diff.size == 0:
        return None
    boot = rng.integers(0, diff.size, size=(N_BOOTSTRAP, diff.size))
    low, high = np.percentile(diff[boot].mean(axis=1), [2.5, 97.5])
    if np.all(diff == 0):
        p = 1.0
    else:
        p = float(stats.wilcoxon(diff, zero_method="wilcox").pvalue)
    per_seed = np.array([diff[seeds == s].mean() for s in np.unique(seeds)])
    result = {
        "mean": float(diff.mean()),
        "low": float(low),
        "high": float(high),
        "p": p,
        "n": int(diff.size),
        "seeds_down": int(sum(d < 0 for d in per_seed)),
        "seeds_up": int(sum(d > 0 for d in per_seed)),
        "n_seeds": len(per_seed),
        "seed_low": float("nan"),
        "seed_high": float("nan"),
        "seed_p": float("nan"),
    }
    if len(per_seed) >= 2:
        run_level = compare_paired_clustered(
            diff,
            np.zeros_like(diff),
            seeds,
            n_resamples=N_BOOTSTRAP,
            random_state=rng if run_rng is None else run_rng,
        )
        result["seed_low"], result["seed_high"] = run_level.confidence_interval
        result["seed_p"] = run_level.pvalue
    return result


def comparisons(study, trials, out, done):
    """Paired comparisons of every method with the reference, setting by setting.

    Returns a list of dicts: ``method``, ``setting`` (its varying keys), ``n_seeds`` and
    ``metrics`` (metric -> :func:`paired_difference`, or None when not measured).
    """
    rng, run_rng = np.random.default_rng(0), np.random.default_rng(1)
    varying = _varying(trials)
    by_key = {}
    for trial in trials:
        key = (json.dumps(trial.setting, sort_keys=True), trial.seed)
        by_key.setdefault(key, {})[trial.method] = trial
    groups = {}
    for trial in trials:
        if trial.method == study.reference or trial.name not in done:
            continue
        key = (json.dumps(trial.setting, sort_keys=True), trial.seed)
        reference = by_key[key].get(study.reference)
        if reference is None or reference.name not in done:
            continue
        group = (trial.method, json.dumps({k: trial.setting[k] for k in varying}))
        groups.setdefault(group, []).append((trial, reference))
    rows = []
    for (method, setting), pairs in groups.items():
        values = {m: ([], [], []) for m in COMPARED}
        for trial, reference in pairs:
            mine = read_per_volume(Path(out) / RUNS_DIR / trial.name)
            theirs = read_per_volume(Path(out) / RUNS_DIR / reference.name)
            for case in sorted(set(mine) & set(theirs)):
                for metric in COMPARED:
                    if metric in mine[case] and metric in theirs[case]:
                        values[metric][0].append(mine[case][metric])
                        values[metric][1].append(theirs[case][metric])
                        values[metric][2].append(trial.seed)
        rows.append(
            {
                "method": method,
                "setting": json.loads(setting),
                "n_seeds": len(pairs),
                "metrics": {
                    m: paired_difference(*values[m], rng, run_rng) if values[m][0] else None
                    for m in COMPARED
                },
            }
        )
    return rows


def _setting_text(setting, centre):
    """The values of ``setting`` that differ from ``centre``; "[train]" when none does."""
    changed = {k: v for k, v in setting.items() if centre.get(k) != v}
    if setting and not changed:
        return "[train]"
    return ", ".join(f"{k}={_cell(v)}" for k, v in changed.items()) or "-"


def _difference_cell(result):
    if result is None:
        return "n/a"
    return (
        f"{result['mean']:+.4f} [{result['low']:+.4f}, {result['high']:+.4f}] p={result['p']:.2g}"
    )


def _seed_cell(result, metric):
    if result is None:
        return ""
    better = result["seeds_up"] if metric in HIGHER_IS_BETTER else result["seeds_down"]
    return f"{better}/{result['n_seeds']}"


def write_report(study, trials, out, done, *, elapsed=None):
    """``OUT/report.md``: status, per-method means and the paired comparisons."""
    rows = comparisons(study, trials, out, done)
    total = len(trials)
    varying = _varying(trials)
    centre = {k: study.train.get(k) for k in varying}
    lines = [f"# Study report: {study.path.name}", ""]
    status = f"{len(done)} of {total} trials finished"
    if len(done) < total:
        status += (
            " - PARTIAL: the numbers below cover the finished trials only; running the same "
            "`speccal study` command again finishes the study"
        )
    lines += [f"Status: {status}.", ""]
    if elapsed is not None:
        lines += [f"Wall time of the last `speccal study` session: {elapsed / 60:.1f} min.", ""]
    lines += [
        f"Reference: `{study.reference}`. Each cell: mean paired difference (method - "
        "reference) over the (test case, seed) pairs, its 95 % bootstrap interval, the "
        "two-sided Wilcoxon signed-rank p-value (not corrected for the many comparisons "
        "below). Lower is better for every metric except Dice. The last columns count the "
        "seeds whose mean moved the better way.",
        "",
        f"Setting columns show the values that differ from [train] ({_setting_text(centre, {})});"
        " `[train]` marks the setting equal to it.",
        "",
    ]
    header = ["method", "setting", "seeds", "pairs"]
    header += [m for m in COMPARED] + [f"{m} better" for m in ("ece", "tace", "boundary_ece")]
    lines.append("| " + " | ".join(header) + " |")
    lines.append("|" + "---|" * len(header))
    for row in rows:
        pairs = max((r["n"] for r in row["metrics"].values() if r), default=0)
        cells = [row["method"], _setting_text(row["setting"], centre), str(row["n_seeds"])]
        cells.append(str(pairs))
        cells += [_difference_cell(row["metrics"][m]) for m in COMPARED]
        cells += [_seed_cell(row["metrics"][m], m) for m in ("ece", "tace", "boundary_ece")]
        lines.append("| " + " | ".join(cells) + " |")
    lines += _run_level_table(rows, centre)
    lines += ["", "## Means over seeds (per trial: mean over its test volumes)", ""]
    lines += _means_table(trials, done, varying, centre)
    lines += _compare_tables(study, trials, out, done, varying, centre)
    _atomic_write(Path(out) / "report.md", "\n".join(lines) + "\n")
    return rows


def _run_level_table(rows, centre):
    """The comparisons with a seed (one training per method) as the unit."""
    lines = [
        "",
        "## Run level: a seed is the unit",
        "",
        "The test cases of one seed share one training run, so the pairs above are not "
        "independent evidence about a training method. Each cell: the same mean difference, "
        "its 95 % two-stage bootstrap interval (seeds resampled, then the pairs within each "
        "drawn seed) and the exact two-sided sign-flip p-value of the per-seed mean "
        "differences, whose smallest possible value is 2 / 2^seeds (0.25 with 3 seeds).",
        "",
        "| " + " | ".join(["method", "setting", "seeds", *COMPARED]) + " |",
        "|" + "---|" * (3 + len(COMPARED)),
    ]
    for row in rows:
        cells = [row["method"], _setting_text(row["setting"], centre), str(row["n_seeds"])]
        for metric in COMPARED:
            result = row["metrics"][metric]
            if result is None:
                cells.append("n/a")
            elif result["n_seeds"] < 2:
                cells.append(f"{result['mean']:+.4f} (1 seed: no run-level test)")
            else:
                cells.append(
                    f"{result['mean']:+.4f} [{result['seed_low']:+.4f}, "
                    f"{result['seed_high']:+.4f}] p={result['seed_p']:.2g}"
                )
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _compare_tables(study, trials, out, done, varying, centre):
    """``speccal compare --reference`` tables of the finished trials, setting by setting
    (mean ± sd, case-bootstrap intervals, Holm-adjusted paired Wilcoxon p-values)."""
    from speccal.experiments import paired_comparison_table

    groups = {}
    for trial in trials:
        if trial.name in done:
            groups.setdefault(json.dumps(trial.setting, sort_keys=True), []).append(trial)
    lines = []
    for group in groups.values():
        reference = [t for t in group if t.method == study.reference]
        if not reference or len(reference) == len(group):
            continue
        setting = {k: group[0].setting[k] for k in varying}
        lines += ["", f"## speccal compare at {_setting_text(setting, centre)}", ""]
        names = ", ".join(sorted({t.method for t in group}))
        lines += [f"Methods (study names): {names}; columns are labelled by loss and its "
                  "parameters.", ""]  # fmt: skip
        run_dirs = [Path(out) / RUNS_DIR / t.name for t in group]
        measured = [set(next(iter(read_per_volume(d).values()))) for d in run_dirs]
        metrics = [m for m in COMPARED if all(m in keys for keys in measured)]
        table = paired_comparison_table(
            run_dirs, reference=reference[0].config.loss, metrics=metrics
        )
        lines += table.splitlines()
    return lines


def _means_table(trials, done, varying, centre):
    groups = {}
    for trial in trials:
        if trial.name in done:
            key = (trial.method, json.dumps({k: trial.setting[k] for k in varying}))
            groups.setdefault(key, []).append(done[trial.name])
    header = ["method", "setting", "seeds", *COMPARED]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for (method, setting), runs in groups.items():
        cells = [method, _setting_text(json.loads(setting), centre), str(len(runs))]
        for metric in COMPARED:
            values = np.array([r.get(metric, np.nan) for r in runs], float)
            if np.all(np.isnan(values)):
                cells.append("n/a")
            else:
                finite = values[~np.isnan(values)]
                if finite.size == 1:  # one seed: no spread to show
                    cells.append(f"{finite[0]:.4f}")
                else:
                    cells.append(f"{finite.mean():.4f} ± {finite.std(ddof=1):.4f}")
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def write_figures(study, trials, out, done, rows):
    """``OUT/figures/``: mean spectra per method at each setting, and the paired
    differences of TACE, ECE and boundary ECE with their intervals."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from speccal.plotting import plot_power_spectra

    fig_dir = Path(out) / FIGURES_DIR
    fig_dir.mkdir(exist_ok=True)
    written = []
    varying = _varying(trials)
    centre = {k: study.train.get(k) for k in varying}
    spectra = {}
    for trial in trials:
        if trial.name not in done:
            continue
        spectrum = read_npz(Path(out) / RUNS_DIR / trial.name / SPECTRUM_FILE)
        frequencies, power = spectrum["frequencies"], spectrum["power"]
        label = f"{trial.method} ({_setting_text({k: trial.setting[k] for k in varying}, centre)})"
        spectra.setdefault(label, []).append((frequencies, power))
    if spectra:
        fig, ax = plt.subplots(figsize=(7, 5))
        mean = {k: (v[0][0], np.mean([p for _, p in v], axis=0)) for k, v in spectra.items()}
        plot_power_spectra(mean, ax=ax)
        ax.legend(fontsize=6)
        fig.tight_layout()
        path = fig_dir / "power_spectra.png"
        fig.savefig(path, dpi=100)
        plt.close(fig)
        written.append(path)
    if rows:
        metrics = [
            m for m in ("tace", "ece", "boundary_ece", "nll") if any(r["metrics"][m] for r in rows)
        ]
        fig, axes = plt.subplots(
            1, len(metrics), figsize=(4 * len(metrics), 0.35 * len(rows) + 1.5), sharey=True
        )
        axes = np.atleast_1d(axes)
        labels = [f"{r['method']} ({_setting_text(r['setting'], centre)})" for r in rows]
        for ax, metric in zip(axes, metrics, strict=True):
            for i, row in enumerate(rows):
                result = row["metrics"][metric]
                if result is None:
                    continue
                ax.errorbar(
                    result["mean"],
                    i,
                    xerr=[[result["mean"] - result["low"]], [result["high"] - result["mean"]]],
                    fmt="o",
                    color="C0" if result["p"] >= 0.05 else "C3",
                )
            ax.axvline(0, color="grey", lw=0.8)
            ax.set_title(f"{metric}: method - {study.reference}")
            ax.set_xlabel("mean paired difference, 95 % CI\n(red: Wilcoxon p < 0.05, uncorrected)")
        axes[0].set_yticks(range(len(rows)), labels, fontsize=7)
        axes[0].invert_yaxis()
        fig.tight_layout()
        path = fig_dir / "paired_differences.png"
        fig.savefig(path, dpi=100)
        plt.close(fig)
        written.append(path)
    return written
