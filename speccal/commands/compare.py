"""``speccal compare``: the paper's comparison tables from evaluated runs."""

from speccal.commands._common import add_format_argument, print_tables, reporting_errors

HELP = """Read RUN_DIR/metrics.json of each evaluated run and print the paper's Table 1
(DSC, HD95, ASD) and Table 2 (ECE, SCE, TACE) layouts: methods as columns, runs of the same
method (seeds) as mean ± sd, best bold and second italic, with the evaluation protocol."""


def _run(args):
    from speccal.experiments import read_results

    print_tables(read_results(args.run_dirs), format=args.format)
    return 0


def register(subparsers):
    """Add the ``compare`` command."""
    parser = subparsers.add_parser("compare", help="compare evaluated runs", description=HELP)
    parser.add_argument("run_dirs", metavar="RUN_DIR", nargs="+", help="evaluated runs")
    add_format_argument(parser)
    parser.set_defaults(func=reporting_errors(parser, _run))
    return parser
