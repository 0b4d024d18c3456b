"""Affine layer kernels: the compiled (BLAS) version against NumPy, and gradients."""
import numpy as np
import pytest

import fastnn

from fastnn import kernels

from kernel_helpers import on_both_backends


def assert_close(got, ref, dtype):
    """Compiled vs NumPy: round-off of a length-D dot product, scaled to its magnitude."""
    assert got.dtype == dtype and got.shape == ref.shape
    scale = max(1.0, float(np.max(np.abs(ref)))) if ref.size else 1.0
    if dtype == np.float32:
        np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-5 * scale)
    else:
        np.testing.assert_allclose(got, ref, rtol=1e-10, atol=1e-12 * scale)


SHAPES = [
    (100, 784, 50),    # TwoLayerNet, first layer
    (100, 4320, 100),  # SimpleConvNet, hidden affine
    (100, 100, 10),    # SimpleConvNet, output affine
    (1, 1, 1),
    (1, 7, 3),         # batch 1
    (5, 3, 1),
    (13, 1, 9),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("N, D, M", SHAPES)
def test_forward_and_backward_match_numpy(N, D, M, dtype, rng):
    x = rng.standard_normal((N, D)).astype(dtype)
    W = (rng.standard_normal((D, M)) * 0.1).astype(dtype)
    b = rng.standard_normal(M).astype(dtype)
    dout = rng.standard_normal((N, M)).astype(dtype)
    ref, got = on_both_backends("affine_forward", x, W, b)
    assert_close(got, ref, dtype)
    refs, gots = on_both_backends("affine_backward", dout, x, W)
    for g, r in zip(gots, refs):
        assert_close(g, r, dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("threads", [2, 3, 5])
@pytest.mark.parametrize("N, D, M", [(100, 5408, 100), (3, 40, 2), (7, 4, 5), (1, 2, 1)])
def test_forward_split_along_the_inner_dimension(N, D, M, threads, dtype, rng, monkeypatch):
    """The product cut into blocks of D (one per thread, partial sums added in
    order) gives the NumPy twin's result, with the ReLU, on any thread count,
    also with fewer values of D than threads; and the same numbers every call."""
    from fastnn import _backend
    from fastnn._ext import dense
    monkeypatch.setattr(dense, "SPLIT_D_RATIO", 0)
    monkeypatch.setattr(dense, "PARALLEL_MIN_MADDS", 0)
    previous = _backend.set_num_threads(threads)
    try:
        x = rng.standard_normal((N, D)).astype(dtype)
        W = (rng.standard_normal((D, M)) * 0.1).astype(dtype)
        b = rng.standard_normal(M).astype(dtype)
        for relu in (False, True):
            ref, got = on_both_backends("affine_forward", x, W, b, relu)
            assert_close(got, ref, dtype)
            with fastnn.use_backend("cython"):            # the same numbers on every call
                np.testing.assert_array_equal(kernels.affine_forward(x, W, b, relu=relu), got)
    finally:
        _backend.set_num_threads(previous)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("threaded", [False, True])
@pytest.mark.parametrize("N, D, M", [(100, 784, 50), (32, 784, 300), (1, 7, 3)])
def test_backward_without_dx_gives_the_same_dW_db(N, D, M, dtype, threaded, rng):
    """need_dx=False: None for dx, the same dW and db, on both backends, with BLAS
    threading the products (a dense-only network) or not."""
    from fastnn._blas import threaded_blas
    x = rng.standard_normal((N, D)).astype(dtype)
    W = (rng.standard_normal((D, M)) * 0.1).astype(dtype)
    dout = rng.standard_normal((N, M)).astype(dtype)
    with threaded_blas(threaded):
        full_ref, full_got = on_both_backends("affine_backward", dout, x, W)
        ref, got = on_both_backends("affine_backward", dout, x, W, False)
    assert ref[0] is None and got[0] is None
    for g, r, full in zip(got[1:], ref[1:], full_got[1:]):
        assert_close(g, r, dtype)
        np.testing.assert_array_equal(g, full)      # the same products as with dx


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("threaded", [False, True])
@pytest.mark.parametrize("N, D, M", [(100, 784, 512), (100, 784, 50), (3, 5, 4)])
def test_forward_with_relu_is_relu_of_forward(N, D, M, dtype, threaded, rng):
    """relu=True gives relu_forward(affine_forward(...)) bit for bit, NaN and -0.0
    included, on both backends, with the products split over fastnn's threads
    (the first shape) or left to BLAS (a dense-only network)."""
    from fastnn._blas import threaded_blas
    x = rng.standard_normal((N, D)).astype(dtype)
    W = (rng.standard_normal((D, M)) * 0.1).astype(dtype)
    b = rng.standard_normal(M).astype(dtype)
    b[:2] = [np.nan, -np.inf]
    x[0, :] = 0.0
    b[2] = -0.0                                   # out[0, 2] = 0 + -0.0 = -0.0 before the ReLU
    with threaded_blas(threaded):
        for backend in ("numpy", "cython"):
            with fastnn.use_backend(backend):
                fused = kernels.affine_forward(x, W, b, relu=True)
                plain = kernels.relu_forward(kernels.affine_forward(x, W, b))
            np.testing.assert_array_equal(fused, plain)
            np.testing.assert_array_equal(np.signbit(fused), np.signbit(plain))
            assert fused.dtype == dtype and fused.shape == (N, M)
    with pytest.raises(TypeError, match="Affine.forward: relu must be True or False"):
        kernels.affine_forward(x, W, b, relu=1)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("threaded", [False, True])
@pytest.mark.parametrize("N, D, M", [(100, 784, 512), (32, 300, 100), (3, 5, 4)])
def test_backward_through_relu_is_backward_of_relu_backward(N, D, M, dtype, threaded, rng):
    """relu_out takes dout through the ReLU first, bit for bit as relu_backward does
    (NaN and inf gradients, outputs of 0 and NaN), on both backends, with or
    without dx, with the products split over fastnn's threads or left to BLAS."""
    from fastnn._blas import threaded_blas
    x = rng.standard_normal((N, D)).astype(dtype)
    W = (rng.standard_normal((D, M)) * 0.1).astype(dtype)
    out = kernels.relu_forward(rng.standard_normal((N, M)).astype(dtype))
    dout = rng.standard_normal((N, M)).astype(dtype)
    out[0, :3] = [0.0, np.nan, 1.0]
    dout[0, :3] = [np.inf, 1.0, np.nan]
    results = {}
    with threaded_blas(threaded):
        for backend in ("numpy", "cython"):
            with fastnn.use_backend(backend):
                for need_dx in (True, False):
                    fused = kernels.affine_backward(dout, x, W, need_dx, relu_out=out)
                    plain = kernels.affine_backward(kernels.relu_backward(dout, out), x, W, need_dx)
                    for f, p in zip(fused, plain):
                        if p is None:
                            assert f is None
                        else:
                            np.testing.assert_array_equal(f, p)
                            assert f.dtype == dtype
                results[backend] = fused
    for g, r in zip(results["cython"], results["numpy"]):
        if r is not None:
            assert_close(g, r, dtype)


def test_backward_relu_out_must_match_dout(rng, backend):
    x, W, dout = rng.standard_normal((4, 3)), rng.standard_normal((3, 2)), rng.standard_normal((4, 2))
    with pytest.raises(ValueError, match=r"Affine.backward: relu_out must have shape \(4, 2\)"):
        kernels.affine_backward(dout, x, W, relu_out=np.zeros((4, 3)))
    with pytest.raises(TypeError, match="Affine.backward: relu_out must be float32 or float64"):
        kernels.affine_backward(dout, x, W, relu_out=np.zeros((4, 2), dtype=np.int64))


def test_need_dx_must_be_a_flag(rng, backend):
    x, W, dout = rng.standard_normal((4, 3)), rng.standard_normal((3, 2)), rng.standard_normal((4, 2))
    with pytest.raises(TypeError, match="Affine.backward: need_dx must be True or False"):
        kernels.affine_backward(dout, x, W, need_dx=0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_non_contiguous_and_mixed_inputs(dtype, rng):
    x = rng.standard_normal((9, 20)).astype(dtype)[:, ::2]          # (9, 10), strided
    W = np.asfortranarray(rng.standard_normal((10, 6)).astype(dtype))
    b = rng.standard_normal((1, 6)).astype(dtype)                   # bias as a row
    dout = rng.standard_normal((6, 9)).astype(dtype).T              # transposed view
    ref, got = on_both_backends("affine_forward", x, W, b)
    assert_close(got, ref, dtype)
    refs, gots = on_both_backends("affine_backward", dout, x, W)
    for g, r in zip(gots, refs):
        assert_close(g, r, dtype)


def test_mixed_dtypes_promote_to_float64(rng, backend):
    x = rng.standard_normal((4, 3)).astype(np.float32)
    W = rng.standard_normal((3, 2))
    out = kernels.affine_forward(x, W, np.zeros(2, dtype=np.float32))
    assert out.dtype == np.float64
    np.testing.assert_allclose(out, x.astype(np.float64) @ W, rtol=1e-12)


def test_bias_is_added_to_every_row(backend):
    x = np.array([[1.0, 2.0], [3.0, 4.0], [0.0, 0.0]])
    W = np.array([[1.0, 0.0, 2.0], [0.0, 1.0, 1.0]])
    b = np.array([10.0, 20.0, 30.0])
    expected = np.array([[11.0, 22.0, 34.0], [13.0, 24.0, 40.0], [10.0, 20.0, 30.0]])
    np.testing.assert_array_equal(kernels.affine_forward(x, W, b), expected)


def numerical_gradient(f, a, h=1e-5):
    grad = np.zeros_like(a)
    for i in np.ndindex(a.shape):
        saved = a[i]
        a[i] = saved + h
        plus = f()
        a[i] = saved - h
        minus = f()
        a[i] = saved
        grad[i] = (plus - minus) / (2 * h)
    return grad


def test_gradients_match_numerical_gradients(backend, rng):
    x = rng.standard_normal((4, 5))
    W = rng.standard_normal((5, 3))
    b = rng.standard_normal(3)
    weights = rng.standard_normal((4, 3))          # loss = sum(weights * out)

    def loss():
        return np.sum(weights * kernels.affine_forward(x, W, b))

    dx, dW, db = kernels.affine_backward(weights, x, W)
    np.testing.assert_allclose(dx, numerical_gradient(loss, x), rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(dW, numerical_gradient(loss, W), rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(db, numerical_gradient(loss, b), rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("threaded", [False, True])
@pytest.mark.parametrize("N, M", [(32, 300), (100, 10), (1, 3), (0, 4)])
def test_bias_gradient_is_numpys_sum_over_the_batch(N, M, dtype, threaded, rng):
    """db is dout.sum(axis=0) bit for bit (the same order of additions: row by
    row), whether the products are split over fastnn's threads or left to BLAS;
    the values mix magnitudes so that another order would round differently."""
    from fastnn._blas import threaded_blas
    D = 7
    x = rng.standard_normal((N, D)).astype(dtype)
    W = rng.standard_normal((D, M)).astype(dtype)
    dout = (rng.standard_normal((N, M)) * 10.0 ** rng.integers(-6, 7, (N, M))).astype(dtype)
    with threaded_blas(threaded):
        for backend in ("numpy", "cython"):
            with fastnn.use_backend(backend):
                for need_dx in (True, False):
                    db = kernels.affine_backward(dout, x, W, need_dx)[2]
                    np.testing.assert_array_equal(db, np.sum(dout, axis=0))
                    assert db.dtype == dtype and db.shape == (M,)
