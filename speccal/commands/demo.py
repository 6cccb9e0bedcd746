"""``speccal demo``: CE vs CE + spectral entropy regularizer on synthetic phantoms, end to end."""

import time
from pathlib import Path

from speccal.commands._common import print_tables, reporting_errors

BASELINES = ("focal", "ls", "mbls", "svls", "crac")

HELP = """Write a SyntheticPhantoms dataset into OUT/data, train CE and CE + spectral entropy
regularizer (and, without --quick, the five baselines focal, ls, mbls, svls, crac) over several
seeds on CPU, evaluate every run on its test cases, print the paper-style segmentation
(DSC/HD95/ASD) and calibration (ECE/SCE/TACE) tables as mean ± sd over seeds and every
method's paired comparison with CE (differences, intervals, Wilcoxon p-values), and write
reliability diagrams and power-spectrum plots to OUT/figures. --quick (1,440 SGD steps) takes
about 13 minutes on 2 idle CPU cores (measured: 0.53 s per CE step, 0.61 s per CE + spectral
step), longer beside other work; the full demo (15,750 steps) some 2.5 hours. One-seed loss
comparisons on small data are noise, so every method runs over --seeds seeds (default 3) and
nothing is claimed from one run."""

#: Demo settings. Phantoms of about 40³ voxels and 32³ patches keep a step at ~0.5 s on two CPU
#: cores with an 8-filter, 3-level U-Net, while each patch still sees whole structures and
#: their boundaries, where miscalibration lives. The times in HELP are measured by
#: ``benchmarks/bench_demo.py``.
QUICK = {"n_cases": 18, "epochs": 12, "steps_per_epoch": 20, "seeds": 3}
FULL = {"n_cases": 30, "epochs": 30, "steps_per_epoch": 25, "seeds": 3}
PATCH_SIZE = (32, 32, 32)
PHANTOM_SHAPE = (40, 40, 32)
#: Background and two nested structures: with four classes the innermost one is not learnt
#: in the quick budget (its Dice stays 0 and HD95 is infinite), which says nothing about
#: calibration; three classes reach DSC ≈ 0.87 in 240 SGD steps (measured).
N_CLASSES = 3
MODEL_PARAMS = {"base_filters": 8, "depth": 3}

#: λ of the demo. The paper's λ = 0.01 suits its 96³ patches and long schedules. Measured on
#: this demo's 32³ patches (U-Net above, SGD 0.01): after 30–240 steps the CE is 0.05–0.2 while
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


def run_demo(out, *, quick=True, seeds=None, overwrite=False, progress=True, settings=None):
    """Run the demo and return the evaluated ``metrics.json`` contents of every run.

    Parameters
    ----------
    out : str or path
        Output folder: ``data/`` (the phantoms), ``runs/<method>_seed<k>/`` (one run each),
        ``figures/`` and ``tables.md``.
    quick : bool, default=True
        Train only ``ce`` and ``cespectral``; otherwise also the five baselines.
    seeds : int, optional
        Seeds per method (default 3); a one-seed comparison is noise, so at least 2.
    overwrite : bool, default=False
        Replace an existing non-empty ``out``.
    progress : bool, default=True
        Print one line per finished run.
    settings : dict, optional
        Overrides of the demo sizes (``n_cases``, ``shape``, ``epochs``,
        ``steps_per_epoch``, ``patch_size``, ``model_params``); used by the tests to stay
        small.

    Returns
    -------
    list of dict
        One ``metrics.json`` content per run.

    Raises
    ------
    FileExistsError
        If ``out`` exists, is not empty and ``overwrite`` is not set.
    ValueError
        If ``seeds < 2``.
    """
    from speccal.experiments import evaluate_run, train_run
    from speccal.experiments._config import empty_output_dir

    settings = {**(QUICK if quick else FULL), **(settings or {})}
    seeds = settings["seeds"] if seeds is None else seeds
    if isinstance(seeds, bool) or not isinstance(seeds, int) or seeds < 2:
        raise ValueError(
            f"`--seeds` must be an int >= 2 (one seed is noise, not a comparison); got {seeds!r}."
        )
    out = empty_output_dir(out, "--out", overwrite)
    write_phantoms(out / "data", settings["n_cases"], settings.get("shape", PHANTOM_SHAPE))
    methods = ("ce", "cespectral") if quick else ("ce", "cespectral", *BASELINES)
    results = []
    started = time.perf_counter()
    for method in methods:
        for seed in range(seeds):
            config = run_config(out, method, seed, settings)
            run_dir = out / "runs" / f"{method}_seed{seed}"
            train_run(config, run_dir, progress=False)
            metrics = evaluate_run(run_dir, progress=False)
            results.append(metrics)
            if progress:
                print(
                    f"[{time.perf_counter() - started:6.0f} s] {method:10s} seed {seed}: "
                    f"DSC {metrics['dice']:.3f}  ECE {metrics['ece']:.4f}",
                    flush=True,
                )
    return results


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
        patch_size=settings.get("patch_size", PATCH_SIZE),
        seed=seed,
        cache_dir=str(Path(out) / "cache"),
    )


def paired_comparison(runs):
    """Every method against CE, test volume by test volume, as ``speccal compare`` prints it.

    Each volume of a method is paired with CE's volume of the same test case and seed:
    mean difference with its paired bootstrap interval and the Holm-adjusted two-sided
    Wilcoxon signed-rank p-value per metric (:func:`speccal.experiments.compare_runs`).
    """
    from speccal.experiments import paired_comparison_table

    table = paired_comparison_table(sorted(Path(runs).iterdir()), reference="ce")
    return (
        "\nPaired against CE (a volume is one test case of one seed; Δ = method − CE):\n\n" + table
    )


def _run(args):
    out = Path(args.out)
    started = time.perf_counter()
    results = run_demo(out, quick=args.quick, seeds=args.seeds, overwrite=args.overwrite)
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
        help="only CE and CE + spectral, small budget (~13 min on 2 idle CPU cores)",
    )
    parser.add_argument(
        "--seeds", type=int, default=None, metavar="N", help="seeds per method (default: 3)"
    )
    parser.add_argument("--overwrite", action="store_true", help="replace an existing --out")
    parser.set_defaults(func=reporting_errors(parser, _run))
    return parser
