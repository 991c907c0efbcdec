"""Sphinx configuration of the gatedforecast documentation.

Build with ``make docs`` (warnings are errors). The example notebooks in
``examples/`` are copied into ``docs/examples/`` and rendered with the outputs they
are stored with (CI runs them on their own); user-guide pages written as MyST
notebooks (``{code-cell}``) are executed during the build.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import gatedforecast

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent

project = "gatedforecast"
author = "gatedforecast developers"
copyright = "gatedforecast developers"
release = gatedforecast.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "myst_nb",
]

source_suffix = {".rst": "restructuredtext", ".md": "myst-nb", ".ipynb": "myst-nb"}
exclude_patterns = [
    "_build",
    "_generated",  # included by benchmarks.md, not pages of their own
    "jupyter_execute",
    "**.ipynb_checkpoints",
]
templates_path = ["_templates"]

# -- API reference -----------------------------------------------------------
autosummary_generate = True
autodoc_typehints = "none"
autodoc_default_options = {"inherited-members": False}
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False
# the inherited sktime and scikit-learn docstrings refer to their own glossaries and
# labels, which do not exist here; these pages use neither :term: nor :ref:
suppress_warnings = ["ref.term", "ref.ref"]

# -- MyST and notebooks ------------------------------------------------------
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "deflist"]
myst_heading_anchors = 3
# the stored notebooks are shown as they are; code-cell pages run at build time
nb_execution_mode = "force"
nb_execution_excludepatterns = ["examples/*"]
nb_execution_timeout = 300
nb_execution_raise_on_error = True
nb_execution_show_tb = True
nb_merge_streams = True
# warnings printed by sktime while the pages run (its notices about future defaults)
# are not part of the examples
nb_output_stderr = "remove"

# -- HTML --------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"gatedforecast {release}"
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
}
html_static_path: list[str] = []


# -- generated inputs --------------------------------------------------------
def _copy_notebooks() -> None:
    """The example notebooks, copied next to the pages so that Sphinx finds them."""
    target = DOCS / "examples"
    target.mkdir(exist_ok=True)
    wanted = {p.name for p in (ROOT / "examples").glob("*.ipynb")}
    for stale in target.glob("*.ipynb"):
        if stale.name not in wanted:
            stale.unlink()
    for notebook in sorted((ROOT / "examples").glob("*.ipynb")):
        copy = target / notebook.name
        if not copy.exists() or copy.read_bytes() != notebook.read_bytes():
            shutil.copyfile(notebook, copy)


def _nested_headings(text: str) -> str:
    """A results file's own headings (``#``, ``##`` ...) moved below the ``###``
    that names the file; lines inside code fences are left alone."""
    lines, fenced = [], False
    for line in text.splitlines():
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced and line.startswith("#"):
            level = len(line) - len(line.lstrip("#"))
            if line[level : level + 1] == " ":
                line = "#" * min(level + 3, 6) + line[level:]
        lines.append(line)
    return "\n".join(lines)


def _benchmark_tables() -> None:
    """One section per results table in benchmarks/results/*.md, as they stand."""
    results = sorted((ROOT / "benchmarks" / "results").glob("*.md"))
    parts = []
    for table in results:
        text = _nested_headings(table.read_text().strip())
        parts.append(f"### `{table.name}`\n\n{text}\n")
    if not parts:
        parts.append("No benchmark results are committed yet.\n")
    out = DOCS / "_generated"
    out.mkdir(exist_ok=True)
    path = out / "benchmark-results.md"
    content = "\n".join(parts)
    if not path.exists() or path.read_text() != content:
        path.write_text(content)


_copy_notebooks()
_benchmark_tables()
