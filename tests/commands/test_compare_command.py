"""``speccal compare`` on faked run folders: refusals, labelled columns, --reference tables."""

import csv
import io

import numpy as np
import pytest
from run_folders import draw, fake_run

from speccal.cli import main


def _error(capsys, argv):
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    return capsys.readouterr().err


def _metrics(rng):
    values = draw(rng)
    return {**values, "asd": values["hd95"] / 3, "sce": values["ece"], "tace": values["ece"]}


def test_compare_refuses_runs_of_two_datasets_naming_them(tmp_path, capsys):
    rng = np.random.default_rng(0)
    a = fake_run(tmp_path, "a", "ce", 0, _metrics(rng), dataset="acdc")
    b = fake_run(tmp_path, "b", "cespectral", 0, _metrics(rng), dataset="promise12")
    for extra in ([], ["--reference", "ce"]):
        err = _error(capsys, ["compare", str(a), str(b), *extra])
        assert f"runs of different datasets cannot be compared: acdc ({a}); promise12 ({b})" in err


def test_compare_shows_loss_settings_as_separate_columns(tmp_path, capsys):
    rng = np.random.default_rng(1)
    dirs = [
        fake_run(tmp_path, f"r{i}", "cespectral", i, _metrics(rng), loss_params={"lam": lam})
        for i, lam in enumerate((0.01, 0.01, 0.5))
    ]
    assert main(["compare", *map(str, dirs)]) == 0
    out = capsys.readouterr().out
    assert "| metric | cespectral (lam=0.01) | cespectral (lam=0.5) |" in out
    assert "Runs per method: cespectral (lam=0.01) 2, cespectral (lam=0.5) 1." in out


def test_compare_with_a_reference_prints_the_paired_table(tmp_path, capsys):
    from speccal.experiments import compare_runs

    rng = np.random.default_rng(2)
    dirs = [
        fake_run(tmp_path, f"{m}{s}", m, s, _metrics(rng))
        for m in ("ce", "cespectral")
        for s in (0, 1)
    ]
    argv = ["compare", *map(str, dirs), "--reference", "ce", "--resamples", "99", "--seed", "3"]
    assert main([*argv, "--format", "csv"]) == 0
    out = capsys.readouterr().out.strip()
    rows = list(csv.DictReader(io.StringIO("\n".join(out.splitlines()[:13]))))
    expected = compare_runs(dirs, reference="ce", n_resamples=99, random_state=3).rows
    assert [(r["metric"], r["method"]) for r in rows] == [
        (r["metric"], r["method"]) for r in expected
    ]
    assert [float(r["pvalue_holm"]) for r in rows[6:]] == [r["pvalue_holm"] for r in expected[6:]]
    assert main(argv) == 0
    assert "| ECE ↓ | cespectral | 2 |" in capsys.readouterr().out
    err = _error(capsys, [*argv[:-4], "--resamples", "0"])
    assert "argument --resamples: must be an integer >= 1; got '0'" in err
    err = _error(capsys, [*argv[:-4]][:-1] + ["focal"])
    assert "`reference` must be one of the compared columns ['ce', 'cespectral']" in err
