"""Comparisons of evaluated runs: columns, refusals, and paired tests against a reference.

Runs are faked by writing their metrics.json and per_volume.csv with speccal.experiments'
writers; nothing is trained.
"""

import csv
import io

import numpy as np
import pytest
from run_folders import CASES, draw, fake_run
from scipy import stats

from speccal.evaluation import compare_paired, compare_paired_clustered, holm_correction
from speccal.experiments import (
    check_comparable,
    column_labels,
    compare_runs,
    paired_comparison_table,
    read_per_volume,
    read_results,
    results_table,
)

METRICS = ("dice", "hd95", "ece")


@pytest.fixture
def runs(tmp_path):
    """ce and cespectral with seeds 0 and 1; {(method, seed): (run folder, values)}."""
    rng = np.random.default_rng(0)
    made = {}
    for method in ("ce", "cespectral"):
        for seed in (0, 1):
            values = draw(rng)
            path = fake_run(tmp_path, f"{method}{seed}", method, seed, values)
            made[method, seed] = (path, values)
    return made


def test_column_labels_split_a_method_by_the_parameters_that_differ():
    results = [
        {"method": "ce"},
        {"method": "cespectral", "loss_params": {"lam": 0.01, "window": 50}},
        {"method": "cespectral", "loss_params": {"lam": 0.5, "window": 50}},
        {"method": "cespectral", "loss_params": {"lam": 0.5, "window": 50}},
        {"method": "focal", "loss_params": {"gamma": 3}},
        {"method": "focal", "loss_params": {}},
    ]
    assert column_labels(results) == [
        "ce",
        "cespectral (lam=0.01)",
        "cespectral (lam=0.5)",
        "cespectral (lam=0.5)",
        "focal (gamma=3)",
        "focal (gamma=default)",
    ]


def test_results_table_keeps_loss_settings_apart():
    results = [
        {"method": "cespectral", "loss_params": {"lam": 0.01}, "ece": 0.1},
        {"method": "cespectral", "loss_params": {"lam": 0.5}, "ece": 0.3},
    ]
    table = results_table(results, ["ece"], digits=2, protocol="P")
    assert table.splitlines()[0] == "| metric | cespectral (lam=0.01) | cespectral (lam=0.5) |"
    assert "Runs per method: cespectral (lam=0.01) 1, cespectral (lam=0.5) 1." in table


def test_runs_of_two_datasets_or_class_counts_are_refused(tmp_path):
    values = draw(np.random.default_rng(1))
    a = fake_run(tmp_path, "a", "ce", 0, values, dataset="acdc")
    b = fake_run(tmp_path, "b", "ce", 1, values, dataset="brats2020")
    c = fake_run(tmp_path, "c", "ce", 2, values, dataset="acdc", n_classes=3)
    message = (
        rf"runs of different datasets cannot be compared: acdc \({a}, {c}\); "
        rf"brats2020 \({b}\)\."
    )
    with pytest.raises(ValueError, match=message):
        compare_runs([a, b, c], reference="ce")
    with pytest.raises(ValueError, match="runs of different datasets cannot be compared"):
        results_table(read_results([a, b]), ["ece"])
    with pytest.raises(ValueError, match=rf"different class counts .*: 4 \({a}\); 3 \({c}\)\."):
        check_comparable(read_results([a, c]), [str(a), str(c)])


def test_read_per_volume_keeps_ids_as_text_and_reads_inf(tmp_path):
    run = fake_run(tmp_path, "r", "ce", 0, {"hd95": [np.inf, 2.0]}, cases=("001", "002"))
    table = read_per_volume(run)
    assert table["case_id"].tolist() == ["001", "002"]
    assert table["hd95"].tolist() == [np.inf, 2.0]
    with pytest.raises(FileNotFoundError, match="per_volume.csv not found: run `speccal eval"):
        read_per_volume(tmp_path)


def test_paired_rows_equal_independent_computations(runs):
    dirs = [path for path, _ in runs.values()]
    comparison = compare_runs(dirs, reference="ce", n_resamples=300, random_state=5)
    assert comparison.metrics == list(METRICS)
    rows = {(r["method"], r["metric"]): r for r in comparison.rows}
    assert [r["method"] for r in comparison.rows] == ["ce"] * 3 + ["cespectral"] * 3
    raw, run_raw = [], []
    for metric in METRICS:
        ours = [runs["cespectral", s][1][metric] for s in (0, 1)]
        theirs = [runs["ce", s][1][metric] for s in (0, 1)]
        row = rows["cespectral", metric]
        run_means = [np.mean(v) for v in ours]
        assert row["mean"] == pytest.approx(np.mean(run_means))
        assert row["sd"] == pytest.approx(np.std(run_means, ddof=1))
        # the case bootstrap of the column's mean, drawn as documented
        pooled = np.concatenate(ours)
        draws = np.random.default_rng(5).integers(0, pooled.size, size=(300, pooled.size))
        expected = np.quantile(pooled[draws].mean(axis=1), [0.025, 0.975])
        np.testing.assert_allclose([row["ci_low"], row["ci_high"]], expected, atol=1e-12)
        paired = compare_paired(pooled, np.concatenate(theirs), n_resamples=300, random_state=5)
        assert row["delta"] == pytest.approx(paired.mean_difference)
        assert (row["delta_ci_low"], row["delta_ci_high"]) == pytest.approx(
            paired.confidence_interval
        )
        assert row["pvalue"] == stats.wilcoxon(pooled, np.concatenate(theirs)).pvalue
        assert (row["n_pairs"], row["paired"], row["n_runs"]) == (12, True, 2)
        raw.append(row["pvalue"])
        assert np.isnan(rows["ce", metric]["delta"])
        # run level: 2 seeds, so the sign-flip p is 1/2 when both moved one way, else 1
        seed_means = [np.mean(o - t) for o, t in zip(ours, theirs, strict=True)]
        assert row["run_pvalue"] == (0.5 if np.prod(np.sign(seed_means)) > 0 else 1.0)
        clustered = compare_paired_clustered(
            pooled, np.concatenate(theirs), np.repeat([0, 1], 6), n_resamples=300, random_state=5
        )
        assert (row["run_ci_low"], row["run_ci_high"]) == clustered.confidence_interval
        assert row["n_seeds"] == 2
        run_raw.append(row["run_pvalue"])
    np.testing.assert_allclose(
        [rows["cespectral", m]["pvalue_holm"] for m in METRICS], holm_correction(raw)
    )
    np.testing.assert_allclose(
        [rows["cespectral", m]["run_pvalue_holm"] for m in METRICS], holm_correction(run_raw)
    )
    assert comparison.notes == []


def test_volumes_are_paired_by_case_and_seed_not_by_row(tmp_path):
    rng = np.random.default_rng(3)
    base = draw(rng)
    shuffled = [5, 3, 0, 1, 4, 2]
    better = {m: v - 0.01 * (1 + np.arange(6)) for m, v in base.items()}
    ref = fake_run(tmp_path, "ce", "ce", 0, base)
    other = fake_run(
        tmp_path,
        "sp",
        "cespectral",
        0,
        {m: v[shuffled] for m, v in better.items()},
        cases=[CASES[i] for i in shuffled],
    )
    comparison = compare_runs([ref, other], reference="ce", n_resamples=50)
    for row in comparison.rows[3:]:
        assert row["delta"] == pytest.approx(-0.035)
        assert row["pvalue"] == stats.wilcoxon(better["ece"], base["ece"]).pvalue


def test_what_cannot_be_paired_is_left_out_or_compared_unpaired(tmp_path):
    rng = np.random.default_rng(4)
    ref_values, partial_values, other_values = draw(rng), draw(rng, 5), draw(rng)
    ref = fake_run(tmp_path, "ce", "ce", 0, ref_values)
    partial = fake_run(tmp_path, "focal", "focal", 0, partial_values, cases=CASES[:5])
    other = fake_run(tmp_path, "sp", "cespectral", 7, other_values)
    comparison = compare_runs([ref, partial, other], reference="ce", n_resamples=100)
    rows = {(r["method"], r["metric"]): r for r in comparison.rows}

    focal = rows["focal", "ece"]
    assert (focal["n_pairs"], focal["paired"]) == (5, True)
    assert focal["delta"] == pytest.approx(np.mean(partial_values["ece"] - ref_values["ece"][:5]))
    assert comparison.notes[focal["notes"][0]] == (
        "focal, ece: 0 of 5 volumes of focal and 1 of 6 of ce have no partner with the same "
        "(case id, seed); they are left out of Δ and its test."
    )

    spectral = rows["cespectral", "ece"]
    assert (spectral["n_pairs"], spectral["paired"]) == (0, False)
    assert spectral["delta"] == pytest.approx(
        other_values["ece"].mean() - ref_values["ece"].mean()
    )
    expected = stats.mannwhitneyu(other_values["ece"], ref_values["ece"]).pvalue
    assert spectral["pvalue"] == pytest.approx(expected)
    assert "no volume shares a (case id, seed) with ce" in comparison.notes[spectral["notes"][0]]
    text = comparison.to_text("markdown")
    assert "(unpaired)" in text and "[1] focal, dice: 0 of 5 volumes" in text


def test_infinite_distances_are_left_out_with_a_note(tmp_path):
    rng = np.random.default_rng(5)
    ref_values, values = draw(rng), draw(rng)
    values["hd95"][2] = np.inf
    ref = fake_run(tmp_path, "ce", "ce", 0, ref_values)
    run = fake_run(tmp_path, "sp", "cespectral", 0, values)
    comparison = compare_runs([ref, run], reference="ce", metrics=["hd95"], n_resamples=50)
    row = comparison.rows[1]
    keep = np.arange(6) != 2
    assert row["n_pairs"] == 5
    assert row["delta"] == pytest.approx(np.mean(values["hd95"][keep] - ref_values["hd95"][keep]))
    assert row["mean"] == np.inf and np.isnan(row["ci_low"])
    assert comparison.notes == [
        "cespectral, hd95: 1 of 6 volumes are not finite; no interval.",
        "cespectral, hd95: 1 of 6 pairs hold a non-finite value and are left out of Δ and "
        "its test.",
        "cespectral: its pairs come from one seed, so there is no run-level interval or test "
        "(they need at least 2 seeds).",
    ]
    assert row["n_seeds"] == 1 and np.isnan(row["run_pvalue_holm"]) and row["notes"] == [0, 1, 2]
    assert "| HD95 (mm) ↓ | cespectral | 1 | inf | – |" in comparison.to_text()


def test_reference_may_name_a_labelled_column(tmp_path):
    rng = np.random.default_rng(6)
    dirs = [
        fake_run(tmp_path, f"lam{lam}", "cespectral", 0, draw(rng), loss_params={"lam": lam})
        for lam in (0.01, 0.5)
    ]
    comparison = compare_runs(dirs, reference="cespectral (lam=0.5)", n_resamples=20)
    assert [r["method"] for r in comparison.rows[::3]] == [
        "cespectral (lam=0.5)",
        "cespectral (lam=0.01)",
    ]
    message = (
        r"`reference` must be one of the compared columns \['cespectral \(lam=0.01\)', "
        r"'cespectral \(lam=0.5\)'\]; got 'cespectral' \(its columns: "
    )
    with pytest.raises(ValueError, match=message):
        compare_runs(dirs, reference="cespectral")
    with pytest.raises(ValueError, match=r"got 'focal'\.$"):
        compare_runs(dirs, reference="focal")


def test_bad_comparisons_are_named(runs, tmp_path):
    dirs = [path for path, _ in runs.values()]
    twin = fake_run(tmp_path, "twin", "ce", 0, draw(np.random.default_rng(9)))
    with pytest.raises(ValueError, match=r"runs .*ce0 and .*twin of 'ce' have the same seed 0"):
        compare_runs([*dirs, twin], reference="ce")
    with pytest.raises(ValueError, match=r"per_volume.csv has no numeric column 'nll'"):
        compare_runs(dirs, reference="ce", metrics=["nll"])
    with pytest.raises(ValueError, match=r"`run_dirs` must be a non-empty sequence"):
        compare_runs([], reference="ce")
    with pytest.raises(ValueError, match=r"`n_resamples` must be an int >= 1; got 0"):
        compare_runs(dirs, reference="ce", n_resamples=0)
    with pytest.raises(ValueError, match=r"`format` must be one of markdown, csv, latex"):
        paired_comparison_table(dirs, reference="ce", format="html")


def test_formats(runs):
    dirs = [path for path, _ in runs.values()]
    markdown = paired_comparison_table(dirs, reference="ce", n_resamples=30, digits=3)
    lines = markdown.splitlines()
    assert lines[0] == (
        "| metric | method | runs | mean ± sd | 95% CI | Δ vs ce | Δ 95% CI | p (Holm) | pairs "
        "| run-level 95% CI | run-level p (Holm) | seeds | notes |"
    )
    assert lines[2].startswith("| DSC ↑ | ce | 2 | ") and lines[2].endswith("| – | – | – |  |")
    assert lines[5].startswith("| DSC ↑ | cespectral | 2 | ") and lines[5].endswith("| 2 |  |")
    assert "| 12 | [" in lines[5]
    assert "Holm-adjusted over the 3 metrics of each method. These take" in markdown
    assert "(0.25 with 3). Protocol: P." in markdown

    text = paired_comparison_table(dirs, reference="ce", format="csv", n_resamples=30)
    rows = list(csv.DictReader(io.StringIO("\n".join(text.splitlines()[:7]))))
    comparison = compare_runs(dirs, reference="ce", n_resamples=30)
    assert [r["method"] for r in rows] == ["ce"] * 3 + ["cespectral"] * 3
    assert float(rows[4]["delta"]) == comparison.rows[4]["delta"]
    assert float(rows[4]["pvalue_holm"]) == comparison.rows[4]["pvalue_holm"]
    assert rows[0]["delta"] == "nan" and rows[0]["n_pairs"] == ""

    latex = paired_comparison_table(dirs, reference="ce", format="latex", n_resamples=30)
    assert latex.startswith(r"\begin{tabular}{llccccccccccc}")
    assert r"metric & method & runs & mean $\pm$ sd & 95\% CI & $\Delta$ vs ce" in latex
