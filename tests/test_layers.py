"""fastnn.layers: each backward pass against numerical gradients, on both backends."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import fastnn
from fastnn import functions as F
from fastnn.gradient import numerical_gradient
from fastnn.layers import (
    Affine, AddLayer, BatchNormalization, Convolution, Dropout, MulLayer,
    Pooling, Relu, Sigmoid, SoftmaxWithLoss, backward_layers, forward_layers, is_conv_relu_pair, is_relu_pair,
)

RTOL, ATOL = 1e-6, 1e-8


def check_close(analytic, numeric, rtol=RTOL):
    np.testing.assert_allclose(analytic, numeric, rtol=rtol, atol=ATOL * max(1.0, np.abs(numeric).max()))


def scalar_of(layer_forward, dout):
    """f(...) = sum(forward(...) * dout): its gradient is backward(dout)."""
    return lambda _: float(np.sum(layer_forward() * dout))


# --------------------------------------------------------------------------
# Chapter 5: the shopping examples
# --------------------------------------------------------------------------
def test_apple_example():
    apple, apple_num, tax = 100, 2, 1.1
    mul_apple, mul_tax = MulLayer(), MulLayer()
    price = mul_tax.forward(mul_apple.forward(apple, apple_num), tax)
    assert price == pytest.approx(220.0)
    dapple_price, dtax = mul_tax.backward(1)
    dapple, dapple_num = mul_apple.backward(dapple_price)
    assert (dapple, dapple_num, dtax) == pytest.approx((2.2, 110.0, 200.0))


def test_apple_orange_example():
    apple, apple_num, orange, orange_num, tax = 100, 2, 150, 3, 1.1
    mul_apple, mul_orange, add, mul_tax = MulLayer(), MulLayer(), AddLayer(), MulLayer()
    apple_price = mul_apple.forward(apple, apple_num)
    orange_price = mul_orange.forward(orange, orange_num)
    price = mul_tax.forward(add.forward(apple_price, orange_price), tax)
    assert price == pytest.approx(715.0)
    dall, dtax = mul_tax.backward(1)
    dapple_price, dorange_price = add.backward(dall)
    dorange, dorange_num = mul_orange.backward(dorange_price)
    dapple, dapple_num = mul_apple.backward(dapple_price)
    assert (dapple_num, dapple, dorange, dorange_num, dtax) == pytest.approx((110, 2.2, 3.3, 165, 650))


# --------------------------------------------------------------------------
# Activations
# --------------------------------------------------------------------------
def test_relu_forward_backward(backend, rng):
    x = rng.standard_normal((4, 5))
    x[np.abs(x) < 0.05] = 0.5          # keep away from the kink for the numerical check
    layer = Relu()
    out = layer.forward(x)
    np.testing.assert_array_equal(out, np.maximum(x, 0))
    np.testing.assert_array_equal(layer.mask, x <= 0)
    dout = rng.standard_normal(x.shape)
    dx = layer.backward(dout)
    check_close(dx, numerical_gradient(scalar_of(lambda: Relu().forward(x), dout), x))


def test_sigmoid_forward_backward(backend, rng):
    x = rng.standard_normal((3, 4))
    layer = Sigmoid()
    np.testing.assert_allclose(layer.forward(x), 1 / (1 + np.exp(-x)), rtol=1e-15)
    dout = rng.standard_normal(x.shape)
    dx = layer.backward(dout)
    check_close(dx, numerical_gradient(scalar_of(lambda: Sigmoid().forward(x), dout), x))


# --------------------------------------------------------------------------
# Affine
# --------------------------------------------------------------------------
def test_affine_4d_input(backend, rng):
    x = rng.standard_normal((3, 2, 2, 3))
    W = rng.standard_normal((12, 5))
    b = rng.standard_normal(5)
    layer = Affine(W, b)
    out = layer.forward(x)
    np.testing.assert_allclose(out, x.reshape(3, -1) @ W + b, rtol=1e-12)
    assert layer.original_x_shape == x.shape and layer.x.shape == (3, 12)
    dout = rng.standard_normal(out.shape)
    dx = layer.backward(dout)
    assert dx.shape == x.shape
    f = scalar_of(lambda: Affine(W, b).forward(x), dout)
    check_close(dx, numerical_gradient(f, x))
    check_close(layer.dW, numerical_gradient(f, W))
    check_close(layer.db, numerical_gradient(f, b))


def test_affine_shares_parameters(backend, rng):
    W, b = rng.standard_normal((4, 3)), np.zeros(3)
    layer = Affine(W, b)
    W *= 2                              # an optimizer updates params in place
    x = rng.standard_normal((2, 4))
    np.testing.assert_allclose(layer.forward(x), x @ W, rtol=1e-12)


def test_affine_errors(backend, rng):
    W, b = rng.standard_normal((4, 3)), np.zeros(3)
    with pytest.raises(TypeError, match="Affine.forward: input must be float32 or float64, got dtype int64"):
        Affine(W, b).forward(np.ones((2, 4), dtype=np.int64))
    with pytest.raises(ValueError, match="Affine.forward: input has 5 features but W"):
        Affine(W, b).forward(np.ones((2, 5)))
    with pytest.raises(ValueError, match="Affine.forward: input must be \\(N, ...\\)"):
        Affine(W, b).forward(np.ones(4))
    with pytest.raises(TypeError, match="Affine: W must be float32 or float64"):
        Affine(np.ones((4, 3), dtype=int), b)
    with pytest.raises(ValueError, match="Affine: W must be 2-D"):
        Affine(np.ones(4), b)
    layer = Affine(W, b)
    layer.forward(np.ones((2, 4)))
    with pytest.raises(ValueError, match="Affine.backward: dout must have shape \\(2, 3\\)"):
        layer.backward(np.ones((2, 4)))


# --------------------------------------------------------------------------
# SoftmaxWithLoss
# --------------------------------------------------------------------------
@pytest.mark.parametrize("one_hot", [False, True])
def test_softmax_with_loss(backend, rng, one_hot):
    x = rng.standard_normal((4, 5))
    labels = np.array([0, 3, 4, 1])
    t = np.eye(5)[labels] if one_hot else labels
    layer = SoftmaxWithLoss()
    loss = layer.forward(x, t)
    assert loss == pytest.approx(F.softmax_loss(x, labels), rel=1e-12)
    assert layer.loss == loss and layer.t is not None
    np.testing.assert_allclose(layer.y, F.softmax(x), rtol=1e-12)
    dx = layer.backward()
    # The loss has log(y + 1e-7): its exact gradient differs from (y - t)/N by ~1e-7 relative.
    check_close(dx, numerical_gradient(lambda _: SoftmaxWithLoss().forward(x, t), x), rtol=2e-5)
    np.testing.assert_allclose(layer.backward(dout=2.5), 2.5 * dx, rtol=1e-12)


@pytest.mark.parametrize("t", [np.array(2), np.array([0.0, 0.0, 1.0, 0.0])])
def test_softmax_with_loss_single_sample(backend, rng, t):
    x = rng.standard_normal(4)
    layer = SoftmaxWithLoss()
    loss = layer.forward(x, t)
    assert loss == pytest.approx(-np.log(F.softmax(x)[2] + 1e-7), rel=1e-12)
    assert layer.y.shape == (4,)
    dx = layer.backward()
    assert dx.shape == (4,)
    check_close(dx, numerical_gradient(lambda _: SoftmaxWithLoss().forward(x, t), x), rtol=2e-5)


def test_softmax_with_loss_one_hot_row_for_batch_of_one(backend, rng):
    # The book tells one-hot targets by their size: a (K,) one-hot row fits an (1, K) batch.
    x = rng.standard_normal((1, 4))
    assert SoftmaxWithLoss().forward(x, np.array([0, 0, 1, 0])) == pytest.approx(
        SoftmaxWithLoss().forward(x, np.array([2])), rel=1e-12)


def test_softmax_with_loss_errors(backend):
    layer = SoftmaxWithLoss()
    with pytest.raises(ValueError, match="SoftmaxWithLoss.forward: labels must lie in \\[0, 3\\)"):
        layer.forward(np.zeros((2, 3)), np.array([0, 3]))
    with pytest.raises(ValueError, match="SoftmaxWithLoss.forward: 3 labels for a batch of 2"):
        layer.forward(np.zeros((2, 3)), np.array([0, 1, 2]))
    with pytest.raises(ValueError, match="scores must be \\(N, K\\) or \\(K,\\)"):
        layer.forward(np.zeros((2, 3, 1)), np.array([0, 1]))


# --------------------------------------------------------------------------
# Dropout
# --------------------------------------------------------------------------
def test_dropout(backend, rng):
    x = rng.standard_normal((6, 7))
    np.random.seed(3)
    layer = Dropout(0.3)
    out = layer.forward(x)
    np.random.seed(3)
    expected_mask = np.random.rand(6, 7) > 0.3
    np.testing.assert_array_equal(layer.mask, expected_mask)
    np.testing.assert_array_equal(out, x * expected_mask)
    np.testing.assert_allclose(layer.forward(x, train_flg=False), x * 0.7, rtol=1e-15)
    dout = rng.standard_normal(x.shape)
    dx = layer.backward(dout)

    def f(_):  # the same mask on every call
        np.random.seed(3)
        return float(np.sum(Dropout(0.3).forward(x) * dout))

    check_close(dx, numerical_gradient(f, x))
    with pytest.raises(ValueError, match="Dropout: dropout_ratio must be in \\[0, 1\\)"):
        Dropout(1.5)


# --------------------------------------------------------------------------
# BatchNormalization
# --------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(5, 4), (3, 2, 2, 3)])
def test_batchnorm_backward(backend, rng, shape):
    x = rng.standard_normal(shape) * 2 + 1
    D = int(np.prod(shape[1:]))
    gamma = rng.uniform(0.5, 1.5, D)
    beta = rng.standard_normal(D)
    layer = BatchNormalization(gamma, beta)
    out = layer.forward(x)
    assert out.shape == x.shape
    dout = rng.standard_normal(shape)
    dx = layer.backward(dout)
    assert dx.shape == x.shape
    f = scalar_of(lambda: BatchNormalization(gamma, beta).forward(x), dout)
    check_close(dx, numerical_gradient(f, x))
    check_close(layer.dgamma, numerical_gradient(f, gamma))
    check_close(layer.dbeta, numerical_gradient(f, beta))


def test_batchnorm_statistics(backend, rng):
    x = rng.standard_normal((50, 3)) * np.array([1.0, 2.0, 3.0]) + np.array([5.0, -1.0, 0.0])
    gamma, beta = np.array([1.0, 2.0, 0.5]), np.array([0.0, 1.0, -1.0])
    layer = BatchNormalization(gamma, beta, momentum=0.9)
    out = layer.forward(x)
    mu, var = x.mean(axis=0), x.var(axis=0)
    np.testing.assert_allclose(out, gamma * (x - mu) / np.sqrt(var + 10e-7) + beta, rtol=1e-12)
    np.testing.assert_allclose(layer.running_mean, 0.1 * mu, rtol=1e-12)
    np.testing.assert_allclose(layer.running_var, 0.1 * var, rtol=1e-12)
    layer.forward(x)
    np.testing.assert_allclose(layer.running_mean, 0.19 * mu, rtol=1e-12)
    test_out = layer.forward(x, train_flg=False)
    expected = gamma * (x - 0.19 * mu) / np.sqrt(0.19 * var + 10e-7) + beta
    np.testing.assert_allclose(test_out, expected, rtol=1e-12)
    with pytest.raises(ValueError, match="BatchNormalization.forward: input has 4 activations"):
        layer.forward(np.ones((2, 4)))


# --------------------------------------------------------------------------
# Convolution and Pooling
# --------------------------------------------------------------------------
def naive_conv(x, W, b, stride, pad):
    N, C, H, Wd = x.shape
    FN, _, FH, FW = W.shape
    xp = np.pad(x, [(0, 0), (0, 0), (pad, pad), (pad, pad)])
    OH, OW = (H + 2 * pad - FH) // stride + 1, (Wd + 2 * pad - FW) // stride + 1
    out = np.empty((N, FN, OH, OW))
    for i in range(OH):
        for j in range(OW):
            patch = xp[:, :, i * stride:i * stride + FH, j * stride:j * stride + FW]
            out[:, :, i, j] = np.tensordot(patch, W, axes=([1, 2, 3], [1, 2, 3])) + b
    return out


def test_convolution_stride2_pad1_nonsquare(backend, rng):
    x = rng.standard_normal((2, 3, 7, 6))
    W = rng.standard_normal((4, 3, 3, 2))
    b = rng.standard_normal(4)
    layer = Convolution(W, b, stride=2, pad=1)
    out = layer.forward(x)
    np.testing.assert_allclose(out, naive_conv(x, W, b, 2, 1), rtol=1e-10, atol=1e-12)
    assert layer.x is x
    dout = rng.standard_normal(out.shape)
    dx = layer.backward(dout)
    f = scalar_of(lambda: Convolution(W, b, stride=2, pad=1).forward(x), dout)
    check_close(dx, numerical_gradient(f, x))
    check_close(layer.dW, numerical_gradient(f, W))
    check_close(layer.db, numerical_gradient(f, b))


def test_convolution_errors(backend, rng):
    W, b = rng.standard_normal((2, 3, 3, 3)), np.zeros(2)
    with pytest.raises(ValueError, match="Convolution.forward: input has 2 channels"):
        Convolution(W, b).forward(np.ones((1, 2, 5, 5)))
    with pytest.raises(ValueError, match="larger than the padded input"):
        Convolution(W, b).forward(np.ones((1, 3, 2, 2)))
    with pytest.raises(ValueError, match="Convolution: W must be 4-D"):
        Convolution(np.ones((2, 3)), b)


@pytest.mark.parametrize("pool, stride, pad", [((2, 2), 2, 0), ((3, 2), 1, 1)])
def test_pooling(backend, rng, pool, stride, pad):
    x = rng.permutation(2 * 3 * 6 * 5).reshape(2, 3, 6, 5) / 10.0   # distinct values: no ties
    ph, pw = pool
    layer = Pooling(ph, pw, stride=stride, pad=pad)
    out = layer.forward(x)
    xp = np.pad(x, [(0, 0), (0, 0), (pad, pad), (pad, pad)])
    OH, OW = (6 + 2 * pad - ph) // stride + 1, (5 + 2 * pad - pw) // stride + 1
    expected = np.array([[[[xp[n, c, i * stride:i * stride + ph, j * stride:j * stride + pw].max()
                            for j in range(OW)] for i in range(OH)] for c in range(3)] for n in range(2)])
    np.testing.assert_array_equal(out, expected)
    assert layer.arg_max.shape == out.shape and layer.x is x
    dout = rng.standard_normal(out.shape)
    dx = layer.backward(dout)
    f = scalar_of(lambda: Pooling(ph, pw, stride=stride, pad=pad).forward(x), dout)
    check_close(dx, numerical_gradient(f, x))


# --------------------------------------------------------------------------
# float32 stays float32
# --------------------------------------------------------------------------
def test_float32_layers_stay_float32(backend, rng):
    f32 = np.float32
    x4 = rng.standard_normal((2, 3, 6, 6)).astype(f32)
    conv = Convolution(rng.standard_normal((4, 3, 3, 3)).astype(f32), np.zeros(4, f32), pad=1)
    relu, pool = Relu(), Pooling(2, 2, stride=2)
    bn = BatchNormalization(np.ones(4 * 3 * 3, f32), np.zeros(4 * 3 * 3, f32))
    affine = Affine(rng.standard_normal((36, 5)).astype(f32), np.zeros(5, f32))
    sig, drop, loss = Sigmoid(), Dropout(0.2), SoftmaxWithLoss()
    h = pool.forward(relu.forward(conv.forward(x4)))
    h = bn.forward(h)
    h = drop.forward(sig.forward(affine.forward(h)))
    assert h.dtype == f32
    loss.forward(h, np.array([1, 4]))
    assert loss.y.dtype == f32
    d = loss.backward()
    for layer in (drop, sig, affine, bn, pool, relu, conv):
        d = layer.backward(d)
        assert d.dtype == f32, type(layer).__name__
    for g in (conv.dW, conv.db, affine.dW, affine.db, bn.dgamma, bn.dbeta):
        assert g.dtype == f32
    assert bn.running_mean.dtype == f32


# --------------------------------------------------------------------------
# Misuse gets a clear error
# --------------------------------------------------------------------------
@pytest.mark.parametrize("make, name", [
    (lambda: Relu(), "Relu"), (lambda: Sigmoid(), "Sigmoid"),
    (lambda: Affine(np.ones((2, 2)), np.zeros(2)), "Affine"),
    (lambda: Convolution(np.ones((1, 1, 2, 2)), np.zeros(1)), "Convolution"),
    (lambda: Pooling(2, 2), "Pooling"), (lambda: Dropout(), "Dropout"),
    (lambda: BatchNormalization(np.ones(2), np.zeros(2)), "BatchNormalization"),
])
def test_backward_before_forward(make, name):
    with pytest.raises(RuntimeError, match=f"{name}.backward.*call forward before backward"):
        make().backward(np.ones((1, 2)))
    with pytest.raises(RuntimeError, match="SoftmaxWithLoss.backward: call forward before backward"):
        SoftmaxWithLoss().backward()


def test_pooling_default_stride_is_the_books(rng):
    layer = Pooling(2, 2)
    assert (layer.stride, layer.pad) == (1, 0)
    assert layer.forward(rng.standard_normal((1, 1, 4, 4))).shape == (1, 1, 3, 3)


def test_window_arguments_checked_at_construction():
    with pytest.raises(ValueError, match="Pooling: stride must be >= 1, got 0"):
        Pooling(2, 2, stride=0)
    with pytest.raises(TypeError, match="Pooling: pool_h must be an int, got 2.5"):
        Pooling(2.5, 2)
    with pytest.raises(ValueError, match="Convolution: pad must be >= 0, got -1"):
        Convolution(np.ones((1, 1, 2, 2)), np.zeros(1), pad=-1)
    with pytest.raises(ValueError, match=r"Convolution: b must have shape \(1,\).*got shape \(2,\)"):
        Convolution(np.ones((1, 1, 2, 2)), np.zeros(2))


def test_batchnorm_backward_shape_checked(rng):
    layer = BatchNormalization(np.ones(3), np.zeros(3))
    layer.forward(rng.standard_normal((4, 3)))
    with pytest.raises(ValueError, match="BatchNormalization.backward: dout must have shape \\(4, 3\\)"):
        layer.backward(np.ones((4, 2)))


# --------------------------------------------------------------------------
# One compute path: both backends give the same numbers
# --------------------------------------------------------------------------
def small_convnet_pass(x, t, params):
    """Forward and backward through Conv-Relu-Pool-Affine-SoftmaxWithLoss; returns every result."""
    conv = Convolution(params["W1"], params["b1"], stride=1, pad=1)
    relu, pool = Relu(), Pooling(2, 2, stride=2)
    affine, loss_layer = Affine(params["W2"], params["b2"]), SoftmaxWithLoss()
    loss = loss_layer.forward(affine.forward(pool.forward(relu.forward(conv.forward(x)))), t)
    dx = conv.backward(relu.backward(pool.backward(affine.backward(loss_layer.backward()))))
    return [np.asarray(loss), loss_layer.y, dx, conv.dW, conv.db, affine.dW, affine.db]


@pytest.mark.parametrize("dtype, rtol", [(np.float64, 1e-10), (np.float32, 1e-4)])
def test_backends_agree(rng, dtype, rtol):
    x = rng.standard_normal((4, 2, 8, 8)).astype(dtype)
    t = np.array([0, 2, 1, 2])
    params = {
        "W1": (0.3 * rng.standard_normal((3, 2, 3, 3))).astype(dtype), "b1": np.full(3, 0.1, dtype),
        "W2": (0.3 * rng.standard_normal((48, 3))).astype(dtype), "b2": np.zeros(3, dtype),
    }
    with fastnn.use_backend("numpy"):
        ref = small_convnet_pass(x, t, params)
    with fastnn.use_backend("cython"):
        got = small_convnet_pass(x, t, params)
    for r, g in zip(ref, got):
        assert g.dtype == r.dtype
        np.testing.assert_allclose(g, r, rtol=rtol, atol=rtol * np.abs(r).max())


# --------------------------------------------------------------------------
# Random geometries: identities that hold for every shape
# --------------------------------------------------------------------------
@st.composite
def window_case(draw):
    fh, fw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    stride, pad = draw(st.integers(1, 3)), draw(st.integers(0, 2))
    h = draw(st.integers(max(1, fh - 2 * pad), 9))
    w = draw(st.integers(max(1, fw - 2 * pad), 9))
    n, c = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    return n, c, h, w, fh, fw, stride, pad


@pytest.mark.parametrize("name", ["numpy", "cython"])
@settings(max_examples=25, deadline=None)
@given(case=window_case(), seed=st.integers(0, 2**31 - 1))
def test_conv_and_pool_identities(name, case, seed):
    """out = L(x) + b is linear in x and in W, so <dout, out - b> == <dx, x> == <dW, W>;
    max pooling passes each dout to its winner, so <dout, out> == <dx, x>."""
    n, c, h, w, fh, fw, stride, pad = case
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, c, h, w))
    W = rng.standard_normal((2, c, fh, fw))
    b = rng.standard_normal(2)
    with fastnn.use_backend(name):
        conv = Convolution(W, b, stride=stride, pad=pad)
        out = conv.forward(x)
        np.testing.assert_allclose(out, naive_conv(x, W, b, stride, pad), rtol=1e-10, atol=1e-10)
        dout = rng.standard_normal(out.shape)
        dx = conv.backward(dout)
        linear = np.sum(dout * (out - b.reshape(1, -1, 1, 1)))
        assert np.sum(dx * x) == pytest.approx(linear, rel=1e-9, abs=1e-9)
        assert np.sum(conv.dW * W) == pytest.approx(linear, rel=1e-9, abs=1e-9)
        np.testing.assert_allclose(conv.db, dout.sum(axis=(0, 2, 3)), rtol=1e-12)

        pool = Pooling(fh, fw, stride=stride, pad=pad)
        pout = pool.forward(x)
        assert pout.shape == out.shape[:1] + (c,) + out.shape[2:]
        pdout = rng.standard_normal(pout.shape)
        pdx = pool.backward(pdout)
        assert pdx.shape == x.shape
        assert np.sum(pdx * x) == pytest.approx(np.sum(pdout * pout), rel=1e-9, abs=1e-9)


def _conv_relu_pool(rng, dtype):
    W = rng.standard_normal((4, 3, 3, 3)).astype(dtype)
    b = rng.standard_normal(4).astype(dtype)
    return [Convolution(W, b, stride=1, pad=1), Relu(), Pooling(2, 2, stride=2)]


def _forward_one_by_one(layers, x):
    """x through each layer's own forward, the book's loop without fusion."""
    for layer in layers:
        x = layer.forward(x)
    return x


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_forward_layers_fuses_conv_relu_with_the_same_numbers_and_state(backend, rng, dtype):
    x = rng.standard_normal((2, 3, 6, 6)).astype(dtype)
    fused = _conv_relu_pool(np.random.default_rng(0), dtype)
    plain = _conv_relu_pool(np.random.default_rng(0), dtype)
    assert is_conv_relu_pair(fused[0], fused[1]) and not is_conv_relu_pair(fused[1], fused[2])
    out = forward_layers(fused, x)
    h = _forward_one_by_one(plain, x)
    np.testing.assert_array_equal(out, h)
    np.testing.assert_array_equal(fused[1].out, plain[1].out)     # the Relu holds its output
    assert fused[0].x is x
    dout = rng.standard_normal(out.shape).astype(dtype)
    d_fused, d_plain = backward_layers(fused, dout), dout
    for layer in reversed(plain):
        d_plain = layer.backward(d_plain)
    np.testing.assert_array_equal(d_fused, d_plain)
    np.testing.assert_array_equal(fused[0].dW, plain[0].dW)
    np.testing.assert_array_equal(fused[0].db, plain[0].db)


def test_forward_layers_calls_a_forward_replaced_on_the_instance(rng):
    layers = _conv_relu_pool(rng, np.float64)
    seen = []
    original = layers[1].forward
    layers[1].forward = lambda x: seen.append(x.shape) or original(x)
    assert not is_conv_relu_pair(layers[0], layers[1])
    out = forward_layers(layers, rng.standard_normal((1, 3, 6, 6)))
    assert seen == [(1, 4, 6, 6)]
    original_backward = layers[0].backward
    layers[0].backward = lambda d: seen.append(d.shape) or original_backward(d)
    backward_layers(layers, np.ones_like(out))
    assert seen == [(1, 4, 6, 6), (1, 4, 6, 6)]


def test_forward_layers_passes_train_flg_to_dropout(rng):
    x = np.ones((4, 50))
    assert np.all(forward_layers([Dropout(0.5)], x, train_flg=False) == 0.5)
    assert np.any(forward_layers([Dropout(0.5)], x, train_flg=True) == 0)


def test_backward_layers_can_skip_the_input_gradient_of_a_first_convolution(backend, rng):
    x = rng.standard_normal((2, 3, 6, 6))
    with_dx = _conv_relu_pool(np.random.default_rng(0), np.float64)
    without_dx = _conv_relu_pool(np.random.default_rng(0), np.float64)
    out = forward_layers(with_dx, x)
    forward_layers(without_dx, x)
    dout = rng.standard_normal(out.shape)
    assert backward_layers(with_dx, dout).shape == x.shape
    assert backward_layers(without_dx, dout, need_input_grad=False) is None
    np.testing.assert_array_equal(without_dx[0].dW, with_dx[0].dW)
    np.testing.assert_array_equal(without_dx[0].db, with_dx[0].db)
    # a plain Convolution in first place (no Relu after it) skips it too
    conv = Convolution(np.ones((2, 3, 3, 3)), np.zeros(2))
    y = conv.forward(x)
    assert backward_layers([conv], np.ones_like(y), need_input_grad=False) is None
    assert conv.dW.shape == (2, 3, 3, 3)


def test_backward_layers_can_skip_the_input_gradient_of_a_first_affine(backend, rng):
    x = rng.standard_normal((5, 2, 3))
    W = rng.standard_normal((6, 4))
    layers = [Affine(W, np.zeros(4)), Relu()]
    out = forward_layers(layers, x)
    dout = rng.standard_normal(out.shape)
    assert backward_layers(layers, dout).shape == x.shape
    dW = layers[0].dW.copy()
    assert backward_layers(layers, dout, need_input_grad=False) is None
    np.testing.assert_array_equal(layers[0].dW, dW)


def test_affine_relu_pairs_run_fused_with_the_numbers_of_two_layers(backend, rng):
    """forward_layers runs Affine + Relu as one kernel, backward_layers as Relu then
    Affine: the outputs, the Relu's state and the gradients are those of the layers
    called one by one."""
    x = rng.standard_normal((6, 2, 4))
    W1, b1 = rng.standard_normal((8, 5)), rng.standard_normal(5)
    W2, b2 = rng.standard_normal((5, 3)), rng.standard_normal(3)

    def net():
        return [Affine(W1, b1), Relu(), Affine(W2, b2)]
    fused, single = net(), net()
    assert is_relu_pair(fused[0], fused[1]) and not is_relu_pair(fused[1], fused[2])
    out = forward_layers(fused, x)
    ref = _forward_one_by_one(single, x)
    np.testing.assert_array_equal(out, ref)
    np.testing.assert_array_equal(fused[1].mask, single[1].mask)
    dout = rng.standard_normal(out.shape)
    dx = backward_layers(fused, dout)
    d = dout
    for layer in reversed(single):
        d = layer.backward(d)
    np.testing.assert_array_equal(dx, d)
    for a, b in zip(fused, single):
        if isinstance(a, Affine):
            np.testing.assert_array_equal(a.dW, b.dW)
            np.testing.assert_array_equal(a.db, b.db)
