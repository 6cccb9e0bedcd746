import numpy as np
import pytest

from speccal.experiments import results_table, summarize

RUNS = [
    {"method": "ce", "dice": 0.80, "ece": 0.20, "protocol": "P"},
    {"method": "ce", "dice": 0.70, "ece": 0.30, "protocol": "P"},
    {"method": "cespectral", "dice": 0.78, "ece": 0.10, "protocol": "P"},
    {"method": "focal", "dice": 0.90, "ece": 0.40, "protocol": "P"},
]


def test_summary_is_mean_and_sample_sd_per_method():
    s = summarize(RUNS, ["dice", "ece"])
    assert list(s) == ["ce", "cespectral", "focal"]
    mean, sd, n = s["ce"]["ece"]
    assert mean == pytest.approx(0.25)
    assert sd == pytest.approx(np.std([0.2, 0.3], ddof=1))
    assert n == 2
    assert np.isnan(s["focal"]["dice"][1])


def test_markdown_marks_best_bold_and_second_italic():
    table = results_table(RUNS, ["dice", "ece"], digits=2)
    lines = table.splitlines()
    assert lines[0] == "| metric | ce | cespectral | focal |"
    assert lines[2] == "| DSC ↑ | 0.75 ± 0.07 | *0.78* | **0.90** |"
    assert lines[3] == "| ECE ↓ | *0.25 ± 0.07* | **0.10** | 0.40 |"
    assert lines[-1] == "Protocol: P. Runs per method: ce 2, cespectral 1, focal 1."


def test_latex_and_csv():
    latex = results_table(RUNS, ["ece"], format="latex", digits=2)
    assert r"ECE $\downarrow$ & \textit{0.25 $\pm$ 0.07} & \textbf{0.10} & 0.40 \\" in latex
    assert latex.startswith(r"\begin{tabular}{lccc}")
    csv_text = results_table(RUNS, ["ece"], format="csv", digits=2)
    assert csv_text.splitlines()[:2] == [
        "metric,ce,cespectral,focal",
        'ECE ↓,"0.25 ± 0.07","0.10","0.40"',
    ]


def test_infinite_distances_are_shown_and_never_best():
    runs = [{"method": "a", "hd95": float("inf")}, {"method": "b", "hd95": 3.0}]
    table = results_table(runs, ["hd95"], digits=1, protocol="P")
    assert "| HD95 (mm) ↓ | inf | **3.0** |" in table


def test_bad_table_input():
    with pytest.raises(
        ValueError, match="`format` must be one of markdown, csv, latex, text; got 'html'"
    ):
        results_table(RUNS, ["ece"], format="html")
    with pytest.raises(ValueError, match="`results` must hold at least one run"):
        results_table([], ["ece"])
    with pytest.raises(
        ValueError, match=r"`results` of \['ce', 'ce', 'cespectral', 'focal'\] lack"
    ):
        results_table(RUNS, ["tace"])


def test_results_table_text_aligns_columns_and_marks_the_best():
    rows = [
        {"method": "ce", "ece": 0.2, "dice": 0.8},
        {"method": "cespectral", "ece": 0.1, "dice": 0.7},
    ]
    text = results_table(rows, ["dice", "ece"], protocol="toy", format="text")
    assert text.splitlines() == [
        "metric  ce             cespectral",
        "------  -------------  -------------",
        "DSC ↑   0.8000 (best)  0.7000",
        "ECE ↓   0.2000         0.1000 (best)",
        "",
        "Protocol: toy. Runs per method: ce 1, cespectral 1.",
    ]
    assert "*" not in text and "|" not in text
    with pytest.raises(ValueError, match="`format` must be one of markdown, csv, latex, text"):
        results_table(rows, ["ece"], format="html")
