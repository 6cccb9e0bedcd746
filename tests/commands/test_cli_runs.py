"""The train → evaluate → compare command line, end to end (tiny model, 16³ patches)."""

import json
import re

import pytest

pytest.importorskip("tensorflow")

from speccal.cli import main  # noqa: E402
from speccal.commands._common import DATASET_NAMES, LOSS_NAMES, TABLE_FORMATS  # noqa: E402
from speccal.experiments import latest_checkpoint  # noqa: E402

TINY = ["--patch-size", "16", "16", "16", "--batch-size", "2", "--base-filters", "2",
        "--depth", "2", "--steps-per-epoch", "2", "--quiet"]  # fmt: skip


def _error(capsys, argv):
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    return capsys.readouterr().err


def test_loss_and_dataset_choices_match_the_registries():
    import speccal.datasets
    import speccal.experiments._tables
    import speccal.losses

    assert LOSS_NAMES == speccal.losses.LOSS_NAMES
    assert DATASET_NAMES == speccal.datasets.DATASET_NAMES
    assert DATASET_NAMES == tuple(speccal.datasets._registry.LOADERS)
    # results_table also writes 'text' (aligned columns, for the gallery); the commands offer
    # the file formats only
    assert (*TABLE_FORMATS, "text") == speccal.experiments._tables.FORMATS
    assert set(DATASET_NAMES) == {
        "brats2020", "acdc", "flare2021", "iseg2017", "atlas2023", "promise12", "synthetic",
        "msd", "nnunet",
    }  # fmt: skip


def test_unknown_names_list_the_valid_ones(capsys, tmp_path):
    err = _error(capsys, ["train", "--dataset", "kits", "--root", ".", "--out", str(tmp_path)])
    assert re.search(
        r"invalid choice: 'kits' \(choose from .*'brats2020'.*'synthetic', 'msd', 'nnunet'\)", err
    )
    err = _error(capsys, ["train", "--loss", "dice", "--root", ".", "--out", str(tmp_path)])
    assert re.search(r"invalid choice: 'dice' \(choose from 'ce', 'cespectral', .*'meep'\)", err)


def test_missing_root_folder_is_explained(capsys, tmp_path):
    argv = ["train", "--dataset", "acdc", "--root", str(tmp_path / "nope"), "--out", "x"]
    err = _error(capsys, argv)
    assert "`--root` must be an existing folder holding the acdc dataset" in err
    assert "required: --root" in _error(capsys, ["train", "--out", str(tmp_path / "r")])


def test_bad_loss_param_is_named(capsys, tmp_path):
    argv = [
        "train",
        "--root",
        str(tmp_path),
        "--out",
        str(tmp_path / "r"),
        "--loss-param",
        "gamma",
    ]
    assert "`--loss-param` must look like KEY=VALUE; got 'gamma'." in _error(capsys, argv)


def test_resume_refuses_options_it_would_ignore(capsys, tmp_path):
    argv = ["train", "--resume", "--out", str(tmp_path), "--lam", "0.5", "--loss", "ce"]
    err = _error(capsys, argv)
    assert "`--resume` continues the run as its config.json says; only --epochs may " in err
    assert "got --loss, --lam." in err


def test_taper_is_a_loss_param_and_checked(capsys, tmp_path):
    from speccal.cli import build_parser
    from speccal.commands.train import config_from_args

    argv = ["train", "--root", str(tmp_path), "--out", str(tmp_path / "r"), "--taper", "hamming"]
    config = config_from_args(build_parser().parse_args(argv))
    assert config.loss_params == {"taper": "hamming"}
    argv[-1] = "hann"
    assert "argument --taper: invalid choice: 'hann' (choose from 'hamming')" in _error(
        capsys, argv
    )


def test_compare_of_unevaluated_runs_names_the_command(capsys, tmp_path):
    err = _error(capsys, ["compare", str(tmp_path)])
    assert "metrics.json not found: run `speccal evaluate" in err


@pytest.mark.slow
def test_train_evaluate_compare_through_the_command_line(tmp_path, capsys, monkeypatch):
    from speccal.datasets import SyntheticPhantoms

    monkeypatch.setenv("SPECCAL_CACHE", str(tmp_path / "cache"))
    data = tmp_path / "data"
    SyntheticPhantoms.write(data, n_cases=6, shape=(16, 16, 12), seed=0)
    before = sorted(p.relative_to(data) for p in data.rglob("*"))
    runs = []
    spectral = ["--lam", "0.5", "--window", "4", "--taper", "hamming"]
    for loss, extra in (("ce", ["--augment"]), ("cespectral", spectral)):
        out = tmp_path / loss
        argv = ["train", "--dataset", "synthetic", "--root", str(data), "--loss", loss,
                "--epochs", "1", "--seed", "1", "--out", str(out), *TINY, *extra]  # fmt: skip
        assert main(argv) == 0
        assert main(["evaluate", str(out), "--quiet"]) == 0
        metrics = json.loads((out / "metrics.json").read_text())
        for key in ("method", "dataset", "ece", "sce", "tace", "dice", "hd95", "asd", "protocol"):
            assert key in metrics
        runs.append(str(out))
    assert json.loads((tmp_path / "ce" / "config.json").read_text())["augment"] is True
    config = json.loads((tmp_path / "cespectral" / "config.json").read_text())
    assert config["augment"] is False
    assert config["loss_params"] == {"lam": 0.5, "window": 4, "taper": "hamming"}
    assert config["patch_size"] == [16, 16, 16]
    capsys.readouterr()
    assert main(["compare", *runs]) == 0
    out = capsys.readouterr().out
    assert "| metric | ce | cespectral |" in out
    assert "| DSC ↑ |" in out and "| TACE ↓ |" in out
    assert "Protocol: voxels and bins: speccal: all voxels" in out
    assert main(["compare", *runs, "--format", "latex"]) == 0
    assert r"\begin{tabular}{lcc}" in capsys.readouterr().out
    # paired against ce: same seed, same split, so every test volume pairs
    assert main(["compare", *runs, "--reference", "ce", "--resamples", "50"]) == 0
    table = capsys.readouterr().out
    n_test = json.loads((tmp_path / "ce" / "metrics.json").read_text())["n_volumes"]
    assert "| ECE ↓ | cespectral | 1 |" in table and f"| {n_test} | – | – | 1 | [" in table
    assert "cespectral: its pairs come from one seed, so there is no run-level" in table
    assert main(["evaluate", runs[0], "--quiet", "--protocol", "monai"]) == 0
    assert "Protocol: voxels and bins: monai: all voxels, per volume" in capsys.readouterr().out
    # an existing --out is not overwritten without --overwrite
    argv = ["train", "--root", str(data), "--out", runs[0], "--epochs", "1", *TINY]
    assert "already exists and is not empty; pass --overwrite" in _error(capsys, argv)
    assert main([*argv, "--overwrite"]) == 0
    # --resume continues a run to more epochs
    assert main(["train", "--resume", "--out", runs[1], "--quiet"]) == 0
    assert latest_checkpoint(tmp_path / "cespectral").epoch == 1
    assert main(["train", "--resume", "--out", runs[1], "--epochs", "2", "--quiet"]) == 0
    assert latest_checkpoint(tmp_path / "cespectral").epoch == 2
    assert json.loads((tmp_path / "cespectral" / "config.json").read_text())["epochs"] == 2
    assert sorted(p.relative_to(data) for p in data.rglob("*")) == before  # nothing written


def test_root_without_the_layout_says_what_was_expected(capsys, tmp_path):
    root = tmp_path / "brats"
    root.mkdir()
    out = tmp_path / "run"
    err = _error(
        capsys, ["train", "--dataset", "brats2020", "--root", str(root), "--out", str(out)]
    )
    assert "MICCAI_BraTS2020_TrainingData" in err
    assert not out.exists()
