"""The configuration of a training run, saved as ``config.json`` inside the run directory."""

import dataclasses
import shutil
from pathlib import Path

from speccal.experiments._run_folder import read_json, write_json

CONFIG_FILE = "config.json"
STRATEGIES = ("default", "mirrored")


@dataclasses.dataclass
class RunConfig:
    """Everything needed to reproduce a training run.

    Parameters
    ----------
    dataset : str
        Dataset name for :func:`speccal.datasets.get_dataset` (e.g. ``"synthetic"``).
    root : str
        Folder holding the dataset in its released layout.
    loss : str, default="ce"
        Loss name for :func:`speccal.losses.get_loss`.
    loss_params : dict, default={}
        Keyword arguments of the loss (e.g. ``{"lam": 0.01, "window": 50, "bands": 5}``);
        for ``"crac"`` an entry ``"callback"`` holds the arguments of its ``CRaCCallback``.
    model : str, default="unet3d"
        Architecture name for :func:`speccal.models.get_model`.
    model_params : dict, default={}
        Keyword arguments of the architecture (``base_filters``, ``depth``, ...).
    epochs : int, default=10
        Training epochs.
    steps_per_epoch : int, default=20
        Batches per epoch (patches are sampled at random, so an epoch is a number of steps).
    patch_size : tuple of int, default=(32, 32, 32)
        Training patch size; the paper uses 96³.
    batch_size : int, default=2
        Patches per step (paper: 2).
    optimizer : str, default="sgd"
        ``"sgd"`` (the paper's) or ``"adam"``.
    learning_rate : float, default=0.01
        Initial learning rate (paper: 0.01).
    momentum : float, default=0.9
        SGD momentum. The paper states only "SGD, initial learning rate 0.01"; 0.9 is the usual
        value in the segmentation calibration code it compares against.
    foreground_fraction : float, default=0.5
        Share of patches centred on a random foreground voxel (the rest are uniform).
    augment : bool, default=False
        Augment training patches with :class:`speccal.datasets.Augmenter` (flips, gamma,
        noise, blur, brightness; paper A.2).
    seed : int, default=0
        Seed of the weights, the case split and the patch sampling.
    strategy : {"default", "mirrored"}, default="default"
        ``"mirrored"`` trains under ``tf.distribute.MirroredStrategy`` over the visible devices.
    split : tuple of int, default=(4, 1, 1)
        Train:validation:test ratio of the labelled cases (paper: 4:1:1).
    train_cases : int, optional
        Train on only the first ``train_cases`` cases of the training part of the split
        (all by default). Validation and test cases stay those of the split, so runs with
        smaller training sets are evaluated on the same test cases.
    overlap : float, default=0.5
        Window overlap of the sliding-window evaluation.
    cache_dir : str, optional
        Cache of the preprocessed cases (:class:`speccal.datasets.PreprocessedDataset`);
        default ``$SPECCAL_CACHE`` or ``~/.cache/speccal``. Never inside ``root``.

    Examples
    --------
    >>> cfg = RunConfig(dataset="synthetic", root="data", loss="cespectral",
    ...                 loss_params={"lam": 0.1})
    >>> RunConfig.from_dict(cfg.to_dict()) == cfg
    True
    """

    dataset: str
    root: str
    loss: str = "ce"
    loss_params: dict = dataclasses.field(default_factory=dict)
    model: str = "unet3d"
    model_params: dict = dataclasses.field(default_factory=dict)
    epochs: int = 10
    steps_per_epoch: int = 20
    patch_size: tuple = (32, 32, 32)
    batch_size: int = 2
    optimizer: str = "sgd"
    learning_rate: float = 0.01
    momentum: float = 0.9
    foreground_fraction: float = 0.5
    augment: bool = False
    seed: int = 0
    strategy: str = "default"
    split: tuple = (4, 1, 1)
    overlap: float = 0.5
    cache_dir: str | None = None
    train_cases: int | None = None

    def __post_init__(self):
        self.patch_size = tuple(int(p) for p in self.patch_size)
        self.split = tuple(int(s) for s in self.split)
        for name in ("epochs", "steps_per_epoch", "batch_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"`{name}` must be an int >= 1; got {value!r}.")
        if not self.patch_size or min(self.patch_size) < 1:
            raise ValueError(f"`patch_size` must hold positive ints; got {self.patch_size!r}.")
        if self.strategy not in STRATEGIES:
            raise ValueError(f"`strategy` must be one of {STRATEGIES}; got {self.strategy!r}.")
        if self.optimizer not in ("sgd", "adam"):
            raise ValueError(f"`optimizer` must be 'sgd' or 'adam'; got {self.optimizer!r}.")
        if not 0 < self.learning_rate < float("inf"):  # also refuses NaN
            raise ValueError(
                f"`learning_rate` must be > 0 and finite; got {self.learning_rate!r}."
            )
        if not 0 <= self.momentum <= 1:
            raise ValueError(f"`momentum` must be in [0, 1]; got {self.momentum!r}.")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or not 0 <= self.seed:
            raise ValueError(f"`seed` must be an int >= 0; got {self.seed!r}.")
        if self.seed >= 2**32:
            raise ValueError(f"`seed` must be an int < 2**32; got {self.seed!r}.")
        if not 0 <= self.foreground_fraction <= 1:
            raise ValueError(
                f"`foreground_fraction` must be in [0, 1]; got {self.foreground_fraction!r}."
            )
        if len(self.split) != 3 or min(self.split) < 1:
            raise ValueError(f"`split` must be three ints >= 1; got {self.split!r}.")
        if self.train_cases is not None and (
            isinstance(self.train_cases, bool)
            or not isinstance(self.train_cases, int)
            or self.train_cases < 1
        ):
            raise ValueError(
                f"`train_cases` must be None or an int >= 1; got {self.train_cases!r}."
            )

    def to_dict(self):
        """Return the configuration as a JSON-ready dict."""
        out = dataclasses.asdict(self)
        out["patch_size"] = list(self.patch_size)
        out["split"] = list(self.split)
        return out

    @classmethod
    def from_dict(cls, data):
        """Build a configuration from :meth:`to_dict` output (unknown keys are an error)."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(
                f"`config` has unknown keys {unknown}; expected a subset of {sorted(known)}."
            )
        return cls(**data)

    def save(self, run_dir):
        """Write ``config.json`` into ``run_dir`` (replaced in one step)."""
        return write_json(Path(run_dir) / CONFIG_FILE, self.to_dict())

    @classmethod
    def load(cls, run_dir):
        """Read ``config.json`` from ``run_dir``; a missing or corrupt file is named."""
        path = Path(run_dir) / CONFIG_FILE
        if not path.is_file():
            raise FileNotFoundError(
                f"{path} not found: `run_dir` must be a run made by `speccal train`."
            )
        return cls.from_dict(read_json(path))

    @property
    def method(self):
        """Short method label used in tables: the loss name."""
        return self.loss

    def _identity_fields(self):
        """The entries of ``metrics.json`` naming the run: method, dataset, loss, model, seed."""
        return {
            "method": self.method,
            "dataset": self.dataset,
            "loss_params": self.loss_params,
            "model": self.model,
            "seed": self.seed,
        }


def _content(path):
    """Entries of ``path`` other than the run lock file."""
    from speccal.experiments._lock import LOCK_FILE

    return [p for p in path.iterdir() if p.name != LOCK_FILE]


def check_output_dir(path, name, overwrite, hint=""):
    """Refuse an output folder that holds files unless ``overwrite`` (nothing is written).

    Raises ``NotADirectoryError`` when ``path`` is a file, and ``FileExistsError`` naming the
    argument ``name`` when ``path`` holds files other than a run's lock file and
    ``overwrite`` is false; ``hint`` ends the message.
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise NotADirectoryError(
            f"`{name}` must be a folder to create or fill; got the file {str(path)!r}."
        )
    if path.is_dir() and _content(path) and not overwrite:
        raise FileExistsError(
            f"`{name}` {str(path)!r} already exists and is not empty; pass --overwrite "
            f"to replace it{hint}."
        )
    return path


def empty_output_dir(path, name, overwrite, hint=""):
    """Create the output folder ``path``, or empty it when ``overwrite``.

    Raises ``FileExistsError`` naming the argument ``name`` when ``path`` holds files and
    ``overwrite`` is false; ``hint`` ends the message (e.g. another way out). A run's lock
    file (``.lock``) is neither counted nor removed: the caller may hold it.
    """
    path = check_output_dir(path, name, overwrite, hint)
    if path.is_dir():
        for entry in _content(path):
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
    path.mkdir(parents=True, exist_ok=True)
    return path
