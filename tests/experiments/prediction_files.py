"""Small cases written as other frameworks save predictions (nnU-Net, numpy, MONAI)."""

import pickle

import nibabel as nib
import numpy as np
from scipy import special

SHAPES = [(7, 8, 9), (9, 7, 8), (8, 9, 7)]  # unequal axes catch a wrong transpose
SPACINGS = [(1.0, 1.5, 2.0), (0.8, 0.8, 3.0), (1.2, 1.0, 1.0)]
N_CLASSES = 3


def make_case(rng, shape):
    """Labels with three blobs and noisy probabilities that mostly agree with them."""
    grid = np.indices(shape).sum(0)
    label = (grid % 5 >= 2).astype(np.int16) + (grid % 7 == 0)
    logits = rng.normal(0, 1.0, (*shape, N_CLASSES)) + 2.5 * np.eye(N_CLASSES)[label]
    return label, logits


def write_labels(folder, cases):
    folder.mkdir()
    for case_id, label, _, _, affine in cases:
        nib.save(nib.Nifti1Image(label, affine), folder / f"{case_id}.nii.gz")
    return folder


def write_predictions(folder, cases, kind, *, logits=False):
    """Write the probabilities (or logits) of each case as ``kind`` files."""
    folder.mkdir()
    for case_id, _, values, _, affine in cases:
        values = values if logits else special.softmax(values, axis=-1)
        values = values.astype(np.float32)
        if kind == "npz":  # nnU-Net v2: (C, Z, Y, X), compressed, with a .pkl and a label map
            np.savez_compressed(
                folder / f"{case_id}.npz", probabilities=values.transpose(3, 2, 1, 0)
            )
            (folder / f"{case_id}.pkl").write_bytes(pickle.dumps({"spacing": [1, 1, 1]}))
            seg = values.argmax(-1).astype(np.uint8)
            nib.save(nib.Nifti1Image(seg, affine), folder / f"{case_id}.nii.gz")
        elif kind == "npy":
            np.save(folder / f"{case_id}.npy", values)
        elif kind == "cxyz":
            np.save(folder / f"{case_id}.npy", np.moveaxis(values, -1, 0))
        else:  # MONAI SaveImage: 4-D NIfTI (X, Y, Z, C)
            nib.save(nib.Nifti1Image(values, affine), folder / f"{case_id}.{kind}")
    if kind == "npz":
        (folder / "dataset.json").write_text("{}")
    return folder
