"""fastnn's version: the one place it is written.

pyproject.toml reads it (``[tool.setuptools.dynamic]``), so the installed
package metadata, ``fastnn.__version__`` and ``fastnn --version`` agree.
"""
__version__ = "0.1.0"
