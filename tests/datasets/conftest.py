"""Fixtures of the dataset tests: tiny release layouts with odd, unequal shapes."""

import hashlib
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

SHAPE = (7, 8, 9)


def write_nifti(path, array, spacing=(1.0, 1.0, 1.0), affine=None):
    """Write ``array`` to ``path`` (.nii or .nii.gz) with a diagonal RAS affine."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    affine = np.diag([*spacing, 1.0]) if affine is None else affine
    nib.Nifti1Image(np.asarray(array), affine).to_filename(path)
    return path


def tree_snapshot(root):
    """``{relative path: sha1}`` of every file under ``root``."""
    return {
        str(p.relative_to(root)): hashlib.sha1(p.read_bytes()).hexdigest()
        for p in sorted(Path(root).rglob("*"))
        if p.is_file()
    }


@pytest.fixture
def brats_root(tmp_path):
    """A hand-written BraTS 2020 training release of two cases, shape (7, 8, 9).

    Case 001 uses ``.nii.gz``, case 002 ``.nii``; labels hold {0, 1, 2, 4}.
    """
    rng = np.random.default_rng(0)
    root = tmp_path / "brats"
    release = root / "MICCAI_BraTS2020_TrainingData"
    for number, suffix in ((1, ".nii.gz"), (2, ".nii")):
        case = f"BraTS20_Training_{number:03d}"
        for m, modality in enumerate(("t1", "t1ce", "t2", "flair")):
            image = rng.integers(1, 500, SHAPE).astype(np.int16) + 1000 * m
            write_nifti(release / case / f"{case}_{modality}{suffix}", image)
        label = rng.choice(np.array([0, 1, 2, 4], dtype=np.uint8), SHAPE)
        write_nifti(release / case / f"{case}_seg{suffix}", label)
    return root
