"""Cases of a run: the seeded 4:1:1 split, in-memory volumes and random patch batches."""

import dataclasses
import json
from pathlib import Path

import numpy as np

SPLIT_FILE = "split.json"


@dataclasses.dataclass
class Volume:
    """One labelled case held in memory (image ``(*spatial, n_modalities)`` float32)."""

    case_id: str
    image: np.ndarray
    label: np.ndarray
    spacing: tuple


def open_dataset(name, root):
    """Open the labelled (training) release of a dataset by name.

    Parameters
    ----------
    name : str
        Dataset name for :func:`speccal.datasets.get_dataset`.
    root : str or path
        Dataset folder.

    Returns
    -------
    dataset
        The loader; indexing gives case objects with ``.image``, ``.label``, ``.spacing`` and
        ``.case_id``.

    Raises
    ------
    ValueError, FileNotFoundError
        From the loader: an unknown name lists the valid ones, a folder without the released
        layout says what was expected.
    """
    from speccal.datasets import get_dataset

    return get_dataset(name, root, split="train")


def split_cases(case_ids, ratio=(4, 1, 1), seed=0, groups=None):
    """Split case ids into train/validation/test by a seeded shuffle of their groups.

    Parameters
    ----------
    case_ids : sequence of str
        Labelled cases.
    ratio : tuple of 3 int, default=(4, 1, 1)
        Train:validation:test ratio (paper: 4:1:1), applied to the groups.
    seed : int, default=0
        Seed of the shuffle.
    groups : sequence of str, optional
        Group of each case; cases of one group (an ACDC patient's ED and ES frames) stay in
        one split. Default: every case is its own group.

    Returns
    -------
    dict
        ``{"train": [...], "val": [...], "test": [...]}`` (sorted case ids); validation and
        test hold at least one group each.

    Raises
    ------
    ValueError
        If fewer than 3 groups are given.

    Examples
    --------
    >>> parts = split_cases([f"c{i}" for i in range(12)], seed=1)
    >>> [len(parts[k]) for k in ("train", "val", "test")]
    [8, 2, 2]
    """
    case_ids = [str(c) for c in case_ids]
    groups = case_ids if groups is None else [str(g) for g in groups]
    unique = sorted(set(groups))
    if len(unique) < 3:
        raise ValueError(
            f"`case_ids` must hold at least 3 labelled cases (groups) to split; got {len(unique)}."
        )
    order = np.random.default_rng(seed).permutation(len(unique))
    n_val = max(1, round(len(unique) * ratio[1] / sum(ratio)))
    n_test = max(1, round(len(unique) * ratio[2] / sum(ratio)))
    n_train = max(1, len(unique) - n_val - n_test)
    n_val = len(unique) - n_train - n_test
    shuffled = [unique[i] for i in order]
    bounds = {"train": (0, n_train), "val": (n_train, n_train + n_val)}
    bounds["test"] = (n_train + n_val, len(unique))
    parts = {}
    for name, (lo, hi) in bounds.items():
        chosen = set(shuffled[lo:hi])
        parts[name] = sorted(c for c, g in zip(case_ids, groups, strict=True) if g in chosen)
    return parts


def run_split(run_dir, dataset, ratio, seed):
    """Read the run's ``split.json``, or make and write it on the first call."""
    path = Path(run_dir) / SPLIT_FILE
    if path.is_file():
        return json.loads(path.read_text())
    cases = list(dataset)
    groups = [getattr(case, "group", None) or case.case_id for case in cases]
    parts = split_cases([case.case_id for case in cases], ratio, seed, groups=groups)
    path.write_text(json.dumps(parts, indent=2) + "\n")
    return parts


def normalize_image(image):
    """z-score each channel over its non-zero voxels (paper A.2 for MRI).

    The loaders may already normalise; a second z-score is then the identity up to rounding.
    """
    image = np.asarray(image, dtype=np.float32)
    out = np.empty_like(image)
    for c in range(image.shape[-1]):
        channel = image[..., c]
        mask = channel != 0
        values = channel[mask] if mask.any() else channel.ravel()
        std = values.std()
        out[..., c] = (channel - values.mean()) / (std if std > 0 else 1.0)
    return out


def load_volumes(dataset, case_ids):
    """Read the given cases into memory as :class:`Volume` objects (labels as int32)."""
    wanted = set(case_ids)
    volumes = []
    for case in dataset:
        if case.case_id not in wanted:
            continue
        if case.label is None:
            raise ValueError(f"case {case.case_id!r} has no label; runs need labelled cases.")
        volumes.append(
            Volume(
                case.case_id,
                normalize_image(case.image),
                np.asarray(case.label, dtype=np.int32),
                tuple(float(s) for s in case.spacing),
            )
        )
    return volumes


def _crop(array, start, size):
    pads = [(0, max(0, st + sz - n)) for st, sz, n in zip(start, size, array.shape, strict=False)]
    if any(hi for _, hi in pads):
        array = np.pad(array, pads + [(0, 0)] * (array.ndim - len(size)))
    return array[tuple(slice(st, st + sz) for st, sz in zip(start, size, strict=True))]


def sample_patch(volume, patch_size, rng, foreground_fraction):
    """One random ``(image, label)`` patch; foreground-centred with probability given.

    Volumes smaller than the patch are zero-padded (label 0).
    """
    spatial = volume.label.shape
    foreground = rng.random() < foreground_fraction and volume.label.any()
    if foreground:
        voxels = np.argwhere(volume.label > 0)
        centre = voxels[rng.integers(len(voxels))]
        start = [
            int(np.clip(c - p // 2, 0, max(0, n - p)))
            for c, p, n in zip(centre, patch_size, spatial, strict=True)
        ]
    else:
        start = [
            int(rng.integers(0, max(0, n - p) + 1))
            for p, n in zip(patch_size, spatial, strict=True)
        ]
    return _crop(volume.image, start, patch_size), _crop(volume.label, start, patch_size)


def patch_batch(volumes, patch_size, batch_size, foreground_fraction, seed, step):
    """The training batch of one step, drawn from ``volumes`` with a ``(seed, step)`` RNG.

    Keying the generator by the global step makes a resumed run see exactly the batches an
    uninterrupted run would.

    Returns
    -------
    images : ndarray of shape (batch_size, *patch_size, n_modalities), float32
    labels : ndarray of shape (batch_size, *patch_size), int32
    """
    rng = np.random.default_rng([seed, step])
    pairs = [
        sample_patch(volumes[rng.integers(len(volumes))], patch_size, rng, foreground_fraction)
        for _ in range(batch_size)
    ]
    return np.stack([p[0] for p in pairs]), np.stack([p[1] for p in pairs])
