"""Save and load network parameters safely.

Two formats, chosen by the file's suffix:

* ``.npz`` (the native format): NumPy's zip of arrays, read with
  ``allow_pickle=False`` so that loading never runs code from the file.
* ``.pkl`` (the book's format): the book saves ``pickle.dump(params, f)`` with
  ``params`` a dict of NumPy arrays. A plain ``pickle.load`` of an untrusted
  file can call any function, so fastnn reads pickles through
  :class:`SafeParamsUnpickler`, which resolves only the few NumPy names needed
  to rebuild arrays and raises :class:`UnsafePickleError` for anything else.

Writes are atomic: the data go to a temporary file in the destination's
directory, which is then renamed over the destination with ``os.replace``.
If anything fails on the way, the old file is left as it was and the
temporary file is removed.
"""
import importlib
import io
import os
import pickle
import tempfile
import zipfile

import numpy as np

__all__ = ["save_params", "load_params", "atomic_write", "SafeParamsUnpickler", "UnsafePickleError"]

#: Array dtype kinds a parameter file may hold: bool, ints, floats, complex.
_NUMERIC_KINDS = "biufc"


class UnsafePickleError(pickle.UnpicklingError):
    """A pickle asked for something other than NumPy arrays in a dict."""


# The globals a pickled dict of arrays refers to. NumPy 1.x writes
# ``numpy.core.*``; NumPy 2 writes ``numpy._core.*``; both are admitted.
_ALLOWED_GLOBALS = {
    # ndarray.__reduce__ -> _reconstruct(ndarray, shape, dtype), then BUILD.
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    # NumPy scalars (e.g. a float64 stored as a dict value).
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
    # Pickle protocol 5 rebuilds arrays from a buffer.
    ("numpy.core.numeric", "_frombuffer"),
    ("numpy._core.numeric", "_frombuffer"),
    # Protocol 2 stores bytes as _codecs.encode(str, 'latin1'): a pure conversion.
    ("_codecs", "encode"),
}


def _allowed_object(module, name):
    """Import the object for an admitted (module, name) pair."""
    if module.startswith("numpy.core") and hasattr(np, "_core"):
        # numpy.core is a deprecated alias of numpy._core in NumPy 2;
        # go to the real module to avoid the deprecation warning.
        module = "numpy._core" + module[len("numpy.core"):]
    return getattr(importlib.import_module(module), name)


class SafeParamsUnpickler(pickle.Unpickler):
    """An Unpickler that can rebuild NumPy arrays and nothing else.

    ``find_class`` is the only way a pickle reaches Python callables; here it
    admits the NumPy array/dtype/scalar constructors listed in
    ``_ALLOWED_GLOBALS`` and raises ``UnsafePickleError`` for every other name
    (``os.system``, ``builtins.eval``, ...), before anything is called.
    Persistent ids (another route to objects) are refused too.
    """

    def find_class(self, module, name):
        if (module, name) in _ALLOWED_GLOBALS:
            return _allowed_object(module, name)
        raise UnsafePickleError(
            f"load_params: refusing to load {module}.{name} from a pickle; a parameter "
            "file may only hold NumPy arrays in a dict"
        )

    def persistent_load(self, pid):
        raise UnsafePickleError("load_params: refusing a pickle with persistent ids")


def _check_params(where, params, path):
    """Check that ``params`` is a dict of str -> numeric array; return a clean copy."""
    if not isinstance(params, dict):
        raise TypeError(f"{where}: {path} must hold a dict of arrays, got {type(params).__name__}")
    clean = {}
    for key, value in params.items():
        if not isinstance(key, str):
            raise TypeError(f"{where}: parameter names must be strings, got {key!r} in {path}")
        if isinstance(value, np.generic):
            value = np.asarray(value)
        if not isinstance(value, np.ndarray):
            raise TypeError(
                f"{where}: parameter {key!r} in {path} must be a NumPy array, got {type(value).__name__}"
            )
        if value.dtype.kind not in _NUMERIC_KINDS:
            raise TypeError(
                f"{where}: parameter {key!r} in {path} must have a numeric dtype, got {value.dtype}"
            )
        clean[key] = value
    return clean


def _suffix(path):
    return os.path.splitext(os.fspath(path))[1].lower()


def _new_file_mode(path):
    """Permissions for the written file: the old file's, else 0o666 minus the umask."""
    try:
        return os.stat(path).st_mode & 0o777
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def atomic_write(path, write):
    """Call ``write(file_object)`` on a temp file beside ``path``, then rename it over ``path``.

    ``write`` receives a binary file object. The temp file is synced to disk
    before the rename and gets the old file's permissions (or the umask's).
    On any exception (KeyboardInterrupt included) the temp file is removed,
    ``path`` is left as it was, and the exception propagates.
    """
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    mode = _new_file_mode(path)
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
            os.fchmod(f.fileno(), mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


_atomic_write = atomic_write  # the name other fastnn modules first imported


def save_params(params, path):
    """Write a dict of arrays to ``path`` atomically.

    ``.npz`` (recommended) writes ``np.savez``; ``.pkl`` writes a plain pickle
    of a dict of arrays, which the book's ``load_params`` can read. Other
    suffixes are refused.
    """
    where = "save_params"
    suffix = _suffix(path)
    params = _check_params(where, params, path)
    params = {k: np.asarray(v) for k, v in params.items()}
    if suffix == ".npz":
        atomic_write(path, lambda f: np.savez(f, **params))
    elif suffix == ".pkl":
        atomic_write(path, lambda f: pickle.dump(params, f, protocol=4))
    else:
        raise ValueError(f"{where}: file name must end in .npz or .pkl, got {os.fspath(path)!r}")


def load_params(path):
    """Read a dict of arrays from a ``.npz`` or a book-style ``.pkl`` file.

    No code from the file is executed: ``.npz`` is read with
    ``allow_pickle=False``; ``.pkl`` through :class:`SafeParamsUnpickler`.
    Raises ``UnsafePickleError`` if a pickle names anything but NumPy's array
    constructors, ``TypeError`` if the file does not hold a dict of numeric arrays.
    """
    where = "load_params"
    suffix = _suffix(path)
    if suffix == ".npz":
        try:
            with np.load(path, allow_pickle=False) as data:
                params = {k: data[k] for k in data.files}
        except ValueError as exc:  # object arrays need pickle: refused
            raise TypeError(f"{where}: {os.fspath(path)!r} holds non-numeric arrays ({exc})") from None
        except zipfile.BadZipFile as exc:
            raise ValueError(f"{where}: {os.fspath(path)!r} is not a valid .npz file ({exc})") from None
    elif suffix == ".pkl":
        with open(path, "rb") as f:
            data = f.read()
        params = SafeParamsUnpickler(io.BytesIO(data)).load()
    else:
        raise ValueError(f"{where}: file name must end in .npz or .pkl, got {os.fspath(path)!r}")
    return _check_params(where, params, path)
