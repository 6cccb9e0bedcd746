"""Displays and figures (matplotlib, imported lazily inside the functions).

numpy only; importing this package never imports TensorFlow or matplotlib.
"""

# -- reliability diagrams (issue 3) --

# -- spectral and comparison figures (issue 9) --
