"""Dataset loaders by name: the one table from registry name to loader class."""

from speccal._names import DATASET_NAMES
from speccal.datasets._decathlon import MedicalDecathlon, NNUNetRaw
from speccal.datasets._releases import ACDC, ATLAS2023, FLARE2021, PROMISE12, BraTS2020, ISeg2017
from speccal.datasets._synthetic import SyntheticPhantoms

#: Loader class by its ``name``: the six releases and the synthetic phantoms, then users' own
#: data in the MSD and nnU-Net layouts. The keys are :data:`speccal._names.DATASET_NAMES`
#: (tested), which the command line reads without importing the loaders.
LOADERS = {
    loader.name: loader
    for loader in (
        BraTS2020,
        ACDC,
        FLARE2021,
        ISeg2017,
        ATLAS2023,
        PROMISE12,
        SyntheticPhantoms,
        MedicalDecathlon,
        NNUNetRaw,
    )
}


def get_dataset(name, root, split="train", **kwargs):
    """Open a dataset by its registry name.

    Parameters
    ----------
    name : {"brats2020", "acdc", "flare2021", "iseg2017", "atlas2023", "promise12",\
 "synthetic", "msd", "nnunet"}
        Dataset (case-insensitive): a release, the synthetic phantoms, or your own data in
        the Medical Segmentation Decathlon (:class:`MedicalDecathlon`) or nnU-Net v2 raw
        (:class:`NNUNetRaw`) layout.
    root : str or path
        The release folder or a folder containing it (for ``"synthetic"``: a folder written
        by :meth:`SyntheticPhantoms.write`; for ``"msd"`` and ``"nnunet"``: the folder
        holding ``dataset.json``).
    split : str, default="train"
        A split of that dataset (``"train"``, and ``"val"``/``"test"`` where released).
    **kwargs
        Passed to the loader.

    Returns
    -------
    Dataset
        The loader.

    Raises
    ------
    ValueError
        If ``name`` is unknown (the message lists the valid names) or ``split`` is invalid.
    FileNotFoundError
        If ``root`` does not hold the layout (the message says what was expected).

    Examples
    --------
    >>> import tempfile
    >>> from speccal.datasets import SyntheticPhantoms, get_dataset
    >>> root = tempfile.mkdtemp()
    >>> _ = SyntheticPhantoms.write(root, n_cases=3, shape=(12, 12, 8))
    >>> len(get_dataset("synthetic", root))
    3
    """
    key = str(name).lower()
    if key not in LOADERS:
        raise ValueError(f"`name` must be one of {', '.join(DATASET_NAMES)}; got {name!r}.")
    return LOADERS[key](root, split, **kwargs)
