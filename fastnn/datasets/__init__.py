"""Datasets: MNIST and Fashion-MNIST, the way the book loads them.

    from fastnn.datasets import load_mnist
    (x_train, t_train), (x_test, t_test) = load_mnist(normalize=True, flatten=True)

Files are looked for, in order: ``path=``, ``$FASTNN_DATA/<name>/``, the user
cache (``platformdirs.user_cache_dir("fastnn")/datasets/<name>/``, then
``~/.fastnn/datasets/<name>/``), system directories (Debian's
``/usr/share/datasets/fashion-mnist/``), then downloaded (SHA-256 checked) into
the cache; MNIST finally falls back to a 5,000 + 10,000 image sample bundled
with fastnn, with a one-line :class:`SampleDataWarning` (once per process; the details from
:func:`lookup_report`). ``FASTNN_OFFLINE=1`` skips the
download. The result unpacks like the book's and carries ``.source``,
``.origin`` and ``.is_sample``.
"""
from .errors import CorruptFileError, DatasetNotFoundError, DownloadError, SampleDataWarning
from .fashion_mnist import load_fashion_mnist
from .idx import read_idx, write_idx
from .loader import DatasetSplits, lookup_report
from .mnist import load_mnist

__all__ = [
    "load_mnist",
    "load_fashion_mnist",
    "read_idx",
    "write_idx",
    "DatasetSplits",
    "lookup_report",
    "DatasetNotFoundError",
    "CorruptFileError",
    "DownloadError",
    "SampleDataWarning",
]
