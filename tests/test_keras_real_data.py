"""The issue's accuracy bars on real data (MNIST from ../shared/data, Fashion-MNIST
from Debian's dataset-fashion-mnist), sized to fit the test budget.

Full-size runs (figures in the report): the MNIST MLP below is the full bar;
the CNN and Fashion-MNIST bars are measured by the examples
(``examples/keras_cnn.py``, ``examples/keras_fashion_mnist_mlp.py``) and
asserted here on smaller configurations.
"""
from pathlib import Path

import numpy as np
import pytest

from fastnn import keras
from fastnn.datasets.idx import read_idx
from fastnn.keras import layers as L

FASHION = Path("/usr/share/datasets/fashion-mnist")


@pytest.fixture(scope="module")
def mnist(shared_data):
    d = shared_data / "mnist"
    x_train = read_idx(d / "train-5k-images-idx3-ubyte.gz").astype(np.float32) / 255
    y_train = read_idx(d / "train-5k-labels-idx1-ubyte.gz")
    x_test = read_idx(d / "t10k-images-idx3-ubyte.gz").astype(np.float32) / 255
    y_test = read_idx(d / "t10k-labels-idx1-ubyte.gz")
    assert x_train.shape == (5000, 28, 28) and x_test.shape == (10000, 28, 28)
    return (x_train, y_train), (x_test, y_test)


def test_mnist_mlp_bar(mnist):
    """512 relu, rmsprop, 5 epochs, batch 128 on the 5,000 images: >= 0.91 on the 10,000 test images."""
    (x_train, y_train), (x_test, y_test) = mnist
    keras.utils.set_random_seed(0)
    model = keras.models.Sequential([
        L.Dense(512, activation="relu", input_shape=(784,)),
        L.Dense(10, activation="softmax"),
    ])
    model.compile(optimizer="rmsprop", loss="categorical_crossentropy", metrics=["accuracy"])
    model.fit(x_train.reshape(-1, 784), keras.utils.to_categorical(y_train), epochs=5, batch_size=128, verbose=0)
    loss, acc = model.evaluate(x_test.reshape(-1, 784), keras.utils.to_categorical(y_test), verbose=0,
                               batch_size=1000)
    assert acc >= 0.91
    assert loss < 0.35


def test_mnist_small_cnn(mnist):
    """Conv-BN-Pool-Conv-Pool-Flatten-Dense-Dropout-Dense with adam on the 5,000 images.

    The issue's CNN (32/64 filters, 3 epochs) is measured by examples/keras_cnn.py;
    here a narrower one (8/16 filters), 2 epochs of batch 32, on 2,000 test images.
    """
    (x_train, y_train), (x_test, y_test) = mnist
    keras.utils.set_random_seed(0)
    model = keras.Sequential([
        L.Conv2D(8, (3, 3), activation="relu", input_shape=(28, 28, 1)),
        L.BatchNormalization(),
        L.MaxPooling2D((2, 2)),
        L.Conv2D(16, (3, 3), activation="relu"),
        L.MaxPooling2D((2, 2)),
        L.Flatten(),
        L.Dense(64, activation="relu"),
        L.Dropout(0.5),
        L.Dense(10, activation="softmax"),
    ])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x_train[..., None], y_train, epochs=2, batch_size=32, verbose=0)
    _, acc = model.evaluate(x_test[:2000, ..., None], y_test[:2000], verbose=0, batch_size=500)
    assert acc >= 0.88


@pytest.mark.skipif(not FASHION.is_dir(), reason="Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)")
def test_fashion_mnist_mlp():
    """300-100-10, sgd, validation_data: history keys; accuracy on 2,000 test images after
    2 epochs on 15,000 images (the full 5-epoch run is in the report)."""
    (x_full, y_full), (x_test, y_test) = keras.datasets.fashion_mnist.load_data()
    x_valid, x_train = x_full[:2000] / 255.0, x_full[2000:17000] / 255.0
    y_valid, y_train = y_full[:2000], y_full[2000:17000]
    keras.utils.set_random_seed(0)
    model = keras.models.Sequential([
        L.Flatten(input_shape=[28, 28]),
        L.Dense(300, activation="relu"),
        L.Dense(100, activation="relu"),
        L.Dense(10, activation="softmax"),
    ])
    model.compile(loss="sparse_categorical_crossentropy", optimizer="sgd", metrics=["accuracy"])
    history = model.fit(x_train, y_train, epochs=2, validation_data=(x_valid, y_valid), verbose=0)
    assert list(history.history) == ["loss", "accuracy", "val_loss", "val_accuracy"]
    assert history.history["val_accuracy"][1] > history.history["val_accuracy"][0] - 0.02
    _, acc = model.evaluate(x_test[:2000] / 255.0, y_test[:2000], verbose=0)
    assert acc >= 0.77
