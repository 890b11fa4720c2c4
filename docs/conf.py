"""Sphinx configuration for the sciml documentation.

Built with ``make docs`` (``sphinx-build -W --keep-going -b html docs docs/_build/html``).
The build machine has no network access, so intersphinx is deliberately not used.
"""

import os
import sys
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as _pkg_version
from pathlib import Path

# Document the working tree even if sciml is not installed (editable installs make
# this a no-op).
sys.path.insert(0, os.path.abspath(".."))

# The benchmarks page, from the stored results (docs/benchmarks.rst is generated).
sys.path.insert(0, os.path.abspath("_ext"))
import benchmark_page

_docs = Path(__file__).resolve().parent
benchmark_page.write(_docs.parent / "benchmarks" / "results", _docs)

# -- Project information -----------------------------------------------------

project = "sciml"
author = "the sciml developers"
copyright = "2026, the sciml developers"
try:
    release = _pkg_version("sciml")
except PackageNotFoundError:
    release = "0.1.0"
version = ".".join(release.split(".")[:2])

# -- General configuration ---------------------------------------------------

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx-mathjax-offline",  # copies MathJax into _static: no CDN needed to read the docs
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]

templates_path = ["_templates"]
exclude_patterns = [
    "_build",
    "_ext",
    "Thumbs.db",
    ".DS_Store",
    "**.ipynb_checkpoints",
    "auto_examples/*.ipynb",
    "auto_examples/*.py",
    "auto_examples/*.zip",
    "auto_examples/*.codeobj.json",
    "auto_examples/*.md5",
]
nitpicky = False
default_role = "py:obj"

# -- autodoc / autosummary / numpydoc -----------------------------------------

autosummary_generate = True
autosummary_imported_members = True
autodoc_typehints = "none"  # numpydoc "Parameters" sections carry the types
autodoc_member_order = "bysource"

numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False

# -- sphinx-gallery ------------------------------------------------------------

sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    # Only plot_*.py scripts are executed; others are rendered without running.
    "filename_pattern": r"/plot_",
    "ignore_pattern": r"__init__\.py",
    "download_all_examples": False,
    "within_subsection_order": "FileNameSortKey",
    "image_scrapers": ("matplotlib",),
    "remove_config_comments": True,
    "show_memory": False,
}

# -- HTML output ---------------------------------------------------------------

html_theme = "pydata_sphinx_theme"
html_title = f"sciml {release}"
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "header_links_before_dropdown": 3,
}
# the guide pages have no sub-pages: no empty navigation column next to them
_guide_pages = (
    "index installation getting_started own_data linalg fem implicit data operators spon dcdm "
    "constraints benchmarks"
).split()
html_sidebars = {page: [] for page in _guide_pages}
html_static_path = ["_static"]
html_css_files = ["custom.css"]
html_show_sourcelink = False
