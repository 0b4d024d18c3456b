"""Ctrl-C inside compiled kernels (issue #12, item 5): however many SIGINTs land while the
kernels run, BLAS gets the user's thread count back and the guard's counter returns to 0."""
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

import fastnn
from fastnn import _blas, kernels

ROOT = Path(__file__).resolve().parents[1]

#: SIGINTs sent to the child; FASTNN_TEST_SIGINTS raises it for a longer soak.
SIGNALS = int(os.environ.get("FASTNN_TEST_SIGINTS", "400"))

_CHILD = textwrap.dedent("""
    import json, os, sys
    import numpy as np
    import scipy.linalg.cython_blas
    from threadpoolctl import threadpool_info, threadpool_limits
    import fastnn
    from fastnn import _blas, kernels

    threadpool_limits(limits=2, user_api="blas")          # the user's own setting
    stop_file = sys.argv[1]
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 400)); W = rng.standard_normal((400, 300)); b = np.zeros(300)
    img = rng.standard_normal((8, 8, 12, 12)); filt = rng.standard_normal((8, 8, 3, 3))
    small = rng.standard_normal((4, 3, 12, 12)); filt3 = rng.standard_normal((4, 3, 3, 3))
    counts = {"interrupts": 0, "calls": 0}

    def work():
        while not os.path.exists(stop_file):
            try:
                out = kernels.affine_forward(x, W, b)
                kernels.affine_backward(out, x, W)
                y, _ = kernels.conv_forward(img, filt, np.zeros(8), 1, 1)       # stride 1
                kernels.conv_backward(y, img, filt, 1, 1)
                y, _ = kernels.conv_forward(small, filt3, np.zeros(4), 2, 1)   # stride 2
                kernels.conv_backward(y, small, filt3, 2, 1, need_dx=True)
                counts["calls"] += 1
            except KeyboardInterrupt:
                counts["interrupts"] += 1

    def guarded(levels):
        # An interrupt that lands in an except clause is caught one level up.
        while True:
            try:
                return work() if levels == 0 else guarded(levels - 1)
            except KeyboardInterrupt:
                counts["interrupts"] += 1

    print("ready", flush=True)
    guarded(4)
    threads = [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]
    print(json.dumps({"depth": _blas.depth(), "threads": threads, **counts}), flush=True)
""")


def test_repeated_sigint_during_kernels_restores_blas_threads_and_depth(tmp_path):
    stop_file = tmp_path / "stop"
    env = dict(os.environ, PYTHONPATH=str(ROOT), FASTNN_BACKEND="cython", PYTHONUNBUFFERED="1")
    proc = subprocess.Popen([sys.executable, "-c", _CHILD, str(stop_file)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT)
    try:
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(0.2)
        rng = np.random.default_rng(1)
        for _ in range(SIGNALS):
            proc.send_signal(signal.SIGINT)
            time.sleep(float(rng.uniform(0.0005, 0.004)))
        time.sleep(0.3)
        stop_file.write_text("")
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    report = json.loads(out.strip().splitlines()[-1])
    assert report["interrupts"] >= min(20, SIGNALS // 4)   # the signals did land (many coalesce under load)
    assert report["calls"] > 0
    assert report["depth"] == 0
    assert report["threads"] and all(n == 2 for n in report["threads"]), report


def test_the_compiled_guard_is_in_use_and_counts():
    guard = _blas.one_blas_thread()
    assert type(guard).__module__ == "fastnn._ext.blas_guard"
    assert _blas.depth() == 0
    with guard:
        with guard:
            assert _blas.depth() == 2
        assert _blas.depth() == 1
    assert _blas.depth() == 0


def test_a_keyboard_interrupt_raised_inside_the_block_restores(rng):
    from threadpoolctl import threadpool_info, threadpool_limits

    def threads():
        return [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]

    with threadpool_limits(limits=2, user_api="blas"):
        before = threads()
        with pytest.raises(KeyboardInterrupt):
            with _blas.one_blas_thread():
                assert all(n == 1 for n in threads())
                raise KeyboardInterrupt
        assert threads() == before and _blas.depth() == 0


def test_python_controls_are_restored_even_when_their_calls_are_interrupted():
    """Libraries driven through Python callables (MKL, BLIS, ...): an interrupt raised by the
    setter itself is retried, the state stays consistent, and the interrupt comes out."""
    from fastnn._ext.blas_guard import OneBlasThread

    state = {"n": 4, "fail_sets": 0, "fail_gets": 0}

    def get():
        if state["fail_gets"]:
            state["fail_gets"] -= 1
            raise KeyboardInterrupt
        return state["n"]

    def set_(n):
        state["n"] = n
        if state["fail_sets"]:                  # the change happened, then the interrupt
            state["fail_sets"] -= 1
            raise KeyboardInterrupt

    guard = OneBlasThread()
    guard.configure([], [(get, set_)])
    with guard:
        assert state["n"] == 1 and guard.depth == 1
    assert state["n"] == 4 and guard.depth == 0

    state["fail_sets"] = 1                      # interrupted while limiting: nothing entered
    with pytest.raises(KeyboardInterrupt):
        with guard:
            raise AssertionError("the block must not run")
    assert state["n"] == 4 and guard.depth == 0

    state["fail_gets"] = 1                      # interrupted while reading the user's count
    with pytest.raises(KeyboardInterrupt):
        with guard:
            raise AssertionError("the block must not run")
    assert state["n"] == 4 and guard.depth == 0

    with pytest.raises(KeyboardInterrupt):      # interrupted while restoring: restored anyway
        with guard:
            state["fail_sets"] = 1
    assert state["n"] == 4 and guard.depth == 0


def test_kernels_still_agree_with_numpy_under_the_guard(rng):
    x, W = rng.standard_normal((16, 30)), rng.standard_normal((30, 7))
    with fastnn.use_backend("cython"):
        got = kernels.affine_forward(x, W, np.zeros(7))
    np.testing.assert_allclose(got, x @ W, rtol=1e-12, atol=1e-12)
    assert _blas.depth() == 0


def test_without_the_compiled_guard_the_python_one_limits_and_restores():
    code = textwrap.dedent("""
        import sys
        sys.modules["fastnn._ext.blas_guard"] = None      # as if it had not been built
        import numpy as np, scipy.linalg.cython_blas
        from threadpoolctl import threadpool_info, threadpool_limits
        from fastnn import _blas, kernels
        threadpool_limits(limits=2, user_api="blas")
        assert type(_blas.one_blas_thread()).__name__ == "_OneBlasThread"
        with _blas.one_blas_thread():
            assert all(l["num_threads"] == 1 for l in threadpool_info() if l["user_api"] == "blas")
        x = np.ones((8, 5))
        kernels.affine_forward(x, np.ones((5, 3)), np.zeros(3))
        assert _blas.depth() == 0
        assert all(l["num_threads"] == 2 for l in threadpool_info() if l["user_api"] == "blas")
        print("ok")
    """)
    env = dict(os.environ, PYTHONPATH=str(ROOT), FASTNN_BACKEND="cython")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT,
                          timeout=120)
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr
