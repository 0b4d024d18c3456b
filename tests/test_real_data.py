"""The book's pretrained networks on the 10,000 real MNIST test images.

With the book's own code: ch03_sample_weight.pkl 0.9352,
simple_convnet_params.pkl 0.9600, deep_convnet_params.pkl 0.9797.
fastnn must give exactly these, on both backends. Inputs are normalised as
the book's load_mnist(normalize=True) does: float32 pixels / 255.
"""
import numpy as np
import pytest

from fastnn.datasets.idx import read_idx
from fastnn.nets import DeepConvNet, SampleNetwork, SimpleConvNet, TwoLayerNet
from fastnn.trainer import Trainer


def _images(path):
    return read_idx(path).astype(np.float32) / 255.0


@pytest.fixture(scope="module")
def mnist_test(shared_data):
    """(x (10000, 1, 28, 28) float32 in [0, 1], t (10000,) labels)."""
    mnist = shared_data / "mnist"
    x = _images(mnist / "t10k-images-idx3-ubyte.gz")
    t = read_idx(mnist / "t10k-labels-idx1-ubyte.gz")
    assert x.shape == (10000, 28, 28) and t.shape == (10000,)
    return x.reshape(-1, 1, 28, 28), t


def test_ch03_sample_network(backend, shared_data, mnist_test):
    x, t = mnist_test
    net = SampleNetwork(shared_data / "book" / "ch03_sample_weight.pkl")
    assert net.params["W1"].dtype == np.float32  # the book's file is float32 and so is the computation
    assert net.predict(x[:3].reshape(3, -1)).dtype == np.float32
    assert net.accuracy(x.reshape(len(x), -1), t) == 0.9352


def test_simple_convnet_pretrained(backend, shared_data, mnist_test):
    x, t = mnist_test
    net = SimpleConvNet()
    net.load_params(shared_data / "book" / "simple_convnet_params.pkl")
    assert net.accuracy(x, t) == 0.9600


def test_deep_convnet_pretrained(backend, shared_data, mnist_test):
    x, t = mnist_test
    net = DeepConvNet()
    net.load_params(shared_data / "book" / "deep_convnet_params.pkl")
    assert net.accuracy(x, t) == 0.9797


def test_two_layer_net_learns_real_digits(backend, shared_data, mnist_test):
    """Two epochs of the Trainer on the first 5,000 training images."""
    mnist = shared_data / "mnist"
    x_train = _images(mnist / "train-5k-images-idx3-ubyte.gz").reshape(-1, 784)
    t_train = read_idx(mnist / "train-5k-labels-idx1-ubyte.gz")
    x_test, t_test = mnist_test
    net = TwoLayerNet(784, 50, 10, rng=np.random.default_rng(0))
    trainer = Trainer(net, x_train, t_train, x_test[:2000].reshape(-1, 784), t_test[:2000],
                      epochs=2, mini_batch_size=100, optimizer="Adam", optimizer_param={"lr": 0.01},
                      verbose=False, seed=0)
    final = trainer.train()
    assert trainer.train_loss_list[-1] < 0.6 < trainer.train_loss_list[0]
    assert final > 0.85
