"""``speccal score``: score probability maps saved by another framework against labels."""

from speccal.commands._common import (
    add_protocol_argument,
    add_scoring_arguments,
    print_tables,
    reporting_errors,
    scoring_keywords,
)

HELP = """Score the probability maps in PRED_DIR against the label maps in LABEL_DIR, matched
by file stem, and write OUT/metrics.json (ece, sce, tace, dice, hd95, asd, the pooled values,
protocol, n_volumes), per_volume.csv, reliability.npz and example.npz, as `speccal evaluate`
does; print the tables. `speccal compare` and `speccal figures` read OUT like a run.
Predictions: <case>.npz as nnU-Net v2 --save_probabilities writes it (key 'probabilities',
axes (C, Z, Y, X); its .pkl files and label maps beside the .npz are ignored), <case>.npy
(X, Y, Z, C), or 4-D NIfTI <case>.nii.gz (X, Y, Z, C) as MONAI's SaveImage writes it.
Labels: <case>.nii.gz or <case>.nii, spacing from their headers. Volumes are read one at a
time."""


def _run(args):
    from speccal.experiments import score_predictions

    metrics = score_predictions(
        args.pred_dir,
        args.label_dir,
        args.out,
        from_logits=args.logits,
        axes=args.axes,
        allow_missing=args.allow_missing,
        **scoring_keywords(args),
    )
    print_tables([metrics], format=args.format)
    return 0


def register(subparsers):
    """Add the ``score`` command."""
    parser = subparsers.add_parser(
        "score", help="score saved predictions (nnU-Net, MONAI, numpy)", description=HELP
    )
    parser.add_argument("pred_dir", metavar="PRED_DIR", help="folder of probability maps")
    parser.add_argument("label_dir", metavar="LABEL_DIR", help="folder of reference labels")
    parser.add_argument("--out", required=True, metavar="OUT", help="output folder")
    add_protocol_argument(parser)
    parser.add_argument(
        "--logits", action="store_true", help="the files hold logits (softmax applied)"
    )
    parser.add_argument(
        "--axes",
        metavar="AXES",
        help="stored axis order, e.g. czyx, cxyz, xyzc (default: czyx for .npz, else xyzc)",
    )
    add_scoring_arguments(parser, folder="OUT", jobs=True)
    parser.add_argument(
        "--allow-missing",
        action="store_true",
        help="skip cases with a prediction but no label (or the reverse), with a warning",
    )
    parser.set_defaults(func=reporting_errors(parser, _run))
    return parser
