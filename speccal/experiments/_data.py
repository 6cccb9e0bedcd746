"""Cases of a run: the dataset, its seeded 4:1:1 split and the preprocessed volumes."""

import dataclasses
from pathlib import Path

import numpy as np

SPLIT_FILE = "split.json"


@dataclasses.dataclass
class Volume:
    """One labelled case held in memory (image ``(*spatial, n_modalities)`` float32).

    ``affine`` maps the (preprocessed) voxel grid to world millimetres.
    """

    case_id: str
    image: np.ndarray
    label: np.ndarray
    spacing: tuple
    affine: np.ndarray = None


def open_dataset(name, root):
    """Open the labelled (training) release of a dataset by name, lazily.

    Parameters
    ----------
    name : str
        Dataset name for :func:`speccal.datasets.get_dataset`.
    root : str or path
        Dataset folder.

    Returns
    -------
    speccal.datasets.Dataset
        The loader; nothing is read until a case's arrays are used.

    Raises
    ------
    ValueError, FileNotFoundError
        From the loader: an unknown name lists the valid ones, a folder without the released
        layout says what was expected.
    """
    from speccal.datasets import get_dataset

    return get_dataset(name, root, split="train")


def run_split(run_dir, dataset, ratio, seed, *, write=True):
    """The run's train/val/test case ids: ``split.json`` in ``run_dir``, made on first use.

    Uses :func:`speccal.datasets.make_split` (a seeded 4:1:1 shuffle of case groups, so an
    ACDC patient's frames stay together; written atomically) and
    :func:`speccal.datasets.load_split`. With ``write=False`` a split not yet saved is only
    computed (the same one, as it is seeded).
    """
    from speccal.datasets import load_split, make_split

    path = Path(run_dir) / SPLIT_FILE
    if path.is_file():
        return load_split(path)
    return make_split(dataset, path if write else None, ratio=tuple(ratio), seed=seed)


def load_volumes(dataset, case_ids, cache_dir=None):
    """Preprocess (paper A.2) and read the given cases into memory.

    Parameters
    ----------
    dataset : speccal.datasets.Dataset or speccal.datasets.PreprocessedDataset
        The raw loader, or one already wrapped (then ``cache_dir`` is not used).
    case_ids : sequence of str
        Cases to load.
    cache_dir : str or path, optional
        Cache of :class:`speccal.datasets.PreprocessedDataset` (resampling to the median
        spacing of ``dataset``, z-score); default its own default folder.

    Returns
    -------
    list of Volume
        In the order of ``case_ids``; labels as int32.

    Raises
    ------
    ValueError
        If a case is not in ``dataset`` or has no label.
    """
    from speccal.datasets import PreprocessedDataset

    if isinstance(dataset, PreprocessedDataset):  # already wrapped (its median spacing read)
        prepared = dataset
    else:
        prepared = PreprocessedDataset(dataset, cache_dir=cache_dir)
    index = {case_id: i for i, case_id in enumerate(prepared.case_ids)}
    missing = [case_id for case_id in case_ids if case_id not in index]
    if missing:
        raise ValueError(
            f"`case_ids` must be cases of the dataset; {missing} are not (was the run's "
            "split.json made for another dataset?)."
        )
    volumes = []
    for case_id in case_ids:
        case = prepared[index[case_id]]
        if case.label is None:
            raise ValueError(f"case {case.case_id!r} has no label; runs need labelled cases.")
        volumes.append(
            Volume(
                case.case_id,
                np.asarray(case.image, dtype=np.float32),
                np.asarray(case.label, dtype=np.int32),
                tuple(float(s) for s in case.spacing),
                np.asarray(case.affine, dtype=np.float64),
            )
        )
    return volumes
