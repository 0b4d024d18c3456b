"""Save and load network parameters safely.

Two formats, chosen by the file's suffix:

* ``.npz`` (the native format): NumPy's zip of ``.npy`` arrays. Each member's
  header (dtype, shape) is read and checked before its data, and the data
  are read into an array of exactly the announced size
  (:mod:`fastnn._npz_reader`); no pickle is ever read.
* ``.pkl`` (the book's format): the book saves ``pickle.dump(params, f)`` with
  ``params`` a dict of NumPy arrays. fastnn never unpickles such a file: its
  opcode stream is read by :mod:`fastnn._pickle_reader`, which builds each
  array itself with ``np.frombuffer`` after checking dtype, shape and size,
  and raises :class:`UnsafePickleError` (a ``ValueError``) for anything else.

Both admit only plain numeric arrays (bool, ints, floats). Given the shapes
a network needs (``expect=``), :func:`load_params` checks names and shapes
before reading any data and admits only finite floating-point arrays.

Writes are atomic (:func:`atomic_write`, from :mod:`fastnn._atomic`): the
data go to a temporary file in the destination's directory, which is then
renamed over the destination with ``os.replace``. If anything fails on the
way, the old file is left as it was and the temporary file is removed.
"""
import os
import pickle

import numpy as np

from ._atomic import atomic_write
from ._npz_reader import ParamInfo, npz_headers, read_npz
from ._pickle_reader import PLAIN_CODES, UnsafePickleError, read_book_pickle

__all__ = ["save_params", "load_params", "param_info", "check_float_params", "atomic_write",
           "ParamInfo", "UnsafePickleError"]

#: Array dtype kinds a parameter file may hold: bool, ints, floats.
_NUMERIC_KINDS = "biuf"


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
        if value.dtype.kind not in _NUMERIC_KINDS or value.dtype.str[1:] not in PLAIN_CODES:
            raise TypeError(
                f"{where}: parameter {key!r} in {path} must have a plain numeric dtype "
                f"(bool, int, float), got {value.dtype}"
            )
        clean[key] = value
    return clean


def _suffix(path):
    return os.path.splitext(os.fspath(path))[1].lower()


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


def _shapes_message(infos, expect):
    """Why the arrays ``infos`` (name -> object with .shape) do not fit ``expect``, or None."""
    missing = [key for key in expect if key not in infos]
    if missing:
        return f"lacks parameters {missing}"
    for key, shape in expect.items():
        if tuple(infos[key].shape) != tuple(shape):
            return (f"parameter {key!r} has shape {tuple(infos[key].shape)}, "
                    f"the network expects {tuple(shape)}")
    return None


def check_float_params(where, params, path):
    """Raise ValueError unless every array of ``params`` is floating point and finite.

    A network's parameters are real numbers: complex, bool, int and object
    arrays are refused, and so are NaN and infinite values. The message
    names ``where``, the file ``path`` and the parameter.
    """
    for key, value in params.items():
        value = np.asarray(value)
        if value.dtype.kind != "f":
            raise ValueError(f"{where}: parameter {key!r} in {os.fspath(path)} has dtype "
                             f"{value.dtype}; a network's parameters must be floating point")
        if not np.isfinite(value).all():
            raise ValueError(f"{where}: parameter {key!r} in {os.fspath(path)} holds NaN or "
                             "infinite values")


def param_info(path, *, where="load_params"):
    """{name: ParamInfo(shape, dtype)} of the arrays in a parameter file, without keeping them.

    For ``.npz`` only the members' headers are read (no data); a ``.pkl``
    is read whole (its arrays are no larger than the file). ValueError
    (naming the file) for a file that is not a dict of plain numeric arrays.
    """
    name, suffix = os.fspath(path), _suffix(path)
    if suffix == ".npz":
        try:
            return npz_headers(path)
        except ValueError as exc:
            raise ValueError(f"{where}: {name}: {exc}") from None
    if suffix == ".pkl":
        return {k: ParamInfo(v.shape, v.dtype) for k, v in _read_pkl(path, where).items()}
    raise ValueError(f"{where}: file name must end in .npz or .pkl, got {name!r}")


def _read_pkl(path, where="load_params"):
    with open(path, "rb") as f:
        data = f.read()
    return read_book_pickle(data, os.fspath(path), where)


def load_params(path, expect=None, *, max_bytes=None, where="load_params"):
    """Read a dict of arrays from a ``.npz`` or a book-style ``.pkl`` file.

    No code from the file is executed and no object is built from its
    state: see the module's docstring. Every array comes out C-ordered,
    native-endian, writable and owning its memory.

    ``expect``: {name: shape} of the arrays a network needs. Then the file
    must hold each with exactly that shape (checked, for ``.npz``, before
    any data is read), the arrays must be floating point and finite, and
    only those arrays are returned. ``max_bytes`` bounds the bytes a
    ``.npz`` file's arrays may unpack to (default: 8 times the file's size,
    at least 64 MiB); a ``.pkl`` file's arrays never exceed the file.

    Raises ValueError naming ``where`` and the file for anything else (a
    ``.pkl`` problem is an :class:`UnsafePickleError`, a ValueError too).
    """
    name, suffix = os.fspath(path), _suffix(path)
    if expect is not None:
        expect = {key: tuple(shape) for key, shape in expect.items()}
    if suffix == ".npz":
        def check(infos):
            message = _shapes_message(infos, expect)
            if message:
                raise ValueError(message)

        try:
            params = read_npz(path, keys=None if expect is None else list(expect), max_bytes=max_bytes,
                              check=None if expect is None else check)
        except ValueError as exc:
            raise ValueError(f"{where}: {name}: {exc}") from None
    elif suffix == ".pkl":
        params = _read_pkl(path, where)
        if expect is not None:
            message = _shapes_message(params, expect)
            if message:
                raise ValueError(f"{where}: {name}: {message}")
            params = {key: params[key] for key in expect}
    else:
        raise ValueError(f"{where}: file name must end in .npz or .pkl, got {name!r}")
    if expect is not None:
        check_float_params(where, params, name)
    return params
