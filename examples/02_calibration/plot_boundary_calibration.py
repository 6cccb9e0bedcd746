"""
Calibration near boundaries, per structure, and beyond bins
===========================================================

The ECE of all voxels of a segmentation is dominated by the background, which a model gets
right with near-certainty. What a user needs to know is whether the model can be trusted
*where it matters*: at the boundaries of structures, structure by structure. This example
measures it with :func:`speccal.metrics.boundary_calibration_error`,
:func:`speccal.metrics.calibration_by_distance` and per-class SCE (``average=None``), and
compares the binned ECE with two estimators that need no bins:
:func:`speccal.metrics.debiased_calibration_error` (Kumar et al. 2019) and
:func:`speccal.metrics.smooth_calibration_error` (SmoothECE, Błasiok and Nakkiran 2023).

**Source of the probabilities.** Two nested balls in an anisotropic volume (voxels of
1 × 1 × 2 mm) are imaged with partial-volume blur and noise. A "model" that ignores the blur
and computes the Bayes posterior of each voxel's intensity is over-confident exactly where
blur mixes the classes — at the boundaries; sharpening its logits (x 2), as cross-entropy
training tends to, makes it worse, and flattening them (x 0.6) trades that for
under-confidence far from the boundaries.
"""

# %%
# A phantom with partial-volume boundaries
# ----------------------------------------
import matplotlib.pyplot as plt
import numpy as np
from scipy.ndimage import gaussian_filter
from scipy.special import log_softmax, softmax

from speccal.metrics import (
    boundary_calibration_error,
    calibration_by_distance,
    debiased_calibration_error,
    expected_calibration_error,
    smooth_calibration_error,
    static_calibration_error,
)
from speccal.plotting import plot_calibration_by_distance

rng = np.random.default_rng(0)
shape, spacing = (48, 44, 24), (1.0, 1.0, 2.0)
grid = (np.indices(shape) - np.array(shape)[:, None, None, None] / 2) * np.array(spacing)[
    :, None, None, None
]
radius = np.sqrt((grid**2).sum(axis=0))
labels = (radius < 16).astype(np.int64) + (radius < 8)  # 0 background, 1 shell, 2 core
means, sigma = np.array([0.0, 1.0, 2.0]), 0.35
image = gaussian_filter(means[labels], sigma=(1.2, 1.2, 0.6)) + sigma * rng.normal(size=shape)
priors = np.bincount(labels.ravel(), minlength=3) / labels.size
log_posterior = log_softmax(
    np.log(priors) - (image[..., None] - means) ** 2 / (2 * sigma**2), axis=-1
)
models = {
    "posterior, blur ignored": softmax(log_posterior, axis=-1),
    "sharpened (logits x 2)": softmax(2.0 * log_posterior, axis=-1),
    "flattened (logits x 0.6)": softmax(0.6 * log_posterior, axis=-1),
}

# %%
# All voxels against the boundary band
# ------------------------------------
# The boundary band holds the voxels within 2 mm of a voxel whose face neighbour has another
# reference label (both sides of each boundary). Its ECE is several times the all-voxel ECE.
for name, probs in models.items():
    ece = expected_calibration_error(labels, probs)
    band = boundary_calibration_error(labels, probs, spacing=spacing, width=2.0)
    print(f"{name:<26} ECE {ece:.4f}   boundary ECE (2 mm) {band:.4f}")

# %%
# How calibration changes with the distance to the boundary
# ---------------------------------------------------------
# Shells of distance (left-closed, the last one open): the ECE and the gap between accuracy
# and confidence in each, one line per model.
results = {
    name: calibration_by_distance(labels, probs, spacing=spacing, edges=(0, 1, 2, 4, 8, np.inf))
    for name, probs in models.items()
}
fig, axes = plt.subplots(1, 2, figsize=(12, 4.2))
plot_calibration_by_distance(results, ax=axes[0])
plot_calibration_by_distance(results, quantity="gap", ax=axes[1])
for ax in axes:
    ax.tick_params(axis="x", labelrotation=20)
fig.tight_layout()
print("voxels per shell:", results["sharpened (logits x 2)"].count.tolist())

# %%
# Structure by structure
# ----------------------
# ``average=None`` gives the class-wise ECE of every class (entry k is class k), the terms
# that SCE averages; the background's is small, the structures' are not.
for name, probs in models.items():
    per_class = static_calibration_error(labels, probs, average=None)
    print(f"{name:<26} class-wise ECE {np.round(per_class, 4).tolist()}")

# %%
# Beyond bins
# -----------
# The binned ECE depends on the bins and is biased upwards on few voxels. The debiased L2
# error subtracts the sampling variance of each bin's accuracy; SmoothECE replaces bins by a
# Gaussian kernel whose width is chosen by the data (the fixed point σ* = smECE_σ*).
for name, probs in models.items():
    print(
        f"{name:<26} ECE {expected_calibration_error(labels, probs):.4f}  "
        f"debiased L2 {debiased_calibration_error(labels, probs):.4f}  "
        f"SmoothECE {smooth_calibration_error(labels, probs):.4f}"
    )

# %%
# Analysis
# --------
# The all-voxel ECE is small for every model (0.017 to 0.05) because most voxels are far from
# a boundary and easy. Inside the 2 mm band it is 3 to 6 times larger for the posterior that
# ignores the blur and for the sharpened model; the flattened model's band ECE is about its
# all-voxel ECE, because it trades over-confidence at the boundary for under-confidence
# everywhere else. The distance profile shows this directly: in the first shell (< 1 mm) all
# three are over-confident (accuracy 0.1 to 0.26 below confidence); the sharpened model is
# nearly calibrated beyond 4 mm, the flattened one is under-confident there (accuracy 0.05
# above confidence). Per class, the shell — which touches both boundaries — has the largest
# class-wise ECE and the core the smallest, a difference the class average hides. The
# debiased L2 error is larger than the L1 ECE, as an L2 error of the same gaps is; SmoothECE
# stays within 2e-4 of the binned ECE on these 50 000 voxels; all three rank the models
# alike here, where voxels are plentiful.
