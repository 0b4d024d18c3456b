"""Fashion-MNIST: 70,000 Zalando article images, 28x28 grey, 10 classes.

Same format and file names as MNIST (a drop-in replacement). Besides the usual
places, Debian's ``dataset-fashion-mnist`` package is used when installed
(``/usr/share/datasets/fashion-mnist/``). There is no bundled sample: with no
copy found and no network, ``load_fashion_mnist`` raises
:class:`~fastnn.datasets.errors.DatasetNotFoundError` saying where it looked.
"""
from .loader import load_raw, to_book_format
from .sources import DatasetSpec

__all__ = ["load_fashion_mnist", "SPEC", "CLASS_NAMES"]

CLASS_NAMES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)

# SHA-256 of the gzipped files published by Zalando Research (26,421,880 /
# 29,515 / 4,422,102 / 5,148 bytes); the same values are the FILE_HASHES of
# Keras' loader, keras-team/keras keras/src/datasets/fashion_mnist.py, which
# downloads from the second mirror below. Debian's package ships the same data
# re-gzipped, so its files have other hashes (not needed: local copies are
# checked by their IDX structure, downloads by these hashes).
SHA256 = {
    "train-images-idx3-ubyte.gz": "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
    "train-labels-idx1-ubyte.gz": "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
    "t10k-images-idx3-ubyte.gz": "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
    "t10k-labels-idx1-ubyte.gz": "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
}

SPEC = DatasetSpec(
    name="fashion-mnist",
    title="Fashion-MNIST",
    n_train=60000,
    n_test=10000,
    mirrors=(
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",  # Zalando's
        "https://storage.googleapis.com/tensorflow/tf-keras-datasets/",  # Keras'
        "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
    ),
    sha256=SHA256,
    system_dirs=("/usr/share/datasets/fashion-mnist",),
    system_package="dataset-fashion-mnist",
)


def load_raw_fashion_mnist(path=None, *, where="load_fashion_mnist"):
    """Fashion-MNIST as uint8 arrays, images ``(N, 28, 28)``, labels ``(N,)``."""
    return load_raw(SPEC, path, where=where)


def load_fashion_mnist(normalize=True, flatten=True, one_hot_label=False, *, path=None):
    """Load Fashion-MNIST with the arguments and return values of ``load_mnist``.

    Returns a ``DatasetSplits`` ``((x_train, t_train), (x_test, t_test))``
    (60,000 + 10,000 images) with ``.source``, ``.origin``, ``.is_sample``
    (always False). Raises ``DatasetNotFoundError`` when no copy is found and
    the download fails.
    """
    raw = load_raw_fashion_mnist(path)
    (x_train, t_train), (x_test, t_test) = raw
    return raw.replace_arrays(
        to_book_format(x_train, t_train, normalize, flatten, one_hot_label),
        to_book_format(x_test, t_test, normalize, flatten, one_hot_label),
    )
