"""Compiled depthwise convolution, channels_last: the twins of
``numpy_nhwc.depthwise_conv_forward/backward`` (see there for the geometry).

x (N, H, W, C), kernel K (kh, kw, C, M) -> out (N, OH, OW, C*M), output
channel c*M + m = input channel c through its filter K[:, :, c, m].

Each output pixel is a sum over the window taps that fall inside the image
(the zero padding is skipped, never copied); for one tap the innermost loop
runs over the C*M contiguous channels of the output pixel, of the kernel tap
and (C of them) of the input pixel, so it vectorises.

Arguments arrive validated by ``fastnn.kernels.nhwc`` (4-D, C-contiguous,
one float dtype, every window touching the input), which is why the loops
run without bounds checks.

Threads: the forward pass splits the N*OH output rows; the backward pass
splits the N images (each image writes its own dx and its own share of dK,
which are summed at the end in a fixed order), so no two threads write the
same memory and the numbers do not depend on the thread count.
"""
import numpy as np

from cython.parallel cimport prange
from cython cimport floating

from fastnn import _backend, _buffers

include "_openmp.pxi"

# Below this many multiply-adds a call is too small to be worth threads.
PARALLEL_MIN_WORK = 1 << 16


cdef void _forward_row(
    const floating[:, :, :, ::1] x, const floating[:, :, :, ::1] K, floating[:, :, :, ::1] out,
    Py_ssize_t n, Py_ssize_t oy, Py_ssize_t sh, Py_ssize_t sw, Py_ssize_t pad_top, Py_ssize_t pad_left,
) noexcept nogil:
    """One output row out[n, oy, :, :]."""
    cdef Py_ssize_t H = x.shape[1], W = x.shape[2], C = x.shape[3]
    cdef Py_ssize_t kh = K.shape[0], kw = K.shape[1], M = K.shape[3]
    cdef Py_ssize_t OW = out.shape[2], CM = C * M
    cdef Py_ssize_t ox, i, j, c, m, iy, ix
    cdef floating* o
    cdef const floating* xp
    cdef const floating* kp
    cdef floating v
    for ox in range(OW):
        o = &out[n, oy, ox, 0]
        for c in range(CM):
            o[c] = 0
        for i in range(kh):
            iy = oy * sh - pad_top + i
            if iy < 0 or iy >= H:
                continue
            for j in range(kw):
                ix = ox * sw - pad_left + j
                if ix < 0 or ix >= W:
                    continue
                xp = &x[n, iy, ix, 0]
                kp = &K[i, j, 0, 0]
                if M == 1:
                    for c in range(C):
                        o[c] += xp[c] * kp[c]
                else:
                    for c in range(C):
                        v = xp[c]
                        for m in range(M):
                            o[c * M + m] += v * kp[c * M + m]


cdef void _backward_image(
    const floating[:, :, :, ::1] dout, const floating[:, :, :, ::1] x, const floating[:, :, :, ::1] K,
    floating[:, :, :, ::1] dx, floating* dK, Py_ssize_t n,
    Py_ssize_t sh, Py_ssize_t sw, Py_ssize_t pad_top, Py_ssize_t pad_left,
) noexcept nogil:
    """dx[n] and the contribution of image n to dK (kh, kw, C, M) at ``dK``."""
    cdef Py_ssize_t H = x.shape[1], W = x.shape[2], C = x.shape[3]
    cdef Py_ssize_t kh = K.shape[0], kw = K.shape[1], M = K.shape[3]
    cdef Py_ssize_t OH = dout.shape[1], OW = dout.shape[2], CM = C * M
    cdef Py_ssize_t oy, ox, i, j, c, m, iy, ix
    cdef const floating* g
    cdef const floating* xp
    cdef const floating* kp
    cdef floating* dxp
    cdef floating* dkp
    cdef floating acc, v
    for oy in range(OH):
        for ox in range(OW):
            g = &dout[n, oy, ox, 0]
            for i in range(kh):
                iy = oy * sh - pad_top + i
                if iy < 0 or iy >= H:
                    continue
                for j in range(kw):
                    ix = ox * sw - pad_left + j
                    if ix < 0 or ix >= W:
                        continue
                    xp = &x[n, iy, ix, 0]
                    dxp = &dx[n, iy, ix, 0]
                    kp = &K[i, j, 0, 0]
                    dkp = dK + (i * kw + j) * CM
                    if M == 1:
                        for c in range(C):
                            dxp[c] += g[c] * kp[c]
                            dkp[c] += g[c] * xp[c]
                    else:
                        for c in range(C):
                            v = xp[c]
                            acc = 0
                            for m in range(M):
                                acc = acc + g[c * M + m] * kp[c * M + m]
                                dkp[c * M + m] += g[c * M + m] * v
                            dxp[c] += acc


cdef void _forward(
    const floating[:, :, :, ::1] x, const floating[:, :, :, ::1] K, floating[:, :, :, ::1] out,
    Py_ssize_t sh, Py_ssize_t sw, Py_ssize_t pad_top, Py_ssize_t pad_left, int threads,
) noexcept:
    cdef Py_ssize_t OH = out.shape[1], rows = out.shape[0] * out.shape[1], r
    with nogil:
        for r in prange(rows, num_threads=threads, schedule="static"):
            _forward_row(x, K, out, r // OH, r % OH, sh, sw, pad_top, pad_left)


cdef void _backward(
    const floating[:, :, :, ::1] dout, const floating[:, :, :, ::1] x, const floating[:, :, :, ::1] K,
    floating[:, :, :, ::1] dx, floating[:, ::1] dK_parts,
    Py_ssize_t sh, Py_ssize_t sw, Py_ssize_t pad_top, Py_ssize_t pad_left, int threads,
) noexcept:
    cdef Py_ssize_t N = x.shape[0], n
    with nogil:
        for n in prange(N, num_threads=threads, schedule="static"):
            _backward_image(dout, x, K, dx, &dK_parts[n, 0], n, sh, sw, pad_top, pad_left)


def depthwise_conv_forward(x, K, sh, sw, pad_top, pad_left, OH, OW):
    """x (N, H, W, C), K (kh, kw, C, M) -> (N, OH, OW, C*M). Arguments must already be validated."""
    N, C = x.shape[0], x.shape[3]
    kh, kw, M = K.shape[0], K.shape[1], K.shape[3]
    out = _buffers.empty((N, OH, OW, C * M), x.dtype)
    cdef int threads = _backend.threads_for(out.size * kh * kw, PARALLEL_MIN_WORK)
    if x.dtype == np.float64:
        _forward[double](x, K, out, sh, sw, pad_top, pad_left, threads)
    else:
        _forward[float](x, K, out, sh, sw, pad_top, pad_left, threads)
    return out


def depthwise_conv_backward(dout, x, K, sh, sw, pad_top, pad_left):
    """dout (N, OH, OW, C*M) -> (dx (N, H, W, C), dK (kh, kw, C, M)). Arguments must already be validated."""
    cdef int threads = _backend.threads_for(dout.size * K.shape[0] * K.shape[1] * 2, PARALLEL_MIN_WORK)
    dx = _buffers.zeros(x.shape, x.dtype)
    parts = np.zeros((x.shape[0], K.size), dtype=x.dtype)     # dK per image
    if x.dtype == np.float64:
        _backward[double](dout, x, K, dx, parts, sh, sw, pad_top, pad_left, threads)
    else:
        _backward[float](dout, x, K, dx, parts, sh, sw, pad_top, pad_left, threads)
    dK = parts.sum(axis=0)
    return dx, dK.reshape(K.shape)
