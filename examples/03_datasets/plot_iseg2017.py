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
import nibabel as nib
import numpy as np
from _settings import TABLE_ROWS, TOY_TRAINING, Workspace

from speccal import experiments
from speccal.datasets import ISeg2017
from speccal.experiments import load_run
from speccal.plotting import plot_power_spectra

# ``Workspace`` (in ``_settings.py`` beside this script, shared by the dataset examples) is a
# temporary folder; its ``data_root`` returns $SPECCAL_DATA_<NAME> if set, else writes a
# stand-in there.
work = Workspace()
root = work.data_root("iseg2017", n_cases=10, shape=(40, 48, 40))
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
    cache_dir=work.cache_dir,
    **TOY_TRAINING,
)
print(config)
run_dir = work.run_dir("cespectral")
experiments.train_run(config, run_dir, progress=False)
metrics = experiments.evaluate_run(run_dir, progress=False)
print(f"{metrics['n_volumes']} test volume(s)")
print(experiments.results_table([metrics], TABLE_ROWS))

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
work.cleanup()
