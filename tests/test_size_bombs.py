"""Small files that claim or unpack to huge data are refused with bounded memory.

Each load runs in a child process whose peak resident memory (VmHWM from
/proc/self/status on Linux, else ``resource.getrusage(RUSAGE_SELF).ru_maxrss``,
which on Linux also counts the parent's memory at the fork) is compared with a bound
far below what the file claims (the files here claim 1 GiB to 8 TiB, or a
network of several GiB). Before the fixes, each of these allocated the
claimed size (or died trying).
"""
import gzip
import json
import math
import os
import struct
import subprocess
import sys
import textwrap
import zlib

import numpy as np
import pytest

PEAK_BOUND_MB = 400
MiB = 1 << 20


def run_measured(code):
    """Run ``code`` in a child; return (its stdout, peak RSS in MB)."""
    script = textwrap.dedent('''
        import resource, sys
        sys.stderr = sys.stdout  # the CLI's one-line errors, in order with the rest
        try:
        {body}
        except BaseException as exc:
            print("RAISED", type(exc).__name__, str(exc).replace("\\n", " ")[:800])
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        try:  # Linux: ru_maxrss also counts the parent's memory before exec; VmHWM does not
            with open("/proc/self/status") as status:
                peak = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
        except (OSError, StopIteration):
            pass
        print("PEAK", peak)
    ''').format(body=textwrap.indent(textwrap.dedent(code), "    "))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p), FASTNN_OFFLINE="1")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    peak = next(int(line.split()[1]) for line in proc.stdout.splitlines() if line.startswith("PEAK"))
    return proc.stdout, peak / 1024


def assert_bounded(code, *expected):
    out, peak_mb = run_measured(code)
    for text in expected:
        assert text in out, out
    assert peak_mb < PEAK_BOUND_MB, f"peak {peak_mb:.0f} MB\n{out}"
    return out


# -- IDX -------------------------------------------------------------------------------------
def idx_header(code, dims):
    return bytes([0, 0, code, len(dims)]) + struct.pack(f">{len(dims)}I", *dims)


def gzip_of_zeros(path, header, n_mib):
    """``header`` then ``n_mib`` MiB of zeros, gzipped: one member repeated (a valid multi-member gzip)."""
    zeros_member = gzip.compress(b"\0" * MiB, compresslevel=9, mtime=0)
    with open(path, "wb") as f:
        f.write(gzip.compress(header, mtime=0))
        for _ in range(n_mib):
            f.write(zeros_member)
    return path


def test_idx_gz_with_a_gigabyte_of_trailing_zeros(tmp_path):
    # MNIST's header (60000 x 28 x 28, 47 MB) followed by 1 GiB of zeros, in a 1 MB file.
    path = gzip_of_zeros(tmp_path / "train-images-idx3-ubyte.gz", idx_header(0x08, (60000, 28, 28)), 1024)
    assert path.stat().st_size < 2 * MiB
    assert_bounded(f"""
        from fastnn.datasets.idx import read_idx
        read_idx({str(path)!r})
    """, "RAISED ValueError", "unexpected bytes after the data", str(path))


def test_idx_gz_claiming_more_than_it_holds(tmp_path):
    dims = (0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF)
    path = gzip_of_zeros(tmp_path / "claims.gz", idx_header(0x08, dims), 256)
    need = math.prod(dims)
    assert_bounded(f"""
        from fastnn.datasets.idx import read_idx
        read_idx({str(path)!r})
    """, "RAISED ValueError", f"need {need} data bytes, the file has {256 * MiB}")


def test_raw_idx_files_are_checked_by_size_before_reading(tmp_path):
    zeros = tmp_path / "zeros-4GiB"  # sparse: 4 GiB of zeros taking no disk
    with open(zeros, "wb") as f:
        f.truncate(4 << 30)
    claims = tmp_path / "claims.idx"
    with open(claims, "wb") as f:
        f.write(idx_header(0x0E, (0xFFFFFFFF, 0xFFFFFFFF)))
        f.truncate(1 << 30)
    need = 0xFFFFFFFF ** 2 * 8  # the old check overflowed int64 here: "need -17179869183 data bytes"
    out = assert_bounded(f"""
        from fastnn.datasets.idx import read_idx
        for path in ({str(zeros)!r}, {str(claims)!r}):
            try:
                read_idx(path)
            except ValueError as exc:
                print("RAISED ValueError", exc)
    """, "unknown IDX type code 0x00", f"need {need} data bytes, the file has {(1 << 30) - 12}")
    assert "-" not in out.split("need ")[1].split()[0]


def test_fastnn_train_on_an_idx_bomb(tmp_path):
    data = tmp_path / "mnist"
    data.mkdir()
    gzip_of_zeros(data / "train-images-idx3-ubyte.gz", idx_header(0x08, (60000, 28, 28)), 1024)
    for name, dims in (("train-labels-idx1-ubyte.gz", (60000,)), ("t10k-images-idx3-ubyte.gz", (10, 28, 28)),
                       ("t10k-labels-idx1-ubyte.gz", (10,))):
        (data / name).write_bytes(gzip.compress(idx_header(0x08, dims) + bytes(math.prod(dims))))
    assert_bounded(f"""
        from fastnn import cli
        print("STATUS", cli.main(["train", "--quick", "--net", "two_layer", "--data-dir", {str(data)!r},
                                  "--output", {str(tmp_path / "out")!r}, "--no-plot"]))
    """, "STATUS 2")


# -- .npz ------------------------------------------------------------------------------------
def npy_header(shape, descr="<f8"):
    text = f"{{'descr': '{descr}', 'fortran_order': False, 'shape': {tuple(shape)!r}, }}"
    text += " " * (63 - (10 + len(text)) % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(text)) + text.encode("latin1")


def npz_of_zeros(path, members):
    """A .npz whose members {name: (shape, n_zero_bytes)} are deflated zeros, written without
    compressing them for real: one full-flushed 1 MiB block of zeros, repeated."""
    out = open(path, "wb")
    central = []
    for name, (shape, nbytes) in members.items():
        fname = (name + ".npy").encode()
        header = npy_header(shape)
        comp = zlib.compressobj(9, zlib.DEFLATED, -15)
        parts = [comp.compress(header), comp.flush(zlib.Z_FULL_FLUSH)]
        block = comp.compress(b"\0" * MiB) + comp.flush(zlib.Z_FULL_FLUSH)
        again = comp.compress(b"\0" * MiB) + comp.flush(zlib.Z_FULL_FLUSH)
        assert block == again  # after a full flush the same input deflates to the same bytes
        n_blocks, rest = divmod(nbytes, MiB)
        parts += [block] * n_blocks + [comp.compress(b"\0" * rest), comp.flush()]
        crc = zlib.crc32(header)
        zero_crc_block = b"\0" * MiB
        for _ in range(n_blocks):
            crc = zlib.crc32(zero_crc_block, crc)
        crc = zlib.crc32(b"\0" * rest, crc)
        data = b"".join(parts)
        usize = len(header) + nbytes
        offset = out.tell()
        out.write(struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, 0x21, crc, len(data), usize,
                              len(fname), 0) + fname + data)
        central.append(struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, 8, 0, 0x21, crc,
                                   len(data), usize, len(fname), 0, 0, 0, 0, 0, offset) + fname)
    start = out.tell()
    out.write(b"".join(central))
    out.write(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(central), len(central),
                          out.tell() - start, start, 0))
    out.close()
    return path


def test_the_npz_writer_here_makes_real_npz_files(tmp_path):
    path = npz_of_zeros(tmp_path / "small.npz", {"a": ((3, 4), 96), "b": ((2,), 16)})
    with np.load(path) as data:
        np.testing.assert_array_equal(data["a"], np.zeros((3, 4)))
        np.testing.assert_array_equal(data["b"], np.zeros(2))


def test_npz_unpacking_to_a_gigabyte_is_refused(tmp_path):
    path = npz_of_zeros(tmp_path / "bomb.npz", {"W1": ((2**27,), 2**30)})
    assert path.stat().st_size < 2 * MiB
    assert_bounded(f"""
        from fastnn.io import load_params
        load_params({str(path)!r})
    """, "RAISED ValueError", "claims 1,073,741,824 bytes of arrays", str(path))


def test_npz_header_claiming_terabytes_is_refused(tmp_path):
    path = npz_of_zeros(tmp_path / "liar.npz", {"W1": ((2**40,), 16)})
    assert_bounded(f"""
        from fastnn.io import load_params
        load_params({str(path)!r})
    """, "RAISED ValueError", "claims 8,796,093,022,208 bytes")


def test_a_network_checks_shapes_before_reading_a_bomb(tmp_path):
    path = npz_of_zeros(tmp_path / "bomb.npz", {"W1": ((2**27,), 2**30), "b1": ((100,), 800),
                                                "W2": ((100, 10), 8000), "b2": ((10,), 80)})
    assert_bounded(f"""
        from fastnn.nets import TwoLayerNet
        TwoLayerNet(784, 100, 10).load_params({str(path)!r}, )
    """, "RAISED ValueError", "TwoLayerNet.load_params", "parameter 'W1' has shape (134217728,), "
                                "the network expects (784, 100)")


# -- fastnn evaluate: parameter shapes and the sidecar config are checked before building ----
def evaluate(path):
    return f"""
        from fastnn import cli
        print("STATUS", cli.main(["evaluate", {str(path)!r}]))
    """


def test_evaluate_zero_size_deep_convnet_params(tmp_path):
    # The shapes of the book's DeepConvNet with a zero in front and 2,000,000 input channels:
    # a network of 2.15 GiB if built from them.
    path = tmp_path / "deep.npz"
    shapes = {"W1": (0, 2_000_000, 3, 3)}
    shapes.update({f"W{i}": (0, 16, 3, 3) for i in range(2, 7)})
    shapes.update({f"b{i}": (0,) for i in range(1, 9)})
    shapes.update({"W7": (0, 50), "W8": (0, 10)})
    np.savez(path, **{k: np.zeros(s) for k, s in shapes.items()})
    assert path.stat().st_size < 8000
    out = assert_bounded(evaluate(path), "STATUS 2")
    assert "zero-size" in out


def test_evaluate_params_that_imply_a_huge_deep_convnet(tmp_path):
    from fastnn.nets import DeepConvNet

    path = tmp_path / "deep.npz"
    params = {k: v for k, v in DeepConvNet(rng=np.random.default_rng(0)).params.items()}
    params["W1"] = np.zeros((16, 2_000_000, 3, 3), dtype=np.float32)[:1, :, :1, :1]
    np.savez_compressed(path, **params)
    out = assert_bounded(evaluate(path), "STATUS 2")
    assert "(16, 2000000, 3, 3)" in out and str(path) in out


def test_evaluate_sidecar_with_a_huge_hidden_size(tmp_path):
    from fastnn.nets import TwoLayerNet

    path = tmp_path / "two_layer.npz"
    TwoLayerNet(784, 100, 10, rng=np.random.default_rng(0)).save_params(path)
    sidecar = tmp_path / "two_layer.json"
    sidecar.write_text(json.dumps({"net": "two_layer", "dataset": "mnist",
                                   "config": {"input_size": 784, "hidden_size": 10**6, "output_size": 10}}))
    out = assert_bounded(evaluate(path), "STATUS 2")
    assert str(sidecar) in out and "(784, 1000000)" in out and "(784, 100)" in out


@pytest.mark.parametrize("name", ["keras_mlp", "keras_cnn"])
def test_evaluate_keras_sidecar_with_huge_sizes(tmp_path, name):
    path = tmp_path / f"{name}.npz"
    np.savez(path, w0=np.zeros((784, 8), np.float32), w1=np.zeros(8, np.float32),
             w2=np.zeros((8, 10), np.float32), w3=np.zeros(10, np.float32))
    config = ({"input_size": 784, "hidden_size": 10**8, "output_size": 10} if name == "keras_mlp" else
              {"input_shape": [1, 28, 28], "filters": 10**6, "hidden_size": 128, "output_size": 10})
    (tmp_path / f"{name}.json").write_text(json.dumps({"net": name, "config": config}))
    assert_bounded(evaluate(path), "STATUS 2")
