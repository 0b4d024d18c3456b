"""Large output arrays of the compiled kernels, reused instead of allocated anew.

A training step allocates the same large arrays every time (a convolution's
output, its input gradient, a pooling's argmax). A large allocation comes
from the operating system as untouched pages, and goes back to it when
freed (glibc maps blocks above its mmap threshold, 128 kB to 32 MB, on their
own), so the kernel that writes it first pays a page fault per 4 kB: on the
2-core machines fastnn is measured on, up to 1.5 ms per MB. In some layers
that was most of the time (BatchNormalization of the AlexNet-style
network's 100x26x26x256 batch: 130 ms in the train step, 15 ms with the
pool; the whole step 1.70-1.76 s against 1.70-2.14 s, medians of 4 steps
of ``fastnn.benchmark._alexnet``'s model in two runs each; peak memory
+280 MB).

``empty(shape, dtype)`` hands out an array that nobody else holds: the pool
keeps a few arrays per (shape, dtype) and reuses one whose only reference is
the pool's own (``sys.getrefcount``; a view, a layer's saved input or a
caller's variable all count as references), so an array is never given out
twice while it is in use. Arrays under ``MIN_BYTES`` come from NumPy as
usual. The pool holds at most ``PER_SHAPE`` arrays per shape and
``MAX_BYTES`` in all, dropping the least recently used shapes first;
``clear()`` (``fastnn.release_buffers()``) releases everything. On Python builds where reference counts do
not tell whether an array is in use (free-threaded builds, and 3.14's
borrowed references) the pool is off and ``empty`` is ``np.empty``.
"""
import math
import sys
import sysconfig
import threading

import numpy as np

#: Arrays smaller than this are allocated as usual.
MIN_BYTES = 1 << 20
#: Arrays kept per (shape, dtype): a layer's output alive from the last step
#: (saved by the next layer) plus the one being written.
PER_SHAPE = 2
#: Bytes kept in all.
MAX_BYTES = 1 << 30

ENABLED = sys.version_info < (3, 14) and not sysconfig.get_config_var("Py_GIL_DISABLED")

_lock = threading.Lock()
_pool = {}                  # (shape, dtype str) -> [arrays]; dict order = least recently used first
_held = [0]                 # bytes in the pool

#: References to a pooled array that nobody else holds, counted inside ``_free``:
#: the pool's list, the loop variable and ``getrefcount``'s argument.
_FREE_REFS = 3


def _free(arrays):
    for a in arrays:
        if sys.getrefcount(a) == _FREE_REFS:
            return a
    return None


def empty(shape, dtype):
    """An uninitialized C-order array, as ``np.empty``, reused when one is free."""
    dtype = np.dtype(dtype)
    shape = tuple(map(int, shape))
    nbytes = dtype.itemsize * math.prod(shape)        # Python ints: no overflow, no NumPy call
    if nbytes < MIN_BYTES or not ENABLED:
        return np.empty(shape, dtype)
    key = (shape, dtype.str)
    with _lock:
        arrays = _pool.pop(key, [])
        _pool[key] = arrays                         # now the most recently used
        a = _free(arrays)
        if a is not None:
            return a
        a = np.empty(shape, dtype)
        if len(arrays) < PER_SHAPE:
            arrays.append(a)
            _held[0] += nbytes
            _evict()
        return a


def zeros(shape, dtype):
    """``np.zeros``, from the pool when one is free."""
    a = empty(shape, dtype)
    a.fill(0)
    return a


def _evict():
    """Drop the least recently used shapes until the pool holds at most MAX_BYTES."""
    for key in list(_pool):
        if _held[0] <= MAX_BYTES:
            return
        arrays = _pool.pop(key)
        _held[0] -= sum(a.nbytes for a in arrays)


def clear():
    """Release every pooled array (arrays still in use stay valid: they are only forgotten)."""
    with _lock:
        _pool.clear()
        _held[0] = 0


def held_bytes():
    """Bytes the pool holds (free or in use)."""
    return _held[0]
