"""scikit-learn's estimator checks on every post-hoc calibrator.

The calibrators read ``X`` as scores whose columns *are* the classes, so ``y`` must hold
integer labels in ``[0, X.shape[1])``. The common checks draw ``y`` independently of the
number of columns of ``X``; the checks listed below fail for that reason only, and each
entry says which mismatch triggers it.
"""

import pytest
from calibrators import ALL_CALIBRATORS
from sklearn.utils.estimator_checks import parametrize_with_checks

from speccal.posthoc import TemperatureScaling

_LABEL_OUT_OF_RANGE = (
    "make_blobs with 3 centres on 2 columns: label 2 is not a class of 2-column scores, "
    "rejected with '`y` must hold labels in [0, 2)'"
)

#: Checks that fail for every calibrator: labels outside the classes of X.
_ALL = {
    "check_estimators_overwrite_params": _LABEL_OUT_OF_RANGE,
    "check_estimators_fit_returns_self": _LABEL_OUT_OF_RANGE,
    "check_readonly_memmap_input": _LABEL_OUT_OF_RANGE,
}

_ABSENT = (
    "y does not use every column of X as a class; calibrators with per-class parameters "
    "reject an absent class (documented) with '`y` must contain every class'"
)

#: Extra failures of calibrators with per-class parameters: absent classes in y.
_PER_CLASS = {
    "check_n_features_in_after_fitting": _ABSENT,
    "check_positive_only_tag_during_fit": _ABSENT,
    "check_estimators_dtypes": _ABSENT,
    "check_dtype_object": _ABSENT,
    "check_pipeline_consistency": _ABSENT,
    "check_estimators_nan_inf": _ABSENT + " before the NaN check is reached",
    "check_estimators_pickle": _ABSENT,
    "check_fit2d_1sample": "one sample leaves all but one class absent; the error names the "
    "absent classes instead of '1 sample'",
}


def _expected_failed_checks(estimator):
    if isinstance(estimator, TemperatureScaling):
        return dict(_ALL)
    return {**_ALL, **_PER_CLASS}


# The checks' random scores carry no information about y, so the NLL-optimal temperature
# is "infinite" and TemperatureScaling warns that it hit the upper bound: expected there.
@pytest.mark.filterwarnings("ignore:The fitted temperature:sklearn.exceptions.ConvergenceWarning")
@parametrize_with_checks(
    [cls() for cls in ALL_CALIBRATORS],
    expected_failed_checks=_expected_failed_checks,
)
def test_sklearn_compatible_calibrator(estimator, check):
    check(estimator)
