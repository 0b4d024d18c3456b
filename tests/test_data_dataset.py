"""fastnn.data.Dataset against hand-computed sequences, and its background threads."""
import threading
import time

import numpy as np
import pytest

from fastnn.data import AUTOTUNE, Dataset
from fastnn.data.dataset import INFINITE, UNKNOWN


def values(ds):
    return [np.asarray(e).tolist() for e in ds]


def fastnn_threads():
    return [t for t in threading.enumerate() if t.name.startswith("fastnn-")]


def wait_no_threads(timeout=5.0):
    end = time.monotonic() + timeout
    while fastnn_threads() and time.monotonic() < end:
        time.sleep(0.01)
    return fastnn_threads()


def test_from_tensor_slices_tuple_dict_and_list():
    x = np.arange(12).reshape(6, 2)
    y = np.arange(6) * 10
    els = list(Dataset.from_tensor_slices((x, y)))
    assert len(els) == 6 and isinstance(els[0], tuple)
    assert els[3][0].tolist() == [6, 7] and els[3][1] == 30
    d = list(Dataset.from_tensor_slices({"a": x, "b": y}))
    assert d[5]["a"].tolist() == [10, 11] and d[5]["b"] == 50
    assert values(Dataset.from_tensor_slices([1, 2, 3])) == [1, 2, 3]      # a list is one array
    with pytest.raises(ValueError, match="same first dimension"):
        Dataset.from_tensor_slices((x, y[:4]))
    with pytest.raises(ValueError, match="scalar"):
        Dataset.from_tensor_slices(np.float32(3))


def test_map_passes_tuple_as_arguments_and_parallel_keeps_order():
    ds = Dataset.from_tensor_slices((np.arange(50), np.arange(50) * 2))
    serial = list(ds.map(lambda a, b: (a + b, b)))
    parallel = list(ds.map(lambda a, b: (a + b, b), num_parallel_calls=AUTOTUNE))
    assert [int(a) for a, _ in serial] == [3 * i for i in range(50)]
    assert [(int(a), int(b)) for a, b in parallel] == [(int(a), int(b)) for a, b in serial]
    assert values(ds.map(lambda a, b: a).filter(lambda a: a % 7 == 0)) == [0, 7, 14, 21, 28, 35, 42, 49]


def test_batch_drop_remainder_unbatch_and_cardinality():
    ds = Dataset.range(10)
    assert values(ds.batch(4)) == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert values(ds.batch(4, drop_remainder=True)) == [[0, 1, 2, 3], [4, 5, 6, 7]]
    assert len(ds.batch(4)) == 3 and len(ds.batch(4, drop_remainder=True)) == 2
    assert values(ds.batch(3).unbatch()) == list(range(10))
    pairs = list(Dataset.from_tensor_slices((np.arange(5), np.arange(5) + 100)).batch(2))
    assert pairs[-1][0].tolist() == [4] and pairs[-1][1].tolist() == [104]
    with pytest.raises(ValueError, match="different shapes"):
        list(Dataset.from_generator(lambda: iter([np.zeros(2), np.zeros(3)])).batch(2))


def test_repeat_take_skip_concatenate():
    ds = Dataset.range(3)
    assert values(ds.repeat(2)) == [0, 1, 2, 0, 1, 2]
    assert values(ds.repeat().take(7)) == [0, 1, 2, 0, 1, 2, 0]
    assert ds.repeat().cardinality() == INFINITE and len(ds.repeat(4)) == 12
    assert values(ds.skip(1)) == [1, 2] and values(ds.take(-1)) == [0, 1, 2]
    assert values(ds.concatenate(Dataset.range(5, 7))) == [0, 1, 2, 5, 6]
    with pytest.raises(TypeError, match="infinite"):
        len(ds.repeat())
    with pytest.raises(TypeError, match="unknown"):
        len(ds.filter(lambda v: v > 0))
    assert ds.filter(lambda v: v > 0).cardinality() == UNKNOWN


def test_shuffle_buffer_semantics_by_hand():
    """Buffer of 2 over 0..4 with a known generator: replay tf.data's rule by hand."""
    seed = 7
    got = values(Dataset.range(5).shuffle(2, seed=seed, reshuffle_each_iteration=False))
    rng = np.random.default_rng(seed)
    buf, expect = [0, 1], []
    for nxt in [2, 3, 4]:
        k = int(rng.integers(2))
        expect.append(buf[k])
        buf[k] = nxt
    while buf:
        k = int(rng.integers(len(buf)))
        buf[k], buf[-1] = buf[-1], buf[k]
        expect.append(buf.pop())
    assert got == expect
    # a buffer of 1 keeps the order; the first output is always one of the first buffer_size elements
    assert values(Dataset.range(20).shuffle(1)) == list(range(20))
    for s in range(20):
        assert values(Dataset.range(20).shuffle(3, seed=s))[0] in (0, 1, 2)


def test_shuffle_reshuffles_each_pass_reproducibly():
    ds = Dataset.range(30).shuffle(30, seed=3)
    a, b = values(ds), values(ds)
    assert sorted(a) == list(range(30)) and a != b
    again = Dataset.range(30).shuffle(30, seed=3)
    assert values(again) == a and values(again) == b
    fixed = Dataset.range(30).shuffle(30, seed=3, reshuffle_each_iteration=False)
    assert values(fixed) == values(fixed)


def test_cache_replays_the_first_complete_pass():
    calls = []

    def gen():
        for i in range(4):
            calls.append(i)
            yield i
    ds = Dataset.from_generator(gen).cache()
    assert values(ds.take(2)) == [0, 1]           # a partial pass caches nothing
    assert values(ds) == [0, 1, 2, 3]
    assert values(ds) == [0, 1, 2, 3]
    assert calls == [0, 1, 0, 1, 2, 3]
    # cache before shuffle: the shuffled passes differ, the source is read once
    calls.clear()
    sh = Dataset.from_generator(gen).cache().shuffle(4, seed=1)
    assert sorted(values(sh)) == sorted(values(sh)) == [0, 1, 2, 3]
    assert calls == [0, 1, 2, 3]


def test_codelab_pipeline_shapes():
    x = np.arange(1000 * 4, dtype=np.float32).reshape(1000, 2, 2)
    y = np.arange(1000) % 10
    ds = Dataset.from_tensor_slices((x, y)).cache().shuffle(500).repeat().batch(128).prefetch(AUTOTUNE)
    it = iter(ds)
    seen = []
    for _ in range(9):
        xb, yb = next(it)
        assert xb.shape == (128, 2, 2) and yb.shape == (128,)
        assert np.array_equal(xb[:, 0, 0] // 4 % 10, yb)          # rows stay paired
        seen.extend(yb.tolist())
    it.close()
    assert wait_no_threads() == []


def test_prefetch_forwards_exceptions_and_stops_its_thread():
    def gen():
        yield 1
        yield 2
        raise RuntimeError("broken source")
    ds = Dataset.from_generator(gen).prefetch(2)
    with pytest.raises(RuntimeError, match="broken source"):
        list(ds)
    assert wait_no_threads() == []


def test_parallel_map_exception_reaches_consumer_and_workers_stop():
    def f(v):
        if v == 13:
            raise ValueError("bad element 13")
        return v
    ds = Dataset.range(100).map(f, num_parallel_calls=4).prefetch(3)
    with pytest.raises(ValueError, match="bad element 13"):
        list(ds)
    assert wait_no_threads() == []


def test_breaking_out_of_a_prefetching_loop_stops_threads():
    ds = Dataset.range(10**9).map(lambda v: v * 2, num_parallel_calls=2).prefetch(4)
    for i, v in enumerate(ds):
        if i == 5:
            break
    assert wait_no_threads() == []


def test_from_generator_needs_a_callable_and_bad_arguments():
    with pytest.raises(TypeError, match="callable"):
        Dataset.from_generator(iter([1, 2]))
    with pytest.raises(ValueError, match="buffer_size"):
        Dataset.range(3).shuffle(0)
    with pytest.raises(TypeError, match="batch_size"):
        Dataset.range(3).batch(2.5)
