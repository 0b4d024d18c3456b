"""Find, check and read a dataset; shape it the book's way.

:func:`load_raw` walks the lookup order (explicit path, ``FASTNN_DATA``, the
user cache, system directories, download, bundled sample) and returns the raw
uint8 arrays of the first place that holds a complete, readable copy.
:func:`to_book_format` applies ``load_mnist``'s ``normalize`` / ``flatten`` /
``one_hot_label``.
"""
import os
import warnings
from pathlib import Path

import numpy as np

from . import sources
from .download import download_files
from .errors import CorruptFileError, DatasetNotFoundError, DownloadError, SampleDataWarning
from .idx import read_idx

__all__ = ["DatasetSplits", "load_raw", "read_split_files", "to_book_format", "one_hot", "lookup_report"]

_SAMPLE_WARNED = []   # non-empty once the SampleDataWarning was issued in this process
_LAST_REPORT = {}     # dataset name -> the full report of its last lookup that served the sample


def lookup_report(name="mnist"):
    """The full report of the last lookup of dataset ``name`` that served the bundled
    sample: every place looked at, what was wrong there, each download failure and
    how to provide the files; ``None`` if the sample was not served."""
    return _LAST_REPORT.get(name)


class DatasetSplits(tuple):
    """``((x_train, t_train), (x_test, t_test))``, unpacked like the book's
    return value, that also says where the data came from:

    source : str
        The directory (or the files) the arrays were read from.
    origin : str
        Which lookup rule found them: ``"path"``, ``"FASTNN_DATA"``,
        ``"cache"``, ``"system"``, ``"download"`` or ``"sample"``.
    is_sample : bool
        True when the small MNIST sample bundled with fastnn was served
        instead of the full dataset.
    """

    def __new__(cls, train, test, *, source, origin, is_sample):
        self = super().__new__(cls, (tuple(train), tuple(test)))
        self.source = str(source)
        self.origin = origin
        self.is_sample = bool(is_sample)
        return self

    def __getnewargs_ex__(self):  # lets copy and pickle rebuild it
        return (self[0], self[1]), {
            "source": self.source,
            "origin": self.origin,
            "is_sample": self.is_sample,
        }

    def replace_arrays(self, train, test):
        """The same provenance with other arrays (after reformatting)."""
        return DatasetSplits(
            train, test, source=self.source, origin=self.origin, is_sample=self.is_sample
        )


def read_split_files(files, spec):
    """Read and check the four files ``{role: path}`` of ``spec``.

    Checks: images are uint8 ``(N, *spec.image_shape)``, labels uint8 ``(N,)``
    with the same N, labels in ``[0, spec.n_classes)``.
    Returns ``((x_train, t_train), (x_test, t_test))`` as uint8 arrays.
    Raises :class:`CorruptFileError` naming the first bad file.
    """
    arrays = {}
    for role in sources.ROLES:
        path = files[role]
        try:
            array = read_idx(path)
        except ValueError as exc:
            raise CorruptFileError(path, exc) from None
        except OSError as exc:
            raise CorruptFileError(path, f"cannot read: {exc}") from None
        if array.dtype != np.uint8:
            raise CorruptFileError(path, f"holds {array.dtype} data, expected uint8")
        if role.endswith("images"):
            if array.shape[1:] != tuple(spec.image_shape) or array.ndim != 3:
                raise CorruptFileError(
                    path, f"images of shape {array.shape}, expected (N, {spec.image_shape[0]}, "
                    f"{spec.image_shape[1]})"
                )
        else:
            if array.ndim != 1:
                raise CorruptFileError(path, f"labels of shape {array.shape}, expected (N,)")
            if array.size and array.max() >= spec.n_classes:
                raise CorruptFileError(
                    path, f"label {int(array.max())} out of range 0..{spec.n_classes - 1}"
                )
            images_role = role.replace("labels", "images")
            if len(array) != len(arrays[images_role]):
                raise CorruptFileError(
                    path, f"{len(array)} labels for {len(arrays[images_role])} images in "
                    f"{files[images_role]}"
                )
        arrays[role] = array
    return (
        (arrays["train_images"], arrays["train_labels"]),
        (arrays["test_images"], arrays["test_labels"]),
    )


def _offline():
    return os.environ.get("FASTNN_OFFLINE", "").strip().lower() not in ("", "0", "false", "no")


def _try_place(place, spec, looked, stacklevel):
    """Read the dataset from one lookup place, or record why not and return None.

    A corrupt file in our own download cache is deleted (it would otherwise
    shadow a good download forever); elsewhere it is only reported.
    """
    label = f"{place.origin}: {place.directory}"
    if not place.directory.is_dir():
        looked.append(f"{label} (no such directory)")
        return None
    found, missing = sources.files_in_directory(place.directory, spec)
    if missing:
        looked.append(f"{label} (missing {', '.join(missing)})")
        return None
    try:
        return read_split_files(found, spec)
    except CorruptFileError as exc:
        note = f"{label} (corrupt: {exc})"
        if place.origin == "cache" and place.directory == sources.cache_root() / spec.name:
            try:
                os.unlink(exc.path)
                note += " -- removed it from the cache"
            except OSError:
                pass
        warnings.warn(f"{spec.title}: skipping {exc}", RuntimeWarning, stacklevel=stacklevel + 1)
        looked.append(note)
        return None


def _how_to_provide(spec):
    names = ", ".join(spec.files.values())
    lines = [
        f"How to provide {spec.title}: get the four files ({names}) from one of",
        *(f"    {m}" for m in spec.mirrors),
        f"  and either put them in {sources.cache_root() / spec.name}, or in "
        f"<dir>/{spec.name}/ with FASTNN_DATA=<dir>, or pass path=<directory> "
        "(or a dict of the four file paths).",
    ]
    if spec.system_package:
        installs_to = f" (installs them to {spec.system_dirs[0]})" if spec.system_dirs else ""
        lines.append(f"  On Debian/Ubuntu: apt-get install {spec.system_package}{installs_to}.")
    return "\n".join(lines)


def load_raw(spec, path=None, *, where, sample=None, stacklevel=4):
    """The dataset ``spec`` as uint8 arrays, from the first place that has it.

    Parameters
    ----------
    spec : DatasetSpec
    path : None, directory, or dict ``{role: file}``
        When given, only this is used (errors are raised, not skipped).
    where : str
        Name of the public function, for messages.
    sample : (DatasetSpec, directory, sha256 dict) or None
        The bundled fallback (MNIST only): served with a
        :class:`SampleDataWarning` when nothing else works.
    stacklevel : int
        ``stacklevel`` of the warnings, counted from this function, so that
        they point at the user's call (4: user -> public loader -> its
        module's ``load_raw_*`` -> here).

    Returns
    -------
    DatasetSplits of uint8 arrays: images ``(N, 28, 28)``, labels ``(N,)``.
    """
    if path is not None:
        files = sources.explicit_files(path, spec, where)
        try:
            arrays = read_split_files(files, spec)
        except CorruptFileError as exc:
            raise ValueError(f"{where}: {exc}") from None
        source = str(path) if not isinstance(path, dict) else str(Path(files["train_images"]).parent)
        return DatasetSplits(*arrays, source=source, origin="path", is_sample=False)

    looked = []
    for place in sources.lookup_places(spec):
        arrays = _try_place(place, spec, looked, stacklevel)
        if arrays is not None:
            return DatasetSplits(
                *arrays, source=place.directory, origin=place.origin, is_sample=False
            )

    destination = sources.cache_root() / spec.name
    if _offline():
        looked.append("download: skipped because FASTNN_OFFLINE is set")
    else:
        try:
            files = download_files(spec, destination)
            arrays = read_split_files(files, spec)
            return DatasetSplits(*arrays, source=destination, origin="download", is_sample=False)
        except DownloadError as exc:
            looked.append("download: " + str(exc).replace("\n", "\n  "))
        except CorruptFileError as exc:  # hash matched but content is wrong
            try:
                os.unlink(exc.path)
            except OSError:
                pass
            looked.append(f"download: {exc} -- removed it from the cache")

    where_looked = "\n".join(f"  - {line}" for line in looked)
    if sample is not None:
        sample_spec, sample_dir, sample_sha256 = sample
        arrays = _read_sample(sample_spec, sample_dir, sample_sha256, where)
        n_train, n_test = len(arrays[0][0]), len(arrays[1][0])
        served = (f"{where}: serving the MNIST sample bundled with fastnn ({n_train:,} training + "
                  f"{n_test:,} test images), NOT the full MNIST ({spec.n_train:,} + {spec.n_test:,})")
        details = (f"{served}; the full set was not found or could not be downloaded. "
                   f"Looked at:\n{where_looked}\n" + _how_to_provide(spec))
        _LAST_REPORT[spec.name] = details
        if not _SAMPLE_WARNED:  # one line per process; the details on request
            _SAMPLE_WARNED.append(where)
            if _offline():
                why, get = "FASTNN_OFFLINE is set", "unset FASTNN_OFFLINE to download it"
            else:
                why, get = ("the full set is not on this machine and the download failed",
                            "connect to the network")
            warnings.warn(
                SampleDataWarning(
                    f"{served}: {why}. Put the four files in {sources.cache_root() / spec.name} "
                    f"or {get}; fastnn.datasets.lookup_report() has the details", details),
                stacklevel=stacklevel,
            )
        return DatasetSplits(*arrays, source=sample_dir, origin="sample", is_sample=True)

    raise DatasetNotFoundError(
        f"{where}: {spec.title} not found and not downloadable. Looked at:\n{where_looked}\n"
        + _how_to_provide(spec)
    )


def _read_sample(sample_spec, directory, sha256, where):
    """Read the bundled sample, checking each file's SHA-256 first (a damaged
    installation gives a clear error instead of wrong data)."""
    import hashlib

    files = {}
    for role in sources.ROLES:
        name = sample_spec.files[role]
        path = Path(directory) / name
        try:
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
        except OSError as exc:
            raise DatasetNotFoundError(
                f"{where}: the bundled sample file {path} cannot be read ({exc}); "
                "the fastnn installation is incomplete -- reinstall fastnn"
            ) from None
        if digest != sha256[name]:
            raise ValueError(
                f"{where}: the bundled sample file {path} is damaged (SHA-256 {digest}, "
                f"expected {sha256[name]}); reinstall fastnn"
            )
        files[role] = path
    return read_split_files(files, sample_spec)


def one_hot(labels, n_classes):
    """``(N,)`` integer labels -> ``(N, n_classes)`` float64 one-hot rows
    (the book's ``_change_one_hot_label``)."""
    out = np.zeros((labels.size, n_classes))
    out[np.arange(labels.size), labels] = 1.0
    return out


def to_book_format(images, labels, normalize, flatten, one_hot_label, n_classes=10):
    """Shape one split the way the book's ``load_mnist`` does.

    images : uint8 ``(N, H, W)``; labels : uint8 ``(N,)``.
    Returns ``x`` -- ``(N, H*W)`` if ``flatten`` else ``(N, 1, H, W)``;
    float32 in [0, 1] (``astype(float32) / 255``) if ``normalize`` else uint8 --
    and ``t`` -- ``(N, n_classes)`` float64 if ``one_hot_label`` else uint8 ``(N,)``.
    """
    n, h, w = images.shape
    x = images.astype(np.float32) / np.float32(255.0) if normalize else images
    x = x.reshape(n, h * w) if flatten else x.reshape(n, 1, h, w)
    t = one_hot(labels, n_classes) if one_hot_label else labels
    return x, t
