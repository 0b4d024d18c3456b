"""Backend selection and the compiled build.

The environment variables are read at import, so those tests run a fresh
interpreter. ``test_every_kernel_is_compiled`` is the one that catches a
broken build (it runs after ``pip install``).
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import fastnn
from child import NEUTRAL_CWD, child_env
from fastnn import kernels

REPO = Path(__file__).resolve().parents[1]


def run_python(code, **env_vars):
    """Run ``code`` in a fresh interpreter with extra environment variables; return stdout."""
    env = child_env(**env_vars)
    for k in ("FASTNN_BACKEND", "FASTNN_NUM_THREADS", "OMP_NUM_THREADS", "OMP_WAIT_POLICY"):
        if k not in env_vars:
            env.pop(k, None)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                          cwd=NEUTRAL_CWD, timeout=120)
    return proc


# --------------------------------------------------------------------------
# The build
# --------------------------------------------------------------------------
def test_every_kernel_is_compiled():
    assert kernels.missing_modules() == {}, f"compiled modules failed to import: {kernels.missing_modules()}"
    assert kernels.compiled_kernels() == sorted(kernels.KERNEL_NAMES + kernels.CHANNELS_LAST_NAMES)


@pytest.mark.parametrize("module", kernels.COMPILED_MODULES)
def test_compiled_modules_define_their_kernels(module):
    import importlib
    ext = importlib.import_module("fastnn._ext." + module)
    defined = [name for name in kernels.KERNEL_NAMES + kernels.CHANNELS_LAST_NAMES if hasattr(ext, name)]
    assert defined, f"fastnn._ext.{module} defines none of the kernels"


# --------------------------------------------------------------------------
# set_backend / use_backend
# --------------------------------------------------------------------------
def test_set_backend_returns_the_previous_one():
    start = fastnn.get_backend()
    try:
        assert fastnn.set_backend("numpy") == start
        assert fastnn.get_backend() == "numpy"
        assert fastnn.set_backend(" CYTHON ") == "numpy"      # case and spaces are forgiven
        assert fastnn.get_backend() == "cython"
    finally:
        fastnn.set_backend(start)


@pytest.mark.parametrize("bad, exc, pattern", [
    ("torch", ValueError, r"(set|use)_backend: unknown backend 'torch'; choose one of \('numpy', 'cython'\)"),
    ("", ValueError, r"unknown backend ''"),
    (None, TypeError, r"(set|use)_backend: expected a string, got NoneType"),
    (1, TypeError, r"expected a string, got int"),
])
def test_bad_backend_names_are_rejected(bad, exc, pattern):
    start = fastnn.get_backend()
    with pytest.raises(exc, match=pattern):
        fastnn.set_backend(bad)
    with pytest.raises(exc, match=pattern):
        with fastnn.use_backend(bad):
            pass
    assert fastnn.get_backend() == start


def test_use_backend_restores_even_after_an_error():
    start = fastnn.get_backend()
    other = "numpy" if start == "cython" else "cython"
    with fastnn.use_backend(other) as name:
        assert name == other and fastnn.get_backend() == other
        with fastnn.use_backend(start):
            assert fastnn.get_backend() == start
        assert fastnn.get_backend() == other
    assert fastnn.get_backend() == start
    with pytest.raises(RuntimeError, match="boom"):
        with fastnn.use_backend(other):
            raise RuntimeError("boom")
    assert fastnn.get_backend() == start


def test_use_backend_is_per_thread_and_two_threads_can_nest_it(rng):
    """Two threads nest use_backend in lock-step: each sees only its own choice,
    its kernels run on it, and the process default is left as it was."""
    import threading

    from fastnn import kernels

    default = fastnn.get_backend()
    barrier = threading.Barrier(2, timeout=30)
    seen = {0: [], 1: []}
    errors = []
    x = rng.standard_normal((8, 5))

    def which_impl():
        return "numpy" if kernels._impl("relu_forward") is kernels.numpy_kernels.relu_forward else "cython"

    def worker(i, outer, inner):
        try:
            barrier.wait()
            seen[i].append(fastnn.get_backend())                 # the default: no block yet
            with fastnn.use_backend(outer):
                barrier.wait()                                   # both threads are inside their block
                seen[i].append((fastnn.get_backend(), which_impl()))
                with fastnn.use_backend(inner):
                    barrier.wait()
                    seen[i].append((fastnn.get_backend(), which_impl()))
                    np.testing.assert_array_equal(fastnn.kernels.relu_forward(x), np.maximum(x, 0))
                    barrier.wait()
                barrier.wait()                                   # the other one left its inner block
                seen[i].append((fastnn.get_backend(), which_impl()))
            barrier.wait()
            seen[i].append(fastnn.get_backend())
        except Exception as exc:  # noqa: BLE001  (reported below)
            errors.append(exc)
            barrier.abort()

    threads = [threading.Thread(target=worker, args=(0, "numpy", "cython")),
               threading.Thread(target=worker, args=(1, "cython", "numpy"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    assert seen[0] == [default, ("numpy", "numpy"), ("cython", "cython"), ("numpy", "numpy"), default]
    assert seen[1] == [default, ("cython", "cython"), ("numpy", "numpy"), ("cython", "cython"), default]
    assert fastnn.get_backend() == default


def test_use_backend_is_per_asyncio_task():
    import asyncio

    default = fastnn.get_backend()

    async def task(name, started, other_started, read, other_read):
        with fastnn.use_backend(name):
            started.set()
            await other_started.wait()                           # both blocks open at once
            await asyncio.sleep(0)
            value = fastnn.get_backend()
            read.set()
            await other_read.wait()                              # neither leaves before both read
        return value

    async def main():
        a, b, ra, rb = (asyncio.Event() for _ in range(4))
        return await asyncio.gather(task("numpy", a, b, ra, rb), task("cython", b, a, rb, ra))

    assert asyncio.run(main()) == ["numpy", "cython"]
    assert fastnn.get_backend() == default


def test_set_backend_is_the_default_that_use_backend_overrides():
    start = fastnn.get_backend()
    try:
        fastnn.set_backend("cython")
        with fastnn.use_backend("numpy"):
            assert fastnn.set_backend("cython") == "cython"     # the default changes...
            assert fastnn.get_backend() == "numpy"              # ...but the block's choice holds
        assert fastnn.get_backend() == "cython"
    finally:
        fastnn.set_backend(start)


def test_the_backend_decides_which_implementation_runs(rng):
    # Both implementations give the same numbers, so look at the dispatch
    # itself (the private _impl) to see which one runs.
    x = rng.standard_normal((2, 3, 6, 6))
    with fastnn.use_backend("numpy"):
        assert kernels._impl("maxpool_forward") is kernels.numpy_kernels.maxpool_forward
        ref = kernels.maxpool_forward(x, 2, 2, 2, 0)
    with fastnn.use_backend("cython"):
        impl = kernels._impl("maxpool_forward")
        assert impl is not kernels.numpy_kernels.maxpool_forward
        assert impl.__module__ == "fastnn._ext.pool"
        got = kernels.maxpool_forward(x, 2, 2, 2, 0)
    np.testing.assert_array_equal(got[0], ref[0])
    np.testing.assert_array_equal(got[1], ref[1])


# --------------------------------------------------------------------------
# backend_info
# --------------------------------------------------------------------------
def test_backend_info_keys_and_values():
    info = fastnn.backend_info()
    assert set(info) == {"version", "backend", "running", "why", "compiled", "numpy_only",
                         "missing_modules", "openmp", "threads", "blas"}
    if info["backend"] == "cython":
        assert info["running"] == ("cython" if not info["numpy_only"] else "cython+numpy")
    assert info["version"] == fastnn.__version__
    assert info["backend"] == fastnn.get_backend()
    assert sorted(info["compiled"] + info["numpy_only"]) == sorted(kernels.KERNEL_NAMES + kernels.CHANNELS_LAST_NAMES)
    assert isinstance(info["openmp"], bool)
    assert info["threads"] == fastnn.get_num_threads() >= 1
    assert isinstance(info["blas"], list)
    for lib in info["blas"]:
        assert {"internal_api", "version", "num_threads", "filepath"} <= set(lib)
    with fastnn.use_backend("numpy"):
        info = fastnn.backend_info()
        assert info["backend"] == info["running"] == "numpy"
        chosen_by = "FASTNN_BACKEND=numpy" if os.environ.get("FASTNN_BACKEND") == "numpy" else "set_backend('numpy')"
        assert info["why"] == f"the NumPy kernels were chosen ({chosen_by})"


# --------------------------------------------------------------------------
# Environment variables (fresh interpreters)
# --------------------------------------------------------------------------
REPORT = (
    "import json, os, fastnn;"
    "print(json.dumps({'backend': fastnn.get_backend(), 'threads': fastnn.get_num_threads(),"
    "                  'wait_policy': os.environ.get('OMP_WAIT_POLICY')}))"
)


@pytest.mark.parametrize("value, expected", [(" NumPy ", "numpy"), ("cython", "cython"), ("", "cython")])
def test_fastnn_backend_environment_variable(value, expected):
    proc = run_python(REPORT, FASTNN_BACKEND=value)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["backend"] == expected


def test_bad_fastnn_backend_environment_variable_is_a_clear_error():
    proc = run_python("import fastnn; fastnn.get_backend()", FASTNN_BACKEND="gpu")
    assert proc.returncode != 0
    assert "ValueError: FASTNN_BACKEND must be one of ('numpy', 'cython'), got 'gpu'" in proc.stderr


def test_thread_count_environment_variables():
    proc = run_python(REPORT, FASTNN_NUM_THREADS="3", OMP_NUM_THREADS="5")
    result = json.loads(proc.stdout)
    assert result["threads"] == 3                                # FASTNN_ first
    assert result["wait_policy"] == "PASSIVE"                    # idle OpenMP threads sleep
    proc = run_python(REPORT, OMP_NUM_THREADS="5", OMP_WAIT_POLICY="ACTIVE")
    result = json.loads(proc.stdout)
    assert result["threads"] == 5
    assert result["wait_policy"] == "ACTIVE"                     # the user's choice is kept
    proc = run_python(REPORT, FASTNN_NUM_THREADS="many")
    assert proc.returncode != 0
    assert "FASTNN_NUM_THREADS must be a positive integer, got 'many'" in proc.stderr


def test_missing_compiled_module_falls_back_with_one_warning():
    # Simulate an install where no compiled module can be imported.
    code = (
        "import sys, warnings, json\n"
        f"for m in {tuple(kernels.COMPILED_MODULES)!r}:\n"
        "    sys.modules['fastnn._ext.' + m] = None\n"
        "import numpy as np, fastnn\n"
        "from fastnn import kernels\n"
        "with warnings.catch_warnings(record=True) as caught:\n"
        "    warnings.simplefilter('always')\n"
        "    out, arg = kernels.maxpool_forward(np.arange(16.).reshape(1, 1, 4, 4), 2, 2)\n"
        "    kernels.relu_forward(np.ones(3))\n"
        "info = fastnn.backend_info()\n"
        "print(json.dumps({'warnings': [str(w.message) for w in caught], 'out': out.ravel().tolist(),\n"
        "                  'compiled': info['compiled'], 'missing': sorted(info['missing_modules'])}))\n"
    )
    proc = run_python(code, FASTNN_BACKEND="cython")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert len(result["warnings"]) == 1 and "compiled kernels are not built" in result["warnings"][0]
    assert result["out"] == [5.0, 7.0, 13.0, 15.0]
    assert result["compiled"] == []
    assert result["missing"] == sorted(kernels.COMPILED_MODULES)


# --------------------------------------------------------------------------
# Threads do not change the numbers
# --------------------------------------------------------------------------
def test_compiled_results_do_not_depend_on_the_thread_count(rng):
    x = rng.standard_normal((64, 16, 14, 14))         # large enough to run threaded
    scores = rng.standard_normal((20000, 10))
    labels = rng.integers(0, 10, 20000)
    results = []
    with fastnn.use_backend("cython"):
        for n in (1, 2):
            previous = fastnn.set_num_threads(n)
            try:
                out, arg = kernels.maxpool_forward(x, 3, 3, 1, 1)
                dx = kernels.maxpool_backward(out, arg, x.shape, 3, 3, 1, 1)
                loss, y = kernels.softmax_cross_entropy_forward(scores, labels)
                relu = kernels.relu_forward(x)
                results.append((out, arg, dx, loss, y, relu))
            finally:
                fastnn.set_num_threads(previous)
    for one, two in zip(*results):
        np.testing.assert_array_equal(one, two)


NO_COMPILED_KERNELS = (
    "import sys\n"
    f"for m in {tuple(kernels.COMPILED_MODULES)!r}:\n"
    "    sys.modules['fastnn._ext.' + m] = None\n"
)


def test_without_compiled_kernels_every_report_says_numpy_runs_why_and_how_to_fix(tmp_path):
    code = NO_COMPILED_KERNELS + (
        "import json, warnings, numpy as np, fastnn\n"
        "from fastnn import cli, kernels\n"
        "with warnings.catch_warnings(record=True) as caught:\n"
        "    warnings.simplefilter('always')\n"
        "    kernels.relu_forward(np.ones(3))\n"
        "w = caught[0]\n"
        "print(json.dumps({'category': w.category.__name__, 'file': w.filename,\n"
        "                  'info': fastnn.backend_info()}))\n"
        "cli.main(['info'])\n"
        f"cli.main(['train', '--net', 'two_layer', '--quick', '--no-plot', '--output', {str(tmp_path)!r}])\n"
    )
    proc = run_python(code, FASTNN_BACKEND="cython", FASTNN_OFFLINE="1")
    assert proc.returncode == 0, proc.stderr
    first, rest = proc.stdout.split("\n", 1)
    result = json.loads(first)
    assert result["category"] == "KernelFallbackWarning"
    assert result["file"] == "<string>"          # the user's line, not one of fastnn's
    info = result["info"]
    assert (info["backend"], info["running"]) == ("cython", "numpy")
    assert "compiled kernels are not built" in info["why"] and "apt-get install build-essential" in info["why"]
    # fastnn info: which backend runs, why, how to get the compiled one
    assert "backend:  numpy (selected: cython) -- the NumPy fallback: the compiled kernels are not built" in rest
    # fastnn train: one plain line on stderr before the header; the header says NumPy
    assert proc.stderr.startswith("fastnn: running on the NumPy kernels (slower, same numbers)")
    assert len(proc.stderr.strip().splitlines()) == 1 and "warnings.warn" not in proc.stderr
    assert "NumPy kernels (the compiled ones are not built: see 'fastnn info')" in rest
