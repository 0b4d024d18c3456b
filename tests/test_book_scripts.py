"""The book's chapter scripts on fastnn (issue #14): import * names, target and bias forms,
every optimizer against the book's formulas step by step, chapter 4's TwoLayerNet, and
copies of what ch06/optimizer_compare_mnist.py, ch07/gradient_check.py and
ch07/apply_filter.py do, on both backends."""
import numpy as np
import pytest
from threadpoolctl import threadpool_limits

import fastnn
from fastnn import functions, layers
from fastnn.nets import SimpleConvNet
from fastnn.nets import TwoLayerNet as TwoLayerNetCh05
from fastnn.nets.ch04 import TwoLayerNet as TwoLayerNetCh04
from fastnn.optimizer import SGD, AdaGrad, Adam, Momentum, Nesterov, RMSprop


def _star(module):
    namespace = {}
    exec(f"from {module} import *", namespace)  # noqa: S102  (the statement under test)
    return namespace


# --------------------------------------------------------------------------
# 1. import * gives the names the book's modules give (they have no __all__)
# --------------------------------------------------------------------------
_BOOK_FUNCTIONS = ["np", "identity_function", "step_function", "sigmoid", "sigmoid_grad", "relu",
                   "relu_grad", "softmax", "sum_squared_error", "cross_entropy_error", "softmax_loss"]
_BOOK_LAYERS = ["Relu", "Sigmoid", "Affine", "SoftmaxWithLoss", "Dropout", "BatchNormalization",
                "Convolution", "Pooling", "im2col", "col2im"] + _BOOK_FUNCTIONS
_BOOK_OPTIMIZERS = ["np", "SGD", "Momentum", "Nesterov", "AdaGrad", "RMSprop", "Adam"]


@pytest.mark.parametrize("module, names", [
    ("fastnn.functions", _BOOK_FUNCTIONS),
    ("fastnn.gradient", ["np", "numerical_gradient", "numerical_gradient_2d"]),
    ("fastnn.layers", _BOOK_LAYERS),
    ("fastnn.optimizer", _BOOK_OPTIMIZERS),
    ("fastnn.util", ["np", "smooth_curve", "shuffle_dataset", "conv_output_size", "im2col", "col2im"]),
    ("fastnn.trainer", ["sys", "os", "Trainer"] + _BOOK_OPTIMIZERS),
    ("fastnn.nets", ["sys", "os", "pickle", "np", "OrderedDict", "numerical_gradient", "MultiLayerNet",
                     "MultiLayerNetExtend", "TwoLayerNet", "SimpleConvNet", "DeepConvNet"] + _BOOK_LAYERS),
])
def test_import_star_gives_the_books_names(module, names):
    namespace = _star(module)
    missing = [name for name in names if name not in namespace]
    assert not missing, f"from {module} import * lacks {missing}"
    assert namespace["np"] is np


def test_numerical_gradient_2d_is_row_wise():
    X = np.array([[1.0, 2.0], [-3.0, 0.5]])
    numerical_gradient_2d = _star("fastnn.gradient")["numerical_gradient_2d"]
    seen = []
    grad = numerical_gradient_2d(lambda x: seen.append(x.shape) or np.sum(x ** 3), X)
    np.testing.assert_allclose(grad, 3 * X ** 2, rtol=1e-6)   # f is called with one row at a time
    assert set(seen) == {(2,)}
    np.testing.assert_allclose(numerical_gradient_2d(lambda x: np.sum(x ** 2), X[0]), 2 * X[0], rtol=1e-6)


# --------------------------------------------------------------------------
# 2. SoftmaxWithLoss takes the target forms the book's functions take
# --------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(1, 1), "n1", "1n"])
def test_softmax_with_loss_labels_shaped_like_a_column_or_row(backend, rng, shape):
    n = 1 if shape == (1, 1) else 4
    x = rng.standard_normal((n, 10))
    labels = rng.integers(0, 10, n)
    t = labels.reshape({(1, 1): (1, 1), "n1": (n, 1), "1n": (1, n)}[shape])
    ref, got = layers.SoftmaxWithLoss(), layers.SoftmaxWithLoss()
    expected = ref.forward(x, labels)
    assert got.forward(x, t) == pytest.approx(expected, rel=1e-12)
    assert got.forward(x, t) == pytest.approx(functions.cross_entropy_error(functions.softmax(x), t), rel=1e-12)
    np.testing.assert_allclose(got.backward(), ref.backward(), rtol=1e-12)


def test_softmax_with_loss_still_refuses_other_forms(backend, rng):
    x = rng.standard_normal((4, 10))
    with pytest.raises(ValueError, match=r"SoftmaxWithLoss.forward: targets must be one-hot .*\(4, 1\) or \(1, 4\)"):
        layers.SoftmaxWithLoss().forward(x, np.zeros((2, 2), dtype=np.int64))
    with pytest.raises(TypeError, match="labels must be integers"):
        layers.SoftmaxWithLoss().forward(x, np.zeros((4, 1)))          # float labels: the book fails too


# --------------------------------------------------------------------------
# 3. Convolution (and Affine) broadcast a bias like the book's ``x @ W + b``
# --------------------------------------------------------------------------
@pytest.mark.parametrize("b", [0, 0.5, np.float32(0.25), np.array(0.5), np.array([0.5]),
                               np.array([[0.5, -1.0, 2.0]]), np.array([1, 2, 3])])
def test_convolution_bias_broadcasts_like_the_book(backend, rng, b):
    x = rng.standard_normal((2, 2, 5, 5))
    W = rng.standard_normal((3, 2, 3, 3))
    full = np.broadcast_to(np.asarray(b, dtype=np.float64).reshape(-1), (3,)).copy()
    expected = layers.Convolution(W, full).forward(x)
    conv = layers.Convolution(W, b)
    np.testing.assert_allclose(conv.forward(x), expected, rtol=1e-12, atol=1e-12)
    conv.backward(np.ones_like(expected))
    assert conv.db.shape == (3,)                          # the book's db: np.sum(dout, axis=0)
    affine = layers.Affine(rng.standard_normal((4, 3)), b)
    xa = rng.standard_normal((5, 4))
    np.testing.assert_allclose(affine.forward(xa), xa @ affine.W + full, rtol=1e-12)


@pytest.mark.parametrize("b, error, match", [
    (np.zeros(4), ValueError, r"Convolution: b must have shape \(3,\)"),
    (np.zeros((3, 3)), ValueError, r"Convolution: b must have shape \(3,\).*got shape \(3, 3\)"),
    ("0", TypeError, "Convolution: b must be a NumPy array or a number, got str"),
    (True, TypeError, "Convolution: b must be a NumPy array or a number, got bool"),
    (np.zeros(3, dtype=complex), TypeError, "Convolution: b must be a float"),
])
def test_convolution_bias_errors(b, error, match):
    with pytest.raises(error, match=match):
        layers.Convolution(np.ones((3, 1, 2, 2)), b)


# --------------------------------------------------------------------------
# 4. Every optimizer equals the book's formulas, step by step
# --------------------------------------------------------------------------
def _book_step(name, hyper, state, w, g, step):
    """One step of the book's common/optimizer.py for one array, written out."""
    lr = hyper["lr"]
    if name == "SGD":
        return w - lr * g
    if name == "Momentum":
        state["v"] = hyper["momentum"] * state["v"] - lr * g
        return w + state["v"]
    if name == "Nesterov":                     # arXiv:1212.0901 eq. 7: W moves with the old v
        mu = hyper["momentum"]
        w = w + mu * mu * state["v"] - (1 + mu) * lr * g
        state["v"] = mu * state["v"] - lr * g
        return w
    if name == "AdaGrad":
        state["h"] = state["h"] + g * g
        return w - lr * g / (np.sqrt(state["h"]) + 1e-7)
    if name == "RMSprop":
        rho = hyper["decay_rate"]
        state["h"] = rho * state["h"] + (1 - rho) * g * g
        return w - lr * g / (np.sqrt(state["h"]) + 1e-7)
    if name == "Adam":
        b1, b2 = hyper["beta1"], hyper["beta2"]
        lr_t = lr * np.sqrt(1.0 - b2 ** step) / (1.0 - b1 ** step)
        state["m"] = state["m"] + (1 - b1) * (g - state["m"])
        state["v"] = state["v"] + (1 - b2) * (g ** 2 - state["v"])
        return w - lr_t * state["m"] / (np.sqrt(state["v"]) + 1e-7)
    raise AssertionError(name)


_HYPER = {
    "SGD": (SGD, {"lr": 0.1}),
    "Momentum": (Momentum, {"lr": 0.05, "momentum": 0.9}),
    "Nesterov": (Nesterov, {"lr": 0.05, "momentum": 0.9}),
    "AdaGrad": (AdaGrad, {"lr": 0.1}),
    "RMSprop": (RMSprop, {"lr": 0.05, "decay_rate": 0.9}),
    "Adam": (Adam, {"lr": 0.01, "beta1": 0.9, "beta2": 0.999}),
}


@pytest.mark.parametrize("name", sorted(_HYPER))
def test_every_optimizer_follows_the_books_formula_step_by_step(backend, rng, name):
    cls, hyper = _HYPER[name]
    opt = cls(**hyper)
    params = {"W": rng.standard_normal((3, 4)), "b": rng.standard_normal(4)}
    book = {k: v.copy() for k, v in params.items()}
    state = {k: {s: np.zeros_like(v) for s in ("v", "h", "m")} for k, v in params.items()}
    for step in range(1, 7):
        grads = {k: rng.standard_normal(v.shape) for k, v in params.items()}
        opt.update(params, grads)
        for k in book:
            book[k] = _book_step(name, hyper, state[k], book[k], grads[k], step)
            np.testing.assert_allclose(params[k], book[k], rtol=1e-12, atol=1e-14,
                                       err_msg=f"{name} step {step} {k}")


# --------------------------------------------------------------------------
# 5. Chapter 4's TwoLayerNet
# --------------------------------------------------------------------------
def _book_ch04_predict(params, x):
    a1 = x @ params["W1"] + params["b1"]
    z1 = 1 / (1 + np.exp(-a1))
    a2 = z1 @ params["W2"] + params["b2"]
    e = np.exp(a2 - a2.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def test_ch04_two_layer_net_is_the_books_chapter_4_network(rng):
    np.random.seed(7)
    net = TwoLayerNetCh04(input_size=6, hidden_size=5, output_size=3)
    np.random.seed(7)
    assert np.array_equal(net.params["W1"], 0.01 * np.random.randn(6, 5))   # the book's draws, in order
    assert np.array_equal(net.params["W2"], 0.01 * np.random.randn(5, 3))
    assert not net.params["b1"].any() and net.params["b1"].shape == (5,)
    net.params["W1"] *= 100                                # visible gradients
    x = rng.random((8, 6))
    labels = rng.integers(0, 3, 8)
    t = np.eye(3)[labels]
    y = net.predict(x)
    np.testing.assert_allclose(y, _book_ch04_predict(net.params, x), rtol=1e-12)   # probabilities
    np.testing.assert_allclose(y.sum(axis=1), 1.0)
    assert net.loss(x, t) == pytest.approx(-np.mean(np.log(y[np.arange(8), labels] + 1e-7)), rel=1e-12)
    assert net.accuracy(x, t) == np.mean(y.argmax(axis=1) == labels)
    grad = net.gradient(x, t)
    numerical = net.numerical_gradient(x, t)
    for key in ("W1", "b1", "W2", "b2"):
        assert grad[key].shape == net.params[key].shape
        np.testing.assert_allclose(grad[key], numerical[key], rtol=1e-4, atol=1e-8)
    grad_labels = net.gradient(x, labels)
    for key in grad:
        np.testing.assert_allclose(grad_labels[key], grad[key], rtol=1e-12)
    assert TwoLayerNetCh04 is not TwoLayerNetCh05
    with pytest.raises(ValueError, match=r"ch04.TwoLayerNet.predict: x must have shape \(N, 6\)"):
        net.predict(np.ones((2, 5)))


def test_ch04_two_layer_net_trains_like_the_book(rng):
    # ch04/train_neuralnet.py's loop, small: numerical and backprop gradients both lower the loss.
    np.random.seed(0)
    net = TwoLayerNetCh04(input_size=4, hidden_size=8, output_size=2, weight_init_std=0.5)
    x = rng.standard_normal((40, 4))
    t = np.eye(2)[(x[:, 0] + x[:, 1] > 0).astype(int)]
    before = net.loss(x, t)
    for _ in range(200):
        grad = net.gradient(x, t)
        for key in ("W1", "b1", "W2", "b2"):
            net.params[key] -= 0.5 * grad[key]
    assert net.loss(x, t) < 0.5 * before
    assert net.accuracy(x, t) > 0.9


# --------------------------------------------------------------------------
# The three scripts that failed, reproduced (not the book's files)
# --------------------------------------------------------------------------
def test_optimizer_compare_mnist_calls(backend, rng):
    """ch06/optimizer_compare_mnist.py: ``from common.optimizer import *`` then ``np.random.choice``."""
    namespace = _star("fastnn.optimizer")
    np_ = namespace["np"]                                  # the script's NameError was here
    nets_namespace = _star("fastnn.nets")
    x_train = rng.random((300, 784))
    t_train = np.argmax(x_train[:, :10], axis=1)          # learnable labels
    optimizers = {"SGD": namespace["SGD"](), "Momentum": namespace["Momentum"](),
                  "AdaGrad": namespace["AdaGrad"](), "Adam": namespace["Adam"]()}
    np_.random.seed(3)
    networks = {key: nets_namespace["MultiLayerNet"](input_size=784, hidden_size_list=[100, 100, 100, 100],
                                                     output_size=10) for key in optimizers}
    train_loss = {key: [] for key in optimizers}
    with threadpool_limits(limits=1, user_api="blas"):    # small products: threads only add waiting
        for _ in range(12):
            batch_mask = np_.random.choice(300, 128)
            x_batch, t_batch = x_train[batch_mask], t_train[batch_mask]
            for key in optimizers:
                grads = networks[key].gradient(x_batch, t_batch)
                optimizers[key].update(networks[key].params, grads)
                train_loss[key].append(networks[key].loss(x_batch, t_batch))
    for key, losses in train_loss.items():
        assert np.all(np.isfinite(losses)), key
        assert np.mean(losses[-3:]) < np.mean(losses[:3]), key
    assert len(_star("fastnn.util")["smooth_curve"](np.array(train_loss["SGD"]))) == 12


def test_gradient_check_calls(backend):
    """ch07/gradient_check.py: a small SimpleConvNet, one image, its label shaped (1, 1)."""
    np.random.seed(1)
    network = SimpleConvNet(input_dim=(1, 10, 10),
                            conv_param={"filter_num": 10, "filter_size": 3, "pad": 0, "stride": 1},
                            hidden_size=10, output_size=10, weight_init_std=0.01)
    X = np.random.rand(100).reshape((1, 1, 10, 10))
    T = np.array([1]).reshape((1, 1))
    grad_num = network.numerical_gradient(X, T)
    grad = network.gradient(X, T)
    for key, val in grad_num.items():
        diff = np.abs(grad_num[key] - grad[key])
        # The script prints diff.mean(); the few entries whose +-1e-4 nudge crosses
        # a ReLU or max-pool kink (activations here are ~1e-3) differ visibly,
        # the rest agree closely.
        assert diff.mean() <= 0.1 * np.abs(grad[key]).mean() + 1e-9, (key, diff)
    same = network.gradient(X, np.array([1]))
    for key in grad:
        np.testing.assert_array_equal(grad[key], same[key])
    assert network.loss(X, T) == network.loss(X, np.array([1]))


def test_apply_filter_calls(backend, rng):
    """ch07/apply_filter.py: each trained filter applied to a float32 image with ``b = 0``."""
    network = SimpleConvNet(input_dim=(1, 28, 28),
                            conv_param={"filter_num": 30, "filter_size": 5, "pad": 0, "stride": 1},
                            hidden_size=100, output_size=10, weight_init_std=0.01, rng=rng)
    img = rng.random((12, 14)).astype(np.float32)         # matplotlib's imread gives float32
    img = img.reshape(1, 1, *img.shape)
    for i in range(3):
        w = network.params["W1"][i]
        b = 0
        w = w.reshape(1, *w.shape)
        conv_layer = layers.Convolution(w, b)
        out = conv_layer.forward(img)
        out = out.reshape(out.shape[2], out.shape[3])
        windows = np.lib.stride_tricks.sliding_window_view(img[0, 0].astype(np.float64), (5, 5))
        expected = np.einsum("ijkl,kl->ij", windows, w[0, 0])
        np.testing.assert_allclose(out, expected, rtol=1e-10, atol=1e-12)
        assert out.dtype == np.float64                     # float32 image, float64 filter: as NumPy promotes
    assert fastnn.get_backend() == backend
