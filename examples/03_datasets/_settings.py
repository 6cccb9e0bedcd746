"""Shared by the six dataset examples (sphinx-gallery runs only ``plot_*.py`` files).

:class:`Workspace` is an example's temporary folder: its ``data_root`` returns the real release
when ``SPECCAL_DATA_<NAME>`` points to it, otherwise writes a
:class:`~speccal.datasets.SyntheticPhantoms` stand-in in the release's layout; the
preprocessing cache and the run folders live beside it. ``TOY_TRAINING`` is the few-seconds
training budget of the examples: a real run on real data wants the paper's settings
(``patch_size=(96, 96, 96)``, SGD at 0.01, ``lam=0.01``, hundreds of epochs), which
``RunConfig``'s defaults and ``speccal train`` give. ``TABLE_ROWS`` are the paper's six
metrics, the rows of each example's table.
"""

import os
import tempfile
from pathlib import Path

from speccal.datasets import SyntheticPhantoms

#: CE + spectral entropy regularizer, a 3-level U-Net with 8 base filters, 2 x 20 Adam steps.
#: λ = 1 instead of the paper's 0.01: after 40 steps on small patches the spectral term is
#: orders of magnitude below the CE, and λ = 0.01 would leave it without effect.
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


class Workspace:
    """A temporary folder holding an example's data stand-in, preprocessing cache and runs."""

    def __init__(self):
        self._tmp = tempfile.TemporaryDirectory()
        self.path = Path(self._tmp.name)
        #: Preprocessed cases (``RunConfig(cache_dir=...)``), kept out of ``~/.cache``.
        self.cache_dir = str(self.path / "cache")

    def data_root(self, layout, **phantom_params):
        """Folder of the release named by ``SPECCAL_DATA_<LAYOUT>``, or of a stand-in here.

        Parameters
        ----------
        layout : str
            Dataset name, e.g. ``"brats2020"``; the variable is ``SPECCAL_DATA_BRATS2020``.
        **phantom_params
            Passed to :meth:`SyntheticPhantoms.write` (``n_cases``, ``shape``, ``n_test``, ...).

        Returns
        -------
        pathlib.Path
        """
        variable = f"SPECCAL_DATA_{layout.upper()}"
        if os.environ.get(variable):
            print(f"using the release in ${variable} = {os.environ[variable]}")
            return Path(os.environ[variable])
        root = self.path / layout
        SyntheticPhantoms.write(root, layout=layout, seed=0, **phantom_params)
        print(f"${variable} is not set: wrote a synthetic stand-in to {root}")
        return root

    def run_dir(self, name):
        """Folder of the run ``name``."""
        return self.path / "runs" / name

    def cleanup(self):
        """Delete the folder and everything in it."""
        self._tmp.cleanup()
