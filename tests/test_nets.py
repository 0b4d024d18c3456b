"""The book's networks: backprop against numerical gradients, training, dtype, save/load."""
import numpy as np
import pytest

from fastnn.layers import Dropout
from fastnn.nets import (
    DeepConvNet, MultiLayerNet, MultiLayerNetExtend, SampleNetwork, SimpleConvNet, TwoLayerNet,
)
from fastnn.optimizer import SGD, Adam


def conv(filter_num, pad=1, filter_size=3, stride=1):
    return {"filter_num": filter_num, "filter_size": filter_size, "pad": pad, "stride": stride}


def tiny_deep_convnet(dtype=np.float64, rng=None, no_dropout=False):
    """DeepConvNet on 1x8x8 inputs with 2-3 filters per convolution."""
    net = DeepConvNet((1, 8, 8), conv(2), conv(2), conv(3), conv(3, pad=2), conv(3), conv(3),
                      hidden_size=6, output_size=3, dtype=dtype, rng=rng)
    if no_dropout:  # a deterministic training-mode loss, for the gradient check
        for layer in net.layers:
            if isinstance(layer, Dropout):
                layer.dropout_ratio = 0.0
    return net


# Each factory: rng -> (net, x, t) of a tiny configuration.
def _two_layer(rng):
    net = TwoLayerNet(6, 5, 3, weight_init_std=0.5, rng=rng)
    return net, rng.standard_normal((4, 6)), np.array([0, 2, 1, 2])


def _multi_relu_decay(rng):
    net = MultiLayerNet(6, [5, 4], 3, weight_decay_lambda=0.1, rng=rng)
    return net, rng.standard_normal((4, 6)), np.eye(3)[[0, 2, 1, 2]]  # one-hot targets


def _multi_sigmoid(rng):
    net = MultiLayerNet(6, [5], 3, activation="sigmoid", weight_init_std="xavier", rng=rng)
    return net, rng.standard_normal((4, 6)), np.array([1, 0, 2, 2])


def _extend_bn_dropout(rng):
    net = MultiLayerNetExtend(6, [5, 4], 3, weight_decay_lambda=0.05, use_batchnorm=True,
                              use_dropout=True, dropout_ration=0.0, rng=rng)
    return net, rng.standard_normal((4, 6)), np.array([0, 2, 1, 2])


def _simple_convnet(rng):
    net = SimpleConvNet((2, 6, 6), conv(3, filter_size=3), hidden_size=5, output_size=3,
                        weight_init_std=0.3, rng=rng)
    return net, rng.standard_normal((2, 2, 6, 6)), np.array([1, 2])


def _deep_convnet(rng):
    return tiny_deep_convnet(rng=rng, no_dropout=True), rng.standard_normal((2, 1, 8, 8)), np.array([1, 0])


GRADIENT_CASES = {
    "TwoLayerNet": _two_layer,
    "MultiLayerNet-relu-decay": _multi_relu_decay,
    "MultiLayerNet-sigmoid": _multi_sigmoid,
    "MultiLayerNetExtend-bn-dropout": _extend_bn_dropout,
    "SimpleConvNet": _simple_convnet,
    "DeepConvNet": _deep_convnet,
}


@pytest.mark.parametrize("case", list(GRADIENT_CASES))
def test_backprop_matches_numerical_gradient(backend, rng, case):
    net, x, t = GRADIENT_CASES[case](rng)
    numerical = net.numerical_gradient(x, t)
    backprop = net.gradient(x, t)
    assert sorted(backprop) == sorted(numerical) == sorted(net.params)
    # Central differences with h=1e-4 are accurate to ~1e-8 here; the scale is
    # the largest gradient of the net (a bias in front of a BatchNorm has a
    # true gradient of 0, so a per-array relative error would be meaningless).
    scale = max(np.max(np.abs(g)) for g in numerical.values())
    for key in net.params:
        assert backprop[key].shape == net.params[key].shape, key
        assert backprop[key].dtype == np.float64, key
        err = np.max(np.abs(backprop[key] - numerical[key])) / scale
        assert err < 1e-6, f"{case} {key}: relative error {err:.2e}"


def _blobs(rng, n, shape, classes=3):
    """Inputs whose class shows as a shifted mean: learnable in a few steps."""
    t = rng.integers(0, classes, n)
    centres = rng.standard_normal((classes,) + shape)
    return centres[t] + 0.5 * rng.standard_normal((n,) + shape), t


TRAINING_CASES = {
    "TwoLayerNet": (lambda rng: TwoLayerNet(10, 8, 3, rng=rng), (10,), lambda: SGD(lr=0.5)),
    "MultiLayerNet": (lambda rng: MultiLayerNet(10, [8, 8], 3, weight_decay_lambda=0.01, rng=rng),
                      (10,), lambda: SGD(lr=0.1)),
    "MultiLayerNetExtend": (lambda rng: MultiLayerNetExtend(10, [8, 8], 3, use_batchnorm=True,
                                                            use_dropout=True, dropout_ration=0.2, rng=rng),
                            (10,), lambda: Adam(lr=0.01)),
    "SimpleConvNet": (lambda rng: SimpleConvNet((1, 8, 8), conv(4, pad=0), hidden_size=10, output_size=3,
                                                weight_init_std=0.1, rng=rng),
                      (1, 8, 8), lambda: Adam(lr=0.01)),
    "DeepConvNet": (lambda rng: DeepConvNet((1, 8, 8), conv(4), conv(4), conv(4), conv(4, pad=2), conv(4),
                                            conv(4), hidden_size=16, output_size=3, rng=rng),
                    (1, 8, 8), lambda: Adam(lr=0.003)),
}


@pytest.mark.parametrize("case", list(TRAINING_CASES))
def test_loss_falls_when_training(backend, rng, case):
    make_net, shape, make_optimizer = TRAINING_CASES[case]
    np.random.seed(0)  # the dropout masks
    net = make_net(rng)
    optimizer = make_optimizer()
    x, t = _blobs(rng, 60, shape)

    def test_mode_loss():
        # DeepConvNet's loss is always in training mode (dropout); use the
        # test-mode scores so the comparison is not noise.
        if isinstance(net, DeepConvNet):
            return net.last_layer.forward(net.predict(x), t)
        return net.loss(x, t)

    before = test_mode_loss()
    for _ in range(60):
        batch = rng.choice(len(x), 20)
        optimizer.update(net.params, net.gradient(x[batch], t[batch]))
    after = test_mode_loss()
    assert after < 0.6 * before, f"{case}: loss {before:.4f} -> {after:.4f}"
    assert net.accuracy(x, t) > 0.8


FLOAT32_CASES = {
    "TwoLayerNet": (lambda: TwoLayerNet(6, 5, 3, dtype=np.float32), (6,)),
    "MultiLayerNet": (lambda: MultiLayerNet(6, [5], 3, weight_decay_lambda=0.1, dtype=np.float32), (6,)),
    "MultiLayerNetExtend": (lambda: MultiLayerNetExtend(6, [5, 4], 3, use_batchnorm=True, use_dropout=True,
                                                        dtype=np.float32), (6,)),
    "SimpleConvNet": (lambda: SimpleConvNet((1, 6, 6), conv(2), hidden_size=4, output_size=3,
                                            dtype=np.float32), (1, 6, 6)),
    "DeepConvNet": (lambda: tiny_deep_convnet(dtype=np.float32), (1, 8, 8)),
}


@pytest.mark.parametrize("case", list(FLOAT32_CASES))
def test_float32_net_stays_float32(backend, rng, case):
    make_net, shape = FLOAT32_CASES[case]
    net = make_net()
    x = rng.standard_normal((4,) + shape)  # float64 input: cast to the net's dtype
    t = np.array([0, 1, 2, 1])
    assert all(p.dtype == np.float32 for p in net.params.values())
    grads = net.gradient(x, t)
    assert all(grads[k].dtype == np.float32 for k in net.params), {k: g.dtype for k, g in grads.items()}
    Adam().update(net.params, grads)
    assert all(p.dtype == np.float32 for p in net.params.values())
    y = net.predict(x)
    assert y.dtype == np.float32 and np.all(np.isfinite(y))
    assert np.isfinite(net.loss(x, t))


def test_float32_matches_float64(rng):
    """Same weights in float32 and float64 give the same scores to float32 precision."""
    x = rng.standard_normal((5, 1, 6, 6))
    net64 = SimpleConvNet((1, 6, 6), conv(2), hidden_size=4, output_size=3, rng=np.random.default_rng(1))
    net32 = SimpleConvNet((1, 6, 6), conv(2), hidden_size=4, output_size=3, rng=np.random.default_rng(1),
                          dtype=np.float32)
    np.testing.assert_allclose(net32.predict(x), net64.predict(x), rtol=1e-4, atol=1e-6)


def test_initial_weight_scales():
    """He/Xavier scales and the book's default std, measured on large layers."""
    rng = np.random.default_rng(3)
    net = MultiLayerNet(400, [300], 200, weight_init_std="he", rng=rng)
    assert net.params["W1"].std() == pytest.approx(np.sqrt(2 / 400), rel=0.02)
    assert net.params["W2"].std() == pytest.approx(np.sqrt(2 / 300), rel=0.02)
    net = MultiLayerNet(400, [300], 200, activation="sigmoid", weight_init_std="sigmoid", rng=rng)
    assert net.params["W1"].std() == pytest.approx(np.sqrt(1 / 400), rel=0.02)
    net = MultiLayerNet(400, [300], 200, weight_init_std=0.05, rng=rng)
    assert net.params["W2"].std() == pytest.approx(0.05, rel=0.02)
    assert not np.any(net.params["b1"])
    net = TwoLayerNet(784, 100, 10, rng=rng)
    assert net.params["W1"].std() == pytest.approx(0.01, rel=0.02)


def test_book_shapes_of_the_default_convnets():
    simple = SimpleConvNet()
    assert simple.params["W1"].shape == (30, 1, 5, 5)
    assert simple.params["W2"].shape == (4320, 100)
    deep = DeepConvNet()
    assert [deep.params["W%d" % i].shape[0] for i in range(1, 7)] == [16, 16, 32, 32, 64, 64]
    assert deep.params["W7"].shape == (1024, 50) and deep.params["W8"].shape == (50, 10)
    assert deep.param_layer_indices == (0, 2, 5, 7, 10, 12, 15, 18)
    # He init: W7's std is sqrt(2 / (64*4*4))
    assert deep.params["W7"].std() == pytest.approx(np.sqrt(2 / 1024), rel=0.03)


def test_weight_decay_in_loss(rng):
    net = MultiLayerNet(6, [5], 3, weight_decay_lambda=0.3, rng=rng)
    x, t = rng.standard_normal((4, 6)), np.array([0, 1, 2, 0])
    data_loss = net.last_layer.forward(net.predict(x), t)
    decay = 0.5 * 0.3 * (np.sum(net.params["W1"] ** 2) + np.sum(net.params["W2"] ** 2))
    assert net.loss(x, t) == pytest.approx(data_loss + decay, rel=1e-12)


def test_extend_train_and_test_mode_differ(rng):
    net = MultiLayerNetExtend(6, [5], 3, use_batchnorm=True, use_dropout=True, rng=rng)
    x = rng.standard_normal((8, 6))
    np.random.seed(1)
    train = net.predict(x, train_flg=True)
    test = net.predict(x)  # train_flg=False by default
    assert not np.allclose(train, test)
    assert sorted(net.params) == ["W1", "W2", "b1", "b2", "beta1", "gamma1"]


def test_accuracy_accepts_labels_and_one_hot_and_partial_batches(rng):
    net = SimpleConvNet((1, 6, 6), conv(2), hidden_size=4, output_size=3, rng=rng)
    x = rng.standard_normal((7, 1, 6, 6))
    labels = np.argmax(net.predict(x), axis=1)
    labels[:2] = (labels[:2] + 1) % 3  # two wrong
    expected = 5 / 7
    assert net.accuracy(x, labels, batch_size=3) == pytest.approx(expected)
    assert net.accuracy(x, np.eye(3)[labels], batch_size=100) == pytest.approx(expected)
    with pytest.raises(ValueError, match="7 inputs but 6 labels"):
        net.accuracy(x, labels[:6])


def test_parameters_are_shared_with_layers(rng):
    """An in-place optimizer update changes what the layers compute (the book's contract)."""
    net = TwoLayerNet(4, 3, 2, rng=rng)
    x = rng.standard_normal((2, 4))
    before = net.predict(x)
    net.params["b2"] += 1.0
    np.testing.assert_allclose(net.predict(x), before + 1.0)


@pytest.mark.parametrize("suffix", [".pkl", ".npz"])
def test_save_load_round_trip(tmp_path, suffix):
    path = tmp_path / ("params" + suffix)
    x = np.random.default_rng(0).standard_normal((3, 1, 8, 8))
    source = tiny_deep_convnet(rng=np.random.default_rng(1))
    source.save_params(str(path))
    target = tiny_deep_convnet(rng=np.random.default_rng(2))
    assert not np.allclose(target.predict(x), source.predict(x))
    target.load_params(str(path))
    np.testing.assert_array_equal(target.predict(x), source.predict(x))
    for key, value in source.params.items():
        np.testing.assert_array_equal(target.params[key], value)


def test_load_casts_to_the_net_dtype_and_checks_shapes(tmp_path):
    path = tmp_path / "p.pkl"
    TwoLayerNet(4, 3, 2, rng=np.random.default_rng(1)).save_params(path)
    net32 = TwoLayerNet(4, 3, 2, dtype=np.float32)
    net32.load_params(path)
    assert net32.params["W1"].dtype == np.float32
    wrong = TwoLayerNet(4, 5, 2)
    with pytest.raises(ValueError, match=r"'W1'.*shape \(4, 3\).*expects \(4, 5\)"):
        wrong.load_params(path)
    with pytest.raises(ValueError, match=r"lacks parameters \['W3', 'b3'\]"):
        MultiLayerNet(4, [3, 2], 2).load_params(path)


def test_sample_network_forward(rng):
    net = SampleNetwork(sizes=(5, 4, 3, 2), weight_init_std=1.0, rng=rng)
    x = rng.standard_normal((3, 5)).astype(np.float32)
    p = net.params
    sig = lambda a: 1 / (1 + np.exp(-a))  # noqa: E731
    a3 = sig(sig(x @ p["W1"] + p["b1"]) @ p["W2"] + p["b2"]) @ p["W3"] + p["b3"]
    expected = np.exp(a3) / np.exp(a3).sum(axis=1, keepdims=True)
    y = net.predict(x)
    assert y.dtype == np.float32
    np.testing.assert_allclose(y, expected, rtol=1e-5)
    np.testing.assert_allclose(net.predict(x[0]), expected[0], rtol=1e-5)


def test_sample_network_from_file(tmp_path, rng):
    source = SampleNetwork(sizes=(5, 4, 3, 2), rng=rng)
    source.save_params(tmp_path / "w.pkl")
    loaded = SampleNetwork(tmp_path / "w.pkl")
    x = rng.standard_normal((3, 5))
    np.testing.assert_array_equal(loaded.predict(x), source.predict(x))
    with pytest.raises(ValueError, match=r"expected input \(N, 5\)"):
        loaded.predict(np.zeros((2, 6)))


def test_bad_arguments():
    with pytest.raises(TypeError, match="TwoLayerNet: dtype must be np.float32 or np.float64, got int32"):
        TwoLayerNet(4, 3, 2, dtype=np.int32)
    with pytest.raises(ValueError, match="MultiLayerNet: activation must be 'relu' or 'sigmoid'"):
        MultiLayerNet(4, [3], 2, activation="tanh")
    with pytest.raises(ValueError, match="weight_init_std must be 'relu', 'he'"):
        MultiLayerNet(4, [3], 2, weight_init_std="lecun")
    with pytest.raises(ValueError, match="hidden_size must be an int >= 1"):
        TwoLayerNet(4, 0, 2)
    with pytest.raises(ValueError, match=r"SimpleConvNet: conv_param lacks \['pad', 'stride'\]"):
        SimpleConvNet(conv_param={"filter_num": 3, "filter_size": 3})
    with pytest.raises(ValueError, match="5x5 filter does not fit input"):
        SimpleConvNet((1, 3, 3))
    with pytest.raises(ValueError, match="too small for three 2x2 poolings"):
        DeepConvNet((1, 2, 2))
