"""
Score and calibrate predictions another framework saved
=======================================================

Your model was trained with nnU-Net or MONAI and its probabilities are already on disk. This
example scores such files with ``speccal score`` (the Python function
:func:`speccal.experiments.score_predictions`), draws their reliability diagram, fits
temperature scaling on the *validation* cases' saved probabilities with
:class:`speccal.posthoc.TemperatureScaling`, and scores the calibrated *test* predictions.

**Source of the files.** Written here, in a temporary folder, exactly as nnU-Net v2's
``nnUNetv2_predict ... --save_probabilities`` writes them: ``<case>.npz`` holding
``probabilities`` float32 ``(C, Z, Y, X)`` (compressed), ``<case>.pkl`` and the label map
``<case>.nii.gz`` beside it; the reference labels are NIfTI files in ``labelsTs/``. The
"network" is a stand-in whose miscalibration is known: each voxel's reference label is drawn
from probabilities ``q = softmax(z)`` (an ellipsoidal shell and core plus smooth noise in the
logits ``z``, drawn with spatially smooth randomness so that the label maps are coherent), and
the saved probabilities are ``softmax(2.5 z)``: over-confident, as a converged network's often
are, and exactly calibrated again by a temperature of 2.5.
"""

# %%
# Files as nnU-Net writes them
# ----------------------------
import pickle
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import nibabel as nib
import numpy as np
from scipy import ndimage, special, stats

from speccal.experiments import load_run, results_table, score_predictions
from speccal.plotting import plot_run_reliability
from speccal.posthoc import TemperatureScaling

root = Path(tempfile.mkdtemp())
rng = np.random.default_rng(0)
SHAPE, N_CLASSES = (40, 36, 28), 3


def smooth_noise(size, sigma=2.0):
    """Spatially smooth standard normal noise."""
    noise = ndimage.gaussian_filter(rng.normal(size=size), sigma)
    return noise / noise.std()


def write_case(case_id, pred_dir, label_dir):
    """One case whose labels follow ``q``; the saved probabilities are sharper than ``q``."""
    grid = np.indices(SHAPE, sparse=True)
    centre = [n * rng.uniform(0.4, 0.6) for n in SHAPE]
    terms = [((g - c) / (n / 4)) ** 2 for g, c, n in zip(grid, centre, SHAPE, strict=True)]
    radius = np.sqrt(sum(terms))
    structure = (radius < 1.0).astype(np.uint8) + (radius < 0.5)  # a shell around a core
    logits = 2.5 * np.eye(N_CLASSES)[structure]
    logits += np.stack([smooth_noise(SHAPE) for _ in range(N_CLASSES)], axis=-1)
    q = special.softmax(logits, axis=-1)  # the true class probabilities of each voxel
    u = stats.norm.cdf(smooth_noise(SHAPE))  # uniform at each voxel, smooth in space
    label = (u[..., None] > np.cumsum(q, axis=-1)).sum(-1).astype(np.uint8).clip(0, 2)
    probs = special.softmax(2.5 * logits, axis=-1).astype(np.float32)  # over-confident
    affine = np.diag([0.9, 0.9, 2.0, 1.0])  # spacing in mm, read from the label's header
    np.savez_compressed(pred_dir / f"{case_id}.npz", probabilities=probs.transpose(3, 2, 1, 0))
    (pred_dir / f"{case_id}.pkl").write_bytes(pickle.dumps({"spacing": [2.0, 0.9, 0.9]}))
    label_map = nib.Nifti1Image(probs.argmax(-1).astype(np.uint8), affine)
    nib.save(label_map, pred_dir / f"{case_id}.nii.gz")
    nib.save(nib.Nifti1Image(label, affine), label_dir / f"{case_id}.nii.gz")


folders = {}
for split, n_cases in (("val", 3), ("test", 4)):
    pred_dir, label_dir = root / f"nnunet_{split}", root / f"labels_{split}"
    pred_dir.mkdir()
    label_dir.mkdir()
    for i in range(n_cases):
        write_case(f"{split}_{i:03d}", pred_dir, label_dir)
    folders[split] = (pred_dir, label_dir)
print(sorted(p.name for p in folders["test"][0].iterdir())[:3])

# %%
# Score the saved predictions
# ---------------------------
# The command line equivalent is ``speccal score nnunet_test labels_test --out scores``. The
# ``.pkl`` files and nnU-Net's label maps beside the ``.npz`` files are ignored; the spacing
# comes from the reference labels' headers. The output folder has the files of an evaluated
# run: ``speccal compare`` and ``speccal figures`` read it.
before = score_predictions(*folders["test"], root / "scores_before", progress=False)
print(results_table([before], ["ece", "sce", "tace", "dice", "hd95"], format="text"))

# %%
# Fit temperature scaling on the validation predictions
# -----------------------------------------------------
# nnU-Net saves probabilities, not logits. Their logarithms differ from the logits only by a
# per-voxel constant, which the softmax cancels, so temperature scaling fitted on
# log-probabilities (``input="probabilities"``) is temperature scaling of the logits. The
# voxels of all validation cases are pooled as rows ``(n_voxels, n_classes)``.
val_pred, val_label = folders["val"]
rows, targets = [], []
for path in sorted(val_pred.glob("*.npz")):
    probs = np.load(path)["probabilities"]  # (C, Z, Y, X)
    label = np.asanyarray(nib.load(val_label / path.name.replace(".npz", ".nii.gz")).dataobj)
    rows.append(probs.reshape(N_CLASSES, -1).T)  # voxels in (Z, Y, X) order
    targets.append(label.transpose(2, 1, 0).reshape(-1))  # the same order
scaling = TemperatureScaling(input="probabilities", random_state=0)
scaling.fit(np.concatenate(rows), np.concatenate(targets))
print(f"fitted temperature: {scaling.temperature_:.2f}")

# %%
# Apply it to the test predictions and score them again
# -----------------------------------------------------
# The calibrated probabilities are written as new ``.npz`` files (never into the folder of the
# original predictions), then scored like any other folder.
test_pred, test_label = folders["test"]
out_pred = root / "nnunet_test_calibrated"
out_pred.mkdir()
for path in sorted(test_pred.glob("*.npz")):
    probs = np.load(path)["probabilities"]
    scaled = scaling.predict_proba(probs.reshape(N_CLASSES, -1).T).T.reshape(probs.shape)
    np.savez_compressed(out_pred / path.name, probabilities=scaled.astype(np.float32))
after = score_predictions(out_pred, test_label, root / "scores_after", progress=False)
print(results_table([before, after], ["ece", "sce", "tace", "dice"], format="text"))

# %%
# Reliability diagrams
# --------------------
# :func:`speccal.experiments.load_run` reads the score folders like evaluated runs.
fig, axes = plt.subplots(1, 2, figsize=(9, 4), layout="constrained")
titles = {"scores_before": "saved probabilities", "scores_after": "temperature-scaled"}
for ax, (folder, title) in zip(axes, titles.items(), strict=True):
    plot_run_reliability(load_run(root / folder), ax=ax).ax_.set_title(title)
plt.show()

# %%
# Analysis
# --------
# The saved probabilities are over-confident: their reliability curve lies below the diagonal.
# One temperature, fitted on three validation cases only, lands near the 2.5 the stand-in was
# built with, brings the curve to the diagonal on the four test cases and lowers ECE, SCE and
# TACE, while the Dice score is unchanged (temperature scaling keeps every voxel's argmax; the
# Dice is modest because the reference labels are themselves drawn at random). With real
# nnU-Net output, run ``speccal score`` on the folder it wrote, and fit the temperature on
# predictions of cases that were not used for training (nnU-Net's cross-validation folds).
