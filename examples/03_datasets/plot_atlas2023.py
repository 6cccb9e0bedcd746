"""
ATLAS 2023: liver and liver tumour in contrast-enhanced MRI
===========================================================

ATLAS 2023 segments the liver and hepatocellular carcinoma in contrast-enhanced T1 MRI of the
abdomen: 60 training volumes ``imagesTr/im0.nii.gz … im59.nii.gz`` with labels
``labelsTr/lb0.nii.gz …`` (0 background, 1 liver, 2 tumour). Three things differ from the
brain datasets: the file numbers are not zero-padded (so they must be sorted naturally, im2
before im10), the labels are *disjoint* while the clinical region "whole liver" is 1 ∪ 2, and
the images are not skull-stripped: the whole field of view is non-zero, so "z-score over
non-zero voxels" means over the whole image.

**Data.** Set ``SPECCAL_DATA_ATLAS2023`` to the folder holding
``atlas-train-dataset-1.0.1/``; otherwise :class:`~speccal.datasets.SyntheticPhantoms` writes
a stand-in with ATLAS's layout and median spacing (1.04, 1.04, 3.0) mm.

**Source of the probabilities.** A 3D U-Net (8 base filters, 3 levels) trained here with
:class:`~speccal.losses.CESpectral` for 40 steps of two 32³ patches, then run over each test
volume with sliding-window inference.
"""

# %%
# The release, or a synthetic stand-in in its layout
# --------------------------------------------------
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

from speccal import experiments
from speccal.datasets import ATLAS2023, SyntheticPhantoms
from speccal.experiments import load_run
from speccal.plotting import plot_confidence_map

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
# goes into a temporary folder, deleted at the end. ``$SPECCAL_DATA_ATLAS2023``, if set, names
# your copy of the release instead.
work = Path(tempfile.mkdtemp(prefix="speccal_atlas2023_"))
if os.environ.get("SPECCAL_DATA_ATLAS2023"):
    root = Path(os.environ["SPECCAL_DATA_ATLAS2023"])
else:
    root = work / "atlas2023"
    SyntheticPhantoms.write(root, layout="atlas2023", seed=0, n_cases=12, shape=(48, 40, 24))
    print(f"$SPECCAL_DATA_ATLAS2023 is not set: wrote a synthetic stand-in to {root}")
dataset = ATLAS2023(root)
print(dataset)
print("cases in natural order:", dataset.case_ids)

# %%
# Disjoint labels, nested regions, no background of zeros
# --------------------------------------------------------
case = dataset[0]
label = case.label
for region, mask in dataset.region_masks(label).items():
    print(f"region {region:7s} = classes {dataset.regions[region]}: {int(mask.sum())} voxels")
nonzero = float(np.mean(case.image[..., 0] != 0))
print(
    f"{case.case_id}: {case.image.shape}, spacing {np.round(case.spacing, 2).tolist()} mm; "
    f"{nonzero:.0%} of the voxels are non-zero"
)

# %%
# Train, predict and evaluate
# ---------------------------
config = experiments.RunConfig(
    dataset="atlas2023",
    root=str(root),
    patch_size=(32, 32, 16),
    cache_dir=str(work / "cache"),
    **TOY_TRAINING,
)
print(config)
run_dir = work / "runs" / "cespectral"
experiments.train_run(config, run_dir, progress=False)
metrics = experiments.evaluate_run(run_dir, progress=False)
print(experiments.results_table([metrics], TABLE_ROWS, format="text"))

# %%
# The confidence map of one test slice, over the image, with the label's class boundaries as
# contours (the paper's Fig. 2a):
run = load_run(run_dir)
ax = plot_confidence_map(
    run.example["confidence"], image=run.example["image"], label=run.example["label"]
)

# %%
# Analysis
# --------
# The loader sorts ``im0, im1, …, im10`` naturally, keeps the stored classes (liver and tumour
# disjoint) for training and gives the clinical regions through ``region_masks``. The table
# scores the two training classes; a whole-liver Dice would be computed on
# ``region_masks(prediction)["liver"]``. Calibration is hardest at the tumour boundary inside
# the liver, where both neighbours are foreground: the contours on the confidence map show
# where to look.
shutil.rmtree(work)
