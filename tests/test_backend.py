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
from fastnn import kernels

REPO = Path(__file__).resolve().parents[1]


def run_python(code, **env_vars):
    """Run ``code`` in a fresh interpreter with extra environment variables; return stdout."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("FASTNN_BACKEND", "FASTNN_NUM_THREADS", "OMP_NUM_THREADS", "OMP_WAIT_POLICY")}
    env.update(env_vars)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                          cwd=str(REPO), timeout=120)
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
    ("torch", ValueError, r"set_backend: unknown backend 'torch'; choose one of \('numpy', 'cython'\)"),
    ("", ValueError, r"unknown backend ''"),
    (None, TypeError, r"set_backend: expected a string, got NoneType"),
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
    assert set(info) == {"version", "backend", "compiled", "numpy_only", "missing_modules",
                         "openmp", "threads", "blas"}
    assert info["version"] == fastnn.__version__
    assert info["backend"] == fastnn.get_backend()
    assert sorted(info["compiled"] + info["numpy_only"]) == sorted(kernels.KERNEL_NAMES + kernels.CHANNELS_LAST_NAMES)
    assert isinstance(info["openmp"], bool)
    assert info["threads"] == fastnn.get_num_threads() >= 1
    assert isinstance(info["blas"], list)
    for lib in info["blas"]:
        assert {"internal_api", "version", "num_threads", "filepath"} <= set(lib)
    with fastnn.use_backend("numpy"):
        assert fastnn.backend_info()["backend"] == "numpy"


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
