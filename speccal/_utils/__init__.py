"""Private helpers shared by every speccal module: argument validators and docstring filling.

numpy and scikit-learn only (never TensorFlow), so both sides of the package use them.
Every validator raises with one message format, "`name` must be <constraint>; got <value>.",
and one policy: :class:`TypeError` when the value has the wrong type, :class:`ValueError`
when it has the right type and a wrong value.
"""

from speccal._utils._docs import fill_doc
from speccal._utils._validation import check_bool, check_option, check_scalar

__all__ = ["check_bool", "check_option", "check_scalar", "fill_doc"]
