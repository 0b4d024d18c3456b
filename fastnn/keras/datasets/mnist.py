"""``keras.datasets.mnist``: MNIST as Keras returns it (uint8, no reshaping)."""
from ...datasets.mnist import load_raw_mnist

__all__ = ["load_data"]


def load_data(path=None):
    """Load MNIST the Keras way.

    Returns ``(x_train, y_train), (x_test, y_test)``: images uint8
    ``(60000, 28, 28)`` / ``(10000, 28, 28)`` with values 0..255, labels uint8
    ``(60000,)`` / ``(10000,)``. The result also carries ``.source``,
    ``.origin`` and ``.is_sample``; when the full set is unavailable the
    bundled 5,000-image training sample is served with a ``SampleDataWarning``.

    ``path`` differs from Keras' (a cache file name there): here it is a
    directory holding the four MNIST IDX files, or a dict of their paths
    (see :func:`fastnn.datasets.load_mnist`).
    """
    return load_raw_mnist(path, where="keras.datasets.mnist.load_data", stacklevel=4)
