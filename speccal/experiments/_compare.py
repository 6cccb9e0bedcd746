"""Comparisons of evaluated runs: which runs form one column, and paired tests against a reference.

numpy and scipy only. Runs are compared only within one dataset and class count; runs of one
method whose loss parameters differ are separate columns, labelled by what differs.
"""

from pathlib import Path

import numpy as np
from scipy import stats

from speccal._names import SEGMENTATION_METRICS, TABLE_CALIBRATION_METRICS, TABLE_FORMATS
from speccal.evaluation._statistics import (
    check_bootstrap_params,
    compare_paired,
    compare_paired_clustered,
    holm_correction,
    percentile_interval,
    resample_counts,
)
from speccal.experiments._run_folder import read_per_volume, read_results
from speccal.experiments._tables import _row_label, check_comparable, column_labels

#: Per-volume metrics compared by default, in this order, when every run has them.
DEFAULT_METRICS = (*SEGMENTATION_METRICS, *TABLE_CALIBRATION_METRICS, "boundary_ece")


def _load_columns(run_dirs):
    """``{label: [(run_dir, metrics, per_volume), ...]}`` of comparable runs, in order."""
    if isinstance(run_dirs, str | Path) or not run_dirs:
        raise ValueError(
            f"`run_dirs` must be a non-empty sequence of run folders; got {run_dirs!r}."
        )
    run_dirs = [Path(d) for d in run_dirs]
    results = read_results(run_dirs)
    check_comparable(results, [str(d) for d in run_dirs])
    columns = {}
    for run_dir, result, label in zip(run_dirs, results, column_labels(results), strict=True):
        columns.setdefault(label, []).append((run_dir, result, read_per_volume(run_dir)))
    for label, runs in columns.items():
        seeds = {}
        for run_dir, result, _ in runs:
            seed = result.get("seed")
            if seed in seeds:
                raise ValueError(
                    f"runs {seeds[seed]} and {run_dir} of {label!r} have the same seed {seed!r}: "
                    "each (case id, seed) must be one volume; compare one of them."
                )
            seeds[seed] = run_dir
    return columns


def _metric_names(columns, metrics):
    """The metrics to compare: those asked for (each present in every run) or the defaults."""
    tables = [(run_dir, table) for runs in columns.values() for run_dir, _, table in runs]
    if metrics is None:
        chosen = [m for m in DEFAULT_METRICS if all(m in t for _, t in tables)]
        if not chosen:
            raise ValueError(
                f"per_volume.csv of the runs must share one of the metrics {DEFAULT_METRICS}; "
                "they share none."
            )
        return chosen
    if isinstance(metrics, str) or not metrics:
        raise ValueError(f"`metrics` must be a non-empty sequence of str; got {metrics!r}.")
    for metric in metrics:
        for run_dir, table in tables:
            if metric not in table or table[metric].dtype.kind != "f":
                raise ValueError(
                    f"{run_dir / 'per_volume.csv'} has no numeric column {metric!r} "
                    f"(columns: {sorted(table)})."
                )
    return list(metrics)


def _volumes(runs, metric):
    """``{(case_id, seed): value}`` over the runs of one column."""
    return {
        (str(case), result.get("seed")): float(value)
        for _, result, table in runs
        for case, value in zip(table["case_id"], table[metric], strict=True)
    }


def _bootstrap_mean_interval(values, n_resamples, level, random_state):
    counts = resample_counts(values.size, n_resamples, random_state)
    return percentile_interval(counts @ values / values.size, level)


def _unpaired(x, y, n_resamples, level, random_state):
    """Difference of means, an independent two-sample bootstrap interval, Mann-Whitney's p."""
    first, second = np.random.default_rng(random_state).spawn(2)
    means_x = resample_counts(x.size, n_resamples, first) @ x / x.size
    means_y = resample_counts(y.size, n_resamples, second) @ y / y.size
    p = stats.mannwhitneyu(x, y, alternative="two-sided").pvalue
    return float(x.mean() - y.mean()), percentile_interval(means_x - means_y, level), float(p)


class RunComparison:
    """Runs compared metric by metric against a reference (see :func:`compare_runs`).

    Attributes
    ----------
    reference : str
        The reference column.
    metrics : list of str
        The compared metrics, in row order.
    rows : list of dict
        One per (metric, column), reference first: ``metric``, ``method`` (the column
        label), ``n_runs``, ``mean`` and ``sd`` over runs, ``ci_low``/``ci_high``,
        ``n_volumes``, and against the reference ``delta``, ``delta_ci_low``,
        ``delta_ci_high``, ``pvalue``, ``pvalue_holm``, ``n_pairs``, ``paired``, and at the
        run level ``n_seeds``, ``run_ci_low``, ``run_ci_high``, ``run_pvalue``,
        ``run_pvalue_holm`` (NaN / None for the reference and where undefined), ``notes``
        (indices into ``notes``).
    notes : list of str
        What could not be paired or tested, and why.
    description : str
        How every number was computed.
    confidence_level : float
        Level of the intervals.

    Examples
    --------
    >>> from speccal.experiments import compare_runs
    >>> comparison = compare_runs(["runs/ce", "runs/cespectral"], reference="ce")  # doctest: +SKIP
    >>> print(comparison.to_text("markdown"))  # doctest: +SKIP
    """

    def __init__(self, reference, metrics, rows, notes, description, confidence_level):
        self.reference = reference
        self.confidence_level = confidence_level
        self.metrics = metrics
        self.rows = rows
        self.notes = notes
        self.description = description

    def to_text(self, format="markdown", digits=4):
        """The comparison as a Markdown, CSV or LaTeX table followed by its notes.

        Parameters
        ----------
        format : {"markdown", "csv", "latex"}, default="markdown"
            CSV has one numeric column per quantity (full precision), the others formatted
            cells.
        digits : int, default=4
            Decimals of the formatted cells.

        Returns
        -------
        str

        Raises
        ------
        ValueError
            If ``format`` is unknown.
        """
        if format not in TABLE_FORMATS:
            raise ValueError(
                f"`format` must be one of {', '.join(TABLE_FORMATS)}; got {format!r}."
            )
        if format == "csv":
            return _render_csv(self)
        return _render_text(self, format, digits)


_DELTA_FIELDS = (
    "delta",
    "delta_ci_low",
    "delta_ci_high",
    "pvalue",
    "run_ci_low",
    "run_ci_high",
    "run_pvalue",
)

_CSV_FIELDS = (
    "metric",
    "method",
    "n_runs",
    "mean",
    "sd",
    "ci_low",
    "ci_high",
    "n_volumes",
    "delta",
    "delta_ci_low",
    "delta_ci_high",
    "pvalue",
    "pvalue_holm",
    "n_pairs",
    "paired",
    "n_seeds",
    "run_ci_low",
    "run_ci_high",
    "run_pvalue",
    "run_pvalue_holm",
)


def _render_csv(comparison):
    lines = [",".join([*_CSV_FIELDS, "notes"])]
    for row in comparison.rows:
        cells = ["" if row[f] is None else repr(row[f]) for f in _CSV_FIELDS[2:]]
        notes = " ".join(f"[{i + 1}]" for i in row["notes"])
        lines.append(",".join([row["metric"], f'"{row["method"]}"', *cells, notes]))
    footer = [f"# {comparison.description}"]
    footer += [f"# [{i + 1}] {note}" for i, note in enumerate(comparison.notes)]
    return "\n".join(lines + footer)


def _number(value, digits):
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "–"
    return f"{value:.{digits}f}" if np.isfinite(value) else ("inf" if value > 0 else "-inf")


def _interval(low, high, digits):
    if low is None or np.isnan(low):
        return "–"
    return f"[{_number(low, digits)}, {_number(high, digits)}]"


def _pvalue(p):
    if p is None or np.isnan(p):
        return "–"
    return "< 0.0001" if p < 1e-4 else f"{p:.4f}"


def _cells(row, digits):
    mean = _number(row["mean"], digits)
    if not np.isnan(row["sd"]) and np.isfinite(row["mean"]):
        mean += f" ± {_number(row['sd'], digits)}"
    marks = "".join(f"[{i + 1}]" for i in row["notes"])
    delta = _number(row["delta"], digits)
    if row["paired"] is False:
        delta += " (unpaired)"
    return [
        _row_label(row["metric"]),
        row["method"],
        str(row["n_runs"]),
        mean,
        _interval(row["ci_low"], row["ci_high"], digits),
        delta,
        _interval(row["delta_ci_low"], row["delta_ci_high"], digits),
        _pvalue(row["pvalue_holm"]),
        "–" if row["n_pairs"] is None else str(row["n_pairs"]),
        _interval(row["run_ci_low"], row["run_ci_high"], digits),
        _pvalue(row["run_pvalue_holm"]),
        "–" if row["n_seeds"] is None else str(row["n_seeds"]),
        marks,
    ]


def _render_text(comparison, format, digits):
    level = comparison.confidence_level
    header = [
        "metric",
        "method",
        "runs",
        "mean ± sd",
        f"{level:.0%} CI",
        f"Δ vs {comparison.reference}",
        f"Δ {level:.0%} CI",
        "p (Holm)",
        "pairs",
        f"run-level {level:.0%} CI",
        "run-level p (Holm)",
        "seeds",
        "notes",
    ]
    rows = [_cells(row, digits) for row in comparison.rows]
    notes = [f"- [{i + 1}] {note}" for i, note in enumerate(comparison.notes)]
    if format == "latex":
        return _render_latex(header, rows, comparison.description, notes)
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cells) + " |" for cells in rows]
    return "\n".join([*lines, "", comparison.description, *notes])


def _latex_escape(text):
    for old, new in (
        ("\\", r"\textbackslash{}"),
        ("_", r"\_"),
        ("%", r"\%"),
        ("&", r"\&"),
        ("#", r"\#"),
        ("±", r"$\pm$"),
        ("Δ", r"$\Delta$"),
        ("↑", r"$\uparrow$"),
        ("↓", r"$\downarrow$"),
        ("<", r"$<$"),
    ):
        text = text.replace(old, new)
    return text


def _render_latex(header, rows, description, notes):
    body = [" & ".join(_latex_escape(c) for c in cells) + r" \\" for cells in rows]
    return "\n".join(
        [
            rf"\begin{{tabular}}{{ll{'c' * (len(header) - 2)}}}",
            r"\toprule",
            " & ".join(_latex_escape(h) for h in header) + r" \\",
            r"\midrule",
            *body,
            r"\bottomrule",
            r"\end{tabular}",
            f"% {description}",
            *(f"% {note}" for note in notes),
        ]
    )


def _column_row(metric, label, runs, level, n_resamples, random_state, add_note):
    run_means = np.array([float(np.mean(table[metric])) for _, _, table in runs])
    values = np.array(list(_volumes(runs, metric).values()))
    with np.errstate(invalid="ignore"):  # inf values: the sd is undefined
        sd = float(run_means.std(ddof=1)) if run_means.size > 1 else float("nan")
    low = high = float("nan")
    if np.isfinite(values).all():
        low, high = _bootstrap_mean_interval(values, n_resamples, level, random_state)
    else:
        n_bad = int((~np.isfinite(values)).sum())
        add_note(
            f"{label}, {metric}: {n_bad} of {values.size} volumes are not finite; no interval."
        )
    return {
        "metric": metric,
        "method": label,
        "n_runs": len(runs),
        "mean": float(run_means.mean()),
        "sd": sd,
        "ci_low": low,
        "ci_high": high,
        "n_volumes": int(values.size),
    }


def _difference(
    metric, label, runs, reference, ref_runs, level, n_resamples, random_state, add_note
):
    """Δ = column − reference on the volumes paired by (case id, seed), else unpaired."""
    ours, theirs = _volumes(runs, metric), _volumes(ref_runs, metric)
    shared = [key for key in ours if key in theirs]
    result = dict.fromkeys(_DELTA_FIELDS, float("nan"))
    result.update(n_pairs=len(shared), paired=True, n_seeds=None)
    if shared:
        unpaired = (len(ours) - len(shared), len(theirs) - len(shared))
        if any(unpaired):
            add_note(
                f"{label}, {metric}: {unpaired[0]} of {len(ours)} volumes of {label} and "
                f"{unpaired[1]} of {len(theirs)} of {reference} have no partner with the same "
                "(case id, seed); they are left out of Δ and its test."
            )
        a = np.array([ours[key] for key in shared])
        b = np.array([theirs[key] for key in shared])
        finite = np.isfinite(a) & np.isfinite(b)
        if not finite.all():
            add_note(
                f"{label}, {metric}: {int((~finite).sum())} of {len(shared)} pairs hold a "
                "non-finite value and are left out of Δ and its test."
            )
        if finite.any():
            test = compare_paired(
                a[finite],
                b[finite],
                n_resamples=n_resamples,
                confidence_level=level,
                random_state=random_state,
            )
            low, high = test.confidence_interval
            result.update(
                delta=test.mean_difference,
                delta_ci_low=low,
                delta_ci_high=high,
                pvalue=test.pvalue,
                n_pairs=test.n,
            )
            result.update(_run_level(shared, finite, a, b, level, n_resamples, random_state))
        return result
    x, y = np.array(list(ours.values())), np.array(list(theirs.values()))
    result.update(paired=False)
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        add_note(f"{label}, {metric}: unpaired and holding non-finite values; not compared.")
        return result
    add_note(
        f"{label}, {metric}: no volume shares a (case id, seed) with {reference}; Δ is the "
        "difference of the means of all volumes, its interval an independent two-sample "
        "bootstrap, p the two-sided Mann-Whitney U test."
    )
    delta, (low, high), p = _unpaired(x, y, n_resamples, level, random_state)
    result.update(delta=delta, delta_ci_low=low, delta_ci_high=high, pvalue=p)
    return result


def _run_level(shared, finite, a, b, level, n_resamples, random_state):
    """The seed as the unit: two-stage bootstrap interval and sign-flip p of the seeds' means."""
    seeds = np.array([str(seed) for _, seed in shared])[finite]
    n_seeds = len(set(seeds))
    if n_seeds < 2:
        return {"n_seeds": n_seeds}
    test = compare_paired_clustered(
        a[finite],
        b[finite],
        seeds,
        n_resamples=n_resamples,
        confidence_level=level,
        random_state=random_state,
    )
    low, high = test.confidence_interval
    return {"n_seeds": n_seeds, "run_ci_low": low, "run_ci_high": high, "run_pvalue": test.pvalue}


def compare_runs(
    run_dirs,
    *,
    reference,
    metrics=None,
    n_resamples=9999,
    confidence_level=0.95,
    random_state=0,
):
    """Compare evaluated runs metric by metric, against a reference method, with paired tests.

    Parameters
    ----------
    run_dirs : sequence of str or path
        Run folders evaluated by :func:`speccal.experiments.evaluate_run`, of one dataset and
        class count. Runs of one method with the same loss parameters (seeds) form one
        column; runs of one method with different loss parameters are separate columns
        labelled by what differs (:func:`column_labels`, e.g. ``"cespectral (lam=0.5)"``).
    reference : str
        The column the others are compared with: a method, or a column label.
    metrics : sequence of str, optional
        Columns of ``per_volume.csv`` to compare; default those of ``("dice", "hd95",
        "asd", "ece", "sce", "tace", "boundary_ece")`` every run has.
    n_resamples : int, default=9999
        Bootstrap resamples of every interval.
    confidence_level : float, default=0.95
        Level of every interval.
    random_state : None, int or numpy.random.Generator, default=0
        Seed of the bootstraps; an int gives every interval the same draws.

    Returns
    -------
    RunComparison
        Its ``rows`` hold the numbers; ``to_text(format)`` formats them.

    Raises
    ------
    FileNotFoundError
        If a run has not been evaluated.
    ValueError
        If the runs are of different datasets or class counts (naming the runs), two runs of
        one column share a seed, ``reference`` names no column (or several), or a metric is
        missing from a run's ``per_volume.csv``.

    Notes
    -----
    Per column and metric: the mean ± sample sd (``ddof=1``) over runs of each run's mean over
    its test volumes, and a percentile case bootstrap interval of the mean over all of the
    column's volumes (a volume is one (case id, seed); with equal test sets per run, that mean
    is the mean over runs). Against the reference, a volume of the column is paired with the
    reference's volume of the same case id and seed (same training seed, same test case):
    Δ is the mean of column − reference over the pairs, its interval a paired percentile
    bootstrap and its p-value the two-sided Wilcoxon signed-rank test
    (:func:`speccal.evaluation.compare_paired`). The p-values of one column's metrics are
    adjusted together by Holm's method (:func:`speccal.evaluation.holm_correction`). Volumes
    without a partner are left out of the pairs with a note; a column with no pair at all is
    compared unpaired (difference of means, independent two-sample bootstrap, Mann-Whitney
    U test) with a note. Pairs holding ``inf`` (HD95 or ASD of a missed structure) are left
    out with a note.

    Those tests take the pairs as independent, but the test volumes of one seed share one
    training run: as evidence about a training method they count for less than their number.
    The run-level columns take the seed as the unit, on the same pairs
    (:func:`speccal.evaluation.compare_paired_clustered`): a two-stage bootstrap interval
    (seeds resampled, then the pairs within each drawn seed) and the two-sided sign-flip test
    of the seeds' mean differences, Holm-adjusted over the metrics as above. Its smallest
    p-value with :math:`n` seeds is :math:`2 / 2^n` (0.25 with 3 seeds). With one seed there
    is no run-level result (a note says so).

    Examples
    --------
    >>> from speccal.experiments import compare_runs
    >>> runs = ["runs/ce_s0", "runs/ce_s1", "runs/spectral_s0", "runs/spectral_s1"]
    >>> comparison = compare_runs(runs, reference="ce")  # doctest: +SKIP
    >>> [row["pvalue_holm"] for row in comparison.rows]  # doctest: +SKIP
    """
    n_resamples, level = check_bootstrap_params(n_resamples, confidence_level)
    columns = _load_columns(run_dirs)
    if reference not in columns:
        labelled = [label for label in columns if label.startswith(f"{reference} (")]
        if len(labelled) != 1:
            hint = f" (its columns: {labelled})" if labelled else ""
            raise ValueError(
                f"`reference` must be one of the compared columns {list(columns)}; got "
                f"{reference!r}{hint}."
            )
        reference = labelled[0]
    names = _metric_names(columns, metrics)
    notes = []

    def add_note(text):
        notes.append(text)
        return len(notes) - 1

    order = [reference, *(label for label in columns if label != reference)]
    rows = []
    for label in order:
        column = []
        for metric in names:
            first = len(notes)
            row = _column_row(
                metric, label, columns[label], level, n_resamples, random_state, add_note
            )
            if label == reference:
                row.update(
                    dict.fromkeys(_DELTA_FIELDS, float("nan")),
                    n_pairs=None,
                    paired=None,
                    n_seeds=None,
                )
            else:
                row.update(
                    _difference(
                        metric,
                        label,
                        columns[label],
                        reference,
                        columns[reference],
                        level,
                        n_resamples,
                        random_state,
                        add_note,
                    )
                )
            row["notes"] = list(range(first, len(notes)))
            column.append(row)
        for key in ("pvalue", "run_pvalue"):
            tested = [i for i, row in enumerate(column) if not np.isnan(row[key])]
            adjusted = holm_correction([column[i][key] for i in tested])
            for row in column:
                row[f"{key}_holm"] = float("nan")
            for i, p in zip(tested, adjusted, strict=True):
                column[i][f"{key}_holm"] = float(p)
        if label != reference and any(row["n_seeds"] == 1 for row in column):
            first = add_note(
                f"{label}: its pairs come from one seed, so there is no run-level interval or "
                "test (they need at least 2 seeds)."
            )
            for row in column:
                if row["n_seeds"] == 1:
                    row["notes"].append(first)
        rows += column
    counts = ", ".join(f"{label} {len(runs)}" for label, runs in columns.items())
    description = (
        f"Runs per method: {counts}. mean ± sd over runs (sd with ddof=1); CI: percentile "
        f"case bootstrap of the mean over the volumes ({n_resamples} resamples, level "
        f"{level:g}). Δ = method − {reference} over volumes paired by (case id, seed); its CI "
        "a paired percentile bootstrap; p: two-sided Wilcoxon signed-rank test, Holm-adjusted "
        f"over the {len(names)} metrics of each method. These take the pairs as independent, "
        "but the volumes of one seed share one training run; the run-level columns take the "
        "seed as the unit: a two-stage bootstrap CI (seeds resampled, then pairs within them) "
        "and the two-sided sign-flip test of the seeds' mean Δ, Holm-adjusted likewise, whose "
        "smallest p with n seeds is 2 / 2^n (0.25 with 3). Protocol: "
        f"{columns[reference][0][1].get('protocol', 'unstated')}."
    )
    return RunComparison(reference, names, rows, notes, description, level)


def paired_comparison_table(run_dirs, *, reference, format="markdown", digits=4, **options):
    """The table of :func:`compare_runs` as text (what ``speccal compare --reference`` prints).

    Parameters
    ----------
    run_dirs : sequence of str or path
        Evaluated run folders of one dataset.
    reference : str
        The reference method (or column label).
    format : {"markdown", "csv", "latex"}, default="markdown"
        Output format.
    digits : int, default=4
        Decimals.
    **options
        ``metrics``, ``n_resamples``, ``confidence_level``, ``random_state`` of
        :func:`compare_runs`.

    Returns
    -------
    str
        One row per (metric, method), then how the numbers were computed and the notes.

    Raises
    ------
    ValueError, FileNotFoundError
        As :func:`compare_runs`, and for an unknown ``format``.

    Examples
    --------
    >>> from speccal.experiments import paired_comparison_table
    >>> print(paired_comparison_table(["runs/ce", "runs/ours"], reference="ce"))  # doctest: +SKIP
    """
    if format not in TABLE_FORMATS:
        raise ValueError(f"`format` must be one of {', '.join(TABLE_FORMATS)}; got {format!r}.")
    return compare_runs(run_dirs, reference=reference, **options).to_text(format, digits)
