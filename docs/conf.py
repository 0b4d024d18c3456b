"""Sphinx configuration of fastnn's API reference (built from the docstrings).

    pip install -e ".[docs]"
    sphinx-build -W -b html docs docs/_build/html
"""
import os
import sys

# Document the fastnn that is importable (the installed one, or this checkout).
sys.path.insert(0, os.path.abspath(".."))
os.environ.setdefault("MPLBACKEND", "Agg")

import fastnn  # noqa: E402

project = "fastnn"
author = "the fastnn developers"
copyright = "2026, the fastnn developers"
version = release = fastnn.__version__

extensions = ["sphinx.ext.autodoc", "sphinx.ext.napoleon", "sphinx.ext.viewcode"]
autodoc_default_options = {"members": True, "undoc-members": False, "show-inheritance": True}
autodoc_member_order = "bysource"
autodoc_typehints = "none"
napoleon_google_docstring = False
napoleon_numpy_docstring = True
# The optional libraries some modules import inside functions are not needed to
# document them; these are mocked if absent so the reference builds anywhere.
autodoc_mock_imports = ["torch", "h5py", "tensorboard", "tensorboardX", "sklearn", "pydot", "PIL"]

exclude_patterns = ["_build"]
html_theme = "alabaster"
html_static_path = []


def _literal_examples(app, what, name, obj, options, lines):
    """fastnn's docstrings show examples as an indented block after a paragraph
    (plain text, no ``::``); mark each such block as a literal (code) block so that
    reStructuredText does not read it as a quote or a definition list."""
    def indent(line):
        return len(line) - len(line.lstrip())

    out, paragraph = [], None   # paragraph: the last non-blank line before a blank one
    for i, line in enumerate(lines):
        starts_block = (line.strip() and i >= 2 and not lines[i - 1].strip() and paragraph is not None
                        and indent(line) > indent(paragraph) and not paragraph.rstrip().endswith("::")
                        and not paragraph.lstrip().startswith(("..", ":", "*", "-", ">>>")))
        if starts_block:
            out[-1:] = ["", " " * indent(paragraph) + "::", ""]
        out.append(line)
        if line.strip():
            paragraph = line if (i == 0 or not lines[i - 1].strip() or paragraph is None
                                 or indent(line) <= indent(paragraph)) else paragraph
    lines[:] = out


def setup(app):
    # before napoleon (priority 500) turns the NumPy-style sections into fields
    app.connect("autodoc-process-docstring", _literal_examples, priority=100)
