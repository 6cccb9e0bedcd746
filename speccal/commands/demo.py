"""``speccal demo``: CE vs CE + spectral entropy regularizer on synthetic phantoms, end to end."""

import time
from pathlib import Path

from speccal.commands._common import print_tables, reporting_errors

BASELINES = ("focal", "ls", "mbls", "svls", "crac")

HELP = """Write a SyntheticPhantoms dataset into OUT/data, train CE and CE + spectral entropy
regularizer (and, without --quick, the five baselines focal, ls, mbls, svls, crac) over several
seeds on CPU, evaluate every run on its test cases, print the paper-style segmentation
(DSC/HD95/ASD) and calibration (ECE/SCE/TACE) tables as mean ± sd over seeds and every
method's paired comparison with CE (differences, intervals, Holm-adjusted p-values over
volumes and over seeds), and write reliability diagrams and power-spectrum plots to
OUT/figures. Runs go --workers at a time, each in its own process. --quick trains at the size
and length chosen by the declared study docs/study/demo_regime.toml (240 SGD steps per run,
16³ patches; about 3 minutes on 2 idle CPU cores, measured by benchmarks/bench_demo.py); the
full demo (15,750 steps at 32³) some 2.5 hours (measured one run at a time). One-seed loss
comparisons on small data are noise, so every method runs over --seeds seeds (default 3) and
nothing is claimed from one run."""

#: Why --quick runs where it runs: printed by the demo, kept with the studies' results.
QUICK_REGIME = """\
speccal demo --quick: CE against CE + spectral (lambda 1, W 20, K 5), 3 seeds, 240 SGD steps
each on 24x24x20 phantoms with 16^3 patches. No regime was found informative at this size: in
the declared study docs/study/demo_regime.toml (6 seeds x 6 test cases per comparison) no
calibration metric of CE + spectral differed from CE's with a Holm-adjusted p < 0.05, at 240
or at 800 steps, so by its declared rule the demo runs the shorter length. Read the comparison
below as what 3 seeds show here, not as evidence either way: its case-level p-values treat the
18 (case, seed) pairs as independent, but the 6 test cases of a seed share one training run, so
they overstate how sure 3 trainings can make anyone; its run-level columns take a seed as the
unit, and with 3 seeds their p cannot fall below 0.25. Every result is on the documentation
page "When does the spectral regularizer help?"."""

#: --quick: the size of the follow-up study docs/study/demo_regime.toml (24x24x20 phantoms,
#: 16³ patches: a step costs about a tenth of a 32³ step on one CPU core, since its activations
#: fit in the L2 cache), at the length its declared rule chose. Everything else (U-Net, SGD,
#: λ, W, K) is as in docs/study/spectral_regimes.toml.
QUICK = {
    "n_cases": 36,
    "shape": (24, 24, 20),
    "patch_size": (16, 16, 16),
    "train_cases": 24,
    "epochs": 12,
    "steps_per_epoch": 20,
    "seeds": 3,
}
#: The full demo: all seven methods at the size of docs/study/spectral_regimes.toml. Phantoms
#: of about 40³ voxels and 32³ patches: each patch sees whole structures and their boundaries.
FULL = {
    "n_cases": 30,
    "shape": (40, 40, 32),
    "patch_size": (32, 32, 32),
    "epochs": 30,
    "steps_per_epoch": 25,
    "seeds": 3,
}
#: Background and two nested structures: with four classes the innermost one is not learnt
#: in a short budget (its Dice stays 0 and HD95 is infinite), which says nothing about
#: calibration; three classes reach DSC ≈ 0.87 in 240 SGD steps (measured).
N_CLASSES = 3
MODEL_PARAMS = {"base_filters": 8, "depth": 3}

#: λ of the demo. The paper's λ = 0.01 suits its 96³ patches and long schedules. Measured on
#: 32³ patches (U-Net above, SGD 0.01): after 30–240 steps the CE is 0.05–0.2 while
#: L_spectral = mean max(0, H(P̃) - H(P))² ranges from 0 to 3.5e-2, mostly 1e-4–1e-2. With
#: λ = 0.01 the term would be ~0.01–1 % of the loss and the comparison would show nothing but
#: seed noise; λ = 1 makes it a few per cent typically (tens of per cent at its peaks): enough
#: to act, not enough to swamp the CE. ``--lam`` of ``speccal train`` sets it for real runs.
DEMO_LAM = 1.0
DEMO_WINDOW = 20


def _loss_params(method):
    if method == "cespectral":
        return {"lam": DEMO_LAM, "window": DEMO_WINDOW, "bands": 5}
    return {}


def write_phantoms(data_dir, n_cases, shape, seed=0):
    """Write the demo's SyntheticPhantoms dataset (its own layout) into ``data_dir``."""
    from speccal.datasets import SyntheticPhantoms

    return SyntheticPhantoms.write(
        data_dir, n_cases=n_cases, shape=shape, n_classes=N_CLASSES, seed=seed
    )


def run_demo(
    out, *, quick=True, seeds=None, workers=2, overwrite=False, progress=True, settings=None
):
    """Run the demo and return the evaluated ``metrics.json`` contents of every run.

    Parameters
    ----------
    out : str or path
        Output folder: ``data/`` (the phantoms), ``runs/<method>_seed<k>/`` (one run each),
        ``figures/`` and ``tables.md``.
    quick : bool, default=True
        Train only ``ce`` and ``cespectral``, at the size of ``QUICK``; otherwise also the
        five baselines, at the size of ``FULL``.
    seeds : int, optional
        Seeds per method (default 3); a one-seed comparison is noise, so at least 2.
    workers : int, default=2
        Runs trained at a time, each in its own process of a local Dask cluster with
        ``cores // workers`` TensorFlow threads (as ``speccal study`` runs its trials); 1 trains
        them one after the other in this process.
    overwrite : bool, default=False
        Replace an existing non-empty ``out``.
    progress : bool, default=True
        Print one line per finished run (and, with ``quick``, ``QUICK_REGIME`` first).
    settings : dict, optional
        Overrides of the demo sizes (``n_cases``, ``shape``, ``epochs``,
        ``steps_per_epoch``, ``patch_size``, ``train_cases``, ``model_params``); used by the
        tests to stay small.

    Returns
    -------
    list of dict
        One ``metrics.json`` content per run, methods in order and seeds within each.

    Raises
    ------
    FileExistsError
        If ``out`` exists, is not empty and ``overwrite`` is not set.
    ValueError
        If ``seeds < 2`` or ``workers < 1``.
    RuntimeError
        If a run fails; it names the run and chains its error.
    """
    from speccal._dask import _check_workers
    from speccal.experiments._config import empty_output_dir

    settings = {**(QUICK if quick else FULL), **(settings or {})}
    seeds = settings["seeds"] if seeds is None else seeds
    if isinstance(seeds, bool) or not isinstance(seeds, int) or seeds < 2:
        raise ValueError(
            f"`--seeds` must be an int >= 2 (one seed is noise, not a comparison); got {seeds!r}."
        )
    _check_workers(workers)
    out = empty_output_dir(out, "--out", overwrite)
    if quick and progress:
        print(QUICK_REGIME, flush=True)
    write_phantoms(out / "data", settings["n_cases"], settings["shape"])
    methods = ("ce", "cespectral") if quick else ("ce", "cespectral", *BASELINES)
    runs = {
        f"{method}_seed{seed}": run_config(out, method, seed, settings)
        for method in methods
        for seed in range(seeds)
    }
    started = time.perf_counter()
    results = {}

    def finished(name, metrics):
        results[name] = metrics
        if progress:
            method, seed = name.rsplit("_seed", 1)
            print(
                f"[{time.perf_counter() - started:6.0f} s] {method:10s} seed {seed}: "
                f"DSC {metrics['dice']:.3f}  ECE {metrics['ece']:.4f}",
                flush=True,
            )

    if workers == 1:
        from speccal.experiments import evaluate_run, train_run

        for name, config in runs.items():
            train_run(config, out / "runs" / name, progress=False)
            finished(name, evaluate_run(out / "runs" / name, progress=False))
    else:
        _run_in_workers(runs, out, workers, finished)
    return [results[name] for name in runs]


def _run_in_workers(runs, out, workers, finished):
    """Train and evaluate ``runs`` ({name: RunConfig}) on a local Dask cluster of ``workers``
    processes, the way ``speccal study`` runs its trials; ``finished(name, metrics)`` as each
    ends."""
    from speccal.experiments._study import Trial
    from speccal.experiments._study_run import run_trials

    trials = [
        Trial(name=name, method=config.loss, seed=config.seed, setting={}, grid={}, config=config)
        for name, config in runs.items()
    ]

    def on_result(trial, result):
        if result is not None:  # None: it failed, and is reported below
            finished(trial.name, result["metrics"])

    failed = {
        trial.name: error
        for trial, error in run_trials(trials, out, workers=workers, on_result=on_result)
    }
    if failed:
        names = [name for name in runs if name in failed]  # in the demo's order
        first = failed[names[0]]
        raise RuntimeError(
            f"demo runs failed: {', '.join(names)}; the first one's error: {first}"
        ) from first


def run_config(out, method, seed, settings):
    """The :class:`~speccal.experiments.RunConfig` of one demo run: ``method`` trained with
    ``seed`` on the phantoms in ``out/data``, with the sizes of ``settings`` (``QUICK``, ``FULL``
    or their overrides)."""
    from speccal.experiments import RunConfig

    return RunConfig(
        dataset="synthetic",
        root=str((Path(out) / "data").resolve()),
        loss=method,
        loss_params=_loss_params(method),
        model_params=settings.get("model_params", MODEL_PARAMS),
        epochs=settings["epochs"],
        steps_per_epoch=settings["steps_per_epoch"],
        patch_size=settings["patch_size"],
        train_cases=settings.get("train_cases"),
        seed=seed,
        cache_dir=str(Path(out) / "cache"),
    )


def paired_comparison(runs):
    """Every method against CE, test volume by test volume, as ``speccal compare`` prints it.

    Each volume of a method is paired with CE's volume of the same test case and seed:
    mean difference with its paired bootstrap interval and the Holm-adjusted two-sided
    Wilcoxon signed-rank p-value per metric, and the run-level interval and sign-flip p-value
    with a seed as the unit (:func:`speccal.experiments.compare_runs`).
    """
    from speccal.experiments import paired_comparison_table

    table = paired_comparison_table(sorted(Path(runs).iterdir()), reference="ce")
    return (
        "\nPaired against CE (a volume is one test case of one seed; Δ = method − CE):\n\n" + table
    )


def _run(args):
    out = Path(args.out)
    started = time.perf_counter()
    results = run_demo(
        out, quick=args.quick, seeds=args.seeds, workers=args.workers, overwrite=args.overwrite
    )
    comparison = paired_comparison(out / "runs")
    print_tables(results)
    print(comparison)
    with open(out / "tables.md", "w") as handle:
        print_tables(results, file=handle)
        print(comparison, file=handle)
    from speccal.commands._demo_figures import write_figures

    for path in write_figures(out / "runs", out / "figures"):
        print(f"wrote {path}")
    print(f"demo finished in {time.perf_counter() - started:.0f} s; tables in {out / 'tables.md'}")
    return 0


def register(subparsers):
    """Add the ``demo`` command."""
    parser = subparsers.add_parser(
        "demo", help="CE vs CE + spectral on synthetic phantoms, end to end", description=HELP
    )
    parser.add_argument(
        "--out",
        default="speccal_demo",
        metavar="DIR",
        help="output folder (default: ./speccal_demo)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="only CE and CE + spectral, small budget (~3 min on 2 idle CPU cores)",
    )
    parser.add_argument(
        "--seeds", type=int, default=None, metavar="N", help="seeds per method (default: 3)"
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=2,
        metavar="N",
        help="runs trained at a time, each in its own process (default: 2; 1 = in this process)",
    )
    parser.add_argument("--overwrite", action="store_true", help="replace an existing --out")
    parser.set_defaults(func=reporting_errors(parser, _run))
    return parser
