"""The book's published parameter files, fetched on request into the user cache.

*Deep Learning from Scratch* publishes the trained parameters of three of its
networks in its repository. :func:`fetch` returns the local path of one of
them, downloading it once (with pooch: SHA-256 checked, written atomically)
into ``<user cache>/fastnn/pretrained/``::

    from fastnn.nets import DeepConvNet
    from fastnn.pretrained import fetch

    network = DeepConvNet()
    network.load_params(fetch("deep_convnet"))     # 0.9797 on the MNIST test set

or ``fastnn evaluate --pretrained deep_convnet``. A file is used only when its
SHA-256 is the one pinned here (computed from the book's published files).
Offline (no network, or ``FASTNN_OFFLINE=1``) the error names the URL and the
exact path to put the file at.
"""
import hashlib
import os
from collections import namedtuple
from pathlib import Path

__all__ = ["PRETRAINED", "PretrainedNotAvailable", "cache_dir", "cached_path", "fetch"]

#: The book's repository, where its parameter files are published.
BOOK_REPOSITORY = "https://github.com/oreilly-japan/deep-learning-from-scratch"
_RAW = "https://raw.githubusercontent.com/oreilly-japan/deep-learning-from-scratch/master/"

Pretrained = namedtuple("Pretrained", "network repo_path filename sha256 accuracy")

#: name -> the book's file: its path in the book's repository, the name it gets in
#: the cache, its SHA-256, and the test accuracy the book reports for it on MNIST.
PRETRAINED = {
    "sample_network": Pretrained(
        "chapter 3's SampleNetwork", "ch03/sample_weight.pkl", "sample_weight.pkl",
        "b7f55a27988ba34c3777b0f1bbd464817c8a4db855723e6ff26f703501917a13", 0.9352),
    "simple_convnet": Pretrained(
        "SimpleConvNet (chapter 7)", "ch07/params.pkl", "simple_convnet_params.pkl",
        "a5da99cffddafcfe5e686e79dc0ec3a7cc993b58e64f483b50960511e5e85344", 0.9600),
    "deep_convnet": Pretrained(
        "DeepConvNet (chapter 8)", "ch08/deep_convnet_params.pkl", "deep_convnet_params.pkl",
        "4b7a27baee2037605afa94d3f514ca9fa9cc96623739328609765073cfd5f802", 0.9797),
}

# (connect, read) seconds: an unreachable host fails fast.
_TIMEOUT = (5, 60)


class PretrainedNotAvailable(FileNotFoundError):
    """The file is not in the cache and could not be downloaded (offline, say).

    The message names the URL to download and the exact path to save it as.
    """


def cache_dir():
    """``<user cache>/fastnn/pretrained``: where :func:`fetch` keeps the files."""
    import platformdirs

    return Path(platformdirs.user_cache_dir("fastnn")) / "pretrained"


def _entry(name):
    if name not in PRETRAINED:
        raise ValueError(f"fastnn.pretrained: unknown network {name!r}; choose one of "
                         f"{', '.join(sorted(PRETRAINED))}")
    return PRETRAINED[name]


def url(name):
    """The address of ``name``'s file in the book's repository."""
    return _RAW + _entry(name).repo_path


def cached_path(name):
    """Where the file of ``name`` is kept (whether or not it is there yet)."""
    return cache_dir() / _entry(name).filename


def _sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _offline():
    return os.environ.get("FASTNN_OFFLINE", "").strip().lower() not in ("", "0", "false", "no")


def _how_to_place(name, reason):
    entry, target = _entry(name), cached_path(name)
    return (f"the book's {entry.network} parameters are not in the cache and were not downloaded "
            f"({reason}). Download {url(name)} and save it as {target} "
            f"(SHA-256 {entry.sha256})")


def fetch(name):
    """The local path of the book's parameter file for network ``name``.

    ``name``: one of :data:`PRETRAINED` (``'sample_network'``,
    ``'simple_convnet'``, ``'deep_convnet'``). A cached file is used only if
    its SHA-256 matches; otherwise (or when absent) it is downloaded from the
    book's repository, unless ``FASTNN_OFFLINE`` is set.

    Raises :class:`PretrainedNotAvailable` when the file is absent and cannot
    be downloaded, and ``ValueError`` when a file at the cache path is not the
    book's (wrong SHA-256) and no good copy could be downloaded.
    """
    entry, target = _entry(name), cached_path(name)
    wrong = None
    if target.is_file():
        digest = _sha256(target)
        if digest == entry.sha256:
            return target
        wrong = (f"{target} is not the book's {entry.network} file (SHA-256 {digest}, expected "
                 f"{entry.sha256}); it was not used")
    if _offline():
        if wrong:
            raise ValueError(wrong + f"; replace it with {url(name)}")
        raise PretrainedNotAvailable(_how_to_place(name, "FASTNN_OFFLINE is set"))
    try:
        return Path(_download(name, target))
    except (OSError, ValueError) as exc:
        reason = " ".join(str(exc).split())[:300] or type(exc).__name__
        if wrong:
            raise ValueError(wrong + f"; downloading a good copy failed ({reason})") from None
        raise PretrainedNotAvailable(_how_to_place(name, f"download failed: {reason}")) from None


def _download(name, target):
    """Download into the cache with pooch: SHA-256 checked, then renamed into place."""
    import pooch
    import requests

    from . import __version__

    entry = _entry(name)
    downloader = pooch.HTTPDownloader(progressbar=False, timeout=_TIMEOUT,
                                      headers={"User-Agent": f"fastnn/{__version__}"})
    logger = pooch.get_logger()
    level = logger.level
    logger.setLevel("WARNING")
    try:
        return pooch.retrieve(url(name), known_hash="sha256:" + entry.sha256, fname=target.name,
                              path=target.parent, downloader=downloader)
    except requests.RequestException as exc:
        raise OSError(f"{type(exc).__name__}: {exc}") from None
    finally:
        logger.setLevel(level)
