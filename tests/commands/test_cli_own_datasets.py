"""``speccal train --dataset msd|nnunet`` then ``speccal evaluate``, end to end on tiny files."""

import json

import nibabel as nib
import numpy as np
import pytest

pytest.importorskip("tensorflow")

from speccal.cli import main  # noqa: E402

TINY = ["--patch-size", "16", "16", "16", "--batch-size", "2", "--base-filters", "2",
        "--depth", "2", "--steps-per-epoch", "2", "--epochs", "1", "--quiet"]  # fmt: skip
SPACING = (1.0, 1.0, 1.5)


def _phantoms(n_cases=6):
    from speccal.datasets import SyntheticPhantoms

    phantoms = SyntheticPhantoms(n_cases=n_cases, shape=(16, 16, 12), n_classes=3, seed=0)
    return [phantoms.generate(i) for i in range(n_cases)]


def _save(path, array):
    path.parent.mkdir(parents=True, exist_ok=True)
    nib.save(nib.Nifti1Image(np.asarray(array), np.diag([*SPACING, 1.0])), path)


def write_msd(root):
    training = []
    for i, (image, label) in enumerate(_phantoms()):
        _save(root / "imagesTr" / f"heart_{i}.nii.gz", (1000 * image).astype(np.int16))
        _save(root / "labelsTr" / f"heart_{i}.nii.gz", label)
        pair = {"image": f"./imagesTr/heart_{i}.nii.gz", "label": f"./labelsTr/heart_{i}.nii.gz"}
        training.append(pair)
    meta = {
        "name": "Heart",
        "modality": {"0": "MRI", "1": "T2"},
        "labels": {"0": "background", "1": "left atrium", "2": "ventricle"},
        "numTraining": len(training),
        "training": training,
    }
    (root / "dataset.json").write_text(json.dumps(meta))


def write_nnunet(root):
    for i, (image, label) in enumerate(_phantoms()):
        for c in range(image.shape[-1]):
            _save(root / "imagesTr" / f"heart_{i:03d}_{c:04d}.nii", image[..., c])
        _save(root / "labelsTr" / f"heart_{i:03d}.nii", label)
    meta = {
        "channel_names": {"0": "CT", "1": "T2"},
        "labels": {"background": 0, "left atrium": 1, "ventricle": 2},
        "numTraining": 6,
        "file_ending": ".nii",
    }
    (root / "dataset.json").write_text(json.dumps(meta))


@pytest.mark.slow
@pytest.mark.parametrize(("name", "writer"), [("msd", write_msd), ("nnunet", write_nnunet)])
def test_train_and_evaluate_on_own_layout(tmp_path, monkeypatch, name, writer):
    monkeypatch.setenv("SPECCAL_CACHE", str(tmp_path / "cache"))
    data, out = tmp_path / "data", tmp_path / "run"
    writer(data)
    before = sorted((p.relative_to(data), p.stat().st_mtime_ns) for p in data.rglob("*"))
    argv = ["train", "--dataset", name, "--root", str(data), "--out", str(out), *TINY]
    assert main(argv) == 0
    assert json.loads((out / "config.json").read_text())["dataset"] == name
    assert main(["evaluate", str(out), "--quiet"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["dataset"] == name
    for key in ("ece", "sce", "tace", "dice", "hd95", "asd"):
        assert np.isfinite(metrics[key]), key
    split = json.loads((out / "split.json").read_text())
    assert len(split["test"]) == 1 and split["test"][0].startswith("heart_")
    after = sorted((p.relative_to(data), p.stat().st_mtime_ns) for p in data.rglob("*"))
    assert after == before  # nothing written into the dataset
