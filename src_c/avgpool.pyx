"""Compiled average pooling, channels_last: the twins of
``numpy_nhwc.avgpool_forward/backward`` (see there for the geometry).

Each window's mean is taken over its cells inside the image (padding is
not counted, as in Keras); the window is clipped to the image once per
output pixel, and the innermost loop runs over the C contiguous channels.

Arguments arrive validated by ``fastnn.kernels.nhwc``, which is why the loops
run without bounds checks. Threads split the N*OH output rows in the
forward pass and the N images in the backward pass (each thread writes only
its own images' dx).
"""
import numpy as np

from cython.parallel cimport prange
from cython cimport floating

from fastnn import _backend, _buffers

include "_openmp.pxi"

PARALLEL_MIN_WORK = 1 << 16


cdef inline void _clip(Py_ssize_t o, Py_ssize_t s, Py_ssize_t pad, Py_ssize_t k, Py_ssize_t size,
                       Py_ssize_t* lo, Py_ssize_t* hi) noexcept nogil:
    """The input range [lo, hi) that window o covers inside the image."""
    cdef Py_ssize_t start = o * s - pad
    lo[0] = start if start > 0 else 0
    hi[0] = start + k if start + k < size else size


cdef void _forward_row(
    const floating[:, :, :, ::1] x, floating[:, :, :, ::1] out, Py_ssize_t n, Py_ssize_t oy,
    Py_ssize_t kh, Py_ssize_t kw, Py_ssize_t sh, Py_ssize_t sw, Py_ssize_t pad_top, Py_ssize_t pad_left,
) noexcept nogil:
    cdef Py_ssize_t H = x.shape[1], W = x.shape[2], C = x.shape[3], OW = out.shape[2]
    cdef Py_ssize_t ox, y, xx, c, y0, y1, x0, x1
    cdef floating* o
    cdef const floating* xp
    cdef floating inv
    _clip(oy, sh, pad_top, kh, H, &y0, &y1)
    for ox in range(OW):
        _clip(ox, sw, pad_left, kw, W, &x0, &x1)
        o = &out[n, oy, ox, 0]
        for c in range(C):
            o[c] = 0
        for y in range(y0, y1):
            for xx in range(x0, x1):
                xp = &x[n, y, xx, 0]
                for c in range(C):
                    o[c] += xp[c]
        inv = 1.0 / ((y1 - y0) * (x1 - x0))
        for c in range(C):
            o[c] *= inv


cdef void _backward_image(
    const floating[:, :, :, ::1] dout, floating[:, :, :, ::1] dx, Py_ssize_t n,
    Py_ssize_t kh, Py_ssize_t kw, Py_ssize_t sh, Py_ssize_t sw, Py_ssize_t pad_top, Py_ssize_t pad_left,
) noexcept nogil:
    cdef Py_ssize_t H = dx.shape[1], W = dx.shape[2], C = dx.shape[3]
    cdef Py_ssize_t OH = dout.shape[1], OW = dout.shape[2]
    cdef Py_ssize_t oy, ox, y, xx, c, y0, y1, x0, x1
    cdef const floating* g
    cdef floating* dp
    cdef floating inv
    for oy in range(OH):
        _clip(oy, sh, pad_top, kh, H, &y0, &y1)
        for ox in range(OW):
            _clip(ox, sw, pad_left, kw, W, &x0, &x1)
            g = &dout[n, oy, ox, 0]
            inv = 1.0 / ((y1 - y0) * (x1 - x0))
            for y in range(y0, y1):
                for xx in range(x0, x1):
                    dp = &dx[n, y, xx, 0]
                    for c in range(C):
                        dp[c] += g[c] * inv


cdef void _forward(
    const floating[:, :, :, ::1] x, floating[:, :, :, ::1] out,
    Py_ssize_t kh, Py_ssize_t kw, Py_ssize_t sh, Py_ssize_t sw, Py_ssize_t pad_top, Py_ssize_t pad_left,
    int threads,
) noexcept:
    cdef Py_ssize_t OH = out.shape[1], rows = out.shape[0] * out.shape[1], r
    with nogil:
        for r in prange(rows, num_threads=threads, schedule="static"):
            _forward_row(x, out, r // OH, r % OH, kh, kw, sh, sw, pad_top, pad_left)


cdef void _backward(
    const floating[:, :, :, ::1] dout, floating[:, :, :, ::1] dx,
    Py_ssize_t kh, Py_ssize_t kw, Py_ssize_t sh, Py_ssize_t sw, Py_ssize_t pad_top, Py_ssize_t pad_left,
    int threads,
) noexcept:
    cdef Py_ssize_t N = dx.shape[0], n
    with nogil:
        for n in prange(N, num_threads=threads, schedule="static"):
            _backward_image(dout, dx, n, kh, kw, sh, sw, pad_top, pad_left)


def avgpool_forward(x, kh, kw, sh, sw, pad_top, pad_left, OH, OW):
    """x (N, H, W, C) -> (N, OH, OW, C). Arguments must already be validated."""
    out = _buffers.empty((x.shape[0], OH, OW, x.shape[3]), x.dtype)
    cdef int threads = _backend.threads_for(out.size * kh * kw, PARALLEL_MIN_WORK)
    if x.dtype == np.float64:
        _forward[double](x, out, kh, kw, sh, sw, pad_top, pad_left, threads)
    else:
        _forward[float](x, out, kh, kw, sh, sw, pad_top, pad_left, threads)
    return out


def avgpool_backward(dout, input_shape, kh, kw, sh, sw, pad_top, pad_left):
    """dout (N, OH, OW, C) -> dx of ``input_shape`` (N, H, W, C). Arguments must already be validated."""
    dx = _buffers.zeros(tuple(input_shape), dout.dtype)
    cdef int threads = _backend.threads_for(dout.size * kh * kw, PARALLEL_MIN_WORK)
    if dout.dtype == np.float64:
        _backward[double](dout, dx, kh, kw, sh, sw, pad_top, pad_left, threads)
    else:
        _backward[float](dout, dx, kh, kw, sh, sw, pad_top, pad_left, threads)
    return dx
