"""fastnn.keras layers: gradients vs numerical differences, Conv2D/MaxPooling2D vs
direct NumPy loops, weight layouts, shape inference and argument errors."""
import numpy as np
import pytest

from fastnn import keras
from fastnn.keras import layers as L


@pytest.fixture
def float64():
    """Build models in float64 so that central differences are accurate."""
    keras.backend.set_floatx("float64")
    yield
    keras.backend.set_floatx("float32")


def _loss_at(model, xs, ys):
    """Training-mode loss of the compiled model (what train_on_batch differentiates)."""
    outs = model._graph.forward(xs, training=True)
    return sum(lw * loss.value(y, o) for o, y, loss, lw in zip(outs, ys, model._losses, model._loss_weights))


def check_gradients(model, x, y, loss, n_checks=12, rtol=1e-5, seed=0):
    """Compare every trainable weight's gradient with central differences (a sample of entries)."""
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.0), loss=loss)
    model.train_on_batch(x, y)                       # lr 0: fills layer.grads, changes nothing
    xs = model._inputs(x)
    ys = model._targets(y, xs[0].shape[0])
    rng = np.random.default_rng(seed)
    checked = 0
    for layer in model.layers:
        for name in layer.trainable_param_names():
            param, grad = layer.params[name], layer.grads[name]
            assert grad.shape == param.shape, (layer.name, name)
            flat_idx = rng.choice(param.size, size=min(n_checks, param.size), replace=False)
            for i in flat_idx:
                idx = np.unravel_index(i, param.shape)
                old = param[idx]
                h = 1e-6 * max(1.0, abs(old))
                param[idx] = old + h
                up = _loss_at(model, xs, ys)
                param[idx] = old - h
                down = _loss_at(model, xs, ys)
                param[idx] = old
                numeric = (up - down) / (2 * h)
                assert grad[idx] == pytest.approx(numeric, rel=rtol, abs=1e-8), (layer.name, name, idx)
                checked += 1
    assert checked > 0


@pytest.mark.parametrize("loss,last,targets", [
    ("categorical_crossentropy", "softmax", "onehot"),
    ("sparse_categorical_crossentropy", "softmax", "labels"),
    ("categorical_crossentropy", "sigmoid", "onehot"),          # not fused: clipped-CE gradient
    ("binary_crossentropy", "sigmoid", "binary"),
    ("mean_squared_error", None, "real"),
    ("mae", "tanh", "real"),
])
def test_dense_model_gradients(float64, backend, loss, last, targets):
    rng = np.random.default_rng(1)
    model = keras.Sequential([
        L.Dense(7, activation="relu", input_shape=(6,)),
        L.Dense(5, activation="softplus"),
        L.Dense(4, activation=last),
    ])
    x = rng.standard_normal((9, 6))
    labels = rng.integers(0, 4, 9)
    y = {"onehot": keras.utils.to_categorical(labels, 4), "labels": labels,
         "binary": rng.integers(0, 2, (9, 4)).astype(float), "real": rng.standard_normal((9, 4))}[targets]
    check_gradients(model, x, y, loss)


def test_conv_bn_pool_model_gradients(float64, backend):
    rng = np.random.default_rng(2)
    model = keras.Sequential([
        L.Conv2D(3, 3, strides=2, padding="same", activation="relu", input_shape=(7, 7, 2)),
        L.BatchNormalization(),
        L.MaxPooling2D(2, padding="same"),                    # 4x4 -> 2x2
        L.Conv2D(4, (2, 2), padding="same", activation="tanh"),  # asymmetric 'same' padding
        L.Conv2D(2, (2, 1), padding="valid"),
        L.Flatten(),
        L.Dense(3, activation="softmax"),
    ])
    x = rng.standard_normal((5, 7, 7, 2))
    y = rng.integers(0, 3, 5)
    check_gradients(model, x, y, "sparse_categorical_crossentropy", n_checks=8)


def test_maxpool_with_unequal_strides_gradients(float64, backend):
    rng = np.random.default_rng(12)
    model = keras.Sequential([
        L.Conv2D(3, 2, activation="relu", input_shape=(7, 8, 2)),            # -> 6x7
        L.MaxPooling2D((2, 3), strides=(1, 2), padding="same"),                # -> 6x4, pads (0,1), (1,1)
        L.MaxPooling2D((3, 2), strides=(2, 1)),                                 # -> 2x3, overlapping rows
        L.Flatten(),
        L.Dense(3, activation="softmax"),
    ])
    x = rng.standard_normal((4, 7, 8, 2))
    y = rng.integers(0, 3, 4)
    check_gradients(model, x, y, "sparse_categorical_crossentropy", n_checks=8)


def test_functional_concatenate_gradients_with_sample_weights(float64):
    rng = np.random.default_rng(3)
    a, b = keras.Input(shape=(3,), name="a"), keras.Input(shape=(4,), name="b")
    h = L.Dense(5, activation="relu")(b)
    c = L.concatenate([a, h])
    out = L.Dense(2, activation="sigmoid")(c)
    model = keras.Model(inputs=[a, b], outputs=out)
    x = (rng.standard_normal((6, 3)), rng.standard_normal((6, 4)))
    y = rng.integers(0, 2, (6, 2)).astype(float)
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.0), loss="binary_crossentropy")
    w = rng.uniform(0.5, 2.0, 6)
    model.train_on_batch(x, y, sample_weight=w)
    xs, ys = model._inputs(x), model._targets(y, 6)
    layer = model.layers[-1]
    W = layer.params["kernel"]
    numeric = np.zeros_like(W)
    for idx in np.ndindex(W.shape):
        old = W[idx]
        vals = []
        for sign in (1, -1):
            W[idx] = old + sign * 1e-6
            out = model._graph.forward(xs, training=True)[0]
            vals.append(model._losses[0].value(ys[0], out, w))
        W[idx] = old
        numeric[idx] = (vals[0] - vals[1]) / 2e-6
    np.testing.assert_allclose(layer.grads["kernel"], numeric, rtol=1e-5, atol=1e-9)


def _direct_conv(x, kernel, bias, stride, padding):
    """Keras' Conv2D by loops: NHWC input, kernel (kh, kw, in, out), TensorFlow's 'same' rule."""
    N, H, W, C = x.shape
    kh, kw, _, F = kernel.shape
    if padding == "same":
        oh, ow = -(-H // stride), -(-W // stride)
        ph = max((oh - 1) * stride + kh - H, 0)
        pw = max((ow - 1) * stride + kw - W, 0)
        x = np.pad(x, [(0, 0), (ph // 2, ph - ph // 2), (pw // 2, pw - pw // 2), (0, 0)])
    else:
        oh, ow = (H - kh) // stride + 1, (W - kw) // stride + 1
    out = np.zeros((N, oh, ow, F))
    for i in range(oh):
        for j in range(ow):
            patch = x[:, i * stride:i * stride + kh, j * stride:j * stride + kw, :]
            out[:, i, j, :] = np.tensordot(patch, kernel, axes=([1, 2, 3], [0, 1, 2])) + bias
    return out


@pytest.mark.parametrize("padding", ["valid", "same"])
@pytest.mark.parametrize("k,stride,size", [(3, 1, 8), (3, 2, 8), (2, 1, 7), (5, 3, 11), (4, 2, 9)])
def test_conv2d_matches_direct_numpy(float64, backend, padding, k, stride, size):
    rng = np.random.default_rng(k * 10 + stride)
    conv = L.Conv2D(4, k, strides=stride, padding=padding, bias_initializer="random_normal")
    x = rng.standard_normal((2, size, size + 1, 3))
    out = conv(x)
    expected = _direct_conv(x, conv.kernel, conv.bias, stride, padding)
    assert out.shape == expected.shape == (2,) + conv.output_shape
    np.testing.assert_allclose(out, expected, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("pool,stride,padding,size", [(2, None, "valid", 7), (3, 2, "valid", 9),
                                                      (2, None, "same", 7), (3, 2, "same", 8)])
def test_maxpool_matches_direct_numpy(float64, backend, pool, stride, padding, size):
    rng = np.random.default_rng(pool + size)
    layer = L.MaxPooling2D(pool, strides=stride, padding=padding)
    x = rng.standard_normal((2, size, size, 3)) - 3.0       # negative values: padding must never win
    out = layer(x)
    s = stride or pool
    if padding == "same":
        o = -(-size // s)
        p = max((o - 1) * s + pool - size, 0)
        xp = np.pad(x, [(0, 0), (p // 2, p - p // 2), (p // 2, p - p // 2), (0, 0)], constant_values=-np.inf)
    else:
        o, xp = (size - pool) // s + 1, x
    expected = np.array([[[xp[n, i * s:i * s + pool, j * s:j * s + pool, :].max(axis=(0, 1))
                           for j in range(o)] for i in range(o)] for n in range(2)])
    np.testing.assert_array_equal(out, expected)


def test_batchnorm_training_and_inference():
    rng = np.random.default_rng(4)
    bn = L.BatchNormalization(momentum=0.9)
    x = (rng.standard_normal((50, 3, 3, 4)) * 3 + 2).astype(np.float32)
    y = bn(x, training=True)
    # Per channel: mean 0, variance var/(var+eps) over N, H, W.
    np.testing.assert_allclose(y.mean(axis=(0, 1, 2)), 0, atol=1e-5)
    var = x.var(axis=(0, 1, 2))
    np.testing.assert_allclose(y.var(axis=(0, 1, 2)), var / (var + 1e-3), rtol=1e-4)
    gamma, beta, mm, mv = bn.get_weights()
    np.testing.assert_allclose(mm, 0.1 * x.mean(axis=(0, 1, 2)), rtol=1e-5)
    np.testing.assert_allclose(mv, 0.9 + 0.1 * var, rtol=1e-5)
    inference = bn(x, training=False)
    np.testing.assert_allclose(inference, (x - mm) / np.sqrt(mv + 1e-3), rtol=1e-4, atol=1e-5)
    assert bn.count_params() == 16 and len(bn.trainable_weights) == 2


def test_dropout_is_inverted():
    keras.utils.set_random_seed(0)
    d = L.Dropout(0.25)
    x = np.ones((400, 50), dtype=np.float32)
    y = d(x, training=True)
    kept = y != 0
    assert abs(kept.mean() - 0.75) < 0.01
    np.testing.assert_allclose(y[kept], 1 / 0.75, rtol=1e-6)
    np.testing.assert_array_equal(d(x, training=False), x)


def test_weight_layouts_and_set_weights():
    model = keras.Sequential([L.Conv2D(6, (3, 5), input_shape=(10, 12, 2)), L.Flatten(), L.Dense(7)])
    kc, bc, kd, bd = model.get_weights()
    assert kc.shape == (3, 5, 2, 6) and bc.shape == (6,)
    assert kd.shape == (8 * 8 * 6, 7) and bd.shape == (7,)
    assert all(w.dtype == np.float32 for w in model.get_weights())
    new = [np.full_like(w, i + 1) for i, w in enumerate(model.get_weights())]
    model.set_weights(new)
    for got, want in zip(model.get_weights(), new):
        np.testing.assert_array_equal(got, want)
    with pytest.raises(ValueError, match="conv2d.*weight 'kernel' has shape \\(3, 5, 2, 6\\)"):
        model.layers[0].set_weights([np.zeros((5, 3, 2, 6)), bc])
    with pytest.raises(ValueError, match="set_weights expects 4 arrays, got 2"):
        model.set_weights(new[:2])


def test_dense_acts_on_last_axis():
    d = L.Dense(3, input_shape=(4, 5))
    x = np.random.default_rng(0).standard_normal((2, 4, 5)).astype(np.float32)
    np.testing.assert_allclose(d(x), x @ d.kernel + d.bias, rtol=1e-5)


def test_glorot_and_he_initializer_scales():
    keras.utils.set_random_seed(0)
    dense = L.Dense(400)
    dense(np.zeros((1, 600), np.float32))
    limit = np.sqrt(6 / (600 + 400))
    w = dense.kernel
    assert w.min() >= -limit and w.max() <= limit and w.std() == pytest.approx(limit / np.sqrt(3), rel=0.02)
    conv = L.Conv2D(64, 3, kernel_initializer="he_normal")
    conv(np.zeros((1, 5, 5, 32), np.float32))
    assert conv.kernel.std() == pytest.approx(np.sqrt(2 / (9 * 32)), rel=0.03)
    assert np.abs(conv.kernel).max() <= 2 * np.sqrt(2 / (9 * 32)) / 0.8796 + 1e-6
    rn = keras.initializers.get("random_normal")((300, 300))
    assert rn.std() == pytest.approx(0.05, rel=0.02)


def test_auto_names():
    keras.backend.clear_session()
    names = [L.Dense(2).name, L.Dense(2).name, L.Conv2D(1, 1).name, L.MaxPooling2D().name,
             L.BatchNormalization().name, L.Dense(1, name="Dense1").name]
    assert names == ["dense", "dense_1", "conv2d", "max_pooling2d", "batch_normalization", "Dense1"]


@pytest.mark.parametrize("make,match", [
    (lambda: L.Dense(3, activaton="relu"), r"Dense: unknown keyword argument\(s\) \['activaton'\]"),
    (lambda: L.Conv2D(3, 3, filter_size=2), r"Conv2D: unknown keyword argument\(s\) \['filter_size'\]"),
    (lambda: L.Dense(3, activation="relux"), r"Dense 'dense\w*': unknown activation 'relux'"),
    (lambda: L.Dense(3, kernel_initializer="glorot"), r"unknown initializer 'glorot'"),
    (lambda: L.Conv2D(3, 3, padding="full"), r"padding must be 'valid' or 'same'"),
    (lambda: L.Dense(0), r"units must be a positive int"),
    (lambda: L.Dropout(1.0), r"rate must be in \[0, 1\)"),
])
def test_layer_argument_errors(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_shape_errors_name_the_layer():
    model = keras.Sequential([L.Dense(4, input_shape=(784,)), L.Dense(2)])
    with pytest.raises(ValueError, match=r"Input 0 of layer 'dense\w*' is incompatible.*\(None, 784\).*\(5, 100\)"):
        model.predict(np.zeros((5, 100)), verbose=0)
    with pytest.raises(ValueError, match=r"conv2d\w*.*expects samples of shape \(height, width, channels\)"):
        keras.Sequential([L.Conv2D(2, 3, input_shape=(28, 28))])
    with pytest.raises(ValueError, match=r"window 5x5 is larger than the input 3x3"):
        keras.Sequential([L.Conv2D(2, 5, input_shape=(3, 3, 1))])
    d = L.Dense(3)
    d(np.zeros((1, 4), np.float32))
    with pytest.raises(ValueError, match=r"layer 'dense\w*' \(Dense\) is incompatible.*\(None, 4\).*\(None, 5\)"):
        d(np.zeros((1, 5), np.float32))


def test_reshape_and_flatten_keep_values_and_gradients(float64):
    rng = np.random.default_rng(5)
    model = keras.Sequential([L.Reshape((4, 3, -1), input_shape=(24,)), L.Conv2D(2, 2, padding="same"),
                              L.Flatten(), L.Dense(2)])
    assert model.layers[0].output_shape == (4, 3, 2)
    x = rng.standard_normal((3, 24))
    np.testing.assert_array_equal(model.layers[0](x), x.reshape(3, 4, 3, 2))
    check_gradients(model, x, rng.standard_normal((3, 2)), "mse")
    with pytest.raises(ValueError, match=r"Reshape 'reshape\w*': input \(24,\) has 24 values per sample, "
                                         r"target_shape \(5, 5\) has 25"):
        keras.Sequential([L.Reshape((5, 5), input_shape=(24,))])


def _relu_pool_model(activation_layer, pool, strides, padding, branch=False, seed=3):
    """Conv2D -> ReLU -> MaxPooling2D -> Flatten -> Dense, functional; branch: the ReLU's
    output also feeds a second path to the output (its gradient is then not the pool's alone)."""
    keras.utils.set_random_seed(seed)
    inp = keras.Input((9, 9, 2))
    if activation_layer:
        a = L.Activation("relu")(L.Conv2D(4, 3, padding="same")(inp))
    else:
        a = L.Conv2D(4, 3, padding="same", activation="relu")(inp)
    h = L.Flatten()(L.MaxPooling2D(pool, strides=strides, padding=padding)(a))
    if branch:
        h = L.Concatenate()([h, L.Flatten()(a)])
    out = L.Dense(3, activation="softmax")(h)
    return keras.Model(inp, out)


def _weight_grads(model, x, y):
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.0), loss="sparse_categorical_crossentropy")
    model.train_on_batch(x, y)                       # lr 0: fills layer.grads, changes nothing
    return [layer.grads[n].copy() for layer in model.layers for n in layer.trainable_param_names()]


@pytest.mark.parametrize("activation_layer", [False, True])
@pytest.mark.parametrize("pool, strides, padding", [(2, 2, "valid"), (3, 2, "same"), (2, 1, "valid")])
@pytest.mark.parametrize("branch", [False, True])
def test_relu_before_max_pooling_is_taken_by_the_pool(activation_layer, pool, strides, padding, branch,
                                                      backend, monkeypatch):
    """A ReLU whose output feeds only a MaxPooling2D: the pool takes the ReLU's gradient on
    its pooled output, and the convolution's backward gets no relu_out. The weight
    gradients are those of the plain path bit for bit (tiling and overlapping windows,
    exact zeros from the ReLU, ties, NaN and inf gradients); with a second reader of the
    ReLU's output nothing changes hands."""
    from fastnn import kernels
    from fastnn.keras.layers.convolutional import MaxPooling2D
    rng = np.random.default_rng(0)
    x = rng.standard_normal((5, 9, 9, 2)).astype(np.float32)
    x[0] = 0.0                                       # a whole image of ties at 0 after the bias
    x[1, :3, :3] = 1.0                               # ties at positive values
    y = rng.integers(0, 3, 5)
    seen = []
    real_conv_backward = kernels.conv2d_nhwc_backward
    monkeypatch.setattr(kernels, "conv2d_nhwc_backward",
                        lambda *a, **k: seen.append(k.get("relu_out")) or real_conv_backward(*a, **k))
    absorbed = _weight_grads(_relu_pool_model(activation_layer, pool, strides, padding, branch), x, y)
    if not activation_layer:
        assert (seen[-1] is None) != branch          # skipped exactly when the pool is the only reader
    monkeypatch.setattr(MaxPooling2D, "absorbs_relu", False)
    plain = _weight_grads(_relu_pool_model(activation_layer, pool, strides, padding, branch), x, y)
    if not activation_layer:
        assert seen[-1] is not None
    assert len(absorbed) == len(plain) == 4
    for a, p in zip(absorbed, plain):
        np.testing.assert_array_equal(a, p)
        np.testing.assert_array_equal(np.signbit(a), np.signbit(p))


def test_relu_through_max_pooling_with_nan_and_inf_gradients(backend):
    """The pool's backward through the ReLU equals relu_backward on the scattered
    gradient bit for bit, with NaN and inf in dout and NaN in the ReLU output."""
    from fastnn import kernels
    rng = np.random.default_rng(1)
    a = kernels.relu_forward(rng.standard_normal((2, 6, 6, 3)))
    a[0, 0, 0, 0] = np.nan
    a[1, 2:4, 2:4, 1] = 0.0
    for pool, strides in (((2, 2), (2, 2)), ((3, 3), (1, 1))):
        layer = L.MaxPooling2D(pool, strides=strides)
        layer.build((None, 6, 6, 3))
        layer.compute_output_shape((6, 6, 3))
        out = layer.forward(a)
        dout = rng.standard_normal(out.shape)
        dout[0, 0, 0, :] = [np.nan, np.inf, -np.inf]
        dout[1, 1, 1, 1] = -0.0
        through = layer.backward(dout, through_relu=True)
        plain = kernels.relu_backward(layer.backward(dout), a)
        np.testing.assert_array_equal(through, plain)
        np.testing.assert_array_equal(np.signbit(through), np.signbit(plain))
