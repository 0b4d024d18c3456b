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


def _read_payload(path):
    """All bytes of ``path``, gunzipped if the file starts with the gzip magic."""
    with open(path, "rb") as f:
        raw = f.read()
    if not raw.startswith(_GZIP_MAGIC):
        return raw
    try:
        return gzip.decompress(raw)
    except EOFError as exc:  # the gzip stream ends before its end marker
        raise ValueError(
            f"read_idx: {path} is a truncated gzip file ({len(raw)} bytes): {exc}"
        ) from None
    except (gzip.BadGzipFile, zlib.error, OSError) as exc:  # bad CRC, bad data
        raise ValueError(f"read_idx: {path} is a corrupt gzip file: {exc}") from None


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
    """
    path = os.fspath(path)
    payload = _read_payload(path)
    if len(payload) < 4:
        raise ValueError(
            f"read_idx: {path} is not an IDX file: only {len(payload)} bytes, "
            "a header needs at least 4"
        )
    zero0, zero1, code, ndim = payload[0], payload[1], payload[2], payload[3]
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
    if len(payload) < header_size:
        raise ValueError(
            f"read_idx: {path} is truncated inside its header: {ndim} dimensions need "
            f"{header_size} header bytes, the file has {len(payload)}"
        )
    dims = tuple(int(d) for d in np.frombuffer(payload, dtype=">u4", count=ndim, offset=4))
    dtype = IDX_TYPES[code]
    expected = int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
    actual = len(payload) - header_size
    if actual < expected:
        raise ValueError(
            f"read_idx: {path} is truncated: dims {dims} of {dtype.name} need "
            f"{expected} data bytes, the file has {actual}"
        )
    if actual > expected:
        raise ValueError(
            f"read_idx: {path} has {actual - expected} unexpected bytes after the data: "
            f"dims {dims} of {dtype.name} need {expected} data bytes, the file has {actual}"
        )
    data = np.frombuffer(payload, dtype=dtype, offset=header_size).reshape(dims)
    # astype copies: the result is writable, native-endian and owns its memory.
    return data.astype(dtype.newbyteorder("="))


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
