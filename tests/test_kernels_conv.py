"""Compiled im2col / col2im / convolution against the NumPy reference.

Every comparison goes through ``fastnn.kernels`` (validation + dispatch),
once under the 'numpy' backend and once under 'cython'.
"""
import numpy as np
import pytest

import fastnn
from fastnn import kernels

CONV_KERNELS = ("im2col", "col2im", "conv_forward", "conv_backward")
TOL = {np.float64: dict(rtol=1e-10), np.float32: dict(rtol=1e-4)}


def close(actual, expected, dtype):
    """assert_allclose with the atol scaled to the reference's magnitude."""
    scale = max(1.0, float(np.max(np.abs(expected)))) if expected.size else 1.0
    rtol = TOL[dtype]["rtol"]
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=rtol * scale)


def on(backend, fn, *args):
    with fastnn.use_backend(backend):
        return fn(*args)


@pytest.fixture
def tiny_parallel(monkeypatch):
    """Let even these tiny problems use the OpenMP threads (they normally run serially)."""
    from fastnn._ext import conv, im2col
    monkeypatch.setattr(conv, "MIN_MADDS_PER_THREAD", 0)
    monkeypatch.setattr(im2col, "MIN_VALUES_PER_THREAD", 0)


def random_geometry(rng):
    """A random small convolution: odd sizes, non-square kernels, stride 1-3, pad 0-2."""
    while True:
        N = int(rng.integers(1, 4))
        C = int(rng.integers(1, 6))
        H, W = (int(v) for v in rng.integers(1, 12, size=2))
        FH, FW = (int(v) for v in rng.integers(1, 6, size=2))
        stride = int(rng.integers(1, 4))
        pad = int(rng.integers(0, 3))
        if FH <= H + 2 * pad and FW <= W + 2 * pad:
            return N, C, H, W, FH, FW, stride, pad


def test_compiled_kernels_are_built():
    # a failed build would silently fall back to NumPy: catch it here
    assert set(CONV_KERNELS) <= set(kernels.compiled_kernels())
    assert not {"conv", "im2col"} & set(kernels.missing_modules())
    from fastnn._ext import im2col
    assert isinstance(im2col.OPENMP, bool)


def random_conv(rng, dtype):
    """A random convolution problem: x, W, b of ``dtype`` and its stride and pad."""
    N, C, H, W, FH, FW, s, p = random_geometry(rng)
    FN = int(rng.integers(1, 6))
    x = rng.standard_normal((N, C, H, W)).astype(dtype)
    Wt = rng.standard_normal((FN, C, FH, FW)).astype(dtype)
    b = rng.standard_normal(FN).astype(dtype)
    return x, Wt, b, s, p


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_im2col_col2im_match_numpy(dtype, tiny_parallel):
    rng = np.random.default_rng(7)
    for _ in range(40):
        N, C, H, W, FH, FW, s, p = random_geometry(rng)
        x = rng.standard_normal((N, C, H, W)).astype(dtype)
        ref = on("numpy", kernels.im2col, x, FH, FW, s, p)
        got = on("cython", kernels.im2col, x, FH, FW, s, p)
        assert got.dtype == dtype and got.flags.c_contiguous
        np.testing.assert_array_equal(got, ref)       # a pure copy: exact

        col = rng.standard_normal(ref.shape).astype(dtype)
        ref = on("numpy", kernels.col2im, col, x.shape, FH, FW, s, p)
        got = on("cython", kernels.col2im, col, x.shape, FH, FW, s, p)
        assert got.shape == x.shape and got.dtype == dtype and got.flags.c_contiguous
        # each pixel adds its contributions in NumPy's (fy, fx) order: equal bits
        np.testing.assert_array_equal(got, ref)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_conv_forward_backward_match_numpy(dtype, tiny_parallel):
    rng = np.random.default_rng(11)
    for _ in range(40):
        x, Wt, b, s, p = random_conv(rng, dtype)
        ref, _ = on("numpy", kernels.conv_forward, x, Wt, b, s, p)
        got, col = on("cython", kernels.conv_forward, x, Wt, b, s, p)
        assert col is None
        assert got.shape == ref.shape and got.dtype == dtype and got.flags.c_contiguous
        close(got, ref, dtype)

        dout = rng.standard_normal(ref.shape).astype(dtype)
        refs = on("numpy", kernels.conv_backward, dout, x, Wt, s, p)
        gots = on("cython", kernels.conv_backward, dout, x, Wt, s, p)
        for g, r in zip(gots, refs):
            assert g.shape == r.shape and g.dtype == dtype
            close(g, r, dtype)


def test_book_sized_layer_matches_numpy():
    """DeepConvNet's 16->16 layer at batch 5, the shapes the speed targets use."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((5, 16, 28, 28))
    Wt = rng.standard_normal((16, 16, 3, 3))
    b = rng.standard_normal(16)
    ref, _ = on("numpy", kernels.conv_forward, x, Wt, b, 1, 1)
    got, _ = on("cython", kernels.conv_forward, x, Wt, b, 1, 1)
    close(got, ref, np.float64)
    dout = rng.standard_normal(ref.shape)
    for g, r in zip(on("cython", kernels.conv_backward, dout, x, Wt, 1, 1),
                    on("numpy", kernels.conv_backward, dout, x, Wt, 1, 1)):
        close(g, r, np.float64)


def test_col2im_sums_in_numpy_order():
    # whole-image folds add each pixel's contributions in NumPy's order: equal bits
    rng = np.random.default_rng(5)
    col = rng.standard_normal((2 * 9 * 9, 3 * 3 * 3))
    ref = on("numpy", kernels.col2im, col, (2, 3, 9, 9), 3, 3, 1, 1)
    got = on("cython", kernels.col2im, col, (2, 3, 9, 9), 3, 3, 1, 1)
    np.testing.assert_array_equal(got, ref)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_non_contiguous_inputs(dtype, tiny_parallel):
    rng = np.random.default_rng(13)
    base = rng.standard_normal((3, 8, 9, 7)).astype(dtype)
    views = [base.transpose(0, 1, 3, 2), base[:, ::2], base[::-1, :, 1:, ::2]]
    for x in views:
        assert not x.flags.c_contiguous
        C = x.shape[1]
        Wt = rng.standard_normal((4, 3, C, 2)).astype(dtype).transpose(0, 2, 1, 3)   # (4, C, 3, 2), a view
        b = rng.standard_normal(8).astype(dtype)[::2]
        ref, _ = on("numpy", kernels.conv_forward, x, Wt, b, 2, 1)
        got, _ = on("cython", kernels.conv_forward, x, Wt, b, 2, 1)
        close(got, ref, dtype)
        dout = rng.standard_normal(ref.shape[::-1]).astype(dtype).T               # an F-ordered view
        for g, r in zip(on("cython", kernels.conv_backward, dout, x, Wt, 2, 1),
                        on("numpy", kernels.conv_backward, dout, x, Wt, 2, 1)):
            close(g, r, dtype)
        np.testing.assert_array_equal(on("cython", kernels.im2col, x, 3, 2, 1, 2),
                                      on("numpy", kernels.im2col, x, 3, 2, 1, 2))


def test_mixed_dtypes_promote_like_numpy():
    rng = np.random.default_rng(17)
    x = rng.standard_normal((2, 2, 6, 6)).astype(np.float32)
    Wt = rng.standard_normal((3, 2, 3, 3))
    b = np.zeros(3)
    ref, _ = on("numpy", kernels.conv_forward, x, Wt, b)
    got, _ = on("cython", kernels.conv_forward, x, Wt, b)
    assert got.dtype == ref.dtype == np.float64
    close(got, ref, np.float64)


@pytest.mark.parametrize("threads", [1, 2, 5])
def test_thread_counts_and_batch_one(threads, tiny_parallel):
    """Any thread count, and batches smaller than it (one thread per image), agree."""
    rng = np.random.default_rng(19)
    previous = fastnn.set_num_threads(threads)
    try:
        for N in (1, 3, 7):
            x = rng.standard_normal((N, 3, 10, 9))
            Wt = rng.standard_normal((5, 3, 3, 4))
            b = rng.standard_normal(5)
            ref, _ = on("numpy", kernels.conv_forward, x, Wt, b, 1, 1)
            close(on("cython", kernels.conv_forward, x, Wt, b, 1, 1)[0], ref, np.float64)
            dout = rng.standard_normal(ref.shape)
            for g, r in zip(on("cython", kernels.conv_backward, dout, x, Wt, 1, 1),
                            on("numpy", kernels.conv_backward, dout, x, Wt, 1, 1)):
                close(g, r, np.float64)
            col = on("numpy", kernels.im2col, x, 3, 4, 1, 1)
            close(on("cython", kernels.col2im, col, x.shape, 3, 4, 1, 1),
                  on("numpy", kernels.col2im, col, x.shape, 3, 4, 1, 1), np.float64)
    finally:
        fastnn.set_num_threads(previous)


def test_chunked_workspace_gives_same_result(monkeypatch, tiny_parallel):
    """A tiny workspace forces many row chunks per image; results must not change."""
    from fastnn._ext import conv
    rng = np.random.default_rng(23)
    x = rng.standard_normal((3, 4, 13, 11))
    Wt = rng.standard_normal((6, 4, 3, 2))
    b = rng.standard_normal(6)
    dout_shape = on("numpy", kernels.conv_forward, x, Wt, b, 2, 2)[0].shape
    dout = rng.standard_normal(dout_shape)
    whole = [on("cython", kernels.conv_forward, x, Wt, b, 2, 2)[0],
             *on("cython", kernels.conv_backward, dout, x, Wt, 2, 2)]
    monkeypatch.setattr(conv, "WORKSPACE_BYTES", 1)            # one output row per chunk
    chunked = [on("cython", kernels.conv_forward, x, Wt, b, 2, 2)[0],
               *on("cython", kernels.conv_backward, dout, x, Wt, 2, 2)]
    for c, w in zip(chunked, whole):
        close(c, w, np.float64)


def test_backward_is_deterministic(tiny_parallel):
    """dW and db are summed in fixed blocks of images: same bits every run and for 1-4 threads."""
    rng = np.random.default_rng(29)
    x = rng.standard_normal((19, 3, 12, 12))
    Wt = rng.standard_normal((4, 3, 3, 3))
    dout = rng.standard_normal((19, 4, 12, 12))
    first = on("cython", kernels.conv_backward, dout, x, Wt, 1, 1)
    previous = fastnn.get_num_threads()
    try:
        for threads in (1, 2, 3, 4, 2):
            fastnn.set_num_threads(threads)
            again = on("cython", kernels.conv_backward, dout, x, Wt, 1, 1)
            for a, f in zip(again, first):
                np.testing.assert_array_equal(a, f)
    finally:
        fastnn.set_num_threads(previous)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_im2col_col2im_are_adjoint(dtype, tiny_parallel):
    """<im2col(x), c> == <x, col2im(c)> for random x and c."""
    rng = np.random.default_rng(31)
    for _ in range(15):
        N, C, H, W, FH, FW, s, p = random_geometry(rng)
        x = rng.standard_normal((N, C, H, W)).astype(dtype)
        with fastnn.use_backend("cython"):
            col = kernels.im2col(x, FH, FW, s, p)
            c = rng.standard_normal(col.shape).astype(dtype)
            lhs = np.sum(col.astype(np.float64) * c)
            rhs = np.sum(x.astype(np.float64) * kernels.col2im(c, x.shape, FH, FW, s, p))
        np.testing.assert_allclose(lhs, rhs, rtol=TOL[dtype]["rtol"] * 10,
                                   atol=TOL[dtype]["rtol"] * 10 * np.sqrt(col.size))


def numerical_grad(f, a, h=1e-6):
    g = np.zeros_like(a)
    it = np.nditer(a, flags=["multi_index"])
    for _ in it:
        i = it.multi_index
        old = a[i]
        a[i] = old + h
        fp = f()
        a[i] = old - h
        fm = f()
        a[i] = old
        g[i] = (fp - fm) / (2 * h)
    return g


def test_conv_gradient_matches_numerical_gradient():
    """L = sum(R * conv(x, W, b)): analytic dx, dW, db of the compiled kernels vs central differences."""
    rng = np.random.default_rng(37)
    x = rng.standard_normal((2, 2, 5, 4))
    Wt = rng.standard_normal((3, 2, 3, 2))
    b = rng.standard_normal(3)
    with fastnn.use_backend("cython"):
        out, _ = kernels.conv_forward(x, Wt, b, 2, 1)
        R = rng.standard_normal(out.shape)

        def loss():
            return float(np.sum(R * kernels.conv_forward(x, Wt, b, 2, 1)[0]))

        dx, dW, db = kernels.conv_backward(R, x, Wt, 2, 1)
        for analytic, param in ((dx, x), (dW, Wt), (db, b)):
            np.testing.assert_allclose(analytic, numerical_grad(loss, param), rtol=1e-6, atol=1e-7)


def test_direct_calls_check_shapes():
    """The compiled functions check what their loops rely on, even without fastnn.kernels."""
    from fastnn._ext import conv, im2col
    x = np.zeros((2, 3, 5, 5))
    with pytest.raises(ValueError, match="conv_forward: input has 3 channels"):
        conv.conv_forward(x, np.zeros((4, 2, 3, 3)), np.zeros(4), 1, 0)
    with pytest.raises(ValueError, match=r"conv_forward: bias must have shape \(4,\)"):
        conv.conv_forward(x, np.zeros((4, 3, 3, 3)), np.zeros(5), 1, 0)
    with pytest.raises(ValueError, match="conv_backward: dout must have shape"):
        conv.conv_backward(np.zeros((2, 4, 2, 2)), x, np.zeros((4, 3, 3, 3)), 1, 0)
    with pytest.raises(ValueError, match="filter 7x7 is larger"):
        conv.conv_forward(x, np.zeros((4, 3, 7, 7)), np.zeros(4), 1, 0)
    with pytest.raises(ValueError, match="col2im: col must have shape"):
        im2col.col2im(np.zeros((5, 5)), x.shape, 3, 3, 1, 0)
    with pytest.raises(ValueError, match="im2col: window 6x6 is larger"):
        im2col.im2col(x, 6, 6, 1, 0)
    with pytest.raises(ValueError):                     # memoryviews refuse non-contiguous data
        im2col.im2col(np.zeros((2, 3, 5, 10))[..., ::2], 3, 3, 1, 0)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_conv_forward_with_relu_is_relu_of_conv_forward(dtype, tiny_parallel):
    """relu=True gives exactly relu_forward(conv_forward(...)) on each backend, NaNs included."""
    rng = np.random.default_rng(31)
    cases_with_nan = 0
    for _ in range(15):
        x, Wt, b, s, p = random_conv(rng, dtype)
        x.flat[rng.integers(0, x.size)] = np.nan
        results = {}
        for backend in ("numpy", "cython"):
            plain, _ = on(backend, kernels.conv_forward, x, Wt, b, s, p)
            fused, _ = on(backend, kernels.conv_forward, x, Wt, b, s, p, True)
            assert fused.dtype == dtype and fused.shape == plain.shape
            np.testing.assert_array_equal(fused, on(backend, kernels.relu_forward, plain))
            results[backend] = fused
        cases_with_nan += bool(np.isnan(results["cython"]).any())
        np.testing.assert_array_equal(np.isnan(results["cython"]), np.isnan(results["numpy"]))
        close(np.nan_to_num(results["cython"]), np.nan_to_num(results["numpy"]), dtype)
    assert cases_with_nan >= 5          # the NaN reached the output in enough cases


def test_conv_forward_relu_flag_must_be_a_bool():
    x = np.zeros((1, 1, 4, 4))
    with pytest.raises(TypeError, match="Convolution.forward: relu must be True or False"):
        kernels.conv_forward(x, np.zeros((1, 1, 2, 2)), np.zeros(1), 1, 0, "yes")


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_conv_backward_through_relu_is_conv_backward_of_relu_backward(dtype, tiny_parallel):
    """relu_out masks dout first, exactly as relu_backward does, on each backend (pad 0 included)."""
    rng = np.random.default_rng(37)
    pads_seen = set()
    for _ in range(20):
        x, Wt, b, s, p = random_conv(rng, dtype)
        pads_seen.add(p)
        grads = {}
        for backend in ("numpy", "cython"):
            out, _ = on(backend, kernels.conv_forward, x, Wt, b, s, p, True)
            dout = np.random.default_rng(1).standard_normal(out.shape).astype(dtype)
            fused = on(backend, kernels.conv_backward, dout, x, Wt, s, p, None, out)
            masked = on(backend, kernels.relu_backward, dout, out)
            for f, g in zip(fused, on(backend, kernels.conv_backward, masked, x, Wt, s, p)):
                np.testing.assert_array_equal(f, g)
            grads[backend] = fused
        for g, r in zip(grads["cython"], grads["numpy"]):
            close(g, r, dtype)
    assert 0 in pads_seen


def test_conv_backward_relu_out_must_match_dout():
    x = np.zeros((1, 1, 4, 4))
    with pytest.raises(ValueError, match=r"Convolution.backward: relu_out must have shape \(1, 1, 3, 3\)"):
        kernels.conv_backward(np.zeros((1, 1, 3, 3)), x, np.zeros((1, 1, 2, 2)), 1, 0,
                              relu_out=np.zeros((1, 1, 2, 2)))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_conv_backward_without_dx_gives_the_same_dW_db(dtype, tiny_parallel):
    rng = np.random.default_rng(41)
    for _ in range(12):
        x, Wt, b, s, p = random_conv(rng, dtype)
        out, _ = on("numpy", kernels.conv_forward, x, Wt, b, s, p)
        dout = rng.standard_normal(out.shape).astype(dtype)
        for backend in ("numpy", "cython"):
            dx, dW, db = on(backend, kernels.conv_backward, dout, x, Wt, s, p, None, None, False)
            full = on(backend, kernels.conv_backward, dout, x, Wt, s, p)
            assert dx is None
            np.testing.assert_array_equal(dW, full[1])
            np.testing.assert_array_equal(db, full[2])
    with pytest.raises(TypeError, match="Convolution.backward: need_dx must be True or False"):
        kernels.conv_backward(dout, x, Wt, s, p, need_dx=0)
