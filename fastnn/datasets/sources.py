"""Where dataset files can come from, and how to find them in a directory.

A dataset is four IDX files (``ROLES``). This module describes a dataset
(:class:`DatasetSpec`) and lists the places to look, in order:

1. an explicit ``path`` (handled by the loader: a directory or a dict of files)
2. ``$FASTNN_DATA/<name>/``
3. the user cache: ``platformdirs.user_cache_dir("fastnn")/datasets/<name>/``,
   then ``~/.fastnn/datasets/<name>/``
4. system directories of the dataset (Fashion-MNIST: Debian's
   ``/usr/share/datasets/fashion-mnist/``)

Downloading (into the first cache directory) and the bundled sample come after
these; see :mod:`fastnn.datasets.loader`. Nothing here reads file contents.
"""
import os
from dataclasses import dataclass, field
from pathlib import Path

import platformdirs

__all__ = [
    "ROLES",
    "DatasetSpec",
    "Place",
    "cache_root",
    "legacy_cache_root",
    "lookup_places",
    "files_in_directory",
    "explicit_files",
]

# The four files of a dataset, in the order they are read.
ROLES = ("train_images", "train_labels", "test_images", "test_labels")

# The file names MNIST and Fashion-MNIST are published under.
STANDARD_NAMES = {
    "train_images": "train-images-idx3-ubyte.gz",
    "train_labels": "train-labels-idx1-ubyte.gz",
    "test_images": "t10k-images-idx3-ubyte.gz",
    "test_labels": "t10k-labels-idx1-ubyte.gz",
}


def _name_variants(standard):
    """Names a file may have on disk: gzipped or not, and the Kaggle spelling
    with a dot before ``idx`` (``train-images.idx3-ubyte``)."""
    raw = standard[: -len(".gz")]
    dotted = raw.replace("-idx", ".idx")
    return (standard, raw, dotted + ".gz", dotted)


@dataclass(frozen=True)
class DatasetSpec:
    """What a dataset is and where it is published.

    name : directory name under the cache / ``FASTNN_DATA`` (``"mnist"``)
    title : human name for messages (``"MNIST"``)
    n_train, n_test : image counts of the full dataset
    mirrors : base URLs, tried in order; a file's URL is ``mirror + file name``
    sha256 : file name -> SHA-256 of the published (gzipped) file
    system_dirs : read-only directories a system package installs the files to
    system_package : the Debian/Ubuntu package that installs them (for messages)
    files : role -> standard file name
    """

    name: str
    title: str
    n_train: int
    n_test: int
    mirrors: tuple
    sha256: dict
    system_dirs: tuple = ()
    system_package: str = ""
    files: dict = field(default_factory=lambda: dict(STANDARD_NAMES))
    image_shape: tuple = (28, 28)
    n_classes: int = 10


@dataclass(frozen=True)
class Place:
    """A directory that may hold a dataset. ``origin`` says which rule
    produced it: ``"FASTNN_DATA"``, ``"cache"`` or ``"system"``."""

    origin: str
    directory: Path


def cache_root():
    """The per-user cache of downloaded datasets (downloads go here)."""
    return Path(platformdirs.user_cache_dir("fastnn")) / "datasets"


def legacy_cache_root():
    """``~/.fastnn/datasets``: looked at too, never written to."""
    return Path.home() / ".fastnn" / "datasets"


def lookup_places(spec):
    """The directories to search for ``spec``, in order (see module docstring)."""
    places = []
    env = os.environ.get("FASTNN_DATA")
    if env:
        places.append(Place("FASTNN_DATA", Path(env).expanduser() / spec.name))
    places.append(Place("cache", cache_root() / spec.name))
    places.append(Place("cache", legacy_cache_root() / spec.name))
    for directory in spec.system_dirs:
        places.append(Place("system", Path(directory)))
    return places


def files_in_directory(directory, spec):
    """Find the dataset's files in ``directory``.

    Returns ``(found, missing)``: ``found`` maps each role present to its path
    (the first name variant that exists), ``missing`` lists the standard names
    of the roles not found.
    """
    directory = Path(directory)
    found, missing = {}, []
    for role in ROLES:
        standard = spec.files[role]
        for name in _name_variants(standard):
            candidate = directory / name
            if candidate.is_file():
                found[role] = candidate
                break
        else:
            missing.append(standard)
    return found, missing


def explicit_files(path, spec, where):
    """The four files named by a user's ``path=`` argument.

    ``path`` is a directory holding the files under their standard names
    (gzipped or not), or a dict ``{role: file}`` with the keys ``ROLES``.
    Raises ``TypeError``/``ValueError``/``DatasetNotFoundError`` naming ``where``
    (the calling function) when it is neither or files are missing.
    """
    from .errors import DatasetNotFoundError

    if isinstance(path, dict):
        keys = set(path)
        if keys != set(ROLES):
            raise ValueError(
                f"{where}: path dict must have exactly the keys {list(ROLES)}; "
                f"missing {sorted(set(ROLES) - keys)}, unexpected {sorted(keys - set(ROLES))}"
            )
        files = {role: Path(os.fspath(path[role])).expanduser() for role in ROLES}
        absent = [str(p) for p in files.values() if not p.is_file()]
        if absent:
            raise DatasetNotFoundError(f"{where}: these files in path= do not exist: {absent}")
        return files
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(
            f"{where}: path must be a directory (str or os.PathLike) or a dict of the "
            f"four files {list(ROLES)}; got {type(path).__name__}"
        )
    directory = Path(os.fspath(path)).expanduser()
    if not directory.is_dir():
        raise DatasetNotFoundError(
            f"{where}: path={str(path)!r} is not a directory; pass the directory that "
            f"holds the {spec.title} files {list(spec.files.values())} (gzipped or not), "
            f"or a dict of the four file paths with keys {list(ROLES)}"
        )
    found, missing = files_in_directory(directory, spec)
    if missing:
        raise DatasetNotFoundError(
            f"{where}: {directory} lacks the {spec.title} files {missing} "
            "(looked for each name gzipped or not)"
        )
    return found
