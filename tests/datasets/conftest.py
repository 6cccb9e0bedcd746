"""Fixtures of the dataset tests: tiny release layouts with odd, unequal shapes."""

import numpy as np
import pytest
from dataset_files import SHAPE, write_nifti


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
