"""Dataset loaders, synthetic phantoms, preprocessing, augmentation and case splits.

Everything here is numpy/scipy/nibabel only: ``import speccal.datasets`` never imports
TensorFlow. The ``tf.data`` patch pipeline lives in :mod:`speccal.datasets.tfdata`, imported
only when used.
"""

from speccal.datasets._augment import Augmenter
from speccal.datasets._base import Case, Dataset
from speccal.datasets._decathlon import MedicalDecathlon, NNUNetRaw
from speccal.datasets._patches import PatchSampler
from speccal.datasets._preprocess import (
    PreprocessedCase,
    PreprocessedDataset,
    default_cache_dir,
    median_spacing,
    preprocess,
    resample,
    zscore,
)
from speccal.datasets._registry import DATASET_NAMES, get_dataset
from speccal.datasets._releases import (
    ACDC,
    ATLAS2023,
    FLARE2021,
    PROMISE12,
    BraTS2020,
    ISeg2017,
    read_info_cfg,
)
from speccal.datasets._split import load_split, make_split
from speccal.datasets._synthetic import SyntheticPhantoms


def __getattr__(name):
    # ``speccal.datasets.tfdata`` imports TensorFlow: only on first use
    if name == "tfdata":
        import importlib

        return importlib.import_module("speccal.datasets.tfdata")
    raise AttributeError(f"module 'speccal.datasets' has no attribute {name!r}")


__all__ = [
    "ACDC",
    "ATLAS2023",
    "DATASET_NAMES",
    "FLARE2021",
    "PROMISE12",
    "Augmenter",
    "BraTS2020",
    "Case",
    "Dataset",
    "ISeg2017",
    "MedicalDecathlon",
    "NNUNetRaw",
    "PatchSampler",
    "PreprocessedCase",
    "PreprocessedDataset",
    "SyntheticPhantoms",
    "default_cache_dir",
    "get_dataset",
    "load_split",
    "make_split",
    "median_spacing",
    "preprocess",
    "read_info_cfg",
    "resample",
    "zscore",
]
