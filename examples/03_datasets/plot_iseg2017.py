"""
iSeg-2017: infant brain MRI in Analyze format
=============================================

iSeg-2017 segments six-month infant brains into cerebrospinal fluid (CSF), grey matter and
white matter from a T1 and a T2 image. At six months the grey/white contrast is inverting, so
the two sequences are needed together and the tissue boundaries are genuinely ambiguous —
where a calibrated network should be uncertain. The release is small (10 labelled subjects)
and uses the old **Analyze 7.5** format (``.hdr``/``.img`` pairs, no orientation), with tissue
labels stored as the intensities 10, 150 and 250.

**Data.** Set ``SPECCAL_DATA_ISEG2017`` to the folder holding ``iSeg-2017-Training/``;
otherwise :class:`~speccal.datasets.SyntheticPhantoms` writes ten Analyze stand-ins into a
temporary folder.

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

import nibabel as nib
import numpy as np

from speccal import experiments
from speccal.datasets import ISeg2017, SyntheticPhantoms
from speccal.experiments import load_run
from speccal.plotting import plot_power_spectra

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
# goes into a temporary folder, deleted at the end. ``$SPECCAL_DATA_ISEG2017``, if set, names
# your copy of the release instead.
work = Path(tempfile.mkdtemp(prefix="speccal_iseg2017_"))
if os.environ.get("SPECCAL_DATA_ISEG2017"):
    root = Path(os.environ["SPECCAL_DATA_ISEG2017"])
else:
    root = work / "iseg2017"
    SyntheticPhantoms.write(root, layout="iseg2017", seed=0, n_cases=10, shape=(40, 48, 40))
    print(f"$SPECCAL_DATA_ISEG2017 is not set: wrote a synthetic stand-in to {root}")
dataset = ISeg2017(root)
print(dataset)

# %%
# Analyze files and stored label values
# -------------------------------------
# nibabel reads the Analyze pairs (shape ``(X, Y, Z, 1)``); the loader squeezes the trailing
# axis, stacks T1 and T2 as channels and maps the stored values 10/150/250 to the classes
# 1/2/3.
case = dataset[0]
raw = nib.load(case.label_file)
print(f"{case.label_file.name}: {type(raw).__name__}, shape {raw.shape}")
print("stored label values:", np.unique(np.asarray(raw.dataobj)).tolist())
print("loaded:", case.image.shape, "classes", np.unique(case.label).tolist(), dataset.class_names)

# %%
# Train, predict and evaluate
# ---------------------------
# Ten subjects split 4:1:1 leave only one or two for validation and for testing: on the real
# data, report the spread over several seeds (or cross-validation), not one split.
config = experiments.RunConfig(
    dataset="iseg2017",
    root=str(root),
    patch_size=(32, 32, 32),
    cache_dir=str(work / "cache"),
    **TOY_TRAINING,
)
print(config)
run_dir = work / "runs" / "cespectral"
experiments.train_run(config, run_dir, progress=False)
metrics = experiments.evaluate_run(run_dir, progress=False)
print(f"{metrics['n_volumes']} test volume(s)")
print(experiments.results_table([metrics], TABLE_ROWS, format="text"))

# %%
# The run folder also holds the mean radial power spectrum of the test volumes' max-logit maps
# (the quantity whose band entropy the regularizer keeps balanced, paper Fig. 3):
run = load_run(run_dir)
ax = plot_power_spectra({"CE + spectral": run})

# %%
# Analysis
# --------
# What is specific to iSeg-2017 — Analyze files, two channels, stored label values 10/150/250,
# ten subjects — is handled by the loader; the remaining steps are the same as for the other
# datasets. The power spectrum of the max-logit map falls off with frequency: the regularizer
# compares the entropy of its five radial band powers with a running target, so a prediction
# whose spectrum collapses onto the lowest band (an over-smooth, over-confident map) is
# penalised.
shutil.rmtree(work)
