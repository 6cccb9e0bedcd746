"""The ``speccal`` command line.

Each command lives in its own module under :mod:`speccal.commands` and provides
``register(subparsers)``, which adds its parser and sets ``func`` (called with the parsed
arguments, returning the exit status). Heavy imports (TensorFlow) happen inside ``func``, so
``speccal --help`` stays fast.
"""

import argparse
import importlib
import os
import sys

from speccal import __version__

COMMANDS = ("train", "evaluate", "score", "compare", "figures", "demo", "study")


def build_parser():
    """Return the top-level argument parser with one subparser per command."""
    parser = argparse.ArgumentParser(
        prog="speccal",
        description=(
            "Calibration toolkit for medical image segmentation: train with the spectral "
            "entropy regularizer or a baseline, evaluate calibration and segmentation, "
            "and compare runs in the paper's tables."
        ),
    )
    parser.add_argument("--version", action="version", version=f"speccal {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"speccal.commands.{name}").register(subparsers)
    return parser


def main(argv=None):
    """Entry point of the ``speccal`` console script; returns the exit status."""
    # TensorFlow's C++ start-up lines are noise on a terminal; a user's own setting wins.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
