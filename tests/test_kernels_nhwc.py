"""Channels-last convolution kernels: compiled vs NumPy, gradients, the Conv2D layer.

Every comparison goes through ``fastnn.kernels`` (validation + dispatch),
once under the 'numpy' backend and once under 'cython'.
"""
import numpy as np
import pytest

import fastnn
from fastnn import kernels
from fastnn.kernels import numpy_conv_nhwc

TOL = {np.float64: 1e-10, np.float32: 1e-4}


def close(actual, expected, dtype):
    scale = max(1.0, float(np.max(np.abs(expected)))) if expected.size else 1.0
    np.testing.assert_allclose(actual, expected, rtol=TOL[dtype], atol=TOL[dtype] * scale)


def on(backend, fn, *args, **kw):
    with fastnn.use_backend(backend):
        return fn(*args, **kw)


@pytest.fixture(params=["serial", "threads"])
def threading_mode(request, monkeypatch):
    """Run each test with the default thresholds and with threads forced on tiny problems."""
    from fastnn._ext import conv_nhwc
    if request.param == "threads":
        monkeypatch.setattr(conv_nhwc, "MIN_MADDS_PER_THREAD", 0)
        monkeypatch.setattr(conv_nhwc, "MIN_CHUNK_ROWS", 1)
        monkeypatch.setattr(conv_nhwc, "WORKSPACE_BYTES", 64)
        monkeypatch.setattr(fastnn._backend, "get_num_threads", lambda: 3)
        monkeypatch.setattr(conv_nhwc, "get_num_threads", lambda: 3)
    return request.param


def random_case(rng, dtype):
    """A random geometry: non-square kernels, strides 1-4, odd sizes, pads of either padding."""
    N = int(rng.choice([1, 2, 3, 5]))
    KH, KW = (int(v) for v in rng.integers(1, 6, size=2))
    sh, sw = (int(v) for v in rng.integers(1, 5, size=2))
    H = int(rng.integers(KH, KH + 9))
    W = int(rng.integers(KW, KW + 9))
    C, F = (int(v) for v in rng.integers(1, 7, size=2))
    if rng.random() < 0.5:
        pads = (0, 0, 0, 0)                                  # 'valid'
    else:                                                    # 'same', Keras' rule
        from fastnn.keras.layers.convolutional import window_plan
        _, top, bottom = window_plan(H, KH, sh, "same")
        _, left, right = window_plan(W, KW, sw, "same")
        pads = (top, bottom, left, right)
    x = rng.standard_normal((N, H, W, C)).astype(dtype)
    kernel = rng.standard_normal((KH, KW, C, F)).astype(dtype)
    bias = rng.standard_normal(F).astype(dtype)
    return x, kernel, bias, (sh, sw), pads


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("seed", range(12))
def test_compiled_matches_numpy_on_random_shapes(dtype, seed, threading_mode):
    assert "conv2d_nhwc_forward" in kernels.compiled_kernels(), kernels.missing_modules()
    rng = np.random.default_rng(seed)
    x, kernel, bias, strides, pads = random_case(rng, dtype)
    for relu in (False, True):
        ref = on("numpy", kernels.conv2d_nhwc_forward, x, kernel, bias, strides, pads, relu)
        got = on("cython", kernels.conv2d_nhwc_forward, x, kernel, bias, strides, pads, relu)
        assert got.dtype == dtype and got.shape == ref.shape
        close(got, ref, dtype)
        dout = rng.standard_normal(ref.shape).astype(dtype)
        relu_out = ref if relu else None
        for need_dx in (True, False):
            r = on("numpy", kernels.conv2d_nhwc_backward, dout, x, kernel, strides, pads, relu_out, need_dx)
            g = on("cython", kernels.conv2d_nhwc_backward, dout, x, kernel, strides, pads, relu_out, need_dx)
            if need_dx:
                assert g[0].shape == x.shape and g[0].dtype == dtype
                close(g[0], r[0], dtype)
            else:
                assert g[0] is None and r[0] is None
            assert g[1].shape == kernel.shape and g[2].shape == bias.shape
            close(g[1], r[1], dtype)
            close(g[2], r[2], dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("F", [64, 70, 130])
def test_more_filters_than_one_chunk_of_bias_sums(F, dtype, threading_mode):
    """The bias gradient is summed over chunks of 64 filters: 64, 70 and 130 filters,
    with and without the ReLU, against the NumPy twin."""
    rng = np.random.default_rng(F)
    x = rng.standard_normal((3, 9, 8, 2)).astype(dtype)
    kernel = rng.standard_normal((3, 2, 2, F)).astype(dtype)
    bias = rng.standard_normal(F).astype(dtype)
    for relu in (False, True):
        out = on("numpy", kernels.conv2d_nhwc_forward, x, kernel, bias, (1, 2), (1, 1, 0, 1), relu)
        dout = rng.standard_normal(out.shape).astype(dtype)
        relu_out = out if relu else None
        r = on("numpy", kernels.conv2d_nhwc_backward, dout, x, kernel, (1, 2), (1, 1, 0, 1), relu_out)
        g = on("cython", kernels.conv2d_nhwc_backward, dout, x, kernel, (1, 2), (1, 1, 0, 1), relu_out)
        for a, b in zip(g, r):
            close(a, b, dtype)


def test_batch_of_one_and_large_first_layer(threading_mode):
    """The tutorial's first layer geometry (11x11 stride 4) on a small image, batch 1."""
    rng = np.random.default_rng(7)
    x = rng.standard_normal((1, 47, 39, 3)).astype(np.float32)
    kernel = rng.standard_normal((11, 11, 3, 8)).astype(np.float32)
    bias = rng.standard_normal(8).astype(np.float32)
    ref = on("numpy", kernels.conv2d_nhwc_forward, x, kernel, bias, (4, 4), (0, 0, 0, 0), True)
    got = on("cython", kernels.conv2d_nhwc_forward, x, kernel, bias, (4, 4), (0, 0, 0, 0), True)
    close(got, ref, np.float32)


def _numerical_grad(f, a, eps=1e-6):
    g = np.zeros_like(a)
    it = np.nditer(a, flags=["multi_index"])
    for _ in it:
        i = it.multi_index
        old = a[i]
        a[i] = old + eps
        fp = f()
        a[i] = old - eps
        fm = f()
        a[i] = old
        g[i] = (fp - fm) / (2 * eps)
    return g


@pytest.mark.parametrize("backend", ["numpy", "cython"])
@pytest.mark.parametrize("case", [((2, 6, 7, 2), (3, 2, 2, 3), (2, 1), (1, 1, 0, 1)),
                                  ((1, 7, 5, 3), (2, 3, 3, 2), (1, 3), (0, 0, 0, 0))])
def test_gradients_match_numerical_float64(backend, case):
    xs, ks, strides, pads = case
    rng = np.random.default_rng(3)
    x = rng.standard_normal(xs)
    kernel = rng.standard_normal(ks)
    bias = rng.standard_normal(ks[3])
    with fastnn.use_backend(backend):
        for relu in (False, True):
            out = kernels.conv2d_nhwc_forward(x, kernel, bias, strides, pads, relu)
            w = rng.standard_normal(out.shape)          # loss = sum(w * out)

            def loss():
                return float(np.sum(w * kernels.conv2d_nhwc_forward(x, kernel, bias, strides, pads, relu)))

            dx, dk, db = kernels.conv2d_nhwc_backward(w, x, kernel, strides, pads, out if relu else None)
            np.testing.assert_allclose(dx, _numerical_grad(loss, x), rtol=1e-6, atol=1e-7)
            np.testing.assert_allclose(dk, _numerical_grad(loss, kernel), rtol=1e-6, atol=1e-7)
            np.testing.assert_allclose(db, _numerical_grad(loss, bias), rtol=1e-6, atol=1e-7)


def test_patches_and_fold_are_adjoint():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 6, 5, 3))
    cols = numpy_conv_nhwc.nhwc_patches(x, 3, 2, (2, 1), (1, 0, 1, 1))
    c = rng.standard_normal(cols.shape)
    folded = numpy_conv_nhwc.nhwc_fold(c, x.shape, 3, 2, (2, 1), (1, 0, 1, 1))
    assert np.isclose(np.sum(cols * c), np.sum(x * folded))


@pytest.mark.parametrize("backend", ["numpy", "cython"])
@pytest.mark.parametrize("padding", ["valid", "same"])
@pytest.mark.parametrize("activation", [None, "relu", "tanh"])
def test_conv2d_layer_matches_the_nchw_path(backend, padding, activation):
    """Conv2D on the channels-last kernels gives the book-kernel (NCHW) results on the same weights."""
    from fastnn import keras
    rng = np.random.default_rng(5)
    layer = keras.layers.Conv2D(4, (3, 2), strides=2, padding=padding, activation=activation)
    x = rng.standard_normal((3, 9, 8, 2))
    layer._ensure_built(x.shape[1:])
    layer.compute_output_shape(x.shape[1:])
    layer.params["bias"][...] = rng.standard_normal(4)
    with fastnn.use_backend(backend):
        out = layer.forward(x, training=True)
        dout = rng.standard_normal(out.shape)
        dx = layer.backward(dout)
        # the former path: NCHW book kernels on explicitly padded, transposed arrays
        top, bottom, left, right = layer._pads
        xp = np.pad(x, [(0, 0), (top, bottom), (left, right), (0, 0)]).transpose(0, 3, 1, 2)
        Wb = np.ascontiguousarray(layer.kernel.transpose(3, 2, 0, 1))
        z, _ = kernels.conv_forward(np.ascontiguousarray(xp), Wb, layer.bias, 2, 0)
        z = z.transpose(0, 2, 3, 1)
        a = layer.activation.forward(np.ascontiguousarray(z))
        dz = layer.activation.backward(dout, a, z)
        dxp, dW, db = kernels.conv_backward(np.ascontiguousarray(dz.transpose(0, 3, 1, 2)),
                                            np.ascontiguousarray(xp), Wb, 2, 0)
    np.testing.assert_allclose(out, a, rtol=1e-12, atol=1e-12)
    dx_old = dxp.transpose(0, 2, 3, 1)[:, top:top + 9, left:left + 8]
    np.testing.assert_allclose(dx, dx_old, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(layer.grads["kernel"], dW.transpose(2, 3, 1, 0), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(layer.grads["bias"], db, rtol=1e-10, atol=1e-12)


def test_conv2d_takes_unequal_strides():
    from fastnn import keras
    layer = keras.layers.Conv2D(2, 3, strides=(1, 2))
    x = np.random.default_rng(0).standard_normal((2, 7, 9, 1)).astype(np.float32)
    assert layer(x).shape == (2, 5, 4, 2)


@pytest.mark.parametrize("args, error, match", [
    (dict(x=np.zeros((2, 5, 5))), ValueError, "input must be 4-D"),
    (dict(x=np.zeros((2, 5, 5, 3), dtype=np.int64)), TypeError, "float32 or float64"),
    (dict(kernel=np.zeros((3, 3, 2, 4))), ValueError, "3 channels but the kernel"),
    (dict(strides=(0, 1)), ValueError, "strides must be >= 1"),
    (dict(strides=3), TypeError, "strides must be a pair"),
    (dict(pads=(1, 1, 1)), ValueError, "pads must be"),
    (dict(pads=(0, 0, -1, 0)), ValueError, "pad must be >= 0"),
    (dict(kernel=np.zeros((7, 3, 3, 4))), ValueError, "larger than the padded input"),
    (dict(bias=np.zeros(5)), ValueError, "bias has 5 values for 4 filters"),
    (dict(relu=1), TypeError, "relu must be True or False"),
])
def test_forward_errors_name_the_kernel(args, error, match):
    kw = dict(x=np.zeros((2, 5, 5, 3)), kernel=np.zeros((3, 3, 3, 4)), bias=np.zeros(4),
              strides=(1, 1), pads=(0, 0, 0, 0), relu=False)
    kw.update(args)
    for backend in ("numpy", "cython"):
        with pytest.raises(error, match=match), fastnn.use_backend(backend):
            kernels.conv2d_nhwc_forward(**kw)


def test_backward_checks_dout_shape():
    x, k = np.zeros((2, 5, 5, 3)), np.zeros((3, 3, 3, 4))
    with pytest.raises(ValueError, match="Conv2D.backward: dout must have shape"):
        kernels.conv2d_nhwc_backward(np.zeros((2, 3, 3, 5)), x, k)
    with pytest.raises(ValueError, match="relu_out must have shape"):
        kernels.conv2d_nhwc_backward(np.zeros((2, 3, 3, 4)), x, k, relu_out=np.zeros((2, 3, 3, 5)))


# --------------------------------------------------------------------------
# Max pooling, NHWC
# --------------------------------------------------------------------------
@pytest.fixture(params=["serial", "threads"])
def pool_threads(request, monkeypatch):
    from fastnn._ext import conv_nhwc
    if request.param == "threads":
        monkeypatch.setattr(conv_nhwc, "POOL_MIN_WORK", 0)
        monkeypatch.setattr(conv_nhwc, "get_num_threads", lambda: 3)


def random_pool_case(rng, dtype):
    from fastnn.keras.layers.convolutional import window_plan
    N = int(rng.choice([1, 2, 4]))
    ph, pw = (int(v) for v in rng.integers(1, 5, size=2))
    sh, sw = (int(v) for v in rng.integers(1, 5, size=2))
    H, W = int(rng.integers(ph, ph + 8)), int(rng.integers(pw, pw + 8))
    C = int(rng.integers(1, 6))
    padding = "same" if rng.random() < 0.5 else "valid"
    _, top, bottom = window_plan(H, ph, sh, padding)
    _, left, right = window_plan(W, pw, sw, padding)
    x = rng.standard_normal((N, H, W, C)).astype(dtype)
    return x, (ph, pw), (sh, sw), (top, bottom, left, right)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("seed", range(12))
def test_maxpool_compiled_matches_numpy(dtype, seed, pool_threads):
    rng = np.random.default_rng(100 + seed)
    x, pool, strides, pads = random_pool_case(rng, dtype)
    if seed % 3 == 0:
        x = np.round(x)                       # ties: both take the first maximum
    ref, ref_arg = on("numpy", kernels.maxpool_nhwc_forward, x, pool, strides, pads)
    got, got_arg = on("cython", kernels.maxpool_nhwc_forward, x, pool, strides, pads)
    np.testing.assert_array_equal(got, ref)
    np.testing.assert_array_equal(got_arg, ref_arg)
    dout = rng.standard_normal(ref.shape).astype(dtype)
    r = on("numpy", kernels.maxpool_nhwc_backward, dout, ref_arg, x.shape, pool, strides, pads)
    g = on("cython", kernels.maxpool_nhwc_backward, dout, ref_arg, x.shape, pool, strides, pads)
    assert g.shape == x.shape and g.dtype == dtype
    close(g, r, dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("C", [1, 7, 33, 70, 130])
@pytest.mark.parametrize("rare", [False, True])
def test_maxpool_nan_inf_and_ties_take_the_first_like_numpy(dtype, C, rare, pool_threads):
    """The compiled kernel's fast passes (over chunks of at most 64 channels) hand
    windows with a NaN or a -inf maximum to an exact loop; ties, NaNs and -inf next
    to padding must give np.argmax's answer. rare: a few NaNs and -infs, mostly in
    the last channels, so that earlier chunks of a window pass before one does not."""
    rng = np.random.default_rng(C)
    for pool, strides, pads in [((2, 2), (2, 2), (0, 0, 0, 0)), ((3, 3), (2, 1), (1, 1, 1, 1)),
                                ((2, 3), (1, 2), (0, 1, 1, 1))]:
        x = np.round(rng.standard_normal((2, 6, 7, C)) * 2).astype(dtype)      # many ties
        if rare:
            x[0, 1, 2, C - 1] = np.nan
            x[1, 4, 4, C - 1] = np.nan
            x[1, :2, :2, C - 1] = -np.inf
            x[0, 5, 6, C // 2] = np.nan
        else:
            x[rng.random(x.shape) < 0.05] = np.nan
            x[rng.random(x.shape) < 0.05] = -np.inf
            x[0, :3, :3, :] = -np.inf                  # whole windows of -inf, some beside padding
        ref, ref_arg = on("numpy", kernels.maxpool_nhwc_forward, x, pool, strides, pads)
        got, got_arg = on("cython", kernels.maxpool_nhwc_forward, x, pool, strides, pads)
        np.testing.assert_array_equal(got, ref)
        np.testing.assert_array_equal(got_arg, ref_arg)
        # the gradient: an infinite or NaN dout lands at the maximum only (0 elsewhere)
        dout = rng.standard_normal(ref.shape).astype(dtype)
        dout.flat[::5] = np.inf
        dout.flat[1::7] = np.nan
        dx_ref = on("numpy", kernels.maxpool_nhwc_backward, dout, ref_arg, x.shape, pool, strides, pads)
        dx = on("cython", kernels.maxpool_nhwc_backward, dout, ref_arg, x.shape, pool, strides, pads)
        # overlapping windows add in another order: round-off of the terms' size only (a sum
        # may cancel); NaN and inf where NumPy has them
        scale = float(np.max(np.abs(dout[np.isfinite(dout)])))
        eps = 1e-6 if dtype == np.float32 else 1e-14
        np.testing.assert_allclose(dx, dx_ref, rtol=eps, atol=4 * eps * scale)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_maxpool_backward_of_tiling_windows_writes_every_value(dtype, pool_threads):
    """2x2 windows at stride 2 cover an even image exactly: dx is written, not added to,
    and comes from a reused buffer holding old values; it must still match NumPy."""
    from fastnn import _buffers
    rng = np.random.default_rng(4)
    x = rng.standard_normal((3, 26, 26, 40)).astype(dtype)    # 1 MB and more: pooled buffers
    out, arg = on("cython", kernels.maxpool_nhwc_forward, x, (2, 2), (2, 2), (0, 0, 0, 0))
    dout = rng.standard_normal(out.shape).astype(dtype)
    ref = on("numpy", kernels.maxpool_nhwc_backward, dout, arg, x.shape, (2, 2), (2, 2), (0, 0, 0, 0))
    for _ in range(3):
        stale = _buffers.empty(x.shape, dtype)
        stale[...] = np.nan                  # what a reused buffer may hold
        del stale
        dx = on("cython", kernels.maxpool_nhwc_backward, dout, arg, x.shape, (2, 2), (2, 2), (0, 0, 0, 0))
        np.testing.assert_array_equal(dx, ref)
        np.testing.assert_array_equal(np.signbit(dx), np.signbit(ref))      # 0.0 where dout < 0, not -0.0
        del dx


@pytest.mark.parametrize("backend", ["numpy", "cython"])
def test_maxpool_matches_the_nchw_kernel_and_its_gradient(backend):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((3, 9, 7, 4))
    with fastnn.use_backend(backend):
        out, arg = kernels.maxpool_nhwc_forward(x, (3, 2), (2, 2), (0, 0, 0, 0))
        # the book's NCHW kernel takes one stride and square-free windows too
        ref, _ = kernels.maxpool_forward(np.ascontiguousarray(x.transpose(0, 3, 1, 2)), 3, 2, 2, 0)
        np.testing.assert_array_equal(out, ref.transpose(0, 2, 3, 1))
        w = rng.standard_normal(out.shape)
        dx = kernels.maxpool_nhwc_backward(w, arg, x.shape, (3, 2), (2, 2), (0, 0, 0, 0))

        def loss():
            return float(np.sum(w * kernels.maxpool_nhwc_forward(x, (3, 2), (2, 2), (0, 0, 0, 0))[0]))
        np.testing.assert_allclose(dx, _numerical_grad(loss, x), rtol=1e-6, atol=1e-7)


def test_maxpool_padding_never_wins():
    x = -np.ones((1, 3, 3, 1))
    for backend in ("numpy", "cython"):
        out, _ = on(backend, kernels.maxpool_nhwc_forward, x, (2, 2), (2, 2), (0, 1, 0, 1))
        np.testing.assert_array_equal(out, -np.ones((1, 2, 2, 1)))


def test_maxpool_errors(backend):
    x = np.zeros((1, 4, 4, 2))
    with pytest.raises(ValueError, match="MaxPooling2D.forward: pads .* must be smaller than the window"):
        kernels.maxpool_nhwc_forward(x, (2, 2), (2, 2), (2, 0, 0, 0))
    with pytest.raises(ValueError, match="MaxPooling2D.forward: window 5x2 is larger"):
        kernels.maxpool_nhwc_forward(x, (5, 2), (1, 1), (0, 0, 0, 0))
    out, arg = kernels.maxpool_nhwc_forward(x, (2, 2), (2, 2))
    assert arg.dtype == np.int32
    # a window of more positions than int32 holds (a view: nothing that size is allocated)
    huge = np.lib.stride_tricks.as_strided(np.zeros(1), shape=(1, 46341, 46341, 1), strides=(0, 0, 0, 0))
    with pytest.raises(ValueError, match=r"MaxPooling2D.forward: window 46341x46341 has more than 2\*\*31 - 1"):
        kernels.maxpool_nhwc_forward(huge, (46341, 46341), (1, 1))
    for wrong in (arg.astype(np.int64), arg.astype(np.int16), arg.astype(np.float32)):
        with pytest.raises(TypeError, match="MaxPooling2D.backward: argmax must be the int32 array"):
            kernels.maxpool_nhwc_backward(out, wrong, x.shape, (2, 2), (2, 2))
    # out of range, at the ends of int32, and in one value only (the compiled kernel
    # checks the range in its own loop)
    ends = np.iinfo(np.int32)
    for bad in (arg + 4, arg - 1, np.full_like(arg, ends.max), np.full_like(arg, ends.min),
                np.where(np.arange(arg.size).reshape(arg.shape) == 5, 9, arg)):
        with pytest.raises(ValueError, match=r"MaxPooling2D.backward: argmax values must lie in \[0, 4\)"):
            kernels.maxpool_nhwc_backward(out, bad, x.shape, (2, 2), (2, 2))
    with pytest.raises(ValueError, match="MaxPooling2D.backward: dout must have shape"):
        kernels.maxpool_nhwc_backward(out[:, :1], arg, x.shape, (2, 2), (2, 2))


def _stale(shape, dtype):
    """Leave a NaN-filled array of this shape in the buffer pool, as a previous step may."""
    from fastnn import _buffers
    stale = _buffers.empty(shape, dtype)
    stale[...] = np.nan
    del stale


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gradients_added_into_are_zeroed_whatever_the_pool_holds(dtype):
    """The gradients the kernels add into (the convolution's dx, a non-tiling max-pool's
    dx) come from the buffer pool and are zeroed by the threads that fill them: a stale
    buffer full of NaN must not leak into them."""
    rng = np.random.default_rng(8)
    x = rng.standard_normal((4, 64, 64, 8)).astype(dtype)          # 1 MB and more: pooled
    K = rng.standard_normal((3, 3, 8, 5)).astype(dtype)
    out = on("numpy", kernels.conv2d_nhwc_forward, x, K, np.zeros(5, dtype), (2, 2), (1, 1, 1, 1))
    dout = rng.standard_normal(out.shape).astype(dtype)
    ref = on("numpy", kernels.conv2d_nhwc_backward, dout, x, K, (2, 2), (1, 1, 1, 1))
    pooled, arg = on("numpy", kernels.maxpool_nhwc_forward, x, (3, 3), (2, 2), (0, 0, 0, 0))
    dpool = rng.standard_normal(pooled.shape).astype(dtype)
    pool_ref = on("numpy", kernels.maxpool_nhwc_backward, dpool, arg, x.shape, (3, 3), (2, 2), (0, 0, 0, 0))
    for _ in range(2):
        _stale(x.shape, dtype)
        got = on("cython", kernels.conv2d_nhwc_backward, dout, x, K, (2, 2), (1, 1, 1, 1))
        for g, r in zip(got, ref):
            close(g, r, dtype)
        del got
        _stale(x.shape, dtype)
        dx = on("cython", kernels.maxpool_nhwc_backward, dpool, arg, x.shape, (3, 3), (2, 2), (0, 0, 0, 0))
        close(dx, pool_ref, dtype)
        del dx
