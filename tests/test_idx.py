"""The IDX reader/writer: formats, gzip detection, and every malformed-file error."""
import gzip
import os
import struct

import numpy as np
import pytest

from fastnn.datasets import idx
from fastnn.datasets.idx import read_idx, write_idx

DTYPES = ["uint8", "int8", "int16", "int32", "float32", "float64"]


def _by_hand(code, dims, payload):
    """An IDX file built with struct, independently of write_idx."""
    return bytes([0, 0, code, len(dims)]) + struct.pack(f">{len(dims)}I", *dims) + payload


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("compress", [True, False])
def test_round_trip_every_type(tmp_path, rng, dtype, compress):
    if np.dtype(dtype).kind == "f":
        array = rng.standard_normal((3, 4, 5)).astype(dtype)
    else:
        info = np.iinfo(dtype)
        array = rng.integers(info.min, info.max, size=(3, 4, 5), endpoint=True).astype(dtype)
    path = tmp_path / "a.idx"
    write_idx(path, array, compress=compress)
    assert path.read_bytes().startswith(b"\x1f\x8b") == compress
    back = read_idx(path)
    assert back.dtype == np.dtype(dtype) and back.dtype.isnative
    assert back.shape == (3, 4, 5)
    np.testing.assert_array_equal(back, array)
    assert back.flags.writeable and back.flags.owndata


def test_reads_a_file_built_by_hand_big_endian(tmp_path):
    values = [1, -2, 70000, -(2**31)]
    path = tmp_path / "ints"
    path.write_bytes(_by_hand(0x0C, (2, 2), struct.pack(">4i", *values)))
    np.testing.assert_array_equal(read_idx(path), np.array(values, dtype=np.int32).reshape(2, 2))
    floats = [0.5, -1.25, 3e38]
    path.write_bytes(_by_hand(0x0D, (3,), struct.pack(">3f", *floats)))
    np.testing.assert_array_equal(read_idx(path), np.array(floats, dtype=np.float32))


def test_writer_puts_the_documented_header(tmp_path):
    path = tmp_path / "u8"
    write_idx(path, np.arange(6, dtype=np.uint8).reshape(2, 3), compress=False)
    assert path.read_bytes() == _by_hand(0x08, (2, 3), bytes(range(6)))


def test_gzip_detected_by_magic_not_by_name(tmp_path):
    array = np.arange(10, dtype=np.uint8)
    gz_named_raw = tmp_path / "raw-but-named.gz"
    write_idx(gz_named_raw, array, compress=False)
    raw_named_gz = tmp_path / "gzipped-but-named.idx"
    write_idx(raw_named_gz, array, compress=True)
    np.testing.assert_array_equal(read_idx(gz_named_raw), array)
    np.testing.assert_array_equal(read_idx(raw_named_gz), array)


def test_compress_default_follows_the_suffix(tmp_path):
    write_idx(tmp_path / "x.gz", np.zeros(3, np.uint8))
    write_idx(tmp_path / "x", np.zeros(3, np.uint8))
    assert (tmp_path / "x.gz").read_bytes()[:2] == b"\x1f\x8b"
    assert (tmp_path / "x").read_bytes()[:2] == b"\x00\x00"


@pytest.mark.parametrize("gz", [False, True])
def test_truncated_data_is_reported_with_the_file_name(tmp_path, gz):
    good = _by_hand(0x08, (4, 5), bytes(20))
    path = tmp_path / "short-file"
    data = good[:-3]
    path.write_bytes(gzip.compress(data) if gz else data)
    with pytest.raises(ValueError, match=r"short-file is truncated: dims \(4, 5\).*need 20.*has 17"):
        read_idx(path)


def test_truncated_gzip_stream_is_reported(tmp_path):
    blob = gzip.compress(_by_hand(0x08, (1000,), os.urandom(1000)))
    path = tmp_path / "cut.gz"
    path.write_bytes(blob[: len(blob) // 2])
    with pytest.raises(ValueError, match=r"cut.gz is a truncated gzip file"):
        read_idx(path)


def test_corrupt_gzip_stream_is_reported(tmp_path):
    blob = bytearray(gzip.compress(_by_hand(0x08, (100,), bytes(100))))
    blob[-8] ^= 0xFF  # break the CRC32 in the gzip trailer
    path = tmp_path / "bad-crc.gz"
    path.write_bytes(bytes(blob))
    with pytest.raises(ValueError, match=r"bad-crc.gz is a corrupt gzip file"):
        read_idx(path)


def test_trailing_garbage_is_an_error(tmp_path):
    path = tmp_path / "long"
    path.write_bytes(_by_hand(0x08, (2, 2), bytes(4)) + b"junk")
    with pytest.raises(ValueError, match=r"long has 4 unexpected bytes after the data"):
        read_idx(path)


def test_dims_that_do_not_match_the_size(tmp_path):
    # header says 3x4 float64 (96 bytes) but holds 10 floats (80 bytes)
    path = tmp_path / "dims"
    path.write_bytes(_by_hand(0x0E, (3, 4), np.zeros(10, ">f8").tobytes()))
    with pytest.raises(ValueError, match=r"truncated: dims \(3, 4\) of float64 need 96"):
        read_idx(path)


@pytest.mark.parametrize(
    "content, message",
    [
        (b"\x1f\x00\x08\x01" + bytes(8), r"magic number starts with 0x1f 0x00, expected 0x00 0x00"),
        (b"PK\x03\x04" + bytes(8), r"not an IDX file: magic number"),
        (b"\x00\x00\x0a\x01\x00\x00\x00\x01\x00", r"unknown IDX type code 0x0A"),
        (b"\x00\x00\x08\x00", r"declares 0 dimensions"),
        (b"\x00\x00", r"only 2 bytes"),
        (b"\x00\x00\x08\x03\x00\x00\x00\x02", r"truncated inside its header: 3 dimensions need 16"),
    ],
)
def test_malformed_headers(tmp_path, content, message):
    path = tmp_path / "bad-header"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=message) as info:
        read_idx(path)
    assert "bad-header" in str(info.value)


def test_writer_rejects_what_idx_cannot_hold(tmp_path):
    with pytest.raises(TypeError, match=r"write_idx: IDX cannot store dtype uint16"):
        write_idx(tmp_path / "x", np.zeros(3, np.uint16))
    with pytest.raises(TypeError, match=r"cannot store dtype bool"):
        write_idx(tmp_path / "x", np.zeros(3, bool))
    with pytest.raises(ValueError, match=r"write_idx: IDX needs 1 to 255 dimensions, got 0"):
        write_idx(tmp_path / "x", np.uint8(3))
    assert not (tmp_path / "x").exists()


def test_write_is_atomic_when_the_rename_fails(tmp_path, monkeypatch):
    path = tmp_path / "keep.idx"
    write_idx(path, np.arange(4, dtype=np.uint8))
    before = path.read_bytes()

    def failing_replace(src, dst):
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(idx.os, "replace", failing_replace)
    with pytest.raises(OSError, match="simulated"):
        write_idx(path, np.arange(100, dtype=np.uint8))
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.idx"]  # no temp file left


def test_reads_the_real_mnist_test_files(shared_data):
    images = read_idx(shared_data / "mnist" / "t10k-images-idx3-ubyte.gz")
    labels = read_idx(shared_data / "mnist" / "t10k-labels-idx1-ubyte.gz")
    assert images.shape == (10000, 28, 28) and images.dtype == np.uint8
    assert labels.shape == (10000,) and set(np.unique(labels)) == set(range(10))
    assert images.max() == 255 and images.min() == 0
