"""Helpers of the dataset tests (a module of its own: ``from conftest import`` picks up the
wrong conftest when several test folders are collected in one run)."""

import hashlib
from pathlib import Path

import nibabel as nib
import numpy as np

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
