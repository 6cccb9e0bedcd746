"""Every post-hoc calibrator of :mod:`speccal.posthoc`, for the tests that cover them all.

Found by class rather than listed, so that a new calibrator is tested without editing the
tests that run over all of them.
"""

import inspect

import pytest

from speccal import posthoc
from speccal.posthoc._base import BaseCalibrator

#: The public calibrators, in the order of ``speccal.posthoc.__all__``.
ALL_CALIBRATORS = [
    obj
    for obj in (getattr(posthoc, name) for name in posthoc.__all__)
    if inspect.isclass(obj) and issubclass(obj, BaseCalibrator)
]

#: The calibrators with parameters per class (all but temperature scaling).
PER_CLASS_CALIBRATORS = [cls for cls in ALL_CALIBRATORS if cls is not posthoc.TemperatureScaling]

#: Runs a test once per calibrator, as ``cls``, named by the class.
each_calibrator = pytest.mark.parametrize("cls", ALL_CALIBRATORS, ids=lambda c: c.__name__)
