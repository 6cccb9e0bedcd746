"""
BraTS 2020: brain tumours, from the release folder to a calibration table
=========================================================================

BraTS 2020 holds four co-registered, skull-stripped MR sequences per patient (T1, T1ce, T2,
FLAIR) and a tumour segmentation with the labels 0 (background), 1 (necrosis / non-enhancing
core), 2 (oedema) and 4 (enhancing tumour). This example reads the release with
:class:`speccal.datasets.BraTS2020`, looks at what is specific to it (four channels, label
4 → class 3, the WT/TC/ET evaluation regions, an unlabelled validation split), then trains,
predicts and evaluates a small 3D U-Net with :mod:`speccal.experiments`.

**Data.** Set ``SPECCAL_DATA_BRATS2020`` to the folder holding
``MICCAI_BraTS2020_TrainingData`` to run on the real release (training then takes hours, not
seconds: raise ``epochs`` and use ``patch_size=(96, 96, 96)`` as in the paper). Otherwise
:class:`~speccal.datasets.SyntheticPhantoms` writes a small stand-in in exactly the released
layout into a temporary folder.

**Source of the probabilities.** A 3D U-Net (8 base filters, 3 levels) trained here with
:class:`~speccal.losses.CESpectral` for 40 steps of two 32³ patches, then run over each test
volume with sliding-window inference: a real but barely trained network.
"""

# %%
# The release, or a synthetic stand-in in its layout
# --------------------------------------------------
import os
import shutil
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from speccal import experiments
from speccal.datasets import BraTS2020, SyntheticPhantoms
from speccal.experiments import load_run
from speccal.plotting import plot_confidence_map, plot_segmentation

# The training budget of this example: CE + spectral entropy regularizer, a 3-level U-Net
# with 8 base filters, 2 x 20 Adam steps — seconds, enough to show the workflow, far from a
# trained network. λ = 1 instead of the paper's 0.01: after 40 steps on small patches the
# spectral term is orders of magnitude below the CE, and λ = 0.01 would leave it without
# effect. A real run uses ``RunConfig``'s defaults (``patch_size=(96, 96, 96)``, SGD at 0.01,
# ``lam=0.01``, hundreds of epochs), as ``speccal train`` does.
TOY_TRAINING = {
    "loss": "cespectral",
    "loss_params": {"lam": 1.0, "window": 10},
    "model_params": {"base_filters": 8, "depth": 3},
    "epochs": 2,
    "steps_per_epoch": 20,
    "optimizer": "adam",
    "learning_rate": 3e-3,
}
#: Rows of the results table: segmentation (Table 1) and calibration (Table 2) metrics.
TABLE_ROWS = ("dice", "hd95", "asd", "ece", "sce", "tace")

# Everything the example writes (the stand-in data, the preprocessing cache, the run folder)
# goes into a temporary folder, deleted at the end. ``$SPECCAL_DATA_BRATS2020``, if set, names
# your copy of the release instead.
work = Path(tempfile.mkdtemp(prefix="speccal_brats2020_"))
if os.environ.get("SPECCAL_DATA_BRATS2020"):
    root = Path(os.environ["SPECCAL_DATA_BRATS2020"])
else:
    root = work / "brats2020"
    SyntheticPhantoms.write(
        root, layout="brats2020", seed=0, n_cases=12, n_test=2, shape=(48, 48, 40)
    )
    print(f"$SPECCAL_DATA_BRATS2020 is not set: wrote a synthetic stand-in to {root}")
dataset = BraTS2020(root)
print(dataset)
print("modalities:", dataset.modalities, " classes:", dataset.class_names)

# %%
# What is specific to BraTS
# -------------------------
# The label files store 0, 1, 2 and 4; the loader remaps them to the classes 0..3
# (``label_values`` gives the stored value of each class). The BraTS challenge reports its
# results on three nested regions of the label, given here by
# :meth:`~speccal.datasets.BraTS2020.region_masks`: whole tumour (WT), tumour core (TC) and
# enhancing tumour (ET). The table further below does **not**: its Dice, HD95 and ASD are
# means over the three foreground *classes* (necrosis, oedema, enhancing tumour), so they are
# not comparable with numbers reported on the regions.
case = dataset[0]
image, label = case.image, case.label
print(f"{case.case_id}: image {image.shape} {image.dtype}, spacing {case.spacing} mm")
print("stored label values:", dataset.label_values, "-> classes", np.unique(label).tolist())
for region, mask in dataset.region_masks(label).items():
    print(f"  {region}: {int(mask.sum())} voxels")

z = int(np.argmax((label > 0).sum(axis=(0, 1))))  # the axial slice with most tumour
fig, axes = plt.subplots(1, 5, figsize=(15, 3.2))
for ax, m, name in zip(axes, range(4), dataset.modalities, strict=False):
    ax.imshow(image[:, :, z, m].T, cmap="gray", origin="lower")
    ax.set_title(name)
# one colour per class, named on the colour bar
classes = axes[4].imshow(
    label[:, :, z].T,
    cmap=plt.get_cmap("viridis", len(dataset.class_names)),
    vmin=-0.5,
    vmax=len(dataset.class_names) - 0.5,
    origin="lower",
    interpolation="nearest",
)
axes[4].set_title("label")
bar = fig.colorbar(classes, ax=axes[4], ticks=range(len(dataset.class_names)), label="class")
bar.ax.set_yticklabels(dataset.class_names)
for ax in axes:
    ax.set_axis_off()

# %%
# The validation split has images only: its cases have ``label`` ``None``.
validation = BraTS2020(root, split="val")
print(f"{len(validation)} validation cases; label of the first: {validation[0].label}")

# %%
# Train, predict and evaluate
# ---------------------------
# :func:`~speccal.experiments.train_run` preprocesses the cases (median spacing, z-score over
# the brain), splits them 4:1:1 by a seeded shuffle, and trains on random patches;
# :func:`~speccal.experiments.evaluate_run` predicts every test volume with
# :func:`speccal.inference.sliding_window_predict` and writes the metrics into the run folder.
config = experiments.RunConfig(
    dataset="brats2020",
    root=str(root),
    patch_size=(32, 32, 32),
    cache_dir=str(work / "cache"),
    **TOY_TRAINING,
)
print(config)
run_dir = work / "runs" / "cespectral"
experiments.train_run(config, run_dir, progress=False)
metrics = experiments.evaluate_run(run_dir, progress=False)
print(experiments.results_table([metrics], TABLE_ROWS, format="text"))

# %%
# The run folder keeps one slice of the test case with the most foreground: its prediction and
# its confidence map (the paper's Fig. 2a and 2c), read back with
# :func:`speccal.experiments.load_run`.
run = load_run(run_dir)
fig, axes = plt.subplots(1, 3, figsize=(12, 3.6))
plot_segmentation(run.example["label"], ax=axes[0], title="ground truth")
plot_segmentation(run, ax=axes[1])
plot_confidence_map(run, ax=axes[2])
fig.tight_layout()

# %%
# Analysis
# --------
# Everything above that is BraTS-specific is in the loader: the file names, the four
# channels, the 4 → 3 remapping and the WT/TC/ET regions; training and evaluation are the same
# calls for every dataset. After 40 steps the network is far from the paper's, so the numbers
# only show the workflow; the confidence map shows where it is unsure, to be compared with the
# region boundaries, where miscalibration concentrates. The calibration metrics count every
# voxel of a volume, most of them easy background: the protocol stated under the table matters
# when comparing with published numbers.
shutil.rmtree(work)
