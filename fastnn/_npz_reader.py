"""Read ``.npz`` parameter files with every size checked before any data is read.

``np.load`` reads a member's whole array once asked for it, however large
its header says it is; a deflated member of zeros makes a 9 MB file load as
2 GiB. Here each member's ``.npy`` header (magic, version, then a small
Python-literal dict with ``descr``, ``fortran_order`` and ``shape``) is read
and checked first: the dtype must be a plain bool, int or float type, the
shape a tuple of non-negative ints, and the sizes of all members together
must fit the bound (or match the shapes the caller expects). Only then is
the data read, in chunks, into an array of exactly that size; a member
whose data is shorter or longer than its header says is an error.

No pickle is ever read (object arrays are refused by their dtype), and the
header is parsed with ``ast.literal_eval``, which evaluates no code.
"""
import ast
import math
import os
import zipfile
import zlib
from collections import namedtuple

import numpy as np

from ._pickle_reader import MAX_NDIM, PLAIN_CODES

__all__ = ["ParamInfo", "npz_headers", "read_npz", "default_max_bytes"]

_MAGIC = b"\x93NUMPY"
_MAX_HEADER = 65536
_MAX_MEMBERS = 100_000
_CHUNK = 1 << 20

# What zipfile and its decompressors raise on a damaged archive.
_BAD_STREAM = (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError,
               RuntimeError, OverflowError, UnicodeDecodeError)
try:
    import lzma
    _BAD_STREAM += (lzma.LZMAError,)
except ImportError:  # pragma: no cover
    pass


class ParamInfo(namedtuple("ParamInfo", "shape dtype")):
    """Shape and dtype of one stored array, known before its data is read."""

    __slots__ = ()

    @property
    def ndim(self):
        return len(self.shape)

    @property
    def nbytes(self):
        return math.prod(self.shape) * self.dtype.itemsize


def default_max_bytes(file_size):
    """Most bytes the arrays of a parameter file of ``file_size`` bytes may hold.

    A stored (``np.savez``) file holds its data as it is, so its arrays are
    never larger than the file; a deflated one (``np.savez_compressed``) of
    real weights shrinks little. The bound: 8 times the file, and at least 64 MiB.
    """
    return max(8 * int(file_size), 64 << 20)


def _plain_descr(descr):
    """The dtype for a header's ``descr`` if it is a plain numeric one ('<f8', '|b1', ...), else None."""
    if not isinstance(descr, str) or len(descr) != 3:
        return None
    order, code = descr[0], descr[1:]
    if code not in PLAIN_CODES or order not in "<>|=":
        return None
    if code[1] == "1":
        order = "|"
    elif order == "|":
        return None
    return np.dtype(order + code)


def _read_exact(fp, n):
    data = fp.read(n)
    if len(data) != n:
        raise ValueError(f"ends after {len(data)} of {n} header bytes")
    return data


def _read_header(fp):
    """(shape, dtype, fortran_order) from the start of a ``.npy`` stream; ValueError if not plain."""
    magic = _read_exact(fp, 8)
    if magic[:6] != _MAGIC:
        raise ValueError("is not a .npy array (bad magic bytes)")
    major = magic[6]
    if major == 1:
        length = int.from_bytes(_read_exact(fp, 2), "little")
    elif major in (2, 3):
        length = int.from_bytes(_read_exact(fp, 4), "little")
    else:
        raise ValueError(f"has .npy format version {major}.{magic[7]} (1 to 3 are read)")
    if length > _MAX_HEADER:
        raise ValueError(f"has a {length}-byte .npy header (at most {_MAX_HEADER})")
    raw = _read_exact(fp, length)
    try:
        text = raw.decode("utf-8" if major == 3 else "latin-1")
        header = ast.literal_eval(text)
    except (ValueError, SyntaxError, UnicodeDecodeError, MemoryError, RecursionError, TypeError):
        raise ValueError("has a .npy header that is not a Python literal") from None
    if not isinstance(header, dict) or set(header) != {"descr", "fortran_order", "shape"}:
        raise ValueError("has a .npy header without exactly 'descr', 'fortran_order' and 'shape'")
    dtype = _plain_descr(header["descr"])
    if dtype is None:
        shown = header["descr"] if isinstance(header["descr"], str) else type(header["descr"]).__name__
        raise ValueError(f"holds dtype {str(shown)[:40]!r}, not a plain bool, int or float type")
    fortran, shape = header["fortran_order"], header["shape"]
    if not isinstance(fortran, bool):
        raise ValueError("has a .npy header whose fortran_order is not a bool")
    if (not isinstance(shape, tuple) or len(shape) > MAX_NDIM
            or any(isinstance(d, bool) or not isinstance(d, int) or d < 0 for d in shape)):
        raise ValueError(f"has a shape that is not a tuple of at most {MAX_NDIM} ints >= 0")
    if math.prod(max(d, 1) for d in shape) > 2**48:
        raise ValueError(f"claims shape {shape}, beyond any memory")
    return shape, dtype, fortran


def _members(zf):
    """{parameter name: zip member} for the ``.npy`` members of an open zip file."""
    infos = zf.infolist()
    if len(infos) > _MAX_MEMBERS:
        raise ValueError(f"has {len(infos)} members (at most {_MAX_MEMBERS:,})")
    members = {}
    for info in infos:
        if info.is_dir():
            continue
        if not info.filename.endswith(".npy"):
            raise ValueError(f"holds {info.filename[:100]!r}, which is not a .npy array")
        key = info.filename[:-4]
        if key in members:
            raise ValueError(f"holds parameter {key[:100]!r} twice")
        members[key] = info
    return members


def _open_zip(path):
    try:
        return zipfile.ZipFile(path)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, ValueError, OverflowError) as exc:
        raise ValueError(f"is not a valid .npz file ({exc})") from None


def npz_headers(path):
    """{name: ParamInfo} of the arrays in ``.npz`` file ``path``, from their headers only.

    Raises ValueError (without the file name; the caller adds it) for a bad file.
    """
    try:
        with _open_zip(path) as zf:
            out = {}
            for key, info in _members(zf).items():
                with zf.open(info) as fp:
                    try:
                        shape, dtype, _ = _read_header(fp)
                    except ValueError as exc:
                        raise ValueError(f"member {key[:100]!r} {exc}") from None
                out[key] = ParamInfo(shape, dtype)
            return out
    except (FileNotFoundError, PermissionError, IsADirectoryError):
        raise
    except _BAD_STREAM as exc:
        raise ValueError(f"is not a valid .npz file ({type(exc).__name__}: {str(exc)[:200]})") from None


def _read_data(fp, key, shape, dtype, fortran):
    nbytes = math.prod(shape) * dtype.itemsize
    buf = np.empty(nbytes, dtype=np.uint8)
    view = memoryview(buf)
    got = 0
    while got < nbytes:
        chunk = fp.read(min(_CHUNK, nbytes - got))
        if not chunk:
            raise ValueError(f"member {key[:100]!r} is truncated: {got} of {nbytes} data bytes")
        view[got:got + len(chunk)] = chunk
        got += len(chunk)
    if fp.read(1):
        raise ValueError(f"member {key[:100]!r} has bytes after the {nbytes} its header announces")
    flat = buf.view(dtype)
    array = flat.reshape(shape[::-1]).T if fortran else flat.reshape(shape)
    if fortran or not dtype.isnative:
        array = np.array(array, dtype=dtype.newbyteorder("="), order="C", copy=True)
    return array


def read_npz(path, keys=None, max_bytes=None, check=None):
    """Read the arrays of ``.npz`` file ``path``; headers are all checked before any data is read.

    ``keys``: the names to read (None: all; a name missing from the file is
    an error). ``check(infos)``: called with {name: ParamInfo} of those
    members before their data is read (it may raise). ``max_bytes``: bound
    on the bytes of the arrays read (None: :func:`default_max_bytes`).
    Raises ValueError (without the file name; the caller adds it).
    """
    if max_bytes is None:
        max_bytes = default_max_bytes(os.path.getsize(path))
    try:
        with _open_zip(path) as zf:
            members = _members(zf)
            wanted = list(members) if keys is None else list(keys)
            missing = [k for k in wanted if k not in members]
            if missing:
                raise ValueError(f"lacks parameters {missing}")
            headers = {}
            for key in wanted:
                with zf.open(members[key]) as fp:
                    try:
                        headers[key] = _read_header(fp)
                    except ValueError as exc:
                        raise ValueError(f"member {key[:100]!r} {exc}") from None
            infos = {k: ParamInfo(s, d) for k, (s, d, _) in headers.items()}
            if check is not None:
                check(infos)
            total = sum(info.nbytes for info in infos.values())
            if total > max_bytes:
                raise ValueError(
                    f"claims {total:,} bytes of arrays, more than the {max_bytes:,} allowed for a "
                    f"file of its size (pass max_bytes= to allow more)"
                )
            out = {}
            for key in wanted:
                shape, dtype, fortran = headers[key]
                with zf.open(members[key]) as fp:
                    _read_header(fp)
                    out[key] = _read_data(fp, key, shape, dtype, fortran)
            return out
    except (FileNotFoundError, PermissionError, IsADirectoryError):
        raise
    except _BAD_STREAM as exc:
        raise ValueError(f"is not a valid .npz file ({type(exc).__name__}: {str(exc)[:200]})") from None
