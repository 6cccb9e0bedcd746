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
import numpy as np
from _settings import TABLE_ROWS, TOY_TRAINING, Workspace

from speccal import experiments
from speccal.datasets import ATLAS2023
from speccal.experiments import load_run
from speccal.plotting import plot_confidence_map

# ``Workspace`` (in ``_settings.py`` beside this script, shared by the dataset examples) is a
# temporary folder; its ``data_root`` returns $SPECCAL_DATA_<NAME> if set, else writes a
# stand-in there.
work = Workspace()
root = work.data_root("atlas2023", n_cases=12, shape=(48, 40, 24))
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
    cache_dir=work.cache_dir,
    **TOY_TRAINING,
)
print(config)
run_dir = work.run_dir("cespectral")
experiments.train_run(config, run_dir, progress=False)
metrics = experiments.evaluate_run(run_dir, progress=False)
print(experiments.results_table([metrics], TABLE_ROWS))

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
work.cleanup()
