"""Argument validators with one message format and one exception policy.

"`name` must be <constraint>; got <value>." — :class:`TypeError` for a wrong type,
:class:`ValueError` for a wrong value. Bounds are checked by :func:`sklearn.utils.check_scalar`;
around it, booleans are refused where numbers are expected and numbers must be finite.
"""

import numbers

import numpy as np
from sklearn.utils import check_scalar as _sklearn_check_scalar

#: ``include_boundaries`` of :func:`sklearn.utils.check_scalar` -> (low bracket, high bracket).
_BRACKETS = {"both": "[]", "left": "[)", "right": "(]", "neither": "()"}


def _interval(minimum, maximum, include_boundaries):
    low, high = _BRACKETS[include_boundaries]
    if minimum is not None and maximum is not None:
        return f" in {low}{minimum}, {maximum}{high}"
    if minimum is not None:
        return f" >= {minimum}" if low == "[" else f" > {minimum}"
    if maximum is not None:
        return f" <= {maximum}" if high == "]" else f" < {maximum}"
    return ""


def check_scalar(
    name,
    value,
    *,
    integer=False,
    minimum=None,
    maximum=None,
    include_boundaries="both",
    allow_none=False,
):
    """Return ``value`` as an ``int`` or a finite ``float`` after checking type and range.

    Parameters
    ----------
    name : str
        The argument's name, quoted in the message.
    value : object
        The value to check.
    integer : bool, default=False
        Require an integer (``numbers.Integral``, numpy integers included); otherwise any
        real number.
    minimum, maximum : float or None, default=None
        Bounds.
    include_boundaries : {"both", "left", "right", "neither"}, default="both"
        Which bounds are allowed values (as in :func:`sklearn.utils.check_scalar`, which
        checks them).
    allow_none : bool, default=False
        Accept ``None`` (returned as is; the message then says "or None").

    Returns
    -------
    int or float (or None)

    Raises
    ------
    TypeError
        If ``value`` is a bool, or not a real number (an integer when ``integer``).
    ValueError
        If ``value`` is NaN or infinite, or out of range.

    Examples
    --------
    >>> check_scalar("n_bins", 15, integer=True, minimum=1)
    15
    >>> check_scalar("threshold", 1.0, minimum=0, maximum=1, include_boundaries="left")
    Traceback (most recent call last):
    ...
    ValueError: `threshold` must be a finite number in [0, 1); got 1.0.
    """
    kind = numbers.Integral if integer else numbers.Real
    noun = "an int" if integer else "a finite number"
    if value is None and allow_none:
        return None
    constraint = noun + _interval(minimum, maximum, include_boundaries)
    message = f"`{name}` must be {constraint}{' or None' if allow_none else ''}; got {value!r}."
    if isinstance(value, bool | np.bool_) or not isinstance(value, kind):
        raise TypeError(message)
    if not np.isfinite(value):
        raise ValueError(message)
    # scikit-learn refuses a closed side without its bound: a missing bound is an open side
    low, high = _BRACKETS[include_boundaries]
    closed = (low == "[" and minimum is not None, high == "]" and maximum is not None)
    sides = {(True, True): "both", (True, False): "left", (False, True): "right"}
    try:
        _sklearn_check_scalar(
            value,
            name,
            kind,
            min_val=minimum,
            max_val=maximum,
            include_boundaries=sides.get(closed, "neither"),
        )
    except ValueError as exc:
        raise ValueError(message) from exc
    return int(value) if integer else float(value)


def check_option(name, value, options):
    """Return ``value`` after checking it is one of ``options``.

    Raises
    ------
    ValueError
        "`name` must be one of (...); got value." when it is not.

    Examples
    --------
    >>> check_option("method", "medpy", ("medpy", "monai"))
    'medpy'
    """
    try:
        known = value in options
    except TypeError:  # an unhashable value and a set or dict of options
        known = False
    if not known:
        raise ValueError(f"`{name}` must be one of {tuple(options)}; got {value!r}.")
    return value


def check_bool(name, value):
    """Return ``value`` as a ``bool`` after checking it is one (numpy's included).

    Raises
    ------
    TypeError
        When ``value`` is not a bool (``0`` and ``1`` are refused too).

    Examples
    --------
    >>> check_bool("symmetric", True)
    True
    """
    if not isinstance(value, bool | np.bool_):
        raise TypeError(f"`{name}` must be a bool; got {value!r}.")
    return bool(value)
