"""``speccal figures RUN_DIR... --out DIR``: render the paper's figures for evaluated runs."""

import sys
from pathlib import Path

from speccal.commands._common import reporting_errors


def register(subparsers):
    """Add the ``figures`` subparser."""
    parser = subparsers.add_parser(
        "figures",
        help="render the paper's figures (PNG) for evaluated run directories",
        description=(
            "Render the paper's figures for runs written by `speccal evaluate`: the synthetic "
            "boundary experiment (Fig. 1), confidence maps, reliability diagrams and "
            "segmentations (Fig. 2), power spectra (Fig. 3), radar charts (Fig. 5), metric "
            "distributions (Fig. 6), cross-dataset ranks (Fig. 7) and high-frequency hotspots "
            "(Fig. 8). "
            "Prints the files it wrote; a missing or unreadable run file is named."
        ),
    )
    parser.add_argument("run_dirs", nargs="+", metavar="RUN_DIR", help="evaluated run folders")
    parser.add_argument("--out", required=True, type=Path, metavar="DIR", help="output folder")
    parser.add_argument("--bands", type=int, default=5, help="radial bands for Fig. 8 (5)")
    parser.add_argument("--dpi", type=int, default=100, help="PNG resolution (100)")
    parser.set_defaults(func=reporting_errors(parser, run))


def run(args):
    """Load the runs, render the figures, print the written paths; return the exit status."""
    from speccal.experiments import load_run
    from speccal.plotting import save_figures

    runs = [load_run(path) for path in args.run_dirs]
    written, skipped = save_figures(runs, args.out, bands=args.bands, dpi=args.dpi)
    for path in written:
        print(path)
    for reason in skipped:
        print(f"speccal figures: skipped {reason}", file=sys.stderr)
    return 0
