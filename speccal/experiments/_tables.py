"""Result tables in the paper's layout: metrics as rows, methods as columns (numpy only)."""

import json

import numpy as np

from speccal._names import HIGHER_IS_BETTER, METRIC_UNITS, TABLE_FORMATS, metric_label

#: ``results_table`` also renders plain text (aligned columns, for a terminal or a log).
FORMATS = (*TABLE_FORMATS, "text")


def _format_value(value):
    if isinstance(value, float | int) and not isinstance(value, bool):
        return f"{value:g}"
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True)


def column_labels(results):
    """One column label per run: its method, plus the loss parameters that set it apart.

    Parameters
    ----------
    results : list of dict
        ``metrics.json`` contents, each with ``method`` and optionally ``loss_params``.

    Returns
    -------
    list of str
        ``method`` for a method whose runs share their loss parameters (seeds of one
        setting); otherwise ``"method (key=value, ...)"`` naming, in sorted order, the
        parameters that differ between that method's runs (a parameter a run does not set
        shows as ``key=default``).

    Examples
    --------
    >>> column_labels([
    ...     {"method": "ce", "loss_params": {}},
    ...     {"method": "cespectral", "loss_params": {"lam": 0.01, "bands": 5}},
    ...     {"method": "cespectral", "loss_params": {"lam": 0.5, "bands": 5}},
    ... ])
    ['ce', 'cespectral (lam=0.01)', 'cespectral (lam=0.5)']
    """
    params = [dict(r.get("loss_params") or {}) for r in results]
    differing = {}
    for result, param in zip(results, params, strict=True):
        differing.setdefault(result["method"], []).append(param)
    keys = {}
    for method, group in differing.items():
        names = sorted({k for p in group for k in p})
        keys[method] = [k for k in names if len({_format_value(p.get(k)) for p in group}) > 1]
    labels = []
    for result, param in zip(results, params, strict=True):
        method = result["method"]
        if not keys[method]:
            labels.append(method)
            continue
        parts = [
            f"{k}={_format_value(param[k]) if k in param else 'default'}" for k in keys[method]
        ]
        labels.append(f"{method} ({', '.join(parts)})")
    return labels


def check_comparable(results, names=None):
    """Refuse to compare runs of different datasets or class counts.

    Parameters
    ----------
    results : list of dict
        ``metrics.json`` contents; ``dataset`` and ``n_classes`` are compared when present.
    names : list of str, optional
        How to name each run in the message (e.g. its folder); default its method and seed.

    Raises
    ------
    ValueError
        Naming each dataset (or class count) and its runs.

    Examples
    --------
    >>> check_comparable([{"method": "ce", "dataset": "acdc"},
    ...                   {"method": "ce", "dataset": "brats2020"}], ["runs/a", "runs/b"])
    Traceback (most recent call last):
    ...
    ValueError: runs of different datasets cannot be compared: acdc (runs/a); brats2020 (runs/b).
    """
    if names is None:
        names = [f"{r.get('method', '?')} seed {r.get('seed', '?')}" for r in results]
    for key, what in (("dataset", "datasets"), ("n_classes", "class counts")):
        groups = {}
        for result, name in zip(results, names, strict=True):
            groups.setdefault(str(result.get(key, "unstated")), []).append(str(name))
        if len(groups) > 1:
            listed = "; ".join(f"{value} ({', '.join(runs)})" for value, runs in groups.items())
            raise ValueError(f"runs of different {what} cannot be compared: {listed}.")


def summarize(results, metrics):
    """Mean and standard deviation per method over its runs (seeds).

    Parameters
    ----------
    results : list of dict
        ``metrics.json`` contents, each with ``method`` and the metric keys.
    metrics : sequence of str
        Metric keys to summarise.

    Returns
    -------
    dict
        ``{method: {metric: (mean, sd, n_runs)}}`` in order of first appearance; ``sd`` is
        the sample standard deviation (``ddof=1``), NaN for a single run. Runs are grouped by
        ``method`` as given (:func:`results_table` first relabels them with
        :func:`column_labels`).

    Examples
    --------
    >>> s = summarize([{"method": "ce", "ece": 0.1}, {"method": "ce", "ece": 0.3}], ["ece"])
    >>> [round(v, 4) for v in s["ce"]["ece"][:2]]
    [0.2, 0.1414]
    """
    grouped = {}
    for result in results:
        grouped.setdefault(result["method"], []).append(result)
    summary = {}
    for method, runs in grouped.items():
        summary[method] = {}
        for metric in metrics:
            values = np.array([float(r[metric]) for r in runs])
            with np.errstate(invalid="ignore"):  # inf values: the sd is undefined
                sd = values.std(ddof=1) if len(values) > 1 else float("nan")
            summary[method][metric] = (float(values.mean()), float(sd), len(values))
    return summary


def _row_label(metric):
    """``"DSC ↑"``, ``"HD95 (mm) ↓"``: name, unit and direction of a known metric key."""
    if metric not in HIGHER_IS_BETTER:
        return metric
    unit = f" ({METRIC_UNITS[metric]})" if metric in METRIC_UNITS else ""
    return f"{metric_label(metric)}{unit} {'↑' if HIGHER_IS_BETTER[metric] else '↓'}"


def _ranks(means, higher_is_better):
    """Indices of the best and second-best finite means (None when absent)."""
    finite = [i for i, m in enumerate(means) if np.isfinite(m)]
    order = sorted(finite, key=lambda i: -means[i] if higher_is_better else means[i])
    return (order + [None, None])[:2]


def _cell(mean, sd, digits):
    if not np.isfinite(mean):
        return "inf" if mean > 0 else "nan"
    text = f"{mean:.{digits}f}"
    return text if not np.isfinite(sd) else f"{text} ± {sd:.{digits}f}"


def results_table(results, metrics, *, format="markdown", digits=4, protocol=None):
    """Format a comparison table with methods as columns, best bold, second italic.

    Parameters
    ----------
    results : list of dict
        ``metrics.json`` contents (see :func:`speccal.experiments.evaluate_run`) of one
        dataset and class count; runs of the same ``method`` and loss parameters (several
        seeds) are shown as mean ± sd, runs of one method with different loss parameters as
        separate columns labelled by what differs (:func:`column_labels`).
    metrics : sequence of str
        Rows, e.g. ``("dice", "hd95", "asd")`` (the paper's Table 1) or
        ``("ece", "sce", "tace")`` (Table 2). Dice is better when higher, all others lower.
    format : {"markdown", "csv", "latex", "text"}, default="markdown"
        Output format; CSV has no emphasis; text aligns the columns and marks the best value
        of each row with ``(best)``.
    digits : int, default=4
        Decimals.
    protocol : str, optional
        Evaluation protocol stated under the table; default the runs' own ``protocol``.

    Returns
    -------
    str
        The table, ending with a line stating the protocol and the number of runs.

    Raises
    ------
    ValueError
        If ``format`` is unknown, ``results`` is empty or lacks a metric, or its runs are of
        different datasets or class counts (:func:`check_comparable`).

    Examples
    --------
    >>> rows = [{"method": "ce", "ece": 0.2}, {"method": "cespectral", "ece": 0.1}]
    >>> print(results_table(rows, ["ece"], protocol="toy"))
    | metric | ce | cespectral |
    |---|---|---|
    | ECE ↓ | *0.2000* | **0.1000** |
    <BLANKLINE>
    Protocol: toy. Runs per method: ce 1, cespectral 1.
    """
    if format not in FORMATS:
        raise ValueError(f"`format` must be one of {', '.join(FORMATS)}; got {format!r}.")
    if not results:
        raise ValueError("`results` must hold at least one run; got none.")
    for metric in metrics:
        missing = [r.get("method", "?") for r in results if metric not in r]
        if missing:
            raise ValueError(f"`results` of {missing} lack the metric {metric!r}.")
    check_comparable(results)
    labels = column_labels(results)
    summary = summarize(
        [{**r, "method": label} for r, label in zip(results, labels, strict=True)], metrics
    )
    methods = list(summary)
    body = []
    for metric in metrics:
        means = [summary[m][metric][0] for m in methods]
        best, second = _ranks(means, HIGHER_IS_BETTER.get(metric, False))
        cells = []
        for i, method in enumerate(methods):
            mean, sd, _ = summary[method][metric]
            cells.append((_cell(mean, sd, digits), i == best, i == second))
        body.append((_row_label(metric), cells))
    protocol = protocol or results[0].get("protocol", "unstated")
    counts = ", ".join(f"{m} {summary[m][metrics[0]][2]}" for m in methods)
    footer = f"Protocol: {protocol}. Runs per method: {counts}."
    return _render(format, methods, body, footer)


def _render(format, methods, body, footer):
    if format == "text":
        rows = [["metric", *methods]]
        rows += [
            [label] + [c[0] + (" (best)" if c[1] else "") for c in cells] for label, cells in body
        ]
        widths = [max(len(row[j]) for row in rows) for j in range(len(rows[0]))]
        lines = [
            "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
            for row in rows
        ]
        lines.insert(1, "  ".join("-" * w for w in widths))
        return "\n".join(lines) + f"\n\n{footer}"
    if format == "csv":
        lines = [",".join(["metric", *methods])]
        lines += [",".join([label] + [f'"{c[0]}"' for c in cells]) for label, cells in body]
        return "\n".join(lines) + f"\n# {footer}"
    if format == "latex":

        def emph(text, bold, italic):
            text = text.replace("±", r"$\pm$")
            return rf"\textbf{{{text}}}" if bold else rf"\textit{{{text}}}" if italic else text

        head = " & ".join(["Metric"] + [m.replace("_", r"\_") for m in methods])
        rows = [
            " & ".join(
                [label.replace("↑", r"$\uparrow$").replace("↓", r"$\downarrow$")]
                + [emph(*c) for c in cells]
            )
            + r" \\"
            for label, cells in body
        ]
        spec = "l" + "c" * len(methods)
        return "\n".join(
            [
                rf"\begin{{tabular}}{{{spec}}}",
                r"\toprule",
                head + r" \\",
                r"\midrule",
                *rows,
                r"\bottomrule",
                r"\end{tabular}",
                f"% {footer}",
            ]
        )

    def emph(text, bold, italic):
        return f"**{text}**" if bold else f"*{text}*" if italic else text

    lines = ["| metric | " + " | ".join(methods) + " |", "|" + "---|" * (len(methods) + 1)]
    lines += [
        "| " + " | ".join([label] + [emph(*c) for c in cells]) + " |" for label, cells in body
    ]
    return "\n".join(lines) + f"\n\n{footer}"
