"""fastnn.functions: activations and losses on inputs with known values."""
import numpy as np
import pytest

from fastnn import functions as F


def test_step_function():
    out = F.step_function(np.array([-1.0, 0.0, 2.0]))
    np.testing.assert_array_equal(out, [0, 0, 1])
    assert out.dtype.kind == "i"


def test_sigmoid_values_and_gradient():
    x = np.array([-1.0, 0.0, 2.0])
    np.testing.assert_allclose(F.sigmoid(x), [0.2689414213699951, 0.5, 0.8807970779778823], rtol=1e-14)
    np.testing.assert_allclose(F.sigmoid_grad(np.array([0.0])), [0.25], rtol=1e-15)
    # d/dx sigmoid by central difference
    h = 1e-5
    np.testing.assert_allclose(F.sigmoid_grad(x), (F.sigmoid(x + h) - F.sigmoid(x - h)) / (2 * h), rtol=1e-8)
    with np.errstate(all="raise"):                 # no overflow warning for very negative x
        assert F.sigmoid(np.array([-1000.0]))[0] == 0.0
    assert F.sigmoid(np.array([1.0], dtype=np.float32)).dtype == np.float32


def test_relu_and_grad():
    x = np.array([[-2.0, 0.0], [0.5, 3.0]])
    np.testing.assert_array_equal(F.relu(x), [[0.0, 0.0], [0.5, 3.0]])
    np.testing.assert_array_equal(F.relu_grad(x), [[0.0, 1.0], [1.0, 1.0]])   # the book: 1 at x == 0


def test_identity():
    x = np.array([1.5, -2.0])
    assert F.identity_function(x) is x


def test_softmax_known_values():
    # The book's example: softmax([0.3, 2.9, 4.0]) = [0.01821127, 0.24519181, 0.73659691]
    y = F.softmax(np.array([0.3, 2.9, 4.0]))
    np.testing.assert_allclose(y, [0.01821127, 0.24519181, 0.73659691], rtol=1e-6)
    assert y.sum() == pytest.approx(1.0)
    big = F.softmax(np.array([1010.0, 1000.0, 990.0]))    # max subtracted: no overflow
    np.testing.assert_allclose(big, F.softmax(np.array([20.0, 10.0, 0.0])), rtol=1e-14)
    batch = F.softmax(np.array([[0.3, 2.9, 4.0], [1.0, 1.0, 1.0]]))
    np.testing.assert_allclose(batch[0], y, rtol=1e-14)
    np.testing.assert_allclose(batch[1], [1 / 3] * 3, rtol=1e-14)
    with pytest.raises(ValueError, match="softmax: expected a 1-D"):
        F.softmax(np.zeros((2, 2, 2)))


def test_sum_squared_error_book_example():
    t = np.array([0, 0, 1, 0, 0, 0, 0, 0, 0, 0])
    y = np.array([0.1, 0.05, 0.6, 0.0, 0.05, 0.1, 0.0, 0.1, 0.0, 0.0])
    assert F.sum_squared_error(y, t) == pytest.approx(0.0975)
    y2 = np.array([0.1, 0.05, 0.1, 0.0, 0.05, 0.1, 0.0, 0.6, 0.0, 0.0])
    assert F.mean_squared_error(y2, t) == pytest.approx(0.5975)
    with pytest.raises(ValueError, match="sum_squared_error: y \\(3,\\) and t \\(2,\\)"):
        F.sum_squared_error(np.zeros(3), np.zeros(2))


def test_cross_entropy_error_book_example():
    t = np.array([0, 0, 1, 0, 0, 0, 0, 0, 0, 0])
    y = np.array([0.1, 0.05, 0.6, 0.0, 0.05, 0.1, 0.0, 0.1, 0.0, 0.0])
    assert F.cross_entropy_error(y, t) == pytest.approx(0.510825457099338, rel=1e-12)
    y2 = np.array([0.1, 0.05, 0.1, 0.0, 0.05, 0.1, 0.0, 0.6, 0.0, 0.0])
    assert F.cross_entropy_error(y2, t) == pytest.approx(2.302584092994546, rel=1e-12)
    # a label instead of one-hot, and a batch: the mean over rows
    assert F.cross_entropy_error(y, np.array(2)) == pytest.approx(0.510825457099338, rel=1e-12)
    batch = np.stack([y, y2])
    expected = (-np.log(0.6 + 1e-7) - np.log(0.1 + 1e-7)) / 2
    assert F.cross_entropy_error(batch, np.array([2, 2])) == pytest.approx(expected, rel=1e-12)
    assert F.cross_entropy_error(batch, np.stack([t, t])) == pytest.approx(expected, rel=1e-12)
    with pytest.raises(ValueError, match="cross_entropy_error: y has 2 rows but t gives 3 targets"):
        F.cross_entropy_error(batch, np.array([1, 2, 3]))


def test_softmax_loss():
    X = np.array([[0.3, 2.9, 4.0], [1.0, 2.0, 0.5]])
    t = np.array([2, 0])
    p = np.exp(X) / np.exp(X).sum(axis=1, keepdims=True)
    expected = -(np.log(p[0, 2] + 1e-7) + np.log(p[1, 0] + 1e-7)) / 2
    assert F.softmax_loss(X, t) == pytest.approx(expected, rel=1e-12)


def test_book_ch03_network_on_real_mnist(shared_data):
    """The book's 3-layer sigmoid/softmax network with its sample weights: 93.52% on the test set."""
    from fastnn.datasets.idx import read_idx
    from fastnn.io import load_params

    net = load_params(shared_data / "book" / "ch03_sample_weight.pkl")
    x = read_idx(shared_data / "mnist" / "t10k-images-idx3-ubyte.gz").reshape(10000, 784).astype(np.float32) / 255.0
    t = read_idx(shared_data / "mnist" / "t10k-labels-idx1-ubyte.gz")
    a1 = x @ net["W1"] + net["b1"]
    a2 = F.sigmoid(a1) @ net["W2"] + net["b2"]
    y = F.softmax(F.sigmoid(a2) @ net["W3"] + net["b3"])
    assert np.allclose(y.sum(axis=1), 1.0, atol=1e-5)
    assert np.mean(np.argmax(y, axis=1) == t) == 0.9352
