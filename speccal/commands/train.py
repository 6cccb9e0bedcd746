"""``speccal train``: train a segmentation model with a calibration loss."""

import json
import sys
import warnings
from pathlib import Path

from speccal.commands._common import DATASET_NAMES, LOSS_NAMES, reporting_errors

_PACKAGE = str(Path(__file__).resolve().parents[1])

HELP = """Train a 3D segmentation network on a dataset with CE, CE + spectral entropy
regularizer (cespectral) or a baseline loss. The run directory receives config.json,
split.json (seeded 4:1:1 case split), train.log, history.csv and checkpoints/ with the
model, optimiser and loss state (spectral buffer, CRaC multipliers), switched in atomically
after every epoch; --resume continues from the last complete one, even after a kill. One
process at a time may use RUN_DIR (train, --resume, --overwrite and evaluate refuse a folder
in use). A NaN or infinite loss stops the run (exit status 1), naming the step and its cases.
Your own data: --dataset msd or nnunet with --root the folder holding dataset.json.
Example: speccal train --dataset synthetic --root data --loss cespectral --lam 0.01
--epochs 10 --patch-size 32 32 32 --batch-size 2 --seed 0 --out runs/cespectral"""


def _key_value(text):
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise ValueError(f"`--loss-param` must look like KEY=VALUE; got {text!r}.")
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        return key, value


def loss_params(args):
    """Loss keyword arguments from --lam/--window/--bands/--taper and repeated --loss-param."""
    params = dict(_key_value(text) for text in args.loss_param or ())
    for name in ("lam", "window", "bands", "taper"):
        value = getattr(args, name)
        if value is not None:
            params[name] = value
    return params


def config_from_args(args):
    """The :class:`speccal.experiments.RunConfig` described by the parsed arguments."""
    from speccal.experiments import RunConfig

    root = Path(args.root)
    if not root.is_dir():
        raise FileNotFoundError(
            f"`--root` must be an existing folder holding the {args.dataset} dataset in its "
            f"released layout; got {args.root!r}."
        )
    model_params = {"base_filters": args.base_filters, "depth": args.depth}
    return RunConfig(
        dataset=args.dataset,
        root=str(root.resolve()),
        loss=args.loss,
        loss_params=loss_params(args),
        model=args.model,
        model_params=model_params,
        epochs=10 if args.epochs is None else args.epochs,
        steps_per_epoch=args.steps_per_epoch,
        patch_size=tuple(args.patch_size),
        batch_size=args.batch_size,
        optimizer=args.optimizer,
        learning_rate=args.lr,
        momentum=args.momentum,
        seed=args.seed,
        strategy=args.strategy,
        augment=args.augment,
        train_cases=args.train_cases,
    )


def _run(args):
    from speccal.experiments import NonFiniteLossError, RunConfig, train_run

    if not args.resume:
        config = config_from_args(args)
    elif args.epochs is not None:  # continue the run up to a new number of epochs
        config = RunConfig.load(args.out)
        config.epochs = args.epochs
    else:
        config = None
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", UserWarning)
            try:
                train_run(
                    config,
                    args.out,
                    resume=args.resume,
                    overwrite=args.overwrite,
                    progress=not args.quiet,
                )
            finally:  # e.g. "no complete checkpoint yet: starting again from step 0"
                for w in caught:
                    if w.filename.startswith(_PACKAGE):
                        print(f"speccal train: {w.message}", file=sys.stderr)
                    else:
                        warnings.showwarning(w.message, w.category, w.filename, w.lineno)
    except NonFiniteLossError as exc:
        print(f"speccal train: error: {exc}", file=sys.stderr)
        return 1
    print(f"trained run in {args.out}; next: speccal evaluate {args.out}")
    return 0


def register(subparsers):
    """Add the ``train`` command."""
    parser = subparsers.add_parser(
        "train", help="train a model with a calibration loss", description=HELP
    )
    parser.add_argument(
        "--dataset", choices=DATASET_NAMES, default="synthetic", help="dataset name"
    )
    parser.add_argument(
        "--root",
        metavar="PATH",
        help="dataset folder (released layout; for msd and nnunet the folder of dataset.json)",
    )
    parser.add_argument(
        "--loss",
        metavar="NAME",
        choices=LOSS_NAMES,
        default="cespectral",
        help=f"loss: {', '.join(LOSS_NAMES)} (default: cespectral)",
    )
    parser.add_argument(
        "--epochs",
        metavar="N",
        type=int,
        default=None,
        help="epochs (default: 10; with --resume: continue up to N)",
    )
    parser.add_argument(
        "--steps-per-epoch",
        metavar="N",
        type=int,
        default=20,
        help="batches per epoch (default: 20)",
    )
    parser.add_argument(
        "--patch-size",
        metavar=("D", "H", "W"),
        type=int,
        nargs=3,
        default=[32, 32, 32],
        help="patch size (default: 32 32 32; paper: 96 96 96)",
    )
    parser.add_argument(
        "--batch-size", metavar="B", type=int, default=2, help="batch size (default: 2)"
    )
    parser.add_argument(
        "--seed", metavar="S", type=int, default=0, help="random seed (default: 0)"
    )
    parser.add_argument(
        "--train-cases",
        metavar="N",
        type=int,
        default=None,
        help="train on the first N training cases of the split only (default: all)",
    )
    parser.add_argument("--out", metavar="RUN_DIR", required=True, help="run directory to create")
    group = parser.add_argument_group("loss options")
    group.add_argument("--lam", type=float, help="weight λ of the regularizer (cespectral: 0.01)")
    group.add_argument("--window", type=int, help="ring-buffer window W (cespectral: 50)")
    group.add_argument("--bands", type=int, help="number of frequency bands K (cespectral: 5)")
    group.add_argument(
        "--taper",
        choices=("hamming",),
        help="window multiplied into the confidence maps before the FFT (cespectral; "
        "default: none, as in the paper)",
    )
    group.add_argument(
        "--loss-param",
        metavar="KEY=VALUE",
        action="append",
        help="any other loss argument (JSON value), repeatable, e.g. gamma=3",
    )
    group = parser.add_argument_group("model and optimiser")
    group.add_argument(
        "--model",
        default="unet3d",
        choices=("unet3d", "attention_unet3d", "unet_pp3d"),
        help="architecture",
    )
    group.add_argument(
        "--base-filters", type=int, default=8, help="filters of level 0 (paper: 32)"
    )
    group.add_argument("--depth", type=int, default=3, help="resolution levels (paper: 5)")
    group.add_argument("--optimizer", choices=("sgd", "adam"), default="sgd", help="optimiser")
    group.add_argument("--lr", type=float, default=0.01, help="learning rate (paper: 0.01)")
    group.add_argument("--momentum", type=float, default=0.9, help="SGD momentum (default: 0.9)")
    group.add_argument(
        "--augment", action="store_true", help="augment patches (flips, gamma, noise, blur)"
    )
    group.add_argument(
        "--strategy",
        choices=("default", "mirrored"),
        default="default",
        help="mirrored: tf.distribute.MirroredStrategy over the visible devices",
    )
    group = parser.add_argument_group("run directory")
    group.add_argument(
        "--resume",
        action="store_true",
        help="continue RUN_DIR from its checkpoint (its config; only --epochs may change)",
    )
    group.add_argument("--overwrite", action="store_true", help="replace an existing RUN_DIR")
    group.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.set_defaults(func=reporting_errors(parser, _check_then(parser, _run)))
    return parser


#: Options a resumed run may be given: the rest comes from its config.json.
_RESUME_OPTIONS = {"command", "func", "resume", "out", "epochs", "quiet"}


def _check_then(parser, handler):
    def run(args):
        if args.resume:
            given = [
                f"--{dest.replace('_', '-')}"
                for dest, value in vars(args).items()
                if dest not in _RESUME_OPTIONS and value != parser.get_default(dest)
            ]
            if given:
                parser.error(
                    "`--resume` continues the run as its config.json says; only --epochs "
                    f"may change; got {', '.join(given)}."
                )
        elif args.root is None:
            parser.error("the following arguments are required: --root")
        return handler(args)

    return run
