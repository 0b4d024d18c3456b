"""Child processes of the tests run the same fastnn as the test process.

Installed (``pip install .``): the children import the installed package, so
no PYTHONPATH is added and they run in a neutral folder (``python -c`` and
``python -m`` put the current folder first on sys.path, and the checkout's
own ``fastnn/`` there has no compiled kernels). Tested from a checkout built
in place: the checkout goes on the children's PYTHONPATH.
"""
import os
import tempfile
from pathlib import Path

import fastnn

ROOT = Path(__file__).resolve().parents[1]
#: The folder holding the ``fastnn`` package this process imported.
PACKAGE_PARENT = Path(fastnn.__file__).resolve().parents[1]
#: A folder with nothing importable in it, for the children's current directory.
NEUTRAL_CWD = tempfile.mkdtemp(prefix="fastnn-test-child-")


def child_env(**extra):
    """``os.environ`` plus ``extra``, with PYTHONPATH leading to this process's fastnn
    only when that is the checkout (not importable otherwise)."""
    env = dict(os.environ)
    if PACKAGE_PARENT == ROOT:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env.update({k: str(v) for k, v in extra.items()})
    return env
