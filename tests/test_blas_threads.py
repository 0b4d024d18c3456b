"""BLAS stays on one thread inside the compiled kernels, and the user's setting survives.

See fastnn/_blas.py for why: OpenBLAS' workers, once woken, spin through
the OpenMP regions of the following kernels.
"""
import threading

import numpy as np
import pytest
import scipy.linalg.cython_blas  # noqa: F401  (load the kernels' BLAS before counting libraries)
from threadpoolctl import threadpool_info, threadpool_limits

import fastnn
from fastnn import kernels
from fastnn._blas import blas_may_thread, one_blas_thread, threaded_blas

from kernel_helpers import on_both_backends


def blas_threads():
    """Thread count of every loaded BLAS library, as threadpoolctl reads it."""
    return [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]


def test_one_blas_thread_limits_and_restores():
    with threadpool_limits(limits=2, user_api="blas"):
        before = blas_threads()
        assert before and all(n == 2 for n in before)
        with one_blas_thread():
            assert all(n == 1 for n in blas_threads())
            with one_blas_thread():                     # nested: still one, not restored early
                assert all(n == 1 for n in blas_threads())
            assert all(n == 1 for n in blas_threads())
        assert blas_threads() == before


def test_one_blas_thread_restores_after_an_error():
    with threadpool_limits(limits=2, user_api="blas"):
        before = blas_threads()
        with pytest.raises(RuntimeError, match="inside"):
            with one_blas_thread():
                raise RuntimeError("inside")
        assert blas_threads() == before


def test_one_blas_thread_works_from_another_python_thread():
    seen = []

    def worker():
        with one_blas_thread():
            seen.append(blas_threads())
        seen.append(blas_threads())

    with threadpool_limits(limits=2, user_api="blas"):
        t = threading.Thread(target=worker)
        t.start()
        t.join()
        assert all(n == 1 for n in seen[0])
        assert seen[1] == blas_threads()


def test_kernels_leave_the_users_blas_setting_alone(rng):
    x = rng.standard_normal((64, 300))
    W = rng.standard_normal((300, 80))
    img = rng.standard_normal((8, 3, 10, 10))
    filt = rng.standard_normal((4, 3, 3, 3))
    with threadpool_limits(limits=2, user_api="blas"):
        before = blas_threads()
        out = kernels.affine_forward(x, W, np.zeros(80))
        kernels.affine_backward(out, x, W)
        y, _ = kernels.conv_forward(img, filt, np.zeros(4), 1, 1)
        kernels.conv_backward(y, img, filt, 1, 1)
        assert blas_threads() == before


@pytest.mark.parametrize("threads", [2, 3])
@pytest.mark.parametrize("N, D, M", [(2, 700, 800), (101, 1500, 7), (5, 1, 300000)])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_affine_split_over_threads_matches_numpy(rng, threads, N, D, M, dtype):
    """Blocks of rows or of columns per thread, including empty blocks when N, D or M < threads."""
    x = rng.standard_normal((N, D)).astype(dtype)
    W = rng.standard_normal((D, M)).astype(dtype)
    b = rng.standard_normal(M).astype(dtype)
    dout = rng.standard_normal((N, M)).astype(dtype)
    rtol = 1e-10 if dtype == np.float64 else 1e-4
    previous = fastnn.set_num_threads(threads)
    try:
        ref, got = on_both_backends("affine_forward", x, W, b)
        refs, gots = on_both_backends("affine_backward", dout, x, W)
    finally:
        fastnn.set_num_threads(previous)
    scale = np.sqrt(D)
    np.testing.assert_allclose(got, ref, rtol=rtol, atol=rtol * scale)
    for r, g in zip(refs, gots):
        np.testing.assert_allclose(g, r, rtol=rtol, atol=rtol * np.sqrt(max(N, M)) * 10)


def test_threaded_blas_is_a_per_thread_block_that_nests():
    seen = {}

    def other():
        seen["other"] = blas_may_thread()

    assert not blas_may_thread()
    with threaded_blas():
        assert blas_may_thread()
        with threaded_blas(False):           # a no-op block: does not switch it off
            assert blas_may_thread()
        t = threading.Thread(target=other)
        t.start()
        t.join()
    assert not blas_may_thread() and seen["other"] is False
    with pytest.raises(RuntimeError):
        with threaded_blas():
            raise RuntimeError("boom")
    assert not blas_may_thread()


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_affine_with_threaded_blas_matches_the_split_products(rng, dtype):
    x = rng.standard_normal((100, 784)).astype(dtype)
    W = rng.standard_normal((784, 300)).astype(dtype)
    b = rng.standard_normal(300).astype(dtype)
    dout = rng.standard_normal((100, 300)).astype(dtype)
    rtol = 1e-10 if dtype == np.float64 else 1e-4
    with fastnn.use_backend("cython"):
        split = kernels.affine_forward(x, W, b), kernels.affine_backward(dout, x, W)
        with threadpool_limits(limits=2, user_api="blas"), threaded_blas():
            before = blas_threads()
            threaded = kernels.affine_forward(x, W, b), kernels.affine_backward(dout, x, W)
            assert blas_threads() == before
    for r, g in zip([split[0], *split[1]], [threaded[0], *threaded[1]]):
        assert g.dtype == dtype and g.shape == r.shape
        np.testing.assert_allclose(g, r, rtol=rtol, atol=rtol * 100)


def test_only_models_without_openmp_layers_thread_blas():
    from fastnn import keras
    L = keras.layers
    mlp = keras.Sequential([keras.Input((20,)), L.Dense(8, activation="relu"), L.Dropout(0.1), L.Dense(3)])
    cnn = keras.Sequential([keras.Input((8, 8, 1)), L.Conv2D(2, 3), L.Flatten(), L.Dense(3)])
    bn = keras.Sequential([keras.Input((20,)), L.Dense(8), L.BatchNormalization(), L.Dense(3)])
    assert mlp._graph.dense_only
    assert not cnn._graph.dense_only and not bn._graph.dense_only
