"""The ``Examples`` sections of the public docstrings run, and every public object has one.

For each public module, the objects it exports (``__all__``, else its public names) are searched
with :class:`doctest.DocTestFinder` (including methods and properties of classes), run in a
temporary working directory, and every failure is reported with the object's qualified name.
"""

import doctest
import importlib
import inspect
import os

import pytest

#: The public modules whose docstrings are user documentation.
MODULES = (
    "speccal.analysis",
    "speccal.datasets",
    "speccal.datasets.tfdata",
    "speccal.evaluation",
    "speccal.experiments",
    "speccal.inference",
    "speccal.losses",
    "speccal.metrics",
    "speccal.metrics.keras",
    "speccal.models",
    "speccal.plotting",
    "speccal.posthoc",
    "speccal.posthoc.keras",
    "speccal.spectral",
)

#: Public objects known to have no ``Examples`` section yet, reported to the lead. A gap not
#: listed here fails the test, and so does a listed object that has an example now (delete its
#: entry).
MISSING_EXAMPLES = {
    "speccal.datasets": ("speccal.datasets.PreprocessedCase",),
    "speccal.inference": ("speccal.inference.importance_map",),
    "speccal.posthoc": ("speccal.posthoc.stratified_subsample",),
}

OPTIONFLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


def public_objects(module):
    """``(qualified name, object)`` of the functions and classes a module exports."""
    names = getattr(module, "__all__", None)
    if names is None:
        names = [name for name in vars(module) if not name.startswith("_")]
    out = []
    for name in sorted(names):
        obj = getattr(module, name)
        defined_here = getattr(obj, "__module__", "").startswith("speccal")
        if (inspect.isclass(obj) or inspect.isfunction(obj)) and defined_here:
            out.append((f"{module.__name__}.{name}", obj))
    return out


def docstring_tests(module):
    """Doctests of every public object of ``module``, named by the exported name."""
    finder = doctest.DocTestFinder(exclude_empty=True)
    tests = []
    for qualname, obj in public_objects(module):
        home = inspect.getmodule(obj)
        globs = dict(vars(home)) if home is not None else {}
        for test in finder.find(obj, name=qualname, module=home, globs=globs):
            if test.examples:
                tests.append(test)
    return sorted(tests, key=lambda test: test.name)


def run_doctests(tests, workdir):
    """Run ``tests`` in ``workdir``; return ``(n_examples, [(name, report), ...])``."""
    failures = []
    n_examples = 0
    old = os.getcwd()
    os.chdir(workdir)
    try:
        for test in tests:
            report = []
            runner = doctest.DocTestRunner(optionflags=OPTIONFLAGS, verbose=False)
            result = runner.run(test, out=report.append, clear_globs=True)
            n_examples += result.attempted
            if result.failed:
                failures.append((test.name, f"{test.name}:\n" + "".join(report)))
    finally:
        os.chdir(old)
    return n_examples, failures


@pytest.fixture(autouse=True)
def _agg_backend(pyplot):
    """Docstring plots draw on Agg and are closed afterwards."""
    yield


@pytest.mark.parametrize("module_name", MODULES)
def test_docstring_examples_run(module_name, tmp_path):
    module = importlib.import_module(module_name)
    tests = docstring_tests(module)
    n_examples, failures = run_doctests(tests, tmp_path)
    assert not failures, (
        f"{len(failures)} failing docstring example(s) in {module_name}:\n"
        + "\n".join(report for _, report in failures)
    )
    assert n_examples > 0, f"{module_name} has no runnable docstring example"


@pytest.mark.parametrize("module_name", MODULES)
def test_every_public_object_has_an_example(module_name):
    module = importlib.import_module(module_name)
    missing = sorted(
        qualname
        for qualname, obj in public_objects(module)
        if ">>>" not in (inspect.getdoc(obj) or "")
    )
    known = set(MISSING_EXAMPLES.get(module_name, ()))
    new_gaps = [name for name in missing if name not in known]
    assert not new_gaps, (
        f"public objects of {module_name} without an Examples section: {new_gaps} "
        "(give each a runnable Examples section)"
    )
    stale = sorted(known - set(missing))
    assert not stale, f"MISSING_EXAMPLES lists objects that have an example now: {stale}"


def test_doctest_runner_reports_failures_by_name(tmp_path):
    """The harness itself: a wrong expected output is a failure that names the object."""

    def broken():
        """Return one.

        >>> 1 + 1
        3
        """

    test = doctest.DocTestFinder().find(broken, name="fake.broken", globs={})[0]
    n_examples, failures = run_doctests([test], tmp_path)
    assert n_examples == 1
    [(name, report)] = failures
    assert name == "fake.broken" and report.startswith("fake.broken:")
    assert "Expected:\n    3\nGot:\n    2" in report
