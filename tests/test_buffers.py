"""The kernels' pool of large arrays: an array is reused only when nobody holds it."""
import gc
import threading

import numpy as np
import pytest

import fastnn
from fastnn import _buffers

BIG = (512, 1024)                      # 2 MB of float32: pooled


@pytest.fixture(autouse=True)
def fresh_pool(monkeypatch):
    monkeypatch.setattr(_buffers, "ENABLED", True)
    _buffers.clear()
    yield
    _buffers.clear()


def test_a_released_array_is_reused_and_a_held_one_never():
    a = _buffers.empty(BIG, np.float32)
    first = id(a)
    b = _buffers.empty(BIG, np.float32)
    assert b is not a                                   # a is held
    del a
    gc.collect()
    c = _buffers.empty(BIG, np.float32)
    assert id(c) == first                               # a was free: reused
    assert c is not b


@pytest.mark.parametrize("hold", ["view", "reshape", "list", "transpose"])
def test_views_and_containers_keep_an_array_in_use(hold):
    a = _buffers.empty(BIG, np.float32)
    keep = {"view": lambda: a[3:10], "reshape": lambda: a.reshape(-1), "list": lambda: [a],
            "transpose": lambda: a.T}[hold]()
    a[...] = 7
    del a
    for _ in range(_buffers.PER_SHAPE + 1):
        other = _buffers.empty(BIG, np.float32)
        other[...] = 0                                  # must never write into the held array
        del other
    held = keep[0] if hold == "list" else keep
    assert np.all(held == 7)


def test_small_arrays_and_the_disabled_pool_are_plain_numpy(monkeypatch):
    _buffers.empty((10, 10), np.float64)
    assert _buffers.held_bytes() == 0
    monkeypatch.setattr(_buffers, "ENABLED", False)
    _buffers.empty(BIG, np.float32)
    assert _buffers.held_bytes() == 0


def test_zeros_are_zero_even_when_reused():
    a = _buffers.zeros(BIG, np.float64)
    a[...] = 3
    del a
    assert not np.any(_buffers.zeros(BIG, np.float64))


def test_the_pool_is_bounded_and_releasable(monkeypatch):
    monkeypatch.setattr(_buffers, "MAX_BYTES", 5 * 2 ** 21)
    for rows in range(512, 512 + 20):                    # 20 shapes of about 2 MB
        _buffers.empty((rows, 1024), np.float32)
    assert 0 < _buffers.held_bytes() <= 5 * 2 ** 21
    fastnn.release_buffers()
    assert _buffers.held_bytes() == 0


def test_threads_never_share_an_array():
    errors, barrier = [], threading.Barrier(4)

    def work(value):
        barrier.wait()
        for _ in range(200):
            a = _buffers.empty(BIG, np.float32)
            a.fill(value)
            if not np.all(a[::64, ::64] == value):
                errors.append(value)
            del a

    threads = [threading.Thread(target=work, args=(v,)) for v in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
