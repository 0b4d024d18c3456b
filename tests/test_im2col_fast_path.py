"""The compiled im2col's special cases against the NumPy reference.

The compiled im2col copies a window row with a fixed-length copy when the
filter is 3 or 5 wide (the book's nets) and with a loop otherwise, and it
places large outputs on a 2 MB (huge page) boundary. Each of these paths is
checked here on purpose, for both dtypes; the random shapes of
test_kernels_conv.py may or may not reach them.
"""
import numpy as np
import pytest

import fastnn
from fastnn import kernels

compiled = pytest.importorskip("fastnn._ext.im2col",
                               reason="the compiled kernels are not built in this installation")


def reference(x, fh, fw, stride, pad):
    with fastnn.use_backend("numpy"):
        return kernels.im2col(x, fh, fw, stride, pad)


def fast(x, fh, fw, stride, pad):
    with fastnn.use_backend("cython"):
        return kernels.im2col(x, fh, fw, stride, pad)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("fh, fw", [(3, 3), (5, 5), (2, 3), (4, 5), (3, 1), (2, 4), (3, 7)])
@pytest.mark.parametrize("stride, pad", [(1, 0), (1, 1), (2, 2), (3, 1)])
def test_window_widths_match_numpy(dtype, fh, fw, stride, pad, monkeypatch):
    # several threads even for these small arrays, so the per-thread padded
    # images and the split of the images between threads are exercised too
    monkeypatch.setattr(compiled, "MIN_VALUES_PER_THREAD", 0)
    x = np.random.default_rng(fh * 10 + fw).standard_normal((3, 2, 9, 11)).astype(dtype)
    got = fast(x, fh, fw, stride, pad)
    assert got.dtype == dtype and got.flags.c_contiguous
    np.testing.assert_array_equal(got, reference(x, fh, fw, stride, pad))   # a pure copy: exact


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_huge_page_aligned_output(dtype, monkeypatch):
    # force the aligned allocation on a small array (normally from 32 MB on)
    monkeypatch.setattr(compiled, "HUGE_PAGE_ALIGN_MIN_BYTES", 0)
    x = np.random.default_rng(3).standard_normal((4, 3, 10, 10)).astype(dtype)
    first = fast(x, 3, 3, 1, 1)
    second = fast(x, 3, 3, 1, 1)
    assert first.ctypes.data % compiled.HUGE_PAGE == 0
    assert first.shape == (4 * 10 * 10, 3 * 3 * 3) and first.dtype == dtype
    assert first.flags.c_contiguous and first.flags.writeable
    assert not np.shares_memory(first, second)          # a new array every call
    np.testing.assert_array_equal(first, reference(x, 3, 3, 1, 1))
    first[...] = 0                                      # writing one leaves the other intact
    np.testing.assert_array_equal(second, reference(x, 3, 3, 1, 1))


def test_small_output_is_a_plain_array():
    x = np.random.default_rng(4).standard_normal((2, 1, 6, 6))
    col = fast(x, 3, 3, 1, 0)
    assert col.flags.owndata                            # below the threshold: np.empty
    np.testing.assert_array_equal(col, reference(x, 3, 3, 1, 0))
