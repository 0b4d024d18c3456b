"""The book's .pkl files are read without unpickling: hostile pickles are one ValueError each.

None of these files is ever given to ``pickle.load`` here: several of them
crash the interpreter or run a command when unpickled.
"""
import os
import pickle
import struct

import numpy as np
import pytest

from fastnn.nets import SimpleConvNet
from fastnn._pickle_reader import UnsafePickleError, read_book_pickle
from fastnn.io import load_params

try:
    from numpy._core.multiarray import _reconstruct
except ImportError:  # NumPy 1.x
    from numpy.core.multiarray import _reconstruct


class Reduce:
    """Pickles as ``func(*args)`` followed by ``BUILD state``: any call a file may name."""

    def __init__(self, func, args, state=None):
        self.func, self.args, self.state = func, args, state

    def __reduce__(self):
        return (self.func, self.args) if self.state is None else (self.func, self.args, self.state)


def plain_dtype(code="f8", order="<", flags=0, fields=None, names=None):
    return Reduce(np.dtype, (code, False, True), (3, order, None, names, fields, -1, -1, flags))


def array(shape, data, dtype=None, fortran=False):
    """What ndarray.__reduce__ writes: _reconstruct(ndarray, (0,), b'b') then BUILD its state."""
    return Reduce(_reconstruct, (np.ndarray, (0,), b"b"),
                  (1, shape, dtype if dtype is not None else plain_dtype(), fortran, data))


def write(tmp_path, obj, name="evil.pkl", protocol=3):
    path = tmp_path / name
    path.write_bytes(obj if isinstance(obj, bytes) else pickle.dumps(obj, protocol=protocol))
    return path


def refused(path, match):
    with pytest.raises(ValueError, match=match) as info:
        load_params(path)
    assert isinstance(info.value, UnsafePickleError)
    assert str(path) in str(info.value)  # the message names the file
    return str(info.value)


# -- what the book's files and NumPy's pickles hold, read exactly ----------------------
@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_every_plain_dtype_byte_order_and_layout(tmp_path, protocol):
    rng = np.random.default_rng(0)
    params = {
        "f64": rng.standard_normal((3, 4)),
        "f32_big_endian": rng.standard_normal(5).astype(">f4"),
        "f16": rng.standard_normal(3).astype(np.float16),
        "fortran": np.asfortranarray(rng.standard_normal((3, 2, 4))),
        "bool": np.array([True, False, True]),
        "i8": np.arange(-3, 3, dtype=np.int8),
        "u64_big": np.arange(4, dtype=">u8"),
        "i16": np.arange(6, dtype=np.int16).reshape(2, 3),
        "scalar": np.float64(2.5),
        "zero_d": np.array(7, dtype=np.int32),
        "empty": np.zeros((0, 3)),
    }
    path = write(tmp_path, params, "ok.pkl", protocol=protocol)
    loaded = load_params(path)
    assert sorted(loaded) == sorted(params)
    for key, value in params.items():
        value = np.asarray(value)
        got = loaded[key]
        assert got.shape == value.shape and got.dtype == value.dtype.newbyteorder("="), key
        np.testing.assert_array_equal(got, value)
        assert got.dtype.isnative and got.flags.c_contiguous and got.flags.writeable and got.flags.owndata


def test_the_same_array_under_two_keys_gives_two_arrays(tmp_path):
    shared = np.arange(4.0)
    loaded = load_params(write(tmp_path, {"a": shared, "b": shared}, "shared.pkl"))
    np.testing.assert_array_equal(loaded["a"], loaded["b"])
    assert not np.shares_memory(loaded["a"], loaded["b"])


# -- the dtype-state trick and other dtypes ----------------------------------------------
@pytest.mark.parametrize("dtype, match", [
    (plain_dtype(flags=63), "state other than a plain dtype"),          # refcounted "f8": pointers
    (plain_dtype("V8", "|", 63, names=("a",), fields={"a": (np.dtype("O"), 0)}), "dtype other"),
    (plain_dtype(names=("a",), fields={"a": (np.dtype("O"), 0)}), "more than one dict"),
    (plain_dtype(names=("a",)), "state other than a plain dtype"),
    (plain_dtype("O8", "|", 63), r"dtype other than bool, int or float \('O8'\)"),
    (plain_dtype("c16"), r"dtype other than bool, int or float \('c16'\)"),
    (plain_dtype("M8"), "dtype other than"),
    (plain_dtype("f8", "!"), "byte order"),
    (plain_dtype("f8", "|"), "byte order"),
    (np.dtype("O"), r"dtype other than bool, int or float \('O8'\)"),
    (np.dtype([("x", "<f8")]), "dtype other than"),
    ("f8", "dtype is not a plain, complete numpy.dtype"),
])
def test_dtype_state_tricks_are_refused(tmp_path, dtype, match):
    path = write(tmp_path, {"W1": array((2,), b"\x10" * 16, dtype)})
    refused(path, match)


def test_the_crashing_file_from_the_audit_is_refused_by_the_nets_too(tmp_path):
    # Raw bytes become object pointers if the "f8" dtype takes the object flags.
    path = write(tmp_path, {"W1": array((30, 1, 5, 5), b"\x41" * 6000, plain_dtype(flags=63))})
    net = SimpleConvNet()
    before = {k: v.copy() for k, v in net.params.items()}
    with pytest.raises(ValueError, match="evil.pkl"):
        net.load_params(path)
    for key, value in before.items():
        np.testing.assert_array_equal(net.params[key], value)


def test_object_arrays_and_non_array_values_are_refused(tmp_path):
    refused(write(tmp_path, {"W1": np.array([1, "x", None], dtype=object)}), "dtype other")
    refused(write(tmp_path, {"W1": array((2,), [1, 2])}), "EMPTY_LIST")
    refused(write(tmp_path, {"W1": array((2,), "text")}), "data is not a bytes string")
    refused(write(tmp_path, {"W1": [1.0, 2.0]}), "EMPTY_LIST")
    refused(write(tmp_path, {"W1": 3.5}), "BINFLOAT")
    refused(write(tmp_path, {"W1": "text"}), "not a complete numeric array")
    refused(write(tmp_path, {1: np.zeros(2)}), "key that is not a string")
    refused(write(tmp_path, {"outer": {"inner": np.zeros(2)}}), "more than one dict")
    refused(write(tmp_path, [np.zeros(2)]), "EMPTY_LIST")
    refused(write(tmp_path, np.zeros(2)), "does not hold one dict")


# -- calls the file names ------------------------------------------------------------------
class CallsSystem:
    def __init__(self, command):
        self.command = command

    def __reduce__(self):
        return (os.system, (self.command,))


@pytest.mark.parametrize("protocol", [2, 4])
def test_reduce_to_os_system_is_refused_and_runs_nothing(tmp_path, protocol):
    marker = tmp_path / "pwned"
    path = write(tmp_path, {"W1": np.zeros(2), "b1": CallsSystem(f"touch {marker}")}, protocol=protocol)
    refused(path, r"refusing to load (posix|os|nt)\.system")
    assert not marker.exists()


@pytest.mark.parametrize("obj, match", [
    (Reduce(eval, ("1+1",)), r"builtins\.eval"),
    (Reduce(getattr, (np.ndarray, "tofile")), r"builtins\.getattr"),
    (Reduce(np.ndarray, ((2,),)), "a call of numpy.ndarray"),
    (Reduce(np.frombuffer, (b"\0" * 8,)), "numpy.frombuffer|numpy._core"),
    (Reduce(_reconstruct, (np.dtype, (0,), b"b")), r"arguments other than \(numpy.ndarray"),
])
def test_other_calls_are_refused(tmp_path, obj, match):
    refused(write(tmp_path, {"W1": obj}), match)


# -- claimed shapes, sizes, data ------------------------------------------------------------
@pytest.mark.parametrize("shape, data, match", [
    ((2**40, 2**40), b"\0" * 16, "beyond any memory"),
    ((2**20, 2**20), b"\0" * 16, "needs 8796093022208 bytes, its data has 16"),
    ((2**62, 2**62, 0), b"", "beyond any memory"),
    ((-2,), b"\0" * 16, "not an int >= 0"),
    ((2.0,), b"\0" * 16, "BINFLOAT"),
    ((None,), b"\0" * 16, "not an int >= 0"),
    ((True, 2), b"\0" * 16, "not an int >= 0"),
    ((1,) * 40, b"\0" * 8, "at most 32"),
    ((3,), b"\0" * 16, "needs 24 bytes, its data has 16"),
    ((1,), b"\0" * 16, "needs 8 bytes, its data has 16"),
    ("ab", b"\0" * 16, "shape that is not a tuple"),
])
def test_shapes_that_do_not_match_their_data_are_refused(tmp_path, shape, data, match):
    refused(write(tmp_path, {"W1": array(shape, data)}), match)


def test_arrays_sharing_one_data_string_cannot_outgrow_the_file(tmp_path):
    data = b"\0" * 80_000  # pickled once, referenced by every array through the memo
    path = write(tmp_path, {f"W{i}": array((10_000,), data) for i in range(50)})
    assert path.stat().st_size < 90_000
    refused(path, "more bytes than the file")


# -- stream-level tricks: nesting, marks, memo, truncation ------------------------------------
def test_deep_nesting_and_many_marks(tmp_path):
    deep = b"\x80\x02)" + b"\x85" * 200_000 + b"."        # a tuple nested 200,000 deep
    refused(write(tmp_path, deep, "deep.pkl"), "does not hold one dict")
    marks = b"\x80\x02" + b"(" * 200_000 + b"}."
    refused(write(tmp_path, marks, "marks.pkl"), "does not hold one dict")
    many = b"\x80\x02" + b"N" * 1_100_000 + b"."
    refused(write(tmp_path, many, "many.pkl"), "more than 1,000,000 opcodes")


def _uni(text):
    return b"X" + struct.pack("<I", len(text.encode())) + text.encode()


def late_dtype_state_pickle(flags=63):
    """An f8 array built, then its dtype (fetched from the memo) given a refcounted state by a
    second BUILD: NumPy then treats the array's bytes as object pointers."""
    plain = b"(K\x03" + _uni("<") + b"NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb"
    return b"".join([
        b"\x80\x03}q\x00", _uni("W1"),
        b"cnumpy.core.multiarray\n_reconstruct\n", b"cnumpy\nndarray\n", b"K\x00\x85C\x01b\x87R",
        b"(K\x01K\x04\x85", b"cnumpy\ndtype\n", _uni("f8"), b"\x89\x88\x87Rq\x01", plain,
        b"\x89C\x20" + b"\x41" * 32, b"tb",
        b"h\x01", plain.replace(b"K\x00tb", b"K" + bytes([flags]) + b"tb"), b"0",
        b"s.",
    ])


def test_memo_tricks(tmp_path):
    late = late_dtype_state_pickle()
    refused(write(tmp_path, late, "late.pkl"), "BUILD of something that is not a new array or dtype")
    undefined = b"\x80\x02}h\x05."                           # BINGET of memo 5, never stored
    refused(write(tmp_path, undefined, "get.pkl"), "memo entry 5, which was never stored")
    itself = b"\x80\x02}q\x00X\x01\x00\x00\x00ah\x00s."       # d['a'] = d
    refused(write(tmp_path, itself, "self.pkl"), "not a complete numeric array")
    # BUILD the same array twice through the memo (the second BUILD would refill it)
    good = pickle.dumps({"W1": np.arange(2.0)}, protocol=2)
    build_twice = good[:-2] + b"h\x09" + good[good.index(b"(K\x01"):good.rindex(b"b") + 1] + b"0s."
    refused(write(tmp_path, build_twice, "twice.pkl"), "BUILD of something that is not a new array")


@pytest.mark.parametrize("data, match", [
    (b"", "malformed pickle stream"),
    (b"\x80\x02}", "malformed pickle stream .*before seeing STOP"),
    (b"\x80\x02}.junk", "4 bytes after the pickle's end"),
    (b"\x80\x02\xff.", "malformed pickle stream"),
    (b"\x80\x06}.", "protocol 6"),
    (b"(dp0\n.", "opcode DICT"),
    (b"\x80\x02}X\x01\x00\x00\x00aQ.", "BINPERSID"),
    (b"\x80\x02}B" + struct.pack("<I", 2**31) + b"ab", "malformed pickle stream"),
    (b"\x80\x02}s.", "SETITEM finds an empty stack|on something"),
    (b"\x80\x02})b.", "BUILD of something"),
    (b"\x80\x02cos\nsystem\n.", r"refusing to load os\.system"),
    (b"\x80\x04\x8c\x02os\x8c\x06system\x93.", r"refusing to load os\.system"),
    (b"\x80\x04K\x01K\x02\x93.", "STACK_GLOBAL with a module or name that is not a string"),
])
def test_malformed_streams(tmp_path, data, match):
    refused(write(tmp_path, data, "bad.pkl"), match)


def test_reader_takes_bytes_and_names_the_source():
    with pytest.raises(UnsafePickleError, match="^SomeNet.load_params: memory.pkl is not"):
        read_book_pickle(b"\x80\x02N.", "memory.pkl", "SomeNet.load_params")


def test_fastnn_evaluate_on_the_crashing_file_is_one_line(tmp_path, capsys):
    from fastnn import cli

    path = write(tmp_path, {"W1": array((30, 1, 5, 5), b"\x41" * 6000, plain_dtype(flags=63))})
    assert cli.main(["evaluate", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(path) in err and "state other than a plain dtype" in err
