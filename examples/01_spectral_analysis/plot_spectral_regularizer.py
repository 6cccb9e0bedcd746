"""
The regularizer's view of a prediction
======================================

:class:`speccal.losses.CESpectral` adds :math:`\\lambda\\,\\mathcal L_\\text{spectral}` to the
cross-entropy (Eq. 10). This example opens the term up on three hand-made two-class
predictions of the same disk, and follows the steps of the method with the TensorFlow
functions of :mod:`speccal.spectral` — confidence map (Eq. 1), band powers (Eq. 2–5), spectral
entropy (Eq. 7–8) — and then runs :class:`~speccal.losses.SpectralEntropyRegularizer` itself,
with its ring buffer of past band powers (Eq. 6) and its one-sided penalty (Eq. 9). Nothing is
trained.

The logit margin :math:`m` between foreground and background is a function of the signed
distance :math:`d` to the disk's edge, and the confidence map is the maximum logit,
:math:`|m|/2`:

* **saturated**: :math:`m = 8\\,\\operatorname{sign}(d)`, equally confident everywhere, boundary
  included — the overconfident network of the paper's Fig. 1 (:math:`\\alpha = 1`);
* **uncertain boundary**: :math:`m = \\operatorname{clip}(8d, -8, 8)`, confident except in a
  thin ring at the edge, where the two classes meet;
* **blurred**: :math:`m = \\operatorname{clip}(d/2, -8, 8)`, unsure over a wide band around the
  edge.
"""

# %%
# Three predictions of one disk
# -----------------------------
import matplotlib.pyplot as plt
import numpy as np
import tensorflow as tf

from speccal.losses import SpectralEntropyRegularizer
from speccal.spectral import band_powers, confidence_map, spectral_entropy

size = 64
grid = np.indices((size, size)) - (size - 1) / 2
d = 16 - np.sqrt((grid**2).sum(axis=0))  # signed distance to the edge, > 0 inside


def two_class_logits(margin):
    """Logits (1, size, size, 2) with foreground-minus-background margin ``margin``."""
    return np.stack([-margin / 2, margin / 2], axis=-1)[None].astype(np.float32)


logits = {
    "saturated": two_class_logits(8.0 * np.sign(d)),
    "uncertain boundary": two_class_logits(np.clip(8.0 * d, -8, 8)),
    "blurred": two_class_logits(np.clip(d / 2, -8, 8)),
}
batch = tf.constant(np.concatenate(list(logits.values())))  # (3, 64, 64, 2)

# %%
# Confidence maps and band powers
# -------------------------------
# The confidence map is the maximum *logit* (Eq. 1). Its centred power spectrum is summed in
# five radial bands of equal width up to half the map size; the DC term and the corner
# frequencies belong to no band (the strict reading of Eq. 4).
confidence = confidence_map(batch).numpy()
powers = band_powers(batch, bands=5).numpy()  # (2, 5)
entropy = spectral_entropy(powers).numpy()  # (2,)

fig, axes = plt.subplots(1, 4, figsize=(15, 3.4))
for ax, name, conf in zip(axes[:3], logits, confidence, strict=True):
    ax.imshow(conf, cmap="viridis", vmin=0, vmax=4)
    ax.set_title(f"{name}: max logit")
    ax.set_axis_off()
# the three maps share the scale [0, 4]: one colour bar, in an inset beside the third
fig.colorbar(axes[2].images[0], cax=axes[2].inset_axes([1.04, 0.0, 0.05, 1.0]), label="max logit")
total = powers.sum(axis=1, keepdims=True)
shares = np.divide(powers, total, out=np.zeros_like(powers), where=total > 0)
for offset, name, share in zip((-0.27, 0.0, 0.27), logits, shares, strict=True):
    axes[3].bar(np.arange(1, 6) + offset, share, width=0.27, label=name)
axes[3].set_xlabel("band k")
axes[3].set_ylabel("share of power $P_k$")
axes[3].legend(fontsize="small")
fig.tight_layout()
print("band powers (DC excluded):")
for name, p in zip(logits, powers, strict=True):
    print(f"  {name:18s}", np.array2string(p, precision=1))
for name, h in zip(logits, entropy, strict=True):
    print(f"{name:18s} spectral entropy H(P) = {h:.4f}  (maximum log 5 = {np.log(5):.4f})")

# %%
# The regularizer: a running target and a one-sided penalty
# ---------------------------------------------------------
# Each training call writes the batch-mean band powers into a ring buffer of ``window``
# entries; the target is the entropy of the buffer's mean. A prediction is penalised only if
# its entropy falls *below* the target: :math:`\max(0, H(\tilde P) - H(P_b))^2`.
regularizer = SpectralEntropyRegularizer(window=4, bands=5)
for _ in range(4):  # four training batches of boundary-uncertain predictions
    regularizer(tf.constant(logits["uncertain boundary"]), training=True)
print("buffer (window x bands):\n", np.round(regularizer.buffer.numpy(), 1))
print("training steps written:", int(regularizer.step.numpy()))
for name, value in logits.items():
    penalty = regularizer(tf.constant(value), training=False)  # evaluation: buffer untouched
    print(f"L_spectral({name:18s}) = {float(penalty):.5f}")

# %%
# Analysis
# --------
# The saturated map is constant: apart from the DC term, which lies in no band, it has no
# power at all and its spectral entropy is 0. The thin low-confidence ring of the
# boundary-uncertain prediction spreads power over all five bands — the high entropy of the
# paper's Fig. 1 at :math:`\alpha = 0.5`. The blurred prediction is also uncertain at the edge,
# but smoothly, over many pixels: its power sits in the lowest band and its entropy is low
# again. With a target set by boundary-uncertain predictions, the regularizer penalises both
# the saturated and the blurred map and leaves the boundary-uncertain one alone: the penalty is
# one-sided, so no prediction is pushed to be *less* balanced than the target. In training,
# the target is the running mean of the network's own recent predictions, and the gradient
# reaches the logits only through each sample's :math:`H(P_b)`.
