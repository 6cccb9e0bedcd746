"""``speccal study``: a declared grid of trainings, run on Dask, restartable, with a report."""

import time
from pathlib import Path

from speccal.commands._common import reporting_errors

HELP = """Run a study declared in a TOML file: every (method, grid point, seed) is a trial,
trained and evaluated as `speccal train` and `speccal evaluate` do, in its own folder
OUT/runs/NAME, as independent tasks on Dask (a LocalCluster of --workers processes, or a
running cluster with --scheduler). Running the same command again after a crash or a kill
skips finished trials and resumes started ones; a trial whose configuration changed is
refused. Writes OUT/results.csv (one row per trial), OUT/report.md (paired comparisons with
the reference: mean differences, bootstrap intervals, Wilcoxon p-values) and OUT/figures/.
Example: speccal study docs/study/spectral_regimes.toml --out study_out --workers 2"""


def _format_seconds(seconds):
    minutes, seconds = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{seconds:02d}s"


def _dry_run(trials, out):
    from speccal.experiments._study_run import trial_status

    statuses = [trial_status(out, t) for t in trials]
    for trial, status in zip(trials, statuses, strict=True):
        print(f"{status:8s} {trial.name}  ({trial.steps} steps)")
    todo = [t for t, s in zip(trials, statuses, strict=True) if s != "done"]
    print(
        f"{len(trials)} trials, {len(trials) - len(todo)} finished, {len(todo)} to run "
        f"({sum(t.steps for t in todo)} training steps)"
    )
    return 0


class _Progress:
    """One line per finished trial: counts, the trial's metrics and time, and an estimate of
    the rest from the training steps done so far in this session."""

    def __init__(self, todo, done_before, total, workers):
        self.started = time.perf_counter()
        self.remaining_steps = sum(t.steps for t in todo)
        self.steps_done = 0
        self.count = done_before
        self.total = total
        self.workers = workers

    def __call__(self, trial, result):
        self.count += 1
        self.remaining_steps -= trial.steps
        elapsed = time.perf_counter() - self.started
        if result is None:
            print(f"[{self.count}/{self.total}] {trial.name} FAILED", flush=True)
            return
        self.steps_done += trial.steps
        metrics = result["metrics"]
        rest = elapsed / self.steps_done * self.remaining_steps if self.steps_done else 0.0
        shown = "  ".join(
            f"{k} {metrics[k]:.4f}"
            for k in ("dice", "ece", "tace", "boundary_ece")
            if k in metrics
        )
        print(
            f"[{self.count}/{self.total}] {trial.name}: {shown}  "
            f"({_format_seconds(result['seconds'])}); elapsed {_format_seconds(elapsed)}, "
            f"about {_format_seconds(rest)} left",
            flush=True,
        )


def _run(args):
    from speccal.experiments._study import load_study
    from speccal.experiments._study_report import (
        finished,
        write_figures,
        write_report,
        write_results_csv,
    )
    from speccal.experiments._study_run import (
        check_existing_trials,
        run_trials,
        trial_status,
        write_phantoms,
    )

    study = load_study(args.config)
    out = Path(args.out).resolve()
    trials = study.trials(out)
    if args.dry_run:
        return _dry_run(trials, out)
    if args.workers < 1:
        raise ValueError(f"`--workers` must be an int >= 1; got {args.workers!r}.")
    check_existing_trials(out, trials)
    out.mkdir(parents=True, exist_ok=True)
    if "phantoms" in study.data:
        write_phantoms(out, study.data["phantoms"])
    todo = [t for t in trials if trial_status(out, t) != "done"]
    print(
        f"study {study.path.name}: {len(trials)} trials, {len(trials) - len(todo)} finished, "
        f"{len(todo)} to run on {args.scheduler or f'{args.workers} local workers'}",
        flush=True,
    )
    progress = _Progress(todo, len(trials) - len(todo), len(trials), args.workers)

    def on_result(trial, result):
        progress(trial, result)
        done = finished(out, trials)
        try:  # the interim report must not stop the trainings; the final one raises
            write_results_csv(out, trials, done)
            write_report(study, trials, out, done, elapsed=time.perf_counter() - progress.started)
        except Exception as exc:  # noqa: BLE001
            print(f"could not update the report: {type(exc).__name__}: {exc}", flush=True)

    failures = (
        run_trials(todo, out, workers=args.workers, scheduler=args.scheduler, on_result=on_result)
        if todo
        else []
    )
    done = finished(out, trials)
    write_results_csv(out, trials, done)
    rows = write_report(study, trials, out, done, elapsed=time.perf_counter() - progress.started)
    for path in write_figures(study, trials, out, done, rows):
        print(f"wrote {path}")
    print(f"wrote {out / 'results.csv'} and {out / 'report.md'}")
    if failures:
        for trial, exc in failures:
            print(f"trial {trial.name} failed: {type(exc).__name__}: {exc}")
        return 1
    return 0


def register(subparsers):
    """Add the ``study`` command."""
    parser = subparsers.add_parser(
        "study", help="run a declared grid of trainings on Dask, with a report", description=HELP
    )
    parser.add_argument("config", metavar="CONFIG.toml", help="the study file")
    parser.add_argument("--out", metavar="DIR", required=True, help="output folder")
    parser.add_argument(
        "--workers",
        type=int,
        default=2,
        metavar="N",
        help="local worker processes, one trial each at a time (default: 2); TensorFlow "
        "threads per worker = cores // N",
    )
    parser.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="address of a running Dask scheduler (its workers should run one thread each)",
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="list the trials and their status; run nothing"
    )
    parser.set_defaults(func=reporting_errors(parser, _run))
    return parser
