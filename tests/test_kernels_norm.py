"""BatchNormalization and Dropout kernels: compiled vs NumPy, gradients, the layers."""
import numpy as np
import pytest

import fastnn
from fastnn import keras, kernels

TOL = {np.float64: 1e-10, np.float32: 2e-4}


def close(actual, expected, dtype):
    scale = max(1.0, float(np.max(np.abs(expected)))) if np.size(expected) else 1.0
    np.testing.assert_allclose(actual, expected, rtol=TOL[dtype], atol=TOL[dtype] * scale)


def on(backend, fn, *args):
    with fastnn.use_backend(backend):
        return fn(*args)


@pytest.fixture(params=["serial", "threads"])
def threading_mode(request, monkeypatch):
    from fastnn._ext import norm
    if request.param == "threads":
        monkeypatch.setattr(norm, "PARALLEL_MIN_SIZE", 0)
        monkeypatch.setattr(norm, "get_num_threads", lambda: 3)
    return request.param


SHAPES = [(1, 1), (7, 3), (32, 50), (1, 5, 3, 4), (3, 7, 9, 5), (2, 4, 4, 17)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", SHAPES)
def test_batchnorm_compiled_matches_numpy(dtype, shape, threading_mode):
    assert "batchnorm_backward" in kernels.compiled_kernels(), kernels.missing_modules()
    rng = np.random.default_rng(sum(shape))
    C = shape[-1]
    x = (rng.standard_normal(shape) * 3 + 2).astype(dtype)
    d = rng.standard_normal(shape).astype(dtype)
    gamma, beta = rng.standard_normal(C), rng.standard_normal(C)
    ref = on("numpy", kernels.batchnorm_forward_train, x, gamma, beta, 1e-3)
    got = on("cython", kernels.batchnorm_forward_train, x, gamma, beta, 1e-3)
    assert got[0].dtype == dtype and got[0].shape == shape
    for r, g in zip(ref, got):
        close(g, r, dtype)
    mean, inv_std = ref[1], ref[3]
    for training in (True, False):
        r = on("numpy", kernels.batchnorm_backward, d, x, gamma, mean, inv_std, training)
        g = on("cython", kernels.batchnorm_backward, d, x, gamma, mean, inv_std, training)
        assert g[0].dtype == dtype and g[0].shape == shape
        for a, b in zip(g, r):
            close(a, b, dtype)
    mv, vv = rng.standard_normal(C), rng.random(C) + 0.5
    close(on("cython", kernels.batchnorm_forward_infer, x, gamma, beta, mv, vv, 1e-3),
          on("numpy", kernels.batchnorm_forward_infer, x, gamma, beta, mv, vv, 1e-3), dtype)


def _numerical_grad(f, a, eps=1e-6):
    g = np.zeros_like(a)
    for i in np.ndindex(a.shape):
        old = a[i]
        a[i] = old + eps
        fp = f()
        a[i] = old - eps
        fm = f()
        a[i] = old
        g[i] = (fp - fm) / (2 * eps)
    return g


@pytest.mark.parametrize("backend", ["numpy", "cython"])
@pytest.mark.parametrize("shape", [(6, 3), (2, 3, 2, 4)])
def test_batchnorm_gradients_match_numerical_float64(backend, shape):
    rng = np.random.default_rng(4)
    C = shape[-1]
    x = rng.standard_normal(shape)
    gamma, beta = rng.standard_normal(C), rng.standard_normal(C)
    w = rng.standard_normal(shape)
    mv, vv = rng.standard_normal(C), rng.random(C) + 0.5
    with fastnn.use_backend(backend):
        # training: through the batch statistics
        def loss():
            return float(np.sum(w * kernels.batchnorm_forward_train(x, gamma, beta, 1e-3)[0]))
        _, mean, _, inv_std = kernels.batchnorm_forward_train(x, gamma, beta, 1e-3)
        dx, dg, db = kernels.batchnorm_backward(w, x, gamma, mean, inv_std, True)
        np.testing.assert_allclose(dx, _numerical_grad(loss, x), rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(dg, _numerical_grad(loss, gamma), rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(db, _numerical_grad(loss, beta), rtol=1e-5, atol=1e-7)

        # inference: the moving statistics are constants
        def loss_inf():
            return float(np.sum(w * kernels.batchnorm_forward_infer(x, gamma, beta, mv, vv, 1e-3)))
        dx, dg, db = kernels.batchnorm_backward(w, x, gamma, mv, 1 / np.sqrt(vv + 1e-3), False)
        np.testing.assert_allclose(dx, _numerical_grad(loss_inf, x), rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(dg, _numerical_grad(loss_inf, gamma), rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(db, _numerical_grad(loss_inf, beta), rtol=1e-5, atol=1e-7)


def _old_batchnorm(x2, d2, gamma, beta, mm, mv, eps, mom, training):
    """The former layer's arithmetic (column sums on the (M, C) view), for comparison."""
    m = x2.shape[0]
    if training:
        mean = x2.sum(0) / m
        xc = x2 - mean
        var = (xc * xc).sum(0) / m
        mm, mv = mom * mm + (1 - mom) * mean, mom * mv + (1 - mom) * var
    else:
        xc, var = x2 - mm, mv
    inv_std = 1 / np.sqrt(var + eps)
    xhat = xc * inv_std
    y = xhat * gamma + beta
    dgamma, dbeta = (d2 * xhat).sum(0), d2.sum(0)
    dxhat = d2 * gamma
    if training:
        dx = inv_std / m * (m * dxhat - dxhat.sum(0) - xhat * (dxhat * xhat).sum(0))
    else:
        dx = dxhat * inv_std
    return y, dx, dgamma, dbeta, mm, mv


@pytest.mark.parametrize("backend", ["numpy", "cython"])
@pytest.mark.parametrize("shape, axis", [((8, 5), -1), ((4, 6, 5, 3), -1), ((4, 3, 6, 5), 1)])
@pytest.mark.parametrize("training", [True, False])
def test_batchnorm_layer_results_unchanged(backend, shape, axis, training):
    rng = np.random.default_rng(9)
    layer = keras.layers.BatchNormalization(axis=axis, momentum=0.9)
    layer._ensure_built(shape[1:])
    C = shape[axis]
    for name in ("gamma", "beta", "moving_mean"):
        layer.params[name][...] = rng.standard_normal(C)
    layer.params["moving_variance"][...] = rng.random(C) + 0.5
    p = {k: v.astype(np.float64) for k, v in layer.params.items()}   # float32 weights, exact in float64
    x = rng.standard_normal(shape) * 2 + 1
    d = rng.standard_normal(shape)
    with fastnn.use_backend(backend):
        y = layer.forward(x, training=training)
        dx = layer.backward(d)
    x2 = np.moveaxis(x, axis, -1).reshape(-1, C)
    d2 = np.moveaxis(d, axis, -1).reshape(-1, C)
    ry, rdx, rdg, rdb, mm, mv = _old_batchnorm(x2, d2, p["gamma"], p["beta"], p["moving_mean"],
                                               p["moving_variance"], 1e-3, 0.9, training)
    moved = np.moveaxis(x, axis, -1).shape
    np.testing.assert_allclose(y, np.moveaxis(ry.reshape(moved), -1, axis), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(dx, np.moveaxis(rdx.reshape(moved), -1, axis), rtol=1e-9, atol=1e-11)
    np.testing.assert_allclose(layer.grads["gamma"], rdg, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(layer.grads["beta"], rdb, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(layer.params["moving_mean"], mm, rtol=1e-6, atol=1e-7)   # float32 weights
    np.testing.assert_allclose(layer.params["moving_variance"], mv, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("args, error, match", [
    ((np.zeros(4), np.ones(4), np.zeros(4), 1e-3), ValueError, "batch axis and a channel axis"),
    ((np.zeros((3, 4), dtype=np.int32), np.ones(4), np.zeros(4), 1e-3), TypeError, "float32 or float64"),
    ((np.zeros((3, 4)), np.ones(3), np.zeros(4), 1e-3), ValueError, r"gamma must have shape \(4,\)"),
    ((np.zeros((0, 4)), np.ones(4), np.zeros(4), 1e-3), ValueError, "is empty"),
    ((np.zeros((3, 4)), np.ones(4), np.zeros(4), 0.0), ValueError, "epsilon must be a positive number"),
])
def test_batchnorm_errors(args, error, match):
    for backend in ("numpy", "cython"):
        with pytest.raises(error, match="BatchNormalization.forward: .*" + match), fastnn.use_backend(backend):
            kernels.batchnorm_forward_train(*args)
    with pytest.raises(ValueError, match="BatchNormalization.backward: dout must have shape"):
        kernels.batchnorm_backward(np.zeros((2, 4)), np.zeros((3, 4)), np.ones(4), np.zeros(4), np.ones(4))


# --------------------------------------------------------------------------
# Dropout
# --------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(1,), (5, 7), (64, 33, 4), (3, 17, 19, 8)])
def test_dropout_same_key_same_mask_on_both_backends(dtype, shape, threading_mode):
    rng = np.random.default_rng(0)
    x = (rng.random(shape) + 0.5).astype(dtype)            # no zeros: the mask is out != 0
    key = int(rng.integers(0, 2**64, dtype=np.uint64))
    ref = on("numpy", kernels.dropout_forward, x, 0.3, key)
    got = on("cython", kernels.dropout_forward, x, 0.3, key)
    assert got.dtype == dtype and got.shape == shape
    np.testing.assert_array_equal(got, ref)                 # bit for bit
    d = rng.standard_normal(shape).astype(dtype)
    back = on("cython", kernels.dropout_backward, d, 0.3, key)
    np.testing.assert_array_equal(back, on("numpy", kernels.dropout_backward, d, 0.3, key))
    kept = ref != 0
    scale = dtype(1) / dtype(0.7)
    np.testing.assert_array_equal(ref[kept], x[kept] * scale)
    np.testing.assert_array_equal(back, np.where(kept, d * scale, 0))


def test_dropout_keeps_the_right_fraction_and_keys_differ():
    x = np.ones(200_000)
    for rate in (0.1, 0.5, 0.9):
        out = kernels.dropout_forward(x, rate, 12345)
        kept = np.mean(out != 0)
        assert abs(kept - (1 - rate)) < 0.005, (rate, kept)
        assert abs(out.mean() - 1) < 0.02                   # inverted dropout keeps the mean
    a = kernels.dropout_forward(x, 0.5, 1) != 0
    b = kernels.dropout_forward(x, 0.5, 2) != 0
    assert 0.45 < np.mean(a != b) < 0.55                    # independent masks
    assert np.all(kernels.dropout_forward(x, 0.0, 7) == 1)


def test_dropout_errors():
    with pytest.raises(ValueError, match=r"Dropout.forward: rate must be a number in \[0, 1\)"):
        kernels.dropout_forward(np.ones(3), 1.0, 1)
    with pytest.raises(ValueError, match="Dropout.backward: key must be an int"):
        kernels.dropout_backward(np.ones(3), 0.5, -1)
    with pytest.raises(TypeError, match="Dropout.forward: input must be float32 or float64"):
        kernels.dropout_forward(np.ones(3, dtype=np.int64), 0.5, 1)


def test_dropout_layer_same_seed_same_masks_on_both_backends():
    x = np.random.default_rng(1).random((16, 40)) + 0.5
    outs = {}
    for backend in ("numpy", "cython"):
        layer = keras.layers.Dropout(0.4, seed=11)
        with fastnn.use_backend(backend):
            first = layer.forward(x, training=True)
            dx = layer.backward(np.ones_like(x))
            second = layer.forward(x, training=True)
        np.testing.assert_array_equal(dx != 0, first != 0)   # backward uses the forward mask
        assert np.any((first != 0) != (second != 0))         # a new mask every call
        outs[backend] = (first, second)
    np.testing.assert_array_equal(outs["numpy"][0], outs["cython"][0])
    np.testing.assert_array_equal(outs["numpy"][1], outs["cython"][1])
    assert np.array_equal(keras.layers.Dropout(0.4).forward(x, training=False), x)
