"""Shared by the six dataset examples (sphinx-gallery runs only ``plot_*.py`` files).

``data_root`` returns the real release when ``SPECCAL_DATA_<NAME>`` points to it, otherwise
writes a :class:`~speccal.datasets.SyntheticPhantoms` stand-in in the release's layout.
``TOY_TRAINING`` is the few-seconds training budget of the examples: a real run on real data
wants the paper's settings (``patch_size=(96, 96, 96)``, SGD at 0.01, ``lam=0.01``, hundreds of
epochs), which ``RunConfig``'s defaults and ``speccal train`` give.
"""

import os
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


def data_root(layout, workdir, **phantom_params):
    """Folder of the release named by ``SPECCAL_DATA_<LAYOUT>``, or of a stand-in in ``workdir``.

    Parameters
    ----------
    layout : str
        Dataset name, e.g. ``"brats2020"``; the variable is ``SPECCAL_DATA_BRATS2020``.
    workdir : str or path
        Temporary folder receiving the stand-in.
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
    root = Path(workdir) / layout
    SyntheticPhantoms.write(root, layout=layout, seed=0, **phantom_params)
    print(f"${variable} is not set: wrote a synthetic stand-in to {root}")
    return root
