"""``speccal score PRED_DIR LABEL_DIR --out OUT``, then ``compare`` and ``figures`` on OUT."""

import nibabel as nib
import numpy as np
import pytest
from scipy import special

from speccal.cli import main
from speccal.commands._common import PROTOCOL_NAMES


def _error(capsys, argv):
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    return capsys.readouterr().err


@pytest.fixture
def folders(tmp_path, rng):
    """Two models' nnU-Net-style predictions of three cases and their labels."""
    labels, model_a, model_b = (tmp_path / n for n in ("labelsTs", "model_a", "model_b"))
    for folder in (labels, model_a, model_b):
        folder.mkdir()
    for i, shape in enumerate([(12, 10, 8), (10, 12, 9), (11, 9, 10)]):
        label = np.zeros(shape, np.uint8)
        label[2:8, 3:8, 2:6] = 1
        label[4:6, 4:6, 3:5] = 2
        nib.save(nib.Nifti1Image(label, np.diag([1.0, 1.0, 2.5, 1.0])), labels / f"c{i}.nii.gz")
        for folder, sharpness in ((model_a, 2.0), (model_b, 6.0)):
            logits = rng.normal(0, 1, (*shape, 3)) + sharpness * np.eye(3)[label]
            probs = special.softmax(logits, axis=-1).astype(np.float32)
            np.savez_compressed(folder / f"c{i}.npz", probabilities=probs.transpose(3, 2, 1, 0))
    return labels, model_a, model_b


def test_score_compare_figures(tmp_path, capsys, folders):
    labels, model_a, model_b = folders
    outs = [tmp_path / "scores_a", tmp_path / "scores_b"]
    for preds, out in zip((model_a, model_b), outs, strict=True):
        argv = ["score", str(preds), str(labels), "--out", str(out), "--quiet"]
        assert main([*argv, "--protocol", "nixon", "--save-maps"]) == 0
    printed = capsys.readouterr().out
    assert "| ECE ↓ |" in printed and "| DSC ↑ |" in printed and "nixon" in printed
    assert len(list((outs[0] / "maps").glob("c1_*.nii.gz"))) == 4

    assert main(["compare", *map(str, outs), "--format", "csv"]) == 0
    table = capsys.readouterr().out
    assert "metric,model_a,model_b" in table.splitlines()

    figures = tmp_path / "figures"
    assert main(["figures", *map(str, outs), "--out", str(figures), "--dpi", "30"]) == 0
    captured = capsys.readouterr()
    names = sorted(p.name for p in figures.iterdir())
    assert "fig2b_reliability_labelsTs.png" in names
    assert "fig6_distributions_labelsTs.png" in names
    assert "fig3_power_spectra_labelsTs.png" not in names
    assert "skipped fig3_power_spectra_labelsTs.png: no run of 'labelsTs'" in captured.err


def test_score_errors_name_the_argument(tmp_path, capsys, folders):
    labels, model_a, _ = folders
    base = ["score", str(model_a), str(labels), "--out", str(tmp_path / "o"), "--quiet"]
    assert "argument --jobs: must be an integer >= 1; got '0'" in _error(
        capsys, [*base, "--jobs", "0"]
    )
    err = _error(capsys, [*base, "--jobs", "2", "--scheduler", "tcp://127.0.0.1:1"])
    assert "argument --scheduler: not allowed with argument --jobs" in err
    assert "invalid choice: 'guo'" in _error(capsys, [*base, "--protocol", "guo"])
    (labels / "c1.nii.gz").unlink()
    err = _error(capsys, base)
    assert "predictions without a label" in err and "'c1'" in err
    err = _error(capsys, ["score", str(tmp_path / "nope"), str(labels), "--out", "x"])
    assert "`pred_dir` must be a folder; got" in err


def test_protocol_choices_match_the_presets():
    from speccal.evaluation import PROTOCOL_PRESETS

    assert PROTOCOL_NAMES == tuple(PROTOCOL_PRESETS)
