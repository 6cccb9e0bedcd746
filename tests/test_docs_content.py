"""What the documentation says can be trusted: summaries, file mentions, switcher.

- every public object's one-line summary, as autosummary extracts it for the API tables,
  is a full sentence (autosummary cuts at the first ". ", so "(Eq. 9)" in the first
  sentence leaves "... (Eq." in the table);
- every repository file a page mentions (docs/**/*.rst, the gallery scripts and READMEs,
  README.md) exists;
- the version switcher's JSON (read at build time from the repository) lists this version;
- every public object a gallery example uses has an API page whose "Examples using" section
  (sphinx-gallery's minigallery, written by the autosummary templates) lists it: a class page
  lists the class and its methods and attributes;
- the source-repository link appears in the navigation bar when ``SPECCAL_REPOSITORY_URL``
  is set, and nowhere when it is not.
"""

import importlib
import inspect
import json
import os
import re
import runpy
import sys
from pathlib import Path
from types import SimpleNamespace

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


# ------------------------------------------------------------- "Examples using" sections


def _api_templates():
    """``{name: template}`` of the API entries (None: autosummary's choice by object type)."""
    templates, template = {}, None
    for line in API.read_text().splitlines():
        if line.startswith(".. autosummary::"):
            template = None
        elif line.startswith("   :template:"):
            template = line.split(":template:")[1].strip()
        elif re.fullmatch(r"   [a-z_]+(\.\w+)+", line):
            templates[line.strip()] = template
    return templates


def _page_text(name, template_name):
    """The reST that autosummary writes for ``speccal.<name>``, from docs/_templates."""
    from sphinx.ext.autosummary.generate import (
        AutosummaryRenderer,
        generate_autosummary_content,
    )

    obj = _resolve(name)
    qualname = name.rsplit(".", 1)[1]
    modname = f"speccal.{name.rsplit('.', 1)[0]}"
    app = SimpleNamespace(
        srcdir=REPO / "docs",
        config=SimpleNamespace(templates_path=["_templates"]),
        translator=None,
    )
    no_skips = SimpleNamespace(emit_firstresult=lambda *args, **kwargs: None)
    return generate_autosummary_content(
        f"speccal.{name}",
        obj,
        importlib.import_module(modname),
        AutosummaryRenderer(app),
        template_name,
        False,
        False,
        {},
        modname,
        qualname,
        config=None,
        events=no_skips,
    )


def minigallery_names(page):
    """The objects whose examples a page's minigallery shows, or None without one."""
    match = re.search(r"^\.\. minigallery:: (.*)$", page, flags=re.MULTILINE)
    return None if match is None else set(match.group(1).split())


def test_minigallery_names():
    page = "T\n=\n\n.. minigallery:: a.B a.B.fit\n   :add-heading: Examples using ``B``\n"
    assert minigallery_names(page) == {"a.B", "a.B.fit"}
    assert minigallery_names("T\n=\n\n.. autofunction:: f\n") is None


def _used_by_examples():
    """``{object: example names}`` as sphinx-gallery's backreferences record them.

    The same code sphinx-gallery runs on each example (its names are written as the
    shortest public import path, e.g. ``speccal.metrics.segmentation_scores``); without
    executing the examples, as ``-D plot_gallery=0`` builds do.
    """
    from sphinx_gallery.backreferences import _make_ref_regex, identify_names
    from sphinx_gallery.py_source_parser import split_code_and_text_blocks

    used = {}
    for path in sorted((REPO / "examples").glob("*/plot_*.py")):
        _, blocks, node = split_code_and_text_blocks(str(path), return_node=True)
        for objects in identify_names(blocks, _make_ref_regex(), None, node).values():
            for obj in objects:
                if obj["module"].startswith("speccal"):
                    name = f"{obj['module_short']}.{obj['name']}".removeprefix("speccal.")
                    used.setdefault(name, set()).add(path.name)
    return used


def api_page_of(name, api_names):
    """The API page that shows examples using ``name``: its own, or its class's."""
    if name in api_names:
        return name
    owner = name.rpartition(".")[0]
    return owner if owner in api_names and inspect.isclass(_resolve(owner)) else None


def test_examples_use_api_objects():
    used = _used_by_examples()
    assert {"metrics.segmentation_scores", "plotting.ReliabilityDisplay.overlay"} <= set(used)
    assert api_page_of("plotting.ReliabilityDisplay.overlay", API_NAMES) == (
        "plotting.ReliabilityDisplay"
    )
    assert api_page_of("metrics.segmentation_scores", API_NAMES) == "metrics.segmentation_scores"
    assert api_page_of("metrics.segmentation_scores.x", API_NAMES) is None


@pytest.mark.parametrize("name", API_NAMES)
def test_api_page_has_a_minigallery(name):
    """Every page can show "Examples using" (sphinx-gallery drops it when none does)."""
    listed = minigallery_names(_page_text(name, _api_templates()[name]))
    assert listed is not None and f"speccal.{name}" in listed, name


def test_examples_using_an_object_are_on_its_page():
    templates = _api_templates()
    listed = {}
    missing = []
    for name, examples in sorted(_used_by_examples().items()):
        page = api_page_of(name, API_NAMES)
        if page is None:
            missing.append(f"{name} (used by {sorted(examples)}) has no API page")
            continue
        if page not in listed:
            listed[page] = minigallery_names(_page_text(page, templates[page])) or set()
        if f"speccal.{name}" not in listed[page]:
            missing.append(f"the page of {page} does not show the examples using {name}")
    assert not missing, missing


# ------------------------------------------------------------- source-repository link


@pytest.mark.parametrize("url", [None, "https://example.org/speccal"])
def test_repository_url_gives_the_navbar_link(monkeypatch, url):
    # conf.py puts the repository first on sys.path and sets defaults in os.environ
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.setattr(os, "environ", dict(os.environ))
    if url is None:
        monkeypatch.delenv("SPECCAL_REPOSITORY_URL", raising=False)
    else:
        monkeypatch.setenv("SPECCAL_REPOSITORY_URL", url)
    conf = runpy.run_path(str(REPO / "docs" / "conf.py"))
    links = conf["html_theme_options"].get("icon_links", [])
    assert [link["url"] for link in links] == ([] if url is None else [url])
    assert "navbar-icon-links" in conf["html_theme_options"]["navbar_end"]


def test_the_quick_demo_runs_where_the_declared_rule_of_its_study_sends_it():
    """docs/study/demo_regime.toml: a length qualifies only if its spectral-vs-CE comparison
    there has a calibration metric with a Holm-adjusted p < 0.05 (and the main study's does
    too); with none, the demo runs 240 steps and says so."""
    from speccal.commands import demo

    report = (REPO / "docs" / "study" / "demo_regime" / "report.md").read_text()
    assert report.startswith("# Study report: demo_regime.toml\n\nStatus: 24 of 24 trials")
    qualifying = []
    sections = report.split("\n## speccal compare at ")[1:]
    for section in sections:
        rows = [
            [cell.strip() for cell in line.strip("|").split("|")]
            for line in section.splitlines()
            if line.startswith("| ") and "| cespectral |" in line
        ]
        holm = {row[0]: float(row[7]) for row in rows}
        assert len(holm) == 6 and all(0 <= p <= 1 for p in holm.values())
        if any(p < 0.05 for metric, p in holm.items() if not metric.startswith("DSC")):
            qualifying.append(section.splitlines()[0])
    assert len(sections) == 2  # 240 and 800 steps
    assert qualifying == []
    assert demo.QUICK["epochs"] * demo.QUICK["steps_per_epoch"] == 240
    assert "No regime was found informative at this size" in demo.QUICK_REGIME
