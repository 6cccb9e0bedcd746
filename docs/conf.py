"""Sphinx configuration for the speccal documentation."""

import os
import re
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("MPLBACKEND", "Agg")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import speccal

project = "speccal"
author = "the speccal developers"
copyright = "2026, the speccal developers"
release = speccal.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.intersphinx",
    "sphinx.ext.mathjax",
    # MathJax bundled into _static: formulas render without network (no CDN)
    "sphinx-mathjax-offline",
    "sphinx.ext.viewcode",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
    # the command-line reference, generated from speccal.cli.build_parser
    "sphinxarg.ext",
]

templates_path = ["_templates"]
exclude_patterns = ["_build", "auto_examples/*.ipynb", "auto_examples/**/*.ipynb"]
html_theme = "pydata_sphinx_theme"
html_title = f"speccal {release}"
html_static_path = ["_static"]
# The version switcher reads docs/_static/switcher.json, a file of the repository (no network
# at build time): list each published version there when it is released.
html_theme_options = {
    "switcher": {"json_url": "_static/switcher.json", "version_match": release},
    "navbar_end": ["version-switcher", "theme-switcher", "navbar-icon-links"],
    "secondary_sidebar_items": ["page-toc", "sourcelink"],
    "show_version_warning_banner": False,
}
# The public address of the source repository, when the site is built for publication:
# SPECCAL_REPOSITORY_URL=https://... adds a link to it in the navigation bar. Every page
# links its own source text ("Show Source") and every API page the Python source ([source]).
if os.environ.get("SPECCAL_REPOSITORY_URL"):
    html_theme_options["icon_links"] = [
        {
            "name": "Source repository",
            "url": os.environ["SPECCAL_REPOSITORY_URL"],
            "icon": "fa-brands fa-git-alt",
        }
    ]

autosummary_generate = True
autodoc_default_options = {"members": True, "inherited-members": False}
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_validation_checks = set()
# An override without its own docstring (Keras' ``call``, ``on_epoch_end``...) is not
# documented with its parent's docstring, whose markup is not ours to fix.
autodoc_inherit_docstrings = False

intersphinx_mapping = {
    "python": ("https://docs.python.org/3", None),
    "numpy": ("https://numpy.org/doc/stable", None),
    "sklearn": ("https://scikit-learn.org/stable", None),
    "keras": ("https://keras.io/api", None),
}
# The build machines have no network: intersphinx inventories are optional there.
intersphinx_timeout = 2
if os.environ.get("SPECCAL_DOCS_OFFLINE", "1") == "1":
    intersphinx_mapping = {}

sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    # "Examples using X" on the API page of every public class and function that an example
    # uses (the autosummary templates' minigallery)
    "doc_module": ("speccal",),
    "backreferences_dir": "generated/backreferences",
    "reference_url": {"speccal": None},
    "within_subsection_order": "FileNameSortKey",
    "download_all_examples": False,
    "remove_config_comments": True,
    # a cell's last expression (an Axes, a Text...) is not echoed: only what a script prints
    "capture_repr": (),
    "abort_on_example_error": True,
    "plot_gallery": "True",
    # no sg_execution_times.rst in docs/ (outside the git-ignored build folders)
    "write_computation_times": False,
}


# Shapes are written ``(batch, *spatial, n_classes)`` in docstrings: a bare ``*spatial`` would
# open RST emphasis. Escape a star that starts a name inside a tuple (after "(", "[", "," or a
# space, before ",", ")" or "]"), outside backticks and doctest lines, before numpydoc parses
# the docstring; ``*emphasis*`` stays emphasis.
_CODE_SPAN = re.compile(r"(``.*?``|`[^`]*`)")
_STARRED_NAME = re.compile(r"(?<=[(\[,\s])\*(?=[A-Za-z_]\w*\s*[,)\]])")


def _escape_starred_names(app, what, name, obj, options, lines):
    for i, line in enumerate(lines):
        if line.lstrip().startswith((">>>", "...")):
            continue
        parts = _CODE_SPAN.split(line)  # odd items are ``literals`` and `roles`
        parts[::2] = [_STARRED_NAME.sub(r"\\*", part) for part in parts[::2]]
        lines[i] = "".join(parts)


def _skip_metadata_routing(app, what, name, obj, skip, options):
    # scikit-learn generates set_{fit,score,...}_request on every estimator with metadata
    # routing; their docstrings point into scikit-learn's own glossary.
    return True if re.fullmatch(r"set_\w+_request", name) else None


def setup(app):
    app.connect("autodoc-process-docstring", _escape_starred_names, priority=100)
    app.connect("autodoc-skip-member", _skip_metadata_routing)
