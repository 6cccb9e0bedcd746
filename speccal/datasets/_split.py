"""The 4:1:1 train/validation/test split by case (or patient), saved as a JSON manifest."""

import json
from pathlib import Path

import numpy as np

from speccal._atomic import write_atomic

SPLIT_NAMES = ("train", "val", "test")


def _ids_and_groups(cases):
    ids, groups = [], []
    for case in cases:
        if isinstance(case, str):
            ids.append(case)
            groups.append(case)
        else:
            ids.append(str(case.case_id))
            groups.append(str(getattr(case, "group", case.case_id)))
    if len(set(ids)) != len(ids):
        raise ValueError(
            "`cases` must have unique case ids; got duplicates "
            f"{sorted({i for i in ids if ids.count(i) > 1})}."
        )
    return ids, groups


def make_split(cases, path=None, *, ratio=(4, 1, 1), seed=0, overwrite=False):
    """Split cases into train/validation/test with a seeded shuffle of their groups.

    Cases of one group (an ACDC patient's ED and ES frames) always land in the same split.

    Parameters
    ----------
    cases : Dataset or sequence of Case or str
        Cases (their ``group`` is used when present) or plain case ids.
    path : str or path, optional
        Manifest JSON to write (``{"seed", "ratio", "train", "val", "test"}``).
    ratio : tuple of 3 int, default=(4, 1, 1)
        Train:validation:test proportions, counted in groups.
    seed : int, default=0
        Seed of the shuffle: the same cases and seed give the same split.
    overwrite : bool, default=False
        Replace an existing manifest.

    Returns
    -------
    dict
        ``{"train": [...], "val": [...], "test": [...]}`` of sorted case ids; validation and
        test hold at least one group each.

    Raises
    ------
    ValueError
        If there are fewer than 3 groups, ``ratio`` is not 3 non-negative ints with a
        positive train share, or ids repeat.
    FileExistsError
        If ``path`` exists and ``overwrite`` is False (read it with :func:`load_split`).

    Examples
    --------
    >>> from speccal.datasets import make_split
    >>> split = make_split([f"case{i}" for i in range(12)], seed=0)
    >>> [len(split[k]) for k in ("train", "val", "test")]
    [8, 2, 2]
    """
    ids, groups = _ids_and_groups(cases)
    ratio = tuple(ratio)
    if len(ratio) != 3 or any(int(r) != r or r < 0 for r in ratio) or ratio[0] <= 0:
        raise ValueError(f"`ratio` must be 3 non-negative ints with train > 0; got {ratio!r}.")
    unique = sorted(set(groups))
    if len(unique) < 3:
        raise ValueError(f"`cases` must hold at least 3 groups to split; got {len(unique)}.")
    order = np.random.default_rng(seed).permutation(len(unique))
    total = sum(ratio)
    n_val = max(1, round(len(unique) * ratio[1] / total))
    n_test = max(1, round(len(unique) * ratio[2] / total))
    n_val = min(n_val, len(unique) - n_test - 1)
    shuffled = [unique[i] for i in order]
    part_of = {g: "val" for g in shuffled[:n_val]}
    part_of.update({g: "test" for g in shuffled[n_val : n_val + n_test]})
    split = {name: [] for name in SPLIT_NAMES}
    for case_id, group in zip(ids, groups, strict=True):
        split[part_of.get(group, "train")].append(case_id)
    split = {name: sorted(split[name]) for name in SPLIT_NAMES}
    if path is not None:
        path = Path(path)
        if path.exists() and not overwrite:
            raise FileExistsError(
                f"split manifest {str(path)!r} already exists; read it with load_split() or "
                "pass overwrite=True."
            )
        manifest = {"seed": seed, "ratio": list(ratio), **split}
        write_atomic(path, json.dumps(manifest, indent=2) + "\n")
    return split


def load_split(path):
    """Read a split manifest written by :func:`make_split`.

    Parameters
    ----------
    path : str or path

    Returns
    -------
    dict
        ``{"train": [...], "val": [...], "test": [...]}``.

    Raises
    ------
    FileNotFoundError
        If the file is missing.
    ValueError
        If it is not valid JSON, misses a split, or a case appears in two splits (the message
        names the file).

    Examples
    --------
    >>> import pathlib, tempfile
    >>> from speccal.datasets import load_split, make_split
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "split.json"
    >>> made = make_split(["a", "b", "c", "d", "e", "f"], path, seed=0)
    >>> load_split(path) == made
    True
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"split manifest {str(path)!r} does not exist.")
    try:
        manifest = json.loads(path.read_text())
        split = {name: [str(c) for c in manifest[name]] for name in SPLIT_NAMES}
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"split manifest {str(path)!r} is corrupt: {exc!r}.") from exc
    seen = {}
    for name in SPLIT_NAMES:
        for case_id in split[name]:
            if case_id in seen:
                raise ValueError(
                    f"split manifest {str(path)!r} puts case {case_id!r} in both "
                    f"{seen[case_id]!r} and {name!r}."
                )
            seen[case_id] = name
    return split
