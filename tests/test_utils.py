"""speccal._utils: one message format, one exception policy, one docstring helper."""

import numpy as np
import pytest

from speccal._utils import check_bool, check_option, check_scalar, fill_doc


@pytest.mark.parametrize(
    ("value", "kwargs", "expected"),
    [
        (3, {"integer": True, "minimum": 1}, 3),
        (np.int64(3), {"integer": True, "minimum": 1}, 3),
        (0.5, {"minimum": 0, "maximum": 1}, 0.5),
        (np.float32(0.0), {"minimum": 0, "maximum": 1, "include_boundaries": "left"}, 0.0),
        (1, {}, 1.0),
        (None, {"allow_none": True}, None),
        (1e-6, {"minimum": 0, "include_boundaries": "right"}, 1e-6),
        (0.0, {"maximum": 0}, 0.0),
        (-1.0, {"maximum": 0, "include_boundaries": "left"}, -1.0),
    ],
)
def test_check_scalar_returns_python_numbers(value, kwargs, expected):
    result = check_scalar("x", value, **kwargs)
    assert result == expected and type(result) is type(expected)


@pytest.mark.parametrize(
    ("value", "kwargs", "message"),
    [
        ("3", {"integer": True, "minimum": 1}, r"`x` must be an int >= 1; got '3'\."),
        (2.0, {"integer": True}, r"`x` must be an int; got 2\.0\."),
        (True, {}, r"`x` must be a finite number; got True\."),
        (np.bool_(False), {"integer": True}, r"`x` must be an int; got np\.False_\."),
        (None, {"minimum": 0}, r"`x` must be a finite number >= 0; got None\."),
        ([1], {"allow_none": True}, r"`x` must be a finite number or None; got \[1\]\."),
    ],
)
def test_check_scalar_wrong_types_are_type_errors(value, kwargs, message):
    with pytest.raises(TypeError, match=message):
        check_scalar("x", value, **kwargs)


@pytest.mark.parametrize(
    ("value", "kwargs", "message"),
    [
        (0, {"integer": True, "minimum": 1}, r"`x` must be an int >= 1; got 0\."),
        (0.0, {"minimum": 0, "include_boundaries": "right"}, r"must be a finite number > 0;"),
        (1.0, {"maximum": 1, "include_boundaries": "left"}, r"must be a finite number < 1;"),
        (1.0, {"minimum": 0, "maximum": 1, "include_boundaries": "left"}, r"in \[0, 1\);"),
        (0, {"minimum": 0, "maximum": 1, "include_boundaries": "neither"}, r"in \(0, 1\);"),
        (5, {"integer": True, "minimum": 2, "maximum": 4}, r"an int in \[2, 4\]; got 5\."),
        (float("nan"), {}, r"`x` must be a finite number; got nan\."),
        (-np.inf, {"minimum": 0}, r"`x` must be a finite number >= 0; got -inf\."),
    ],
)
def test_check_scalar_wrong_values_are_value_errors(value, kwargs, message):
    with pytest.raises(ValueError, match=message):
        check_scalar("x", value, **kwargs)


def test_check_option_and_check_bool():
    assert check_option("mode", "a", ("a", "b")) == "a"
    assert check_option("taper", None, (None, "hamming")) is None
    with pytest.raises(ValueError, match=r"`mode` must be one of \('a', 'b'\); got 'c'\."):
        check_option("mode", "c", ("a", "b"))
    with pytest.raises(ValueError, match=r"`mode` must be one of \('a',\); got \[1\]\."):
        check_option("mode", [1], {"a"})
    assert check_bool("flag", np.True_) is True
    with pytest.raises(TypeError, match=r"`flag` must be a bool; got 1\."):
        check_bool("flag", 1)


def test_fill_doc_replaces_placeholders_and_keeps_other_braces():
    @fill_doc(x="x : int\n        A number.")
    def function():
        """Summary with a set {0, 1}.

        Parameters
        ----------
        {x}
        """

    assert "{0, 1}" in function.__doc__
    assert "        x : int\n        A number." in function.__doc__
    assert "{x}" not in function.__doc__


def test_fill_doc_leaves_objects_without_docstrings_alone():
    class Undocumented:
        pass

    assert Undocumented.__doc__ is None
    assert fill_doc(x="text")(Undocumented) is Undocumented
    assert Undocumented.__doc__ is None
