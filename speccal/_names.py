"""Registry names that the command line needs without importing the packages they name.

``speccal --help`` builds argparse ``choices`` from these; importing :mod:`speccal.losses`
loads TensorFlow, which would make it take seconds.
"""

#: Losses by registry name (:func:`speccal.losses.get_loss`).
LOSS_NAMES = (
    "ce",
    "cespectral",
    "focal",
    "flsd",
    "ls",
    "mbls",
    "svls",
    "crac",
    "nacl",
    "cpenalty",
    "meep",
)

#: Formats of :func:`speccal.experiments.results_table`.
TABLE_FORMATS = ("markdown", "csv", "latex")
