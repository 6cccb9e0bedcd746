"""Bad-input catalogue, command line (issue 14): every command, in process, no training.

Each case runs ``speccal.cli.main(argv)`` and must exit with status 2 and a message on
stderr naming the argument (or file), what was expected and what was received.
``{tmp}`` is a fresh folder, ``{data}`` a
small SyntheticPhantoms dataset (valid, so that the argument itself is what is refused).
"""

import json
import re

import pytest

from speccal.cli import main

TRAIN = ["train", "--dataset", "synthetic", "--root", "{data}", "--out", "{tmp}/run"]
NO_DATA = ["train", "--root", "{tmp}", "--out", "{tmp}/run"]

CASES = {
    # train: values checked before anything is written
    "train-epochs-zero": (
        [*TRAIN, "--epochs", "0"],
        r"`epochs` must be an int >= 1; got 0\.",
    ),
    "train-epochs-text": ([*TRAIN, "--epochs", "ten"], r"argument --epochs: invalid int value"),
    "train-steps-zero": (
        [*TRAIN, "--steps-per-epoch", "0"],
        r"`steps_per_epoch` must be an int >= 1; got 0\.",
    ),
    "train-batch-zero": ([*TRAIN, "--batch-size", "0"], r"`batch_size` must be an int >= 1"),
    "train-patch-two-sizes": (
        [*TRAIN, "--patch-size", "16", "16"],
        r"argument --patch-size: expected 3 arguments",
    ),
    "train-patch-zero": (
        [*TRAIN, "--patch-size", "0", "16", "16"],
        r"`patch_size` must hold positive ints; got \(0, 16, 16\)\.",
    ),
    "train-patch-not-poolable": (
        [*TRAIN, "--patch-size", "15", "16", "16"],
        r"`patch_size` must be a multiple of 2\*\*\(depth-1\) = 4 along every axis for "
        r"depth=3; got \(15, 16, 16\)\.",
    ),
    "train-depth-too-deep": (
        [*TRAIN, "--depth", "9"],
        r"`patch_size` must be a multiple of 2\*\*\(depth-1\) = 256 .* for depth=9",
    ),
    "train-depth-zero": ([*TRAIN, "--depth", "0"], r"`depth` must be an int >= 1; got 0\."),
    "train-base-filters-zero": (
        [*TRAIN, "--base-filters", "0"],
        r"`base_filters` must be an int >= 1; got 0\.",
    ),
    "train-seed-negative": ([*TRAIN, "--seed", "-1"], r"`seed` must be an int >= 0; got -1\."),
    "train-seed-too-large": (
        [*TRAIN, "--seed", str(2**32)],
        r"`seed` must be an int < 2\*\*32; got 4294967296\.",
    ),
    "train-cases-zero": (
        [*TRAIN, "--train-cases", "0"],
        r"`train_cases` must be None or an int >= 1; got 0\.",
    ),
    "train-lr-zero": ([*TRAIN, "--lr", "0"], r"`learning_rate` must be > 0 and finite; got 0.0"),
    "train-lr-negative": (
        [*TRAIN, "--lr", "-0.1"],
        r"`learning_rate` must be > 0 and finite; got -0.1",
    ),
    "train-lr-inf": ([*TRAIN, "--lr", "inf"], r"`learning_rate` must be > 0 and finite; got inf"),
    "train-lr-nan": ([*TRAIN, "--lr", "nan"], r"`learning_rate` must be > 0 and finite; got nan"),
    "train-momentum-above-one": (
        [*TRAIN, "--momentum", "1.5"],
        r"`momentum` must be in \[0, 1\]; got 1.5",
    ),
    "train-momentum-negative": (
        [*TRAIN, "--momentum", "-0.1"],
        r"`momentum` must be in \[0, 1\]; got -0.1",
    ),
    "train-optimizer-unknown": (
        [*TRAIN, "--optimizer", "rmsprop"],
        r"argument --optimizer: invalid choice: 'rmsprop' \(choose from 'sgd', 'adam'\)",
    ),
    "train-model-unknown": (
        [*TRAIN, "--model", "vnet"],
        r"argument --model: invalid choice: 'vnet' \(choose from 'unet3d', ",
    ),
    "train-strategy-unknown": (
        [*TRAIN, "--strategy", "tpu"],
        r"argument --strategy: invalid choice: 'tpu'",
    ),
    "train-loss-unknown": (
        [*TRAIN, "--loss", "dice"],
        r"argument --loss: invalid choice: 'dice' \(choose from 'ce', 'cespectral'",
    ),
    "train-dataset-unknown": (
        ["train", "--dataset", "kits", "--root", "{tmp}", "--out", "{tmp}/run"],
        r"argument --dataset: invalid choice: 'kits'",
    ),
    "train-lam-negative": (
        [*TRAIN, "--loss", "cespectral", "--lam", "-1"],
        r"`lam` must be a finite number >= 0; got -1.0\.",
    ),
    "train-lam-nan": (
        [*TRAIN, "--loss", "cespectral", "--lam", "nan"],
        r"`lam` must be a finite number >= 0; got nan\.",
    ),
    "train-window-zero": (
        [*TRAIN, "--loss", "cespectral", "--window", "0"],
        r"`window` must be an int >= 1; got 0\.",
    ),
    "train-bands-zero": (
        [*TRAIN, "--loss", "cespectral", "--bands", "0"],
        r"`bands` must be an int >= 1; got 0\.",
    ),
    "train-lam-for-ce": (
        [*TRAIN, "--loss", "ce", "--lam", "0.5"],
        r"`params` must be arguments of the 'ce' loss, i.e. among \['dtype', 'ignore_class', "
        r"'name', 'reduction'\]; got unknown \['lam'\]\.",
    ),
    "train-taper-unknown": (
        [*TRAIN, "--taper", "hann"],
        r"argument --taper: invalid choice: 'hann' \(choose from 'hamming'\)",
    ),
    "train-loss-param-no-equals": (
        [*TRAIN, "--loss-param", "gamma"],
        r"`--loss-param` must look like KEY=VALUE; got 'gamma'\.",
    ),
    "train-loss-param-text": (
        [*TRAIN, "--loss", "focal", "--loss-param", "gamma=abc"],
        r"`gamma` must be a finite number >= 0.0; got 'abc'\.",
    ),
    "train-loss-param-unknown": (
        [*TRAIN, "--loss", "focal", "--loss-param", "nope=1"],
        r"`params` must be arguments of the 'focal' loss, .*; got unknown \['nope'\]\.",
    ),
    "train-svls-even-kernel": (
        [*TRAIN, "--loss", "svls", "--loss-param", "kernel_size=4"],
        r"`kernel_size` must be an odd int >= 3; got 4\.",
    ),
    "train-root-missing": (
        ["train", "--root", "{tmp}/nope", "--out", "{tmp}/run"],
        r"`--root` must be an existing folder holding the synthetic dataset in its released "
        r"layout; got '.*nope'\.",
    ),
    "train-root-without-layout": (
        NO_DATA,
        r"`root` must hold the SyntheticPhantoms release \(dataset.json \+ imagesTr/phantom_NNN"
        r".nii.gz \+ labelsTr/phantom_NNN.nii.gz\); found no imagesTr folder with cases",
    ),
    "train-out-missing": (
        ["train", "--root", "{data}"],
        r"the following arguments are required: --out",
    ),
    "train-out-is-a-file": (
        ["train", "--dataset", "synthetic", "--root", "{data}", "--out", "{tmp}/file.txt"],
        r"`out` must be a folder to create or fill; got the file '.*file.txt'\.",
    ),
    "train-resume-missing-run": (
        ["train", "--resume", "--out", "{tmp}/nothing"],
        r"config.json not found: `run_dir` must be a run made by `speccal train`\.",
    ),
    "train-resume-with-options": (
        ["train", "--resume", "--out", "{tmp}/run", "--lam", "0.5", "--loss", "ce"],
        r"`--resume` continues the run as its config.json says; only --epochs may change; "
        r"got --loss, --lam\.",
    ),
    # evaluate
    "evaluate-missing-run": (
        ["evaluate", "{tmp}/nothing"],
        r"nothing/config.json not found: `run_dir` must be a run made by `speccal train`\.",
    ),
    "evaluate-not-a-run": (
        ["evaluate", "{tmp}"],
        r"config.json not found: `run_dir` must be a run made by `speccal train`\.",
    ),
    "evaluate-no-run-dir": (["evaluate"], r"the following arguments are required: RUN_DIR"),
    "evaluate-protocol-unknown": (
        ["evaluate", "--protocol", "foo", "{tmp}"],
        r"argument --protocol: invalid choice: 'foo' \(choose from 'speccal', 'nixon', "
        r"'mbls', 'monai'\)",
    ),
    "evaluate-format-unknown": (
        ["evaluate", "--format", "html", "{tmp}"],
        r"argument --format: invalid choice: 'html' \(choose from 'markdown', 'csv', 'latex'\)",
    ),
    "evaluate-batch-size-text": (
        ["evaluate", "--batch-size", "two", "{tmp}"],
        r"argument --batch-size: invalid int value: 'two'",
    ),
    # score
    "score-pred-dir-missing": (
        ["score", "--out", "{tmp}/s", "{tmp}/nothing", "{tmp}"],
        r"`pred_dir` must be a folder; got '.*nothing'\.",
    ),
    "score-label-dir-missing": (
        ["score", "--out", "{tmp}/s", "{tmp}", "{tmp}/nothing"],
        r"`label_dir` must be a folder; got '.*nothing'\.",
    ),
    "score-no-common-case": (
        ["score", "--out", "{tmp}/s", "{tmp}/empty", "{tmp}/empty"],
        r"`pred_dir` '.*empty' and `label_dir` '.*empty' must share at least one case "
        r"\(predictions .*, labels .*\); got none\.",
    ),
    "score-axes-unknown": (
        ["score", "--out", "{tmp}/s", "--axes", "abcd", "{tmp}/empty", "{tmp}/empty"],
        r"`axes` must be a permutation of the letters c, x, y, z \(e.g. 'czyx'\); got 'abcd'\.",
    ),
    "score-jobs-zero": (
        ["score", "--out", "{tmp}/s", "--jobs", "0", "{tmp}/empty", "{tmp}/empty"],
        r"argument --jobs: must be an integer >= 1; got '0'",
    ),
    "score-jobs-and-scheduler": (
        ["score", "--out", "{tmp}/s", "--jobs", "2", "--scheduler", "tcp://x:1", "{tmp}", "{tmp}"],
        r"argument --scheduler: not allowed with argument --jobs",
    ),
    "score-no-out": (
        ["score", "{tmp}", "{tmp}"],
        r"the following arguments are required: --out",
    ),
    "score-protocol-unknown": (
        ["score", "--out", "{tmp}/s", "--protocol", "x", "{tmp}", "{tmp}"],
        r"argument --protocol: invalid choice: 'x'",
    ),
    # compare
    "compare-no-run": (["compare"], r"the following arguments are required: RUN_DIR"),
    "compare-unevaluated-run": (
        ["compare", "{tmp}/nothing"],
        r"nothing/metrics.json not found: run `speccal evaluate .*nothing` before comparing\.",
    ),
    "compare-corrupt-metrics": (
        ["compare", "{tmp}/corrupt"],
        r"corrupt/metrics.json is not valid JSON: Expecting property name",
    ),
    "compare-format-unknown": (
        ["compare", "--format", "html", "{tmp}"],
        r"argument --format: invalid choice: 'html'",
    ),
    # figures
    "figures-no-out": (["figures", "{tmp}"], r"the following arguments are required: --out"),
    "figures-missing-run": (
        ["figures", "--out", "{tmp}/f", "{tmp}/nothing"],
        r"`run_dir` must be a run directory; got '.*nothing'\.",
    ),
    "figures-corrupt-metrics": (
        ["figures", "--out", "{tmp}/f", "{tmp}/corrupt"],
        r"corrupt/metrics.json is not valid JSON",
    ),
    "figures-bands-text": (
        ["figures", "--out", "{tmp}/f", "--bands", "five", "{tmp}"],
        r"argument --bands: invalid int value: 'five'",
    ),
    "figures-dpi-text": (
        ["figures", "--out", "{tmp}/f", "--dpi", "high", "{tmp}"],
        r"argument --dpi: invalid int value: 'high'",
    ),
    # demo
    "demo-one-seed": (
        ["demo", "--seeds", "1", "--out", "{tmp}/d"],
        r"`--seeds` must be an int >= 2 \(one seed is noise, not a comparison\); got 1\.",
    ),
    "demo-zero-seeds": (
        ["demo", "--seeds", "0", "--out", "{tmp}/d"],
        r"`--seeds` must be an int >= 2 .*; got 0\.",
    ),
    "demo-zero-workers": (
        ["demo", "--workers", "0", "--out", "{tmp}/d"],
        r"`--workers` must be an int >= 1; got 0\.",
    ),
    "demo-out-not-empty": (
        ["demo", "--out", "{tmp}"],
        r"`--out` '.*' already exists and is not empty; pass --overwrite to replace it",
    ),
    "demo-out-is-a-file": (
        ["demo", "--out", "{tmp}/file.txt"],
        r"`--out` must be a folder to create or fill; got the file '.*file.txt'\.",
    ),
    # study
    "study-missing-file": (
        ["study", "--out", "{tmp}/st", "{tmp}/nothing.toml"],
        r"study file '.*nothing.toml' not found\.",
    ),
    "study-not-toml": (
        ["study", "--out", "{tmp}/st", "{tmp}/file.txt"],
        r"file.txt is not valid TOML: Expected '=' after a key",
    ),
    "study-unknown-key": (
        ["study", "--out", "{tmp}/st", "{tmp}/bad.toml"],
        r"`study.study` is not a known key; expected one of \['data', 'grid', 'methods', "
        r"'report', 'train'\]\.",
    ),
    "study-no-out": (["study", "{tmp}/bad.toml"], r"the following arguments are required: --out"),
    # top level
    "unknown-command": (
        ["fit"],
        r"argument COMMAND: invalid choice: 'fit' \(choose from 'train', 'evaluate', 'score', "
        r"'compare', 'figures', 'demo', 'study'\)",
    ),
}


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    from speccal.datasets import SyntheticPhantoms

    root = tmp_path_factory.mktemp("data")
    SyntheticPhantoms(n_cases=4, shape=(16, 16, 16), seed=0).write(root)
    return root


@pytest.mark.parametrize(("argv", "match"), CASES.values(), ids=list(CASES))
def test_bad_command_line_gets_a_clear_error(argv, match, tmp_path, data, capsys):
    (tmp_path / "file.txt").write_text("not a folder, not TOML\n")
    (tmp_path / "bad.toml").write_text('[study]\nname = "x"\n')
    (tmp_path / "empty").mkdir()
    (tmp_path / "corrupt").mkdir()
    (tmp_path / "corrupt" / "metrics.json").write_text("{\n")
    argv = [a.format(tmp=tmp_path, data=data) for a in argv]
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    assert re.search(match, capsys.readouterr().err)


def test_compare_refuses_a_metrics_file_of_another_kind(tmp_path, capsys):
    (tmp_path / "metrics.json").write_text(json.dumps([1, 2]))
    with pytest.raises(SystemExit) as info:
        main(["compare", str(tmp_path)])
    assert info.value.code == 2
    assert "metrics.json" in capsys.readouterr().err
