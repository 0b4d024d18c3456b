"""``keras.datasets.fashion_mnist``: Fashion-MNIST as Keras returns it."""
from ...datasets.fashion_mnist import load_raw_fashion_mnist

__all__ = ["load_data"]


def load_data(path=None):
    """Load Fashion-MNIST the Keras way.

    Returns ``(x_train, y_train), (x_test, y_test)``: images uint8
    ``(60000, 28, 28)`` / ``(10000, 28, 28)``, labels uint8 ``(60000,)`` /
    ``(10000,)``, with ``.source`` / ``.origin`` / ``.is_sample`` attributes.
    ``path`` (not in Keras): a directory with the four IDX files or a dict of
    their paths. Raises ``DatasetNotFoundError`` when no copy is found and the
    download fails.
    """
    return load_raw_fashion_mnist(path, where="keras.datasets.fashion_mnist.load_data")
