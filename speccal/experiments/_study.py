"""Studies: a declared set of training runs (trials) from a TOML file, run as Dask tasks.

A study file names the data, the training settings shared by every trial, a grid (seeds and
optional lists of training values, whose product is taken), the methods (a loss with its
parameters, optional training overrides and an optional grid of their own) and the reference
method of the report. Each (method, grid point, seed) is a *trial*: one run folder under
``OUT/runs/``, trained and evaluated as ``speccal train`` and ``speccal evaluate`` do. A trial
is finished when its ``metrics.json`` exists (:func:`evaluate_run` writes it last, atomically),
so running a study again skips finished trials, resumes a trained-but-unevaluated or partly
trained one from its checkpoint and refuses, by name, a trial whose configuration changed.

This module parses, validates and enumerates; :mod:`speccal.experiments._study_run` runs the
trials and :mod:`speccal.experiments._study_report` writes the results.
"""

import dataclasses
import itertools
import json
from pathlib import Path

import tomllib

from speccal._names import LOSS_ARGUMENTS, LOSS_NAMES
from speccal.experiments._config import RunConfig

__all__ = ["Study", "Trial", "load_study"]

SECTIONS = ("data", "train", "grid", "methods", "report")
DATA_KEYS = ("dataset", "root", "phantoms")
METHOD_KEYS = ("name", "loss", "params", "train", "grid")
REPORT_KEYS = ("reference",)
PHANTOM_KEYS = ("n_cases", "shape", "n_classes", "n_modalities", "noise", "seed")
#: ``speccal train`` options a study sets elsewhere, with where they go instead.
_PLACED_ELSEWHERE = {
    "dataset": "[data] dataset",
    "root": "[data] root",
    "seed": "[grid] seeds",
    "loss": "[[methods]] loss",
    "lam": "[[methods]] params",
    "window": "[[methods]] params",
    "bands": "[[methods]] params",
    "taper": "[[methods]] params",
    "loss_param": "[[methods]] params",
    "out": "the --out of speccal study",
    "resume": "speccal study (it resumes by itself)",
    "overwrite": "speccal study (it never overwrites)",
    "quiet": "speccal study",
}
#: ``speccal train`` option -> RunConfig field, where the names differ.
_FIELD = {"lr": "learning_rate"}
_MODEL_OPTIONS = ("base_filters", "depth")
#: RunConfig fields without a ``speccal train`` option that a study may set too.
_EXTRA_FIELDS = ("foreground_fraction", "split", "overlap")
DATA_DIR = "data"
RUNS_DIR = "runs"
CACHE_DIR = "cache"
PHANTOMS_FILE = "phantoms.json"


def _train_defaults():
    """The options a study's ``[train]`` takes, with their defaults: those of ``speccal
    train`` (read off its parser, one source of truth) and :data:`_EXTRA_FIELDS`."""
    import argparse

    from speccal.commands import train

    parser = argparse.ArgumentParser()
    subparser = train.register(parser.add_subparsers())
    options = {
        action.dest: action.default
        for action in subparser._actions
        if action.dest != "help" and action.dest not in _PLACED_ELSEWHERE
    }
    if options.get("epochs") is None:  # `speccal train`'s default without --resume
        options["epochs"] = 10
    fields = {f.name: f for f in dataclasses.fields(RunConfig)}
    for name in _EXTRA_FIELDS:
        options[name] = fields[name].default
    return options


@dataclasses.dataclass(frozen=True)
class Trial:
    """One (method, grid point, seed) of a study: a run folder and its configuration.

    Attributes
    ----------
    name : str
        Folder name under ``OUT/runs/``: the method, the grid values and the seed.
    method : str
        The ``name`` of its ``[[methods]]`` entry.
    seed : int
    setting : dict
        The values of every ``speccal train`` option of the trial (after the method's
        overrides and grid), without the seed; trials of two methods are paired when their
        settings and seeds are equal.
    grid : dict
        The grid values that distinguish this trial from others of its method.
    config : RunConfig
    """

    name: str
    method: str
    seed: int
    setting: dict
    grid: dict
    config: RunConfig

    @property
    def steps(self):
        """Training steps of the trial (its cost in the progress estimate)."""
        return self.config.epochs * self.config.steps_per_epoch


@dataclasses.dataclass
class Study:
    """A parsed, validated study file (see :func:`load_study`).

    Attributes
    ----------
    path : Path
        The TOML file.
    data : dict
        ``dataset`` and either ``root`` (an absolute path) or ``phantoms`` (the parameters of
        :class:`speccal.datasets.SyntheticPhantoms` written into ``OUT/data``).
    methods : list of dict
        The ``[[methods]]`` entries, in file order.
    reference : str
        The method the others are compared with.
    """

    path: Path
    data: dict
    train: dict
    grid: dict
    methods: list
    reference: str

    def trials(self, out):
        """Every trial of the study, in a fixed order, for the output folder ``out``.

        Trials run in this order (earlier ones have a higher priority): seed by seed
        (every seed is a complete replicate of the design, so a study stopped early has
        complete pairs), within a seed the shorter trainings first, then the file's order
        (methods in turn, each with its grid points).
        """
        out = Path(out).resolve()
        root = out / DATA_DIR if "phantoms" in self.data else Path(self.data["root"])
        seeds = self.grid["seeds"]
        shared_grid = {k: v for k, v in self.grid.items() if k != "seeds"}
        trials = []
        for method in self.methods:
            grid = {**shared_grid, **method.get("grid", {})}
            for values in itertools.product(*grid.values()):
                point = dict(zip(grid, values, strict=True))
                setting = {**self.train, **method.get("train", {}), **point}
                for seed in seeds:
                    name = _trial_name(method["name"], point, seed)
                    config = _run_config(
                        self.data["dataset"], root, out / CACHE_DIR, method, setting, seed
                    )
                    trials.append(Trial(name, method["name"], seed, setting, point, config))
        order = {seed: i for i, seed in enumerate(seeds)}
        trials = [
            t
            for _, _, _, t in sorted((order[t.seed], t.steps, i, t) for i, t in enumerate(trials))
        ]
        names = [t.name for t in trials]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(
                f"`methods` must give every trial its own name; {duplicates} repeat (give the "
                "[[methods]] entries different names)."
            )
        return trials


def _value_text(value):
    if isinstance(value, list | tuple):
        return "x".join(_value_text(v) for v in value)
    return str(value)


def _trial_name(method, point, seed):
    parts = [method, *(f"{key}{_value_text(value)}" for key, value in point.items())]
    return "_".join(parts + [f"seed{seed}"])


def _run_config(dataset, root, cache_dir, method, setting, seed):
    """The :class:`RunConfig` of one trial (as ``speccal train`` would build it)."""
    fields = {_FIELD.get(k, k): v for k, v in setting.items() if k not in _MODEL_OPTIONS}
    fields["model_params"] = {k: setting[k] for k in _MODEL_OPTIONS}
    return RunConfig(
        dataset=dataset,
        root=str(root),
        loss=method["loss"],
        loss_params=dict(method.get("params", {})),
        seed=seed,
        cache_dir=str(cache_dir),
        **fields,
    )


def _check_keys(table, allowed, where):
    if not isinstance(table, dict):
        raise TypeError(f"`{where}` must be a table; got {table!r}.")
    for key in table:
        if key not in allowed:
            raise ValueError(
                f"`{where}.{key}` is not a known key; expected one of {sorted(allowed)}."
            )


def _check_train_table(table, where, options):
    """Validate a table of ``speccal train`` options (``[train]`` or a method's ``train``)."""
    if not isinstance(table, dict):
        raise TypeError(f"`{where}` must be a table; got {table!r}.")
    for key, value in table.items():
        if key in _PLACED_ELSEWHERE:
            raise ValueError(f"`{where}.{key}` is set by {_PLACED_ELSEWHERE[key]}, not here.")
        if key not in options:
            raise ValueError(
                f"`{where}.{key}` is not a speccal train option; expected one of "
                f"{sorted(options)}."
            )
        default = options[key]
        if isinstance(default, bool) and not isinstance(value, bool):
            raise TypeError(f"`{where}.{key}` must be true or false; got {value!r}.")


def _check_grid(table, where, options, allow_seeds):
    _check_train_table({k: v for k, v in table.items() if k != "seeds"}, where, options)
    for key, values in table.items():
        if not isinstance(values, list) or not values:
            raise TypeError(f"`{where}.{key}` must be a non-empty list of values; got {values!r}.")
    if "seeds" in table and not allow_seeds:
        raise ValueError(f"`{where}.seeds` is set once, in [grid] seeds.")


def _read_toml(path):
    try:
        with open(path, "rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise FileNotFoundError(f"study file {str(path)!r} not found.") from None
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{path} is not valid TOML: {exc}") from exc


def load_study(path):
    """Read and validate a study file; nothing is written.

    Parameters
    ----------
    path : str or path
        A TOML file with the sections ``[data]``, ``[train]``, ``[grid]``, ``[[methods]]``
        and ``[report]`` (see the user guide, "Studies"). Relative paths in it are relative
        to the file.

    Returns
    -------
    Study

    Raises
    ------
    FileNotFoundError
        If the file or the dataset folder ``[data] root`` does not exist.
    ValueError
        If the file is not TOML, or a key is unknown or misplaced, a loss is unknown, a loss
        parameter is not an argument of its loss, the reference is not among the methods,
        or a method runs at a setting where the reference does not (the message names the
        key).
    TypeError
        If a value has the wrong type (the message names the key).
    """
    path = Path(path).resolve()
    raw = _read_toml(path)
    _check_keys(raw, SECTIONS, "study")
    for section in SECTIONS:
        if section not in raw:
            raise ValueError(f"`{section}` is missing: a study needs [{section}].")
    options = _train_defaults()
    data = _check_data(raw["data"], path.parent)
    train = dict(raw["train"])
    _check_train_table(train, "train", options)
    grid = dict(raw["grid"])
    _check_keys(grid, {"seeds", *options}, "grid")
    _check_grid(grid, "grid", options, allow_seeds=True)
    if "seeds" not in grid:
        raise ValueError("`grid.seeds` is missing: list the seeds, e.g. seeds = [0, 1, 2].")
    if not all(isinstance(s, int) and not isinstance(s, bool) for s in grid["seeds"]):
        raise TypeError(f"`grid.seeds` must be a list of ints; got {grid['seeds']!r}.")
    methods = _check_methods(raw["methods"], options)
    _check_keys(raw["report"], REPORT_KEYS, "report")
    reference = raw["report"].get("reference")
    names = [m["name"] for m in methods]
    if reference not in names:
        raise ValueError(
            f"`report.reference` must be the name of one of the [[methods]] {names}; "
            f"got {reference!r}."
        )
    defaults = {k: v for k, v in options.items() if k not in _PLACED_ELSEWHERE}
    study = Study(path, data, {**defaults, **train}, grid, methods, reference)
    _check_configs(study)
    return study


def _check_data(data, base):
    _check_keys(data, DATA_KEYS, "data")
    from speccal._names import DATASET_NAMES

    dataset = data.get("dataset")
    if dataset not in DATASET_NAMES:
        raise ValueError(f"`data.dataset` must be one of {DATASET_NAMES}; got {dataset!r}.")
    if ("root" in data) == ("phantoms" in data):
        raise ValueError(
            "`data` must have either `root` (a dataset folder) or `phantoms` (synthetic "
            "phantoms to write into the output folder); got "
            f"{'both' if 'root' in data else 'neither'}."
        )
    if "phantoms" in data:
        if dataset != "synthetic":
            raise ValueError(
                f"`data.phantoms` needs `data.dataset` = 'synthetic'; got {dataset!r}."
            )
        _check_keys(data["phantoms"], PHANTOM_KEYS, "data.phantoms")
        return {"dataset": dataset, "phantoms": dict(data["phantoms"])}
    root = (base / data["root"]).resolve()
    if not root.is_dir():
        raise FileNotFoundError(
            f"`data.root` must be an existing folder (relative to the study file); "
            f"got {data['root']!r} ({str(root)!r})."
        )
    return {"dataset": dataset, "root": str(root)}


def _check_methods(methods, options):
    if not isinstance(methods, list) or not methods:
        raise ValueError("`methods` must hold at least one [[methods]] entry.")
    checked = []
    for i, method in enumerate(methods):
        where = f"methods[{i}]"
        _check_keys(method, METHOD_KEYS, where)
        name = method.get("name")
        if not isinstance(name, str) or not name or "/" in name:
            raise ValueError(f"`{where}.name` must be a non-empty name; got {name!r}.")
        where = f"methods.{name}"
        if name in [m["name"] for m in checked]:
            raise ValueError(f"`{where}` is declared twice; method names must be unique.")
        loss = method.get("loss")
        if not isinstance(loss, str) or loss.lower() not in LOSS_NAMES:
            raise ValueError(f"`{where}.loss` must be one of {LOSS_NAMES}; got {loss!r}.")
        _check_keys(method.get("params", {}), _loss_arguments(loss.lower()), f"{where}.params")
        _check_train_table(method.get("train", {}), f"{where}.train", options)
        _check_grid(method.get("grid", {}), f"{where}.grid", options, allow_seeds=False)
        checked.append({**method, "loss": loss.lower()})
    return checked


def _loss_arguments(loss):
    """Names a loss takes (its constructor's arguments, as :func:`get_loss` accepts)."""
    return set(LOSS_ARGUMENTS[loss]) | ({"callback"} if loss == "crac" else set())


def _check_configs(study):
    """Build every trial's RunConfig (their own checks run) and check the pairing."""
    trials = study.trials("/nonexistent-study-output")
    reference = {_pair_key(t) for t in trials if t.method == study.reference}
    for trial in trials:
        if trial.method != study.reference and _pair_key(trial) not in reference:
            raise ValueError(
                f"`methods.{trial.method}` runs trial {trial.name!r} at a setting where the "
                f"reference {study.reference!r} does not run; add that setting to the "
                "reference's grid or train table."
            )


def _pair_key(trial):
    return json.dumps(trial.setting, sort_keys=True), trial.seed
