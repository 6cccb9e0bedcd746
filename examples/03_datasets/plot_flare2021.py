"""
FLARE 2021: abdominal CT, from Hounsfield units to a calibration table
======================================================================

FLARE 2021 is abdominal CT with four organs (1 liver, 2 kidneys, 3 spleen, 4 pancreas), one
image per case named ``train_XXX_0000.nii.gz`` and a mask ``train_XXX.nii.gz`` in a separate
folder. Unlike the MRI datasets, intensities have a physical unit, the Hounsfield unit (HU):
preprocessing clips them to the soft-tissue window [-1000, 400] HU before the z-score, instead
of z-scoring over non-zero voxels (air is -1000 HU, not 0). Volumes come from several centres
and orientations; the loader reorients them to a common (RAS+) axis order.

**Data.** Set ``SPECCAL_DATA_FLARE2021`` to the folder holding ``TrainingImg/`` and
``TrainingMask/``; otherwise :class:`~speccal.datasets.SyntheticPhantoms` writes a stand-in
with FLARE's layout, int16 HU values and median spacing (0.82, 0.82, 2.5) mm.

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

import matplotlib.pyplot as plt
import numpy as np

from speccal import experiments
from speccal.datasets import FLARE2021, SyntheticPhantoms, preprocess
from speccal.experiments import load_run

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
# goes into a temporary folder, deleted at the end. ``$SPECCAL_DATA_FLARE2021``, if set, names
# your copy of the release instead.
work = Path(tempfile.mkdtemp(prefix="speccal_flare2021_"))
if os.environ.get("SPECCAL_DATA_FLARE2021"):
    root = Path(os.environ["SPECCAL_DATA_FLARE2021"])
else:
    root = work / "flare2021"
    SyntheticPhantoms.write(root, layout="flare2021", seed=0, n_cases=12, shape=(48, 48, 32))
    print(f"$SPECCAL_DATA_FLARE2021 is not set: wrote a synthetic stand-in to {root}")
dataset = FLARE2021(root)
print(dataset)
print("classes:", dataset.class_names, " intensity normalisation:", dataset.modality)

# %%
# CT intensities and their normalisation
# --------------------------------------
# :func:`~speccal.datasets.preprocess` is the per-case step of paper A.2 that the runs apply
# (through :class:`~speccal.datasets.PreprocessedDataset`): for CT, clip then z-score.
case = dataset[0]
hu = case.image
normalised, label, _ = preprocess(hu, case.label, case.spacing, modality="ct")
print(f"{case.case_id}: {hu.shape}, spacing {np.round(case.spacing, 2).tolist()} mm")
print(
    f"raw HU in [{hu.min():.0f}, {hu.max():.0f}]; after clip + z-score: "
    f"mean {normalised.mean():.2f}, sd {normalised.std():.2f}"
)
for k, name in enumerate(dataset.class_names):
    print(f"  {name:10s} median {np.median(hu[..., 0][label == k]):7.1f} HU")

fig, axes = plt.subplots(1, 2, figsize=(10, 3.4))
axes[0].hist(hu.ravel(), bins=100, color="grey")
axes[0].axvspan(-1000, 400, alpha=0.2, label="kept window")
axes[0].set_xlabel("HU")
axes[0].legend()
axes[1].hist(normalised.ravel(), bins=100, color="tab:blue")
axes[1].set_xlabel("z-score")
for ax in axes:
    ax.set_ylabel("voxels")
fig.tight_layout()

# %%
# Train, predict and evaluate
# ---------------------------
config = experiments.RunConfig(
    dataset="flare2021",
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
# One row per test volume, from the run folder's ``per_volume.csv``: the organ-wise Dice shows
# which organs the short training has not learnt yet.
per_volume = load_run(run_dir).per_volume
columns = [c for c in per_volume if c.startswith("dice_")]
names = [dataset.class_names[int(c.split("_")[1])] for c in columns]
print("case_id        " + "  ".join(f"{name:>10s}" for name in names))
for i, case_id in enumerate(per_volume["case_id"]):
    print(f"{case_id:14s} " + "  ".join(f"{per_volume[c][i]:10.3f}" for c in columns))

# %%
# Analysis
# --------
# The CT-specific work is in the loader and the preprocessing: HU are clipped to
# [-1000, 400] and z-scored over the whole field of view, so air, fat and bone keep their
# relative contrast. Five classes of very different sizes make the class-wise metrics (SCE,
# TACE) and the per-organ Dice more informative than a single ECE, which the liver and the
# background dominate. An organ missing from a volume's prediction has HD95 = ASD = ∞, never
# a silent NaN: an infinite mean in the table means that some test volume lost an organ.
shutil.rmtree(work)
