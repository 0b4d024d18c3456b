"""MNIST: 70,000 handwritten digits, 28x28 grey, labels 0..9.

``load_mnist`` has the signature and return values of the book's
``dataset/mnist.py``; the files come from the first place that has them
(see :mod:`fastnn.datasets.sources`), else a download, else the small sample
bundled in ``fastnn/datasets/data/`` (with a :class:`SampleDataWarning`).
"""
from pathlib import Path

from .loader import load_raw, to_book_format
from .sources import DatasetSpec

__all__ = ["load_mnist", "SPEC", "SAMPLE_SPEC", "SAMPLE_DIR", "SAMPLE_SHA256"]

# SHA-256 of the four original gzipped files (9,912,422 / 28,881 / 1,648,877 /
# 4,542 bytes) as served by all three mirrors below. They are published in many
# independent download scripts and dataset manifests; we found the same four
# values in several of them with a code search (e.g. download scripts that
# fetch from ossci-datasets.s3.amazonaws.com/mnist/ and verify these sums). The
# t10k files in ../shared/data/mnist hold the same data but were re-gzipped
# (different gzip header), so their hashes differ and cannot be used here.
SHA256 = {
    "train-images-idx3-ubyte.gz": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
    "train-labels-idx1-ubyte.gz": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
    "t10k-images-idx3-ubyte.gz": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
    "t10k-labels-idx1-ubyte.gz": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
}

SPEC = DatasetSpec(
    name="mnist",
    title="MNIST",
    n_train=60000,
    n_test=10000,
    mirrors=(
        "https://ossci-datasets.s3.amazonaws.com/mnist/",  # PyTorch's mirror
        "https://storage.googleapis.com/cvdf-datasets/mnist/",  # CVDF mirror
        "http://yann.lecun.com/exdb/mnist/",  # the original site
    ),
    sha256=SHA256,
)

# The bundled sample: 5,000 training images (500 per digit) + the full test set.
SAMPLE_DIR = Path(__file__).resolve().parent / "data"
SAMPLE_SPEC = DatasetSpec(
    name="mnist-sample",
    title="MNIST sample",
    n_train=5000,
    n_test=10000,
    mirrors=(),
    sha256={},
    files={
        "train_images": "mnist-sample-train-images-idx3-ubyte.gz",
        "train_labels": "mnist-sample-train-labels-idx1-ubyte.gz",
        "test_images": "mnist-sample-t10k-images-idx3-ubyte.gz",
        "test_labels": "mnist-sample-t10k-labels-idx1-ubyte.gz",
    },
)
# Computed from the committed files (sha256sum fastnn/datasets/data/*.gz).
SAMPLE_SHA256 = {
    "mnist-sample-train-images-idx3-ubyte.gz": "e25c364203adfc3370742a8c92ec1c2cef838c70d06dfcf2f3bda04c46a495e5",
    "mnist-sample-train-labels-idx1-ubyte.gz": "e63e53e1fa87a05d22ff2b63bb1f2c1de160603d6654ea2ec39091297b918bcd",
    "mnist-sample-t10k-images-idx3-ubyte.gz": "167310007f03058885c7e95e6c0b19c20de5c7fd3031f4cbdadc9014a523d80b",
    "mnist-sample-t10k-labels-idx1-ubyte.gz": "fc607395669ec21321ea83e4b82c0544b7e8e63ff5b34337c06bc0a17cc0da3c",
}


def load_raw_mnist(path=None, *, where="load_mnist", stacklevel=4):
    """MNIST as uint8 arrays ``((x_train, t_train), (x_test, t_test))``,
    images ``(N, 28, 28)``, labels ``(N,)``, in a :class:`DatasetSplits`."""
    return load_raw(
        SPEC,
        path,
        where=where,
        sample=(SAMPLE_SPEC, SAMPLE_DIR, SAMPLE_SHA256),
        stacklevel=stacklevel,
    )


def load_mnist(normalize=True, flatten=True, one_hot_label=False, *, path=None):
    """Load MNIST the way the book's ``load_mnist`` does.

    Parameters
    ----------
    normalize : bool
        True: images as float32 in [0, 1] (``astype(float32) / 255``);
        False: uint8 0..255.
    flatten : bool
        True: images ``(N, 784)``; False: ``(N, 1, 28, 28)``.
    one_hot_label : bool
        True: labels ``(N, 10)`` float64 one-hot; False: uint8 ``(N,)``.
    path : None, directory, or dict
        Read the four files from here instead of the usual places: a
        directory holding them under their standard names (gzipped or not),
        or ``{"train_images": ..., "train_labels": ..., "test_images": ...,
        "test_labels": ...}``.

    Returns
    -------
    DatasetSplits
        ``((x_train, t_train), (x_test, t_test))`` -- 60,000 + 10,000 images
        for the full set -- with ``.source``, ``.origin`` and ``.is_sample``.
        When the full set is neither found nor downloadable, the bundled
        sample (5,000 + 10,000) is returned with a ``SampleDataWarning``.
    """
    raw = load_raw_mnist(path)
    (x_train, t_train), (x_test, t_test) = raw
    return raw.replace_arrays(
        to_book_format(x_train, t_train, normalize, flatten, one_hot_label),
        to_book_format(x_test, t_test, normalize, flatten, one_hot_label),
    )
