"""
Boundary confidence and the power spectrum (Fig. 1)
===================================================

Why does the spectral entropy of a confidence map say anything about calibration? The paper
answers with a synthetic experiment (its Fig. 1): a disk is segmented perfectly, with
confidence 1 everywhere, except on its boundary, where the foreground confidence is
:math:`\\alpha`. A well-calibrated network is *uncertain* at object boundaries (:math:`\\alpha`
near 0.5); an overconfident one is not (:math:`\\alpha = 1`). Lowering :math:`\\alpha` adds a
thin ring of lower confidence, that is, high-frequency content, to the map, so its power
spectrum gets richer and flatter and its spectral entropy rises.

This example reproduces the experiment with
:func:`speccal.analysis.boundary_confidence_experiment` and draws it with
:func:`speccal.plotting.plot_boundary_experiment`. Nothing is trained: it runs in a second.
"""

# %%
# Run the experiment
# ------------------
# Six boundary confidences from overconfident (1.0) to maximally uncertain (0.5), on a
# 64 × 64 map with a disk of radius 16, analysed with a Hamming window and 5 radial bands as in
# the paper.
import matplotlib.pyplot as plt
import numpy as np

from speccal.analysis import boundary_confidence_experiment
from speccal.plotting import plot_boundary_experiment

result = boundary_confidence_experiment(alphas=(1.0, 0.9, 0.8, 0.7, 0.6, 0.5), size=64)
print("maps:", result.maps.shape, " band powers:", result.band_powers.shape)

# %%
# Maps and radially averaged power spectra
# ----------------------------------------
# The top row is Fig. 1b (the confidence maps); the last panel is Fig. 1c (their radial power
# spectral densities on a log scale).
n = len(result.alphas)
fig, axes = plt.subplots(1, n + 1, figsize=(16, 3), gridspec_kw={"width_ratios": [1] * n + [3]})
plot_boundary_experiment(result, ax=axes)
fig.tight_layout()

# %%
# Band powers and spectral entropy
# --------------------------------
# The numbers behind the figure: the share of power in the upper bands, and the spectral
# entropy :math:`H(P) = -\sum_k P_k \log P_k` of the normalised band powers (Eq. 7–8).
shares = result.band_powers / result.band_powers.sum(axis=1, keepdims=True)
print("alpha   high-frequency power   share of bands 3-5   spectral entropy")
for alpha, high, share, entropy in zip(
    result.alphas, result.high_frequency_power, shares, result.spectral_entropy, strict=True
):
    print(f"{alpha:5.1f}   {high:20.4g}   {share[2:].sum():18.3f}   {entropy:16.4f}")
print(
    f"maximum entropy of {shares.shape[1]} bands: log({shares.shape[1]}) = "
    f"{np.log(shares.shape[1]):.4f}"
)

# %%
# Analysis
# --------
# As :math:`\alpha` falls from 1.0 to 0.5 the high-frequency power grows and the spectral
# entropy rises monotonically towards its maximum :math:`\log K`: a boundary-uncertain
# (better calibrated) map has a more balanced spectrum than an overconfident one. The spectral
# entropy regularizer (:class:`speccal.losses.CESpectral`) is built on this observation: it
# penalises a prediction whose entropy falls below a temporally smoothed target. Whether that
# makes trained networks better calibrated is a separate question, which no run of this project
# has answered yet (see the user guide's "What the evidence shows").
#
# The Hamming window matters here: without it, the band powers of the map (DC excluded) are
# those of the boundary ring scaled by :math:`(1 - \alpha)^2`, and the normalised entropy would
# be the same for every :math:`\alpha < 1` (see the Notes of
# :func:`~speccal.analysis.boundary_confidence_experiment`). The paper's loss (Algorithm 1)
# applies no window; ``taper="hamming"`` on :class:`~speccal.losses.CESpectral` adds it.
