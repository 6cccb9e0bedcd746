"""Helpers shared by the train, evaluate, compare and demo commands."""

import functools

# The commands' choices; from speccal._names, since importing the datasets or losses package
# (scipy, nibabel, TensorFlow) would make ``speccal --help`` slow.
from speccal._names import DATASET_NAMES, LOSS_NAMES, TABLE_FORMATS  # noqa: F401

USER_ERRORS = (ValueError, TypeError, FileNotFoundError, FileExistsError, NotADirectoryError)


def reporting_errors(parser, handler):
    """Wrap ``handler(args)`` so user errors end as ``parser.error`` (exit status 2).

    The message is the exception's own (which names the argument, the expectation and the
    value); tracebacks are kept for programming errors.
    """

    @functools.wraps(handler)
    def run(args):
        try:
            return handler(args)
        except USER_ERRORS as exc:
            parser.error(str(exc))
        except RuntimeError as exc:
            from speccal.experiments._lock import RunInUseError  # a run folder in use

            if not isinstance(exc, RunInUseError):
                raise
            parser.error(str(exc))

    return run


def add_format_argument(parser):
    """Add ``--format {markdown,csv,latex}`` (the formats of ``results_table``)."""
    parser.add_argument(
        "--format",
        choices=TABLE_FORMATS,
        default="markdown",
        help="table format (default: markdown)",
    )


def print_tables(results, format="markdown", file=None):
    """Print the segmentation (Table 1) and calibration (Table 2) comparisons."""
    from speccal.experiments import (
        SEGMENTATION_METRICS,
        TABLE_CALIBRATION_METRICS,
        results_table,
    )

    for title, metrics in (
        ("Segmentation", SEGMENTATION_METRICS),
        ("Calibration", TABLE_CALIBRATION_METRICS),
    ):
        print(f"\n{title}\n", file=file)
        print(results_table(results, metrics, format=format), file=file)


# A copy of speccal.evaluation.PROTOCOL_PRESETS' names (importing speccal.evaluation loads
# scikit-learn, which would slow ``speccal --help``); test_cli_runs.py keeps them equal.
PROTOCOL_NAMES = ("speccal", "nixon", "mbls", "monai")


def add_protocol_argument(parser):
    """Add ``--protocol NAME`` (the presets of ``speccal.evaluation.EvaluationProtocol``)."""
    parser.add_argument(
        "--protocol",
        choices=PROTOCOL_NAMES,
        default="speccal",
        help="calibration protocol preset: which voxels count, how volumes are pooled, the bin "
        "rule (default: speccal; see speccal.evaluation.EvaluationProtocol)",
    )


def positive_int(text):
    import argparse

    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be an integer >= 1; got {text!r}")
    return value


def add_engine_arguments(parser, *, jobs):
    """Add ``--scheduler ADDRESS`` (a running Dask cluster) and, if ``jobs``, ``--jobs N``."""
    group = parser.add_mutually_exclusive_group()
    if jobs:
        group.add_argument(
            "--jobs",
            type=positive_int,
            default=1,
            metavar="N",
            help="volumes scored in N local processes (default: 1, this process)",
        )
    group.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="address of a running Dask scheduler (tcp://host:8786): volumes are processed "
        "on its workers, which must see the same paths",
    )


def add_scoring_arguments(parser, *, folder, jobs):
    """Add the output and engine options ``evaluate`` and ``score`` share.

    ``--save-maps`` (into ``folder/maps``), the engine (:func:`add_engine_arguments`),
    ``--format`` and ``--quiet``; :func:`scoring_keywords` turns them into keywords.
    """
    parser.add_argument(
        "--save-maps",
        action="store_true",
        help=f"write {folder}/maps/<case>_{{prediction,confidence,entropy,error}}.nii.gz",
    )
    add_engine_arguments(parser, jobs=jobs)
    add_format_argument(parser)
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def scoring_keywords(args):
    """Keywords of ``evaluate_run`` and ``score_predictions`` set by the shared options."""
    keywords = {
        "protocol": args.protocol,
        "save_maps": args.save_maps,
        "scheduler": args.scheduler,
        "progress": not args.quiet,
    }
    if "jobs" in args:
        keywords["jobs"] = args.jobs
    return keywords
