"""Read and write IDX files, the format MNIST and Fashion-MNIST ship in.

An IDX file is a small header followed by one array in C order::

    byte 0, 1   0x00 0x00            (magic: two zero bytes)
    byte 2      type code            0x08 uint8, 0x09 int8, 0x0B int16,
                                     0x0C int32, 0x0D float32, 0x0E float64
    byte 3      ndim                 number of dimensions
    4 * ndim    dims                 each a big-endian uint32
    ...         data                 prod(dims) items, big-endian

The files are often gzipped (``*.gz``). :func:`read_idx` decides by the gzip
magic bytes ``1f 8b`` at the start of the file, never by the file name, and
checks that the data size matches the header exactly: a truncated download or
a file with trailing garbage is a ``ValueError`` that names the file.
"""
import gzip
import math
import os
import zlib

import numpy as np

from ..io import atomic_write

__all__ = ["read_idx", "write_idx", "IDX_TYPES"]

# type code -> NumPy dtype (big-endian, as stored in the file)
IDX_TYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
# dtype kind+size -> type code, for writing
_CODE_OF = {(dt.kind, dt.itemsize): code for code, dt in IDX_TYPES.items()}

_GZIP_MAGIC = b"\x1f\x8b"


_CHUNK = 1 << 20


def _open_stream(raw_file, path):
    """A binary stream of the IDX bytes: the file itself, or its gunzipped content."""
    if raw_file.read(2) == _GZIP_MAGIC:
        raw_file.seek(0)
        return gzip.GzipFile(fileobj=raw_file, mode="rb"), True
    raw_file.seek(0)
    return raw_file, False


def _gzip_errors(path, size):
    """Map what gzip/zlib raise on a damaged stream to a ValueError naming the file."""
    def convert(exc):
        if isinstance(exc, EOFError):  # the gzip stream ends before its end marker
            return ValueError(f"read_idx: {path} is a truncated gzip file ({size} bytes): {exc}")
        return ValueError(f"read_idx: {path} is a corrupt gzip file: {exc}")
    return convert


def _read_exact(stream, n):
    """Up to ``n`` bytes (fewer only at the end of the stream)."""
    parts, got = [], 0
    while got < n:
        chunk = stream.read(min(_CHUNK, n - got))
        if not chunk:
            break
        parts.append(chunk)
        got += len(chunk)
    return b"".join(parts)


def _parse_header(head, path):
    """(dtype, dims, header size) from the first bytes of an IDX stream; ValueError if bad."""
    if len(head) < 4:
        raise ValueError(
            f"read_idx: {path} is not an IDX file: only {len(head)} bytes, "
            "a header needs at least 4"
        )
    zero0, zero1, code, ndim = head[0], head[1], head[2], head[3]
    if zero0 != 0 or zero1 != 0:
        raise ValueError(
            f"read_idx: {path} is not an IDX file: magic number starts with "
            f"0x{zero0:02x} 0x{zero1:02x}, expected 0x00 0x00"
        )
    if code not in IDX_TYPES:
        known = ", ".join(f"0x{c:02X}" for c in IDX_TYPES)
        raise ValueError(
            f"read_idx: {path} has unknown IDX type code 0x{code:02X} (known: {known})"
        )
    if ndim == 0:
        raise ValueError(f"read_idx: {path} declares 0 dimensions; expected at least 1")
    header_size = 4 + 4 * ndim
    if len(head) < header_size:
        raise ValueError(
            f"read_idx: {path} is truncated inside its header: {ndim} dimensions need "
            f"{header_size} header bytes, the file has {len(head)}"
        )
    dims = tuple(int(d) for d in np.frombuffer(head, dtype=">u4", count=ndim, offset=4))
    return IDX_TYPES[code], dims, header_size


def _count_to(stream, limit):
    """Bytes left in ``stream``, counting at most ``limit`` of them (nothing is kept)."""
    got = 0
    while got < limit:
        chunk = stream.read(min(_CHUNK, limit - got))
        if not chunk:
            break
        got += len(chunk)
    return got


def read_idx(path):
    """Read one IDX file (gzipped or raw) into a NumPy array.

    Parameters
    ----------
    path : str or os.PathLike
        The file. Gzip is detected by the first two bytes, not by the name.

    Returns
    -------
    numpy.ndarray
        Shape ``dims`` from the header, dtype from the type code in native
        byte order (e.g. MNIST images: ``(N, 28, 28)`` uint8; labels:
        ``(N,)`` uint8). The array is writable and owns its memory.

    Raises
    ------
    ValueError
        Wrong magic number, unknown type code, or a data size that does not
        match the dimensions (truncated file or trailing bytes). The message
        names the file.

    Memory: the header is read first. A raw file's size is checked against
    the header before its data is read; a gzipped stream is inflated at most
    one byte past what the header promises (a first pass counts, keeping
    nothing; a second reads the data straight into the result), so a small
    file claiming or holding a huge stream never makes a large allocation
    that its real, matching data would not.
    """
    path = os.fspath(path)
    with open(path, "rb") as raw_file:
        size = os.fstat(raw_file.fileno()).st_size
        stream, gzipped = _open_stream(raw_file, path)
        try:
            return _read_stream(stream, gzipped, path, size)
        except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
            raise _gzip_errors(path, size)(exc) from None
        except OSError as exc:
            if not gzipped:
                raise
            raise _gzip_errors(path, size)(exc) from None


def _read_stream(stream, gzipped, path, size):
    head = _read_exact(stream, 4)
    if len(head) == 4:
        head += _read_exact(stream, 4 * head[3])

    dtype, dims, header_size = _parse_header(head, path)
    expected = math.prod(dims) * dtype.itemsize  # Python ints: no overflow
    if gzipped:
        # Pass 1: count the data bytes, at most one past the promise, keeping none.
        actual = _count_to(stream, expected + 1)
    else:
        actual = size - header_size
    if actual < expected:
        raise ValueError(
            f"read_idx: {path} is truncated: dims {dims} of {dtype.name} need "
            f"{expected} data bytes, the file has {actual}"
        )
    if actual > expected:
        more = f"{actual - expected}" if not gzipped else "more"
        raise ValueError(
            f"read_idx: {path} has {more} unexpected bytes after the data: "
            f"dims {dims} of {dtype.name} need {expected} data bytes"
            + (f", the file has {actual}" if not gzipped else "")
        )
    if gzipped:
        # Pass 1 read to the end of the stream: gzip checked CRCs, end marker, no junk after it.
        stream.seek(0)
        stream.read(header_size)
    result = np.empty(dims, dtype=dtype.newbyteorder("="))
    buf = memoryview(result.reshape(-1).view(np.uint8))
    got = 0
    while got < expected:
        chunk = stream.read(min(_CHUNK, expected - got))
        if not chunk:
            raise ValueError(f"read_idx: {path} changed while it was read")
        buf[got:got + len(chunk)] = chunk
        got += len(chunk)
    if dtype.itemsize > 1 and not dtype.isnative:
        result.byteswap(inplace=True)
    return result


def _idx_bytes(array, where):
    """The IDX encoding (header + big-endian data) of ``array``."""
    array = np.asarray(array)
    code = _CODE_OF.get((array.dtype.kind, array.dtype.itemsize))
    if code is None:
        raise TypeError(
            f"{where}: IDX cannot store dtype {array.dtype}; use one of "
            "uint8, int8, int16, int32, float32, float64"
        )
    if array.ndim == 0 or array.ndim > 255:
        raise ValueError(f"{where}: IDX needs 1 to 255 dimensions, got {array.ndim}")
    if any(d >= 2**32 for d in array.shape):
        raise ValueError(f"{where}: a dimension of {array.shape} does not fit in uint32")
    header = bytes([0, 0, code, array.ndim]) + np.asarray(array.shape, dtype=">u4").tobytes()
    data = np.ascontiguousarray(array, dtype=IDX_TYPES[code]).tobytes()
    return header + data


def write_idx(path, array, compress=None):
    """Write ``array`` to ``path`` as an IDX file, atomically.

    Parameters
    ----------
    path : str or os.PathLike
    array : array_like
        1 to 255 dimensions; dtype uint8, int8, int16, int32, float32 or float64.
    compress : bool or None
        Gzip the file. ``None`` (default): gzip when the name ends in ``.gz``.
    """
    path = os.fspath(path)
    data = _idx_bytes(array, "write_idx")
    if compress is None:
        compress = path.endswith(".gz")
    if compress:
        data = gzip.compress(data, compresslevel=9, mtime=0)
    atomic_write(path, lambda f: f.write(data))
