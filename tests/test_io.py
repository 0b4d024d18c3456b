"""fastnn.io: parameter files round-trip, pickles never run code, writes are atomic."""
import os
import pickle

import numpy as np
import pytest

from fastnn.io import UnsafePickleError, load_params, save_params


@pytest.fixture
def params(rng):
    return {
        "W1": rng.standard_normal((4, 3)),
        "b1": rng.standard_normal(3).astype(np.float32),
        "W2": rng.standard_normal((2, 3, 2, 2)),
        "count": np.array(7, dtype=np.int64),
    }


def assert_same_params(loaded, expected):
    assert sorted(loaded) == sorted(expected)
    for key, value in expected.items():
        assert loaded[key].dtype == value.dtype, key
        assert loaded[key].shape == value.shape, key
        np.testing.assert_array_equal(loaded[key], value)


@pytest.mark.parametrize("suffix", [".npz", ".pkl"])
def test_round_trip(tmp_path, params, suffix):
    path = tmp_path / ("params" + suffix)
    save_params(params, path)
    assert_same_params(load_params(path), params)
    # str paths work too, and only the file itself is left in the directory
    save_params(params, str(path))
    assert os.listdir(tmp_path) == [path.name]


def test_pkl_is_a_plain_pickle_the_book_can_read(tmp_path, params):
    path = tmp_path / "params.pkl"
    save_params(params, path)
    with open(path, "rb") as f:
        plain = pickle.load(f)  # what the book's load_params does
    assert_same_params(plain, params)


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_reads_pickles_of_every_protocol(tmp_path, params, protocol):
    path = tmp_path / "book.pkl"
    with open(path, "wb") as f:
        pickle.dump(params, f, protocol=protocol)
    assert_same_params(load_params(path), params)


def test_reads_the_books_pickles(shared_data):
    loaded = load_params(shared_data / "book" / "simple_convnet_params.pkl")
    assert loaded["W1"].shape == (30, 1, 5, 5) and loaded["W1"].dtype == np.float64
    assert loaded["W2"].shape == (4320, 100)
    sample = load_params(shared_data / "book" / "ch03_sample_weight.pkl")
    assert sample["W1"].dtype == np.float32 and sample["W1"].shape == (784, 50)


class _CallsSystem:
    """Unpickling this with plain pickle runs os.system(command)."""

    def __init__(self, command):
        self.command = command

    def __reduce__(self):
        return (os.system, (self.command,))


class _CallsEval:
    def __reduce__(self):
        return (eval, ("__import__('os').getpid()",))


def test_malicious_pickle_does_not_run(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pkl"
    with open(path, "wb") as f:
        pickle.dump({"W1": np.zeros(2), "b1": _CallsSystem(f"touch {marker}")}, f)
    with pytest.raises(UnsafePickleError, match=r"refusing to load (posix|os|nt)\.system"):
        load_params(path)
    assert not marker.exists()


def test_pickle_calling_builtins_is_refused(tmp_path):
    path = tmp_path / "evil.pkl"
    with open(path, "wb") as f:
        pickle.dump({"W1": _CallsEval()}, f)
    with pytest.raises(UnsafePickleError, match=r"builtins\.eval"):
        load_params(path)


def test_pickle_that_is_not_a_dict_of_arrays(tmp_path):
    path = tmp_path / "list.pkl"
    with open(path, "wb") as f:
        pickle.dump([np.zeros(2)], f)
    with pytest.raises(ValueError, match=r"list\.pkl is not a book parameter file.*EMPTY_LIST"):
        load_params(path)
    with open(path, "wb") as f:
        pickle.dump({"W1": "not an array"}, f)
    with pytest.raises(ValueError, match="dict value 'W1' that is not a complete numeric array"):
        load_params(path)
    with open(path, "wb") as f:
        pickle.dump({"W1": np.array([1, "x"], dtype=object)}, f)
    with pytest.raises(ValueError, match="a dtype other than bool, int or float \\('O8'\\)"):
        load_params(path)


def test_npz_with_object_array_is_refused(tmp_path):
    path = tmp_path / "obj.npz"
    np.savez(path, W1=np.array([{"a": 1}], dtype=object))
    with pytest.raises(ValueError, match=r"obj\.npz: member 'W1' holds dtype '\|O', not a plain"):
        load_params(path)


def test_bad_suffix_and_bad_params(tmp_path, params):
    with pytest.raises(ValueError, match=r"must end in \.npz or \.pkl"):
        save_params(params, tmp_path / "params.txt")
    with pytest.raises(ValueError, match=r"must end in \.npz or \.pkl"):
        load_params(tmp_path / "params.h5")
    with pytest.raises(TypeError, match="save_params.*dict of arrays, got list"):
        save_params([1, 2], tmp_path / "p.npz")
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("suffix, target", [(".npz", "savez"), (".pkl", "dump")])
def test_failed_write_leaves_old_file_intact(tmp_path, params, monkeypatch, suffix, target):
    path = tmp_path / ("params" + suffix)
    save_params(params, path)
    before = path.read_bytes()

    def half_write_then_fail(*args, **kwargs):
        # np.savez(file, **arrays) and pickle.dump(obj, file, ...): find the file
        f = next(a for a in args if hasattr(a, "write"))
        f.write(b"partial data")
        raise OSError("disk full")

    import fastnn.io as fio
    module = fio.np if target == "savez" else fio.pickle
    monkeypatch.setattr(module, target, half_write_then_fail)
    with pytest.raises(OSError, match="disk full"):
        save_params({"W1": np.ones(3)}, path)
    monkeypatch.undo()

    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == [path.name]  # no temporary file left behind
    assert_same_params(load_params(path), params)


def test_interrupted_first_write_leaves_nothing(tmp_path, monkeypatch):
    import fastnn.io as fio

    def interrupted(f, *args, **kwargs):
        f.write(b"xx")
        raise KeyboardInterrupt

    monkeypatch.setattr(fio.np, "savez", interrupted)
    with pytest.raises(KeyboardInterrupt):
        save_params({"W1": np.ones(3)}, tmp_path / "new.npz")
    assert os.listdir(tmp_path) == []


def test_atomic_write_keeps_permissions(tmp_path):
    from fastnn.io import atomic_write

    path = tmp_path / "notes.txt"
    atomic_write(path, lambda f: f.write(b"one"))
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask
    path.chmod(0o640)
    atomic_write(path, lambda f: f.write(b"two"))
    assert path.read_bytes() == b"two"
    assert path.stat().st_mode & 0o777 == 0o640
