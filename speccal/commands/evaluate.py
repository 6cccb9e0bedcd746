"""``speccal evaluate``: score a trained run on its test cases."""

from speccal.commands._common import (
    add_protocol_argument,
    add_scoring_arguments,
    print_tables,
    reporting_errors,
    scoring_keywords,
)

HELP = """Predict the run's test cases with sliding-window inference and write
RUN_DIR/metrics.json (method, dataset, ece, sce, tace, dice, hd95, asd, protocol),
per_volume.csv, reliability.npz, spectrum.npz and example.npz; print the tables."""


def _run(args):
    from speccal.experiments import evaluate_run

    metrics = evaluate_run(args.run_dir, batch_size=args.batch_size, **scoring_keywords(args))
    print_tables([metrics], format=args.format)
    return 0


def register(subparsers):
    """Add the ``evaluate`` command."""
    parser = subparsers.add_parser("evaluate", help="evaluate a trained run", description=HELP)
    parser.add_argument("run_dir", metavar="RUN_DIR", help="a run made by `speccal train`")
    parser.add_argument("--batch-size", type=int, default=2, help="windows per model call")
    add_protocol_argument(parser)
    add_scoring_arguments(parser, folder="RUN_DIR", jobs=False)
    parser.set_defaults(func=reporting_errors(parser, _run))
    return parser
