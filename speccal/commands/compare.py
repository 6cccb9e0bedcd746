"""``speccal compare``: the paper's comparison tables from evaluated runs."""

from speccal.commands._common import (
    add_format_argument,
    positive_int,
    print_tables,
    reporting_errors,
)

HELP = """Read RUN_DIR/metrics.json of each evaluated run and print the paper's Table 1
(DSC, HD95, ASD) and Table 2 (ECE, SCE, TACE) layouts: methods as columns, runs of the same
method (seeds) as mean ± sd, best bold and second italic, with the evaluation protocol.
Runs must be of one dataset and class count; runs of one method with different loss
parameters are separate columns labelled by what differs, e.g. `cespectral (lam=0.5)`.
With --reference METHOD, print instead one row per metric and method: mean ± sd over runs,
a bootstrap interval over the test volumes, and against METHOD the difference Δ on volumes
paired by (case id, seed) with its paired bootstrap interval and the Holm-adjusted p-value of
the Wilcoxon signed-rank test (read from RUN_DIR/per_volume.csv), and the same Δ with a seed
as the unit: a two-stage bootstrap interval and the Holm-adjusted sign-flip p-value of the
seeds' mean differences (the volumes of one seed share one training run)."""


def _run(args):
    from speccal.experiments import check_comparable, paired_comparison_table, read_results

    if args.reference is None:
        results = read_results(args.run_dirs)
        check_comparable(results, [str(d) for d in args.run_dirs])
        print_tables(results, format=args.format)
        return 0
    table = paired_comparison_table(
        args.run_dirs,
        reference=args.reference,
        format=args.format,
        n_resamples=args.resamples,
        random_state=args.seed,
    )
    print(table)
    return 0


def register(subparsers):
    """Add the ``compare`` command."""
    parser = subparsers.add_parser("compare", help="compare evaluated runs", description=HELP)
    parser.add_argument("run_dirs", metavar="RUN_DIR", nargs="+", help="evaluated runs")
    add_format_argument(parser)
    parser.add_argument(
        "--reference",
        metavar="METHOD",
        help="compare every method with this one (paired tests, intervals)",
    )
    parser.add_argument(
        "--resamples",
        type=positive_int,
        default=9999,
        metavar="N",
        help="bootstrap resamples with --reference (default: 9999)",
    )
    parser.add_argument(
        "--seed", type=int, default=0, help="seed of the bootstrap with --reference (default: 0)"
    )
    parser.set_defaults(func=reporting_errors(parser, _run))
    return parser
