"""The documentation builds with warnings as errors, and every gallery example runs.

The full site (``python -m sphinx -W -b html docs docs/_build/html``) executes the gallery,
which trains a few tiny models and takes minutes. The suite splits that work:

- ``test_sphinx_build_warning_free`` builds the whole site with ``-W`` but without executing
  the gallery (``-D plot_gallery=0``): every page, the API reference (autosummary + numpydoc
  over all public docstrings) and the examples' text;
- ``test_gallery_example_runs`` runs each ``examples/**/plot_*.py`` copied alone into an
  empty folder, as a reader who downloads one script would (Agg backend); the ones that train
  a model are ``slow``.

Both work on copies in ``tmp_path``, so nothing is written into the source tree.
"""

import importlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((REPO / "examples").glob("*/plot_*.py"))

#: Examples that train a network (a few seconds to a minute each on 2 CPU cores).
TRAINING_SECTIONS = ("00_getting_started", "03_datasets", "04_training", "05_your_data")
TRAINING_EXAMPLES = {"plot_posthoc_calibration.py"}
#: All gallery scripts together take more CPU than the suite's budget for them (each dataset
#: example trains for ~45 s of CPU): the suite runs a representative subset (BraTS for the
#: multi-channel NIfTI loaders, PROMISE12 for MetaImage) and these four only with
#: SPECCAL_ALL_EXAMPLES=1; the full documentation build runs every one of them anyway.
ALL_EXAMPLES_ONLY = {"plot_acdc.py", "plot_flare2021.py", "plot_iseg2017.py", "plot_atlas2023.py"}
RUN_ALL_EXAMPLES = os.environ.get("SPECCAL_ALL_EXAMPLES") == "1"


def _env():
    env = dict(os.environ, MPLBACKEND="Agg", TF_CPP_MIN_LOG_LEVEL="2")
    for name in list(env):
        if name.startswith("SPECCAL_DATA_"):
            del env[name]  # the examples must run on their synthetic stand-ins here
    return env


def _trains(path):
    return path.parent.name in TRAINING_SECTIONS or path.name in TRAINING_EXAMPLES


def _copy_sources(tmp_path):
    for folder in ("docs", "examples"):
        shutil.copytree(
            REPO / folder,
            tmp_path / folder,
            ignore=shutil.ignore_patterns("_build", "auto_examples", "generated", "__pycache__"),
        )
    return tmp_path / "docs"


def test_gallery_sections_have_readmes():
    sections = sorted(p for p in (REPO / "examples").iterdir() if p.is_dir())
    assert (REPO / "examples" / "README.txt").is_file()
    missing = [
        p.name for p in sections if p.name != "__pycache__" and not (p / "README.txt").is_file()
    ]
    assert not missing, f"gallery sections without README.txt: {missing}"
    assert len(EXAMPLES) >= 10, [p.name for p in EXAMPLES]


@pytest.mark.parametrize(
    "name",
    ["brats2020", "acdc", "flare2021", "iseg2017", "atlas2023", "promise12"],
)
def test_one_example_per_dataset(name):
    assert (REPO / "examples" / "03_datasets" / f"plot_{name}.py").is_file()


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_gallery_example_has_title_cells_and_analysis(path):
    text = path.read_text()
    assert text.startswith('"""\n'), f"{path.name} must open with an RST title docstring"
    title, underline = text.splitlines()[1:3]
    assert title.strip() and set(underline) == {"="} and len(underline) >= len(title)
    assert text.count("# %%") >= 2, f"{path.name} must be split into # %% cells"
    assert "# Analysis\n# --------" in text, f"{path.name} must close with an analysis cell"


@pytest.mark.parametrize("module_name", ["analysis", "plotting"])
def test_api_reference_lists_every_public_name(module_name):
    module = importlib.import_module(f"speccal.{module_name}")
    api = (REPO / "docs" / "api.rst").read_text()
    listed = {line.strip() for line in api.splitlines()}
    missing = [name for name in module.__all__ if f"{module_name}.{name}" not in listed]
    assert not missing, f"docs/api.rst does not list speccal.{module_name}: {missing}"


def _marks(path):
    marks = [pytest.mark.slow] if _trains(path) else []
    if path.name in ALL_EXAMPLES_ONLY:
        reason = "one of the subset run only with SPECCAL_ALL_EXAMPLES=1 (CPU budget)"
        marks.append(pytest.mark.skipif(not RUN_ALL_EXAMPLES, reason=reason))
    return marks


@pytest.mark.parametrize(
    "path",
    [pytest.param(p, marks=_marks(p)) for p in EXAMPLES],
    ids=lambda p: f"{p.parent.name}/{p.name}",
)
def test_gallery_example_runs(path, tmp_path):
    work = tmp_path / "downloaded"
    work.mkdir()
    shutil.copy(path, work)  # alone: no helper module, no data beside it
    result = subprocess.run(
        [sys.executable, path.name],
        cwd=work,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, f"{path.name} failed:\n{result.stdout}\n{result.stderr}"


def test_sphinx_build_warning_free(tmp_path):
    docs = _copy_sources(tmp_path)
    out = tmp_path / "html"
    result = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html"]
        + ["-D", "plot_gallery=0", str(docs), str(out)],
        env=_env(),
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, f"sphinx-build -W failed:\n{result.stderr[-20000:]}"
    for page in ("index.html", "api.html", "auto_examples/index.html", "user_guide/method.html"):
        assert (out / page).is_file(), page
    _check_built_site(out)
    _check_examples_using(docs, out)
    for path in EXAMPLES:
        page = out / "auto_examples" / path.parent.name / f"{path.stem}.html"
        assert page.is_file(), page
    written = {p.name for p in docs.iterdir()} - {p.name for p in (REPO / "docs").iterdir()}
    assert written <= {"_build", "auto_examples", "generated"}, (
        f"the build wrote {sorted(written)} into docs/ (only git-ignored folders may appear)"
    )


def _check_built_site(out):
    """What a reader of the built HTML depends on (called on the -W build above)."""
    from speccal.cli import COMMANDS

    # the command-line reference is generated from the parser: every command is on it
    cli = (out / "cli.html").read_text()
    missing = [name for name in COMMANDS if f'id="speccal-{name}"' not in cli]
    assert not missing, f"cli.html lacks the commands {missing}"
    assert "--train-cases" in cli and "--save-maps" in cli
    # formulas render offline: MathJax is served from the site, no page loads it from a CDN
    method = (out / "user_guide" / "method.html").read_text()
    assert 'src="../_static/mathjax/tex-chtml.js"' in method
    assert (out / "_static" / "mathjax" / "tex-chtml.js").is_file()
    pages = sorted(out.rglob("*.html"))
    remote = [
        p.relative_to(out)
        for p in pages
        if any(cdn in p.read_text() for cdn in ("cdn.jsdelivr.net", "cdnjs.", "unpkg.com"))
    ]
    assert not remote, f"pages loading scripts from a CDN: {remote}"
    # no mention of a private module (speccal.<package>._<module>) on the API pages
    private = re.compile(r"(?<![/\w])speccal(\.[a-z]\w*)*\._[a-z]\w*")
    leaks = [p.name for p in (out / "generated").glob("*.html") if private.search(p.read_text())]
    assert not leaks, f"API pages linking private modules: {leaks}"
    # "Examples using X" on the API pages of what the examples use
    for name in ("metrics.segmentation_scores", "inference.sliding_window_predict"):
        page = (out / "generated" / f"speccal.{name}.html").read_text()
        assert "Examples using" in page and "plot_getting_started" in page, name
    # a dataset[i] is a Case: it has its own page
    assert (out / "generated" / "speccal.datasets.Case.html").is_file()
    # the version switcher is configured (its JSON is served from the site)
    assert (out / "_static" / "switcher.json").is_file()


def _check_examples_using(docs, out):
    """Every object an example uses has a page whose "Examples using" links that example.

    sphinx-gallery records what each example uses in ``backreferences_all.json`` (names
    such as ``speccal.plotting.ReliabilityDisplay.overlay``); the page is the object's own or,
    for a method or attribute, its class's (the autosummary class template lists them).
    """
    used = json.loads(
        (docs / "generated" / "backreferences" / "backreferences_all.json").read_text()
    )
    used = {name: examples for name, examples in used.items() if examples}
    assert "speccal.plotting.ReliabilityDisplay.overlay" in used, sorted(used)
    problems = []
    for name, examples in sorted(used.items()):
        pages = [out / "generated" / f"{n}.html" for n in (name, name.rpartition(".")[0])]
        page = next((p for p in pages if p.is_file()), None)
        if page is None:
            problems.append(f"{name} is used by examples but has no API page")
            continue
        text = page.read_text()
        section = text[text.find("Examples using") :] if "Examples using" in text else ""
        for fname, *_ in examples:
            if f"{Path(fname).stem}.html" not in section:
                problems.append(f"{page.name} lacks the example {fname} that uses {name}")
    assert not problems, problems
