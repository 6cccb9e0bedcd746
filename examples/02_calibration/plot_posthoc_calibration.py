"""
Post-hoc calibration of a trained network
=========================================

Post-hoc calibrators leave the network alone and learn a small map from its logits to
calibrated probabilities on held-out data. This example trains a small 3D U-Net for a few
seconds, fits the six calibrators of :mod:`speccal.posthoc` on the *validation* cases' logits,
and scores them on the *test* cases with :func:`speccal.posthoc.compare_calibrators`.

**Source of the probabilities.** A real (tiny) network: :func:`speccal.models.unet3d` with 8
base filters trained with cross-entropy on whole 32 × 32 × 24 volumes of
:class:`~speccal.datasets.SyntheticPhantoms` (generated in memory, nothing downloaded) for
about 80 optimiser steps on the CPU. A network stopped this early is usually *under*-confident
(its probabilities are still soft), the opposite of a converged one; post-hoc calibration
handles both.
"""

# %%
# Data and a briefly trained network
# ----------------------------------
# Fourteen phantoms, split by case: 8 to train, 3 to fit the calibrators, 3 to test.
import keras
import matplotlib.pyplot as plt
import numpy as np
from scipy.special import softmax

from speccal.datasets import SyntheticPhantoms
from speccal.evaluation import ECEEvaluator
from speccal.models import unet3d
from speccal.plotting import ReliabilityDisplay
from speccal.posthoc import (
    HistogramBinning,
    IsotonicCalibration,
    MatrixScaling,
    PlattScaling,
    TemperatureScaling,
    VectorScaling,
    compare_calibrators,
)

phantoms = SyntheticPhantoms(n_cases=14, shape=(32, 32, 24), seed=0)
images = np.stack([case.image for case in phantoms])  # (14, 32, 32, 24, 2)
labels = np.stack([case.label for case in phantoms]).astype(np.int64)  # (14, 32, 32, 24)
train, val, test = slice(0, 8), slice(8, 11), slice(11, 14)
print("classes:", phantoms.class_names, " modalities:", phantoms.modalities)

keras.utils.set_random_seed(0)
model = unet3d(in_channels=images.shape[-1], n_classes=4, base_filters=8, depth=3)
model.compile(
    optimizer=keras.optimizers.Adam(3e-3),
    loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
)
history = model.fit(images[train], labels[train], batch_size=2, epochs=20, verbose=0)
print(f"training loss: {history.history['loss'][0]:.3f} -> {history.history['loss'][-1]:.3f}")

val_logits = model.predict(images[val], verbose=0)  # (3, 32, 32, 24, 4): logits, not probs
test_logits = model.predict(images[test], verbose=0)

# %%
# Fit on validation, score on test
# --------------------------------
# Every calibrator takes volumes of logits ``(..., n_classes)`` and integer labels ``(...)``
# directly; they fit on a class-stratified subsample of the voxels.
calibrators = {
    "temperature": TemperatureScaling(),
    "vector": VectorScaling(),
    "matrix": MatrixScaling(),
    "Platt (one-vs-rest)": PlattScaling(),
    "histogram binning": HistogramBinning(),
    "isotonic": IsotonicCalibration(),
}
table = compare_calibrators(
    calibrators, val_logits, labels[val], X_test=test_logits, y_test=labels[test]
)
metrics = [key for key in table[0] if key != "method"]
print(f"{'method':22s}" + "".join(f"{m.upper():>9s}" for m in metrics))
for row in table:
    print(f"{row['method']:22s}" + "".join(f"{row[m]:9.4f}" for m in metrics))

temperature = TemperatureScaling().fit(val_logits, labels[val])
print(f"fitted temperature T = {temperature.temperature_:.3f}")

# %%
# Reliability before and after temperature scaling
# ------------------------------------------------
before = softmax(test_logits, axis=-1)
after = temperature.predict_proba(test_logits)
fig, axes = plt.subplots(1, 2, figsize=(10, 4.2))
for ax, (name, y_prob) in zip(
    axes, {"uncalibrated": before, "temperature": after}.items(), strict=True
):
    evaluator = ECEEvaluator(n_bins=15).fit(labels[test], y_prob)
    ReliabilityDisplay.from_evaluator(evaluator, label=name, ax=ax)
    ax.set_title(f"{name}: ECE = {evaluator.score_:.4f}")
fig.tight_layout()

# %%
# Shipping the calibrated model
# -----------------------------
# Temperature and vector scaling are also Keras layers (``as_keras_layer``), so the calibrated
# model is one object that saves and reloads with its calibration; matrix scaling and the
# one-vs-rest calibrators are applied with ``predict_proba``.
calibrated = keras.Sequential([model, temperature.as_keras_layer(output_mode="probabilities")])
np.testing.assert_allclose(calibrated.predict(images[test], verbose=0), after, atol=1e-4)
print("calibrated model output:", calibrated.output_shape)

# %%
# Analysis
# --------
# The temperature moves every logit by one factor, so the segmentation (the argmax) is
# unchanged while the ECE drops; vector and matrix scaling learn per-class factors and can
# change the argmax; the one-vs-rest calibrators (Platt, histogram binning, isotonic) treat
# each class separately and renormalise. With only three validation volumes the richer maps can
# overfit — their advantage on the validation split need not carry over to the test split,
# which is why the table scores held-out cases. A fitted temperature below 1 means this briefly
# trained network was under-confident; a converged cross-entropy network typically gives T > 1.
# Post-hoc calibration fixes the *average* confidence; it cannot make the spatial pattern of
# the confidence right (boundaries), which is what in-training methods such as the spectral
# entropy regularizer target.
