"""One docstring helper: shared parameter text written once (nilearn's ``docdict``)."""


def fill_doc(**texts):
    """Decorator that replaces each ``{key}`` of a docstring with ``texts[key]``.

    Plain replacement, not :meth:`str.format`, so the other braces of a docstring (sets in
    ``.. math::``, ``{"a", "b"}`` choices) stay as they are. Under ``python -OO`` docstrings
    are ``None`` and the object is returned unchanged.

    Parameters
    ----------
    **texts : str
        The text of each placeholder, indented as the docstring needs it.

    Returns
    -------
    callable
        A decorator for functions and classes; it returns the object it is given.

    Examples
    --------
    >>> @fill_doc(x="x : int\\n        A number.")
    ... def f(x):
    ...     '''Parameters
    ...     ----------
    ...     {x}
    ...     '''
    >>> print(f.__doc__.splitlines()[2].strip())
    x : int
    """

    def decorate(obj):
        if obj.__doc__ is not None:
            doc = obj.__doc__
            for key, text in texts.items():
                doc = doc.replace("{" + key + "}", text)
            obj.__doc__ = doc
        return obj

    return decorate
