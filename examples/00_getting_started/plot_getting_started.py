"""
Getting started: from a folder of NIfTI files to a reliability diagram
======================================================================

The first hour with speccal, with nothing but Keras and speccal's building blocks: read a
folder of NIfTI images and labels, feed random patches to ``model.fit`` with the spectral
entropy loss, predict whole volumes with sliding windows, score calibration and
segmentation, and draw a reliability diagram.

**Data.** The script first writes a tiny dataset (eight 24³ volumes with a noisy ball in
each) as NIfTI files into a temporary folder, so it runs anywhere; to use your own data,
point ``root`` at a folder laid out the same way: ``images/<case>.nii.gz`` (one channel)
and ``labels/<case>.nii.gz`` (integer classes). For the released datasets and the
``speccal`` command line, see the user guide's "Train on your own MSD or nnU-Net dataset".

**What ``train_ds`` must yield.** ``model.fit`` reads ``(images, labels)`` batches:
``images`` float32 of shape ``(batch, D, H, W, in_channels)``, channels last, and ``labels``
integer class indices of shape ``(batch, D, H, W)`` (sparse, not one-hot). The network
returns logits ``(batch, D, H, W, n_classes)``; the losses take the logits, not
probabilities.
"""

# %%
# A folder of NIfTI files
# -----------------------
import shutil
import tempfile
from pathlib import Path

import keras
import matplotlib.pyplot as plt
import nibabel as nib
import numpy as np
import tensorflow as tf

import speccal
from speccal.evaluation import CalibrationEvaluator
from speccal.metrics import segmentation_scores
from speccal.plotting import ReliabilityDisplay

keras.utils.set_random_seed(0)
rng = np.random.default_rng(0)
root = Path(tempfile.mkdtemp(prefix="speccal_getting_started_"))
(root / "images").mkdir()
(root / "labels").mkdir()
shape = (24, 24, 24)
grid = np.indices(shape) - np.array(shape)[:, None, None, None] / 2
for i in range(8):
    centre = rng.uniform(-3, 3, size=3)
    radius = np.sqrt(((grid - centre[:, None, None, None]) ** 2).sum(axis=0))
    label = (radius < rng.uniform(5, 8)).astype(np.uint8)  # 0 background, 1 ball
    image = label + rng.normal(scale=0.6, size=shape)  # a noisy image of the ball
    affine = np.diag([1.5, 1.5, 2.0, 1.0])  # voxel spacing 1.5 x 1.5 x 2 mm
    nib.save(
        nib.Nifti1Image(image.astype(np.float32), affine), root / "images" / f"case{i}.nii.gz"
    )
    nib.save(nib.Nifti1Image(label, affine), root / "labels" / f"case{i}.nii.gz")
print(sorted(p.name for p in (root / "images").iterdir()))

# %%
# Read the volumes
# ----------------
# Each image gets a channel axis (``(D, H, W, 1)``) and is standardised; the spacing comes
# from the NIfTI header and serves the surface distances in millimetres later.
cases = sorted(p.name for p in (root / "images").iterdir())
images, labels, spacings = [], [], []
for name in cases:
    nifti = nib.load(root / "images" / name)
    image = nifti.get_fdata(dtype=np.float32)
    images.append(((image - image.mean()) / image.std())[..., None])
    labels.append(np.asarray(nib.load(root / "labels" / name).dataobj, dtype=np.int32))
    spacings.append(nifti.header.get_zooms()[:3])
train, test = slice(0, 6), slice(6, 8)
print("image", images[0].shape, images[0].dtype, "| label", labels[0].shape, labels[0].dtype)

# %%
# ``train_ds``: random patches
# ----------------------------
# A ``tf.data`` pipeline of random 16³ patches from the training volumes, batched: it yields
# ``images (2, 16, 16, 16, 1)`` float32 and ``labels (2, 16, 16, 16)`` int32.
patch = (16, 16, 16)


def random_patches():
    while True:
        k = rng.integers(6)
        corner = [rng.integers(n - p + 1) for n, p in zip(shape, patch, strict=True)]
        window = tuple(slice(c, c + p) for c, p in zip(corner, patch, strict=True))
        yield images[train][k][window], labels[train][k][window]


train_ds = tf.data.Dataset.from_generator(
    random_patches,
    output_signature=(
        tf.TensorSpec((*patch, 1), tf.float32),
        tf.TensorSpec(patch, tf.int32),
    ),
).batch(2)
x, y = next(iter(train_ds))
print("train_ds yields", x.shape, x.dtype.name, "and", y.shape, y.dtype.name)

# %%
# Fit a 3D U-Net with the spectral entropy loss
# ---------------------------------------------
# :class:`~speccal.losses.CESpectral` is cross-entropy plus λ times the spectral entropy
# term. λ = 1 here (the paper uses 0.01 on full-size data): on a few steps of small patches
# the spectral term is far below the cross-entropy. This trains for seconds: enough to show
# the path, far from a converged network.
model = speccal.models.unet3d(in_channels=1, n_classes=2, base_filters=4, depth=2)
model.compile(
    optimizer=keras.optimizers.Adam(3e-3),
    loss=speccal.losses.CESpectral(lam=1.0, window=10),
)
history = model.fit(train_ds, epochs=3, steps_per_epoch=15, shuffle=False, verbose=0)
print("training loss per epoch:", np.round(history.history["loss"], 3))

# %%
# Predict whole volumes with sliding windows
# ------------------------------------------
# :func:`~speccal.inference.sliding_window_predict` runs the model on overlapping 16³ windows
# and blends them with Gaussian weights: probabilities of shape ``(D, H, W, n_classes)``.
probs = [
    speccal.inference.sliding_window_predict(model, image, patch_size=patch, overlap=0.5)
    for image in images[test]
]
print("probabilities", probs[0].shape, probs[0].dtype)

# %%
# Evaluate calibration and segmentation
# -------------------------------------
# :class:`~speccal.evaluation.CalibrationEvaluator` pools the test volumes' voxels (its
# default protocol: all voxels, background included, 15 bins);
# :func:`~speccal.metrics.segmentation_scores` gives Dice, HD95 and ASD (mm) per foreground
# class of each volume.
calibration = CalibrationEvaluator(metrics=("ece", "sce", "tace")).fit(
    y_true=list(labels[test]), y_prob=probs
)
print({name: round(float(value), 4) for name, value in calibration.scores_.items()})
for label, prob, spacing in zip(labels[test], probs, spacings[test], strict=True):
    scores = segmentation_scores(
        y_true=label, y_pred=prob.argmax(-1), n_classes=2, spacing=spacing
    )
    print({name: round(float(value[0]), 3) for name, value in scores.items()})

# %%
# A reliability diagram
# ---------------------
# Per-bin accuracy against confidence on the pooled test voxels; the red bars are the gap to
# the diagonal, the grey ones the share of voxels in each bin (right axis).
display = ReliabilityDisplay.from_evaluator(calibration, label="CE + spectral, 45 steps")
display.figure_.set_size_inches(5, 5)
display.figure_.tight_layout()
plt.show()

# %%
# Analysis
# --------
# Read the diagram bin by bin: a bar above the diagonal is a bin where the network is
# under-confident (its voxels are right more often than their confidence says, typical of a
# barely trained network), a bar below it a bin where it is over-confident (typical of a
# converged cross-entropy network). The grey histogram shows where the voxels are; the ECE
# weights each bin's gap by that share. The numbers above come from 45 steps of a tiny
# network and show the path, not the method's value: compare losses over several
# seeds before drawing conclusions (the user guide's "What the evidence shows" and
# ``speccal study``). For real data, the same steps run with
# ``speccal train`` / ``speccal evaluate`` on a dataset folder, or with
# :mod:`speccal.experiments` from Python.
shutil.rmtree(root)
