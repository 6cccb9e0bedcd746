"""
Reliability diagrams and calibration metrics
============================================

A reliability diagram bins voxels by their confidence (the top-class probability) and
compares, bin by bin, the mean confidence with the accuracy. A calibrated model sits on the
diagonal; an overconfident one below it. This example builds probabilities whose calibration
is *known*, draws their reliability diagrams with
:class:`speccal.plotting.ReliabilityDisplay`, and reads ECE, SCE and TACE off
:class:`speccal.evaluation.CalibrationEvaluator` under the different evaluation protocols.

**Source of the probabilities.** A three-class phantom (background, a ball, a smaller ball
inside it) is imaged with Gaussian noise. For that generative model the Bayes posterior
:math:`p(c \\mid x) \\propto \\pi_c\\,\\mathcal{N}(x; \\mu_c, \\sigma^2)` is exactly
calibrated; multiplying its log by 3 gives the sharpened, *overconfident* predictions typical
of a network trained with cross-entropy, and multiplying it by 0.5 an *underconfident* one.
"""

# %%
# A phantom whose calibrated posterior we know
# --------------------------------------------
import matplotlib.pyplot as plt
import numpy as np
from scipy.special import log_softmax, softmax

from speccal.evaluation import CalibrationEvaluator, ECEEvaluator
from speccal.plotting import ReliabilityDisplay

rng = np.random.default_rng(0)
shape = (48, 40, 36)  # unequal sides, like real volumes
grid = np.indices(shape) - np.array(shape)[:, None, None, None] / 2
radius = np.sqrt((grid**2).sum(axis=0))
labels = (radius < 14).astype(np.int64) + (radius < 7)  # 0 background, 1 shell, 2 core
means, sigma = np.array([0.0, 1.0, 2.0]), 0.7
image = means[labels] + sigma * rng.standard_normal(shape)

priors = np.bincount(labels.ravel(), minlength=3) / labels.size
log_posterior = log_softmax(
    np.log(priors) - (image[..., None] - means) ** 2 / (2 * sigma**2), axis=-1
)
probabilities = {
    "calibrated (Bayes posterior)": softmax(log_posterior, axis=-1),
    "overconfident (logits x 3)": softmax(3.0 * log_posterior, axis=-1),
    "underconfident (logits x 0.5)": softmax(0.5 * log_posterior, axis=-1),
}
print("volume", labels.shape, "class frequencies", np.round(priors, 3))

# %%
# Reliability diagrams
# --------------------
# :class:`~speccal.evaluation.ECEEvaluator` keeps per-bin sums only (it streams volumes with
# ``partial_fit``); :meth:`~speccal.plotting.ReliabilityDisplay.from_evaluator` draws its
# fitted bins: accuracy bars, the gap to the mean confidence, and the share of voxels per bin.
evaluators = {name: ECEEvaluator(n_bins=15).fit(labels, p) for name, p in probabilities.items()}
fig, axes = plt.subplots(1, 3, figsize=(13, 4.2))
for ax, (name, evaluator) in zip(axes, evaluators.items(), strict=True):
    ReliabilityDisplay.from_evaluator(evaluator, label=name, ax=ax)
    ax.set_title(name)
fig.tight_layout()

# %%
# Several methods on one axes, as in the paper's Fig. 2b, with
# :meth:`~speccal.plotting.ReliabilityDisplay.overlay`:
displays = [
    ReliabilityDisplay.from_evaluator(evaluator, label=name, histogram=False)
    for name, evaluator in evaluators.items()
]
plt.close("all")
ReliabilityDisplay.overlay(displays)

# %%
# Per-class diagrams bin :math:`p_k` against :math:`\mathbf{1}[y = k]` for every class k,
# which is what SCE averages; they need an evaluator that computed "sce":
evaluator = CalibrationEvaluator(metrics=("sce",)).fit(
    labels, probabilities["overconfident (logits x 3)"]
)
fig, axes = plt.subplots(1, 3, figsize=(13, 4.2))
ReliabilityDisplay.from_evaluator(evaluator, per_class=True, label="overconfident", ax=axes)
fig.tight_layout()

# %%
# ECE, SCE and TACE in one pass
# -----------------------------
# :class:`~speccal.evaluation.CalibrationEvaluator` computes several metrics from one binning
# pass. The *protocol* fixes which voxels count and how volumes are pooled; published numbers
# differ partly because papers use different ones: the table shows speccal's default (all
# voxels pooled) next to the MbLS code's (ground-truth foreground voxels only, per volume).
print(f"{'predictions':32s} {'protocol':9s} {'ECE':>8s} {'SCE':>8s} {'TACE':>8s}")
for name, y_prob in probabilities.items():
    for protocol in ("speccal", "mbls"):
        evaluator = CalibrationEvaluator(metrics=("ece", "sce", "tace"), protocol=protocol)
        scores = evaluator.fit(labels, y_prob).scores_
        print(
            f"{name:32s} {protocol:9s} {scores['ece']:8.4f} {scores['sce']:8.4f} "
            f"{scores['tace']:8.4f}"
        )

# %%
# Analysis
# --------
# The Bayes posterior lies on the diagonal and its ECE is at the level of sampling noise; the
# sharpened predictions sit below the diagonal (confidence above accuracy) and the softened
# ones above it. ECE only looks at the top class; SCE and TACE average over every class, so
# they also see the errors of the background probabilities, which dominate a segmentation
# volume. Because most voxels are easy background predicted with confidence near 1, pooled
# voxel-wise metrics are small numbers.
#
# The ``"mbls"`` protocol scores only the ground-truth foreground voxels. That selects voxels
# *by their label*, so even the exactly calibrated Bayes posterior gets a large ECE there (the
# foreground voxels it calls background with high confidence are all counted as errors), and
# the ranking of the sharpened and softened predictions can change. Compare methods under one
# protocol, and never compare numbers across papers that used different ones.
