"""What the documentation says can be trusted: summaries, file mentions, switcher.

- every public object's one-line summary, as autosummary extracts it for the API tables,
  is a full sentence (autosummary cuts at the first ". ", so "(Eq. 9)" in the first
  sentence leaves "... (Eq." in the table);
- every repository file a page mentions (docs/**/*.rst, the gallery scripts and READMEs,
  README.md) exists;
- the version switcher's JSON (read at build time from the repository) lists this version.
"""

import importlib
import inspect
import json
import re
from pathlib import Path

import pytest
from docutils.frontend import get_default_settings
from docutils.parsers.rst import Parser
from sphinx.ext.autosummary import extract_summary

import speccal

REPO = Path(__file__).resolve().parents[1]
API = REPO / "docs" / "api.rst"
#: Words that end with a period but do not end a sentence.
ABBREVIATIONS = ("Eq.", "Eqs.", "Fig.", "Figs.", "Alg.", "al.", "e.g.", "i.e.", "cf.", "vs.")


def _api_names():
    names, in_autosummary = [], False
    for line in API.read_text().splitlines():
        if line.startswith(".. autosummary::"):
            in_autosummary = True
        elif in_autosummary and line.strip() and not line.startswith(" "):
            in_autosummary = False
        elif in_autosummary and re.fullmatch(r"   [a-z_]+(\.\w+)+", line):
            names.append(line.strip())
    return names


def _resolve(name):
    module_name, _, attribute = name.rpartition(".")
    while True:
        try:
            module = importlib.import_module(f"speccal.{module_name}")
            break
        except ModuleNotFoundError:
            module_name, _, parent = module_name.rpartition(".")
            attribute = f"{parent}.{attribute}"
    obj = module
    for part in attribute.split("."):
        obj = getattr(obj, part)
    return obj


API_NAMES = _api_names()


def test_api_reference_is_parsed():
    assert len(API_NAMES) > 90, API_NAMES
    assert "losses.CESpectral" in API_NAMES and "metrics.segmentation_scores" in API_NAMES


def summary_problem(summary):
    """Why ``summary`` is not a full sentence, or None."""
    if not summary.endswith("."):
        return "does not end with a period"
    if summary.endswith(ABBREVIATIONS):
        return "ends inside an abbreviation"
    if summary.count("(") != summary.count(")") or summary.count("[") != summary.count("]"):
        return "ends inside a parenthesis"
    return None


@pytest.mark.parametrize(
    ("summary", "problem"),
    [
        ("The spectral entropy hinge of Eq. 9.", None),
        ("Spectral entropy hinge (Eq.", "ends inside an abbreviation"),
        ("The band powers of the spectrum (see Fig.", "ends inside an abbreviation"),
        ("Band powers (all bands.", "ends inside a parenthesis"),
        ("Band powers", "does not end with a period"),
    ],
)
def test_summary_problem(summary, problem):
    assert summary_problem(summary) == problem


def test_autosummary_cuts_at_an_abbreviation():
    settings = get_default_settings(Parser)
    assert extract_summary(["The hinge (Eq. 9) of a batch. More."], settings) == "The hinge (Eq."


@pytest.mark.parametrize("name", API_NAMES)
def test_api_summary_is_a_full_sentence(name):
    obj = _resolve(name)
    doc = inspect.getdoc(obj) if inspect.isclass(obj) or callable(obj) else None
    if not doc:  # a constant (e.g. a preset table): its summary is the #: comment
        pytest.skip(f"{name} has no docstring of its own")
    summary = extract_summary(doc.splitlines(), get_default_settings(Parser))
    problem = summary_problem(summary)
    assert problem is None, f"{name}: the API table shows {summary!r}, which {problem}"


#: Folders a built site or a run writes, mentioned as places, not as repository files.
GENERATED = ("docs/_build", "docs/auto_examples", "docs/generated")


def _pages():
    yield REPO / "README.md"
    built = [REPO / folder for folder in GENERATED]  # a local build's output, not pages
    yield from sorted(
        p for p in (REPO / "docs").rglob("*.rst") if not any(p.is_relative_to(b) for b in built)
    )
    yield from sorted((REPO / "examples").rglob("*.py"))
    yield from sorted((REPO / "examples").rglob("README.txt"))


#: A path into the repository (from one of its top-level folders), or a top-level file.
REPO_PATH = re.compile(
    r"(?<![\w/.:-])((?:speccal|docs|examples|tests|benchmarks)/[\w./-]*\w"
    r"|[A-Z][A-Z_]+\.md|setup\.py|setup\.cfg|pyproject\.toml)"
)


def _skipped(path):
    return path.startswith(GENERATED)


def test_repo_path_pattern():
    text = "see docs/study/spectral_regimes.toml, METRICS.md and https://x.org/docs/a.rst"
    assert REPO_PATH.findall(text) == ["docs/study/spectral_regimes.toml", "METRICS.md"]


@pytest.mark.parametrize("page", list(_pages()), ids=lambda p: str(p.relative_to(REPO)))
def test_page_mentions_only_files_that_exist(page):
    mentioned = {m for m in REPO_PATH.findall(page.read_text()) if not _skipped(m)}
    missing = sorted(m for m in mentioned if not (REPO / m).exists())
    assert not missing, f"{page.relative_to(REPO)} mentions files not in the repository: {missing}"


def test_version_switcher_lists_this_version():
    entries = json.loads((REPO / "docs" / "_static" / "switcher.json").read_text())
    versions = [entry["version"] for entry in entries]
    assert speccal.__version__ in versions
    assert all({"version", "url"} <= set(entry) for entry in entries)
    assert sum(bool(entry.get("preferred")) for entry in entries) == 1


def _python_requires():
    setup = (REPO / "setup.py").read_text()
    return re.search(r'python_requires=">=(\d+)\.(\d+)"', setup).groups()


@pytest.mark.parametrize("package", ["numpy", "scipy", "scikit-learn", "keras", "matplotlib"])
def test_python_requires_is_what_the_dependencies_require(package):
    from importlib.metadata import metadata

    needed = re.search(r">=\s*(\d+)\.(\d+)", metadata(package)["Requires-Python"]).groups()
    ours = _python_requires()
    assert tuple(map(int, ours)) >= tuple(map(int, needed)), (package, needed, ours)
    install = (REPO / "docs" / "install.rst").read_text()
    assert f"Python {ours[0]}.{ours[1]} or newer" in install
