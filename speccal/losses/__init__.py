"""Keras 3 losses for calibrated segmentation (TensorFlow backend).

Every loss takes sparse integer labels ``(batch, *spatial)`` and logits
``(batch, *spatial, n_classes)``, channels last, 2D or 3D.
"""

# -- spectral entropy regularizer (issue 2) --

# -- in-training baselines and the name registry (issue 5) --
