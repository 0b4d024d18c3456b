"""Compiled max pooling: the twins of ``numpy_kernels.maxpool_forward/backward``.

The NumPy reference unfolds the input with im2col and takes an argmax per
row; here each output cell scans its window directly, so nothing but the
outputs is allocated.

Semantics kept from the reference (so results are identical):

* a window cell that falls in the padding has the value 0;
* ``argmax`` is the position inside the window, ``fy*pool_w + fx``;
* the first maximum in (fy, fx) order wins ties;
* NaN counts as the largest value and the first NaN wins (``np.argmax``).

Arguments arrive validated by ``fastnn.kernels`` (4-D, C-contiguous, float32
or float64, a window that fits in the padded input), which is why the loops
below run without bounds checks; the range of argmax is checked by the
backward loops themselves (a value out of range is skipped, and raises).

Work is split over the N*C image planes (each plane is independent, also in
the backward pass, so threads never write to the same memory).
The GIL is released while the loops run.
"""
import numpy as np

from cython.parallel cimport prange
from cython cimport floating
from libc.stdint cimport int64_t
from libc.string cimport memset

from fastnn import _backend, _buffers

include "_openmp.pxi"

# Below this many window reads a call is too small to be worth threads.
PARALLEL_MIN_WORK = 1 << 15


cdef floating _window_max(
    const floating* img, Py_ssize_t H, Py_ssize_t W, Py_ssize_t y0, Py_ssize_t x0,
    Py_ssize_t pool_h, Py_ssize_t pool_w, Py_ssize_t* best_k,
) noexcept nogil:
    """Max of the window whose top-left corner is (y0, x0), any position.

    The general case: cells in the padding read as 0, and a NaN beats
    everything with the first NaN winning, exactly like np.argmax.
    """
    cdef Py_ssize_t fy, fx, y, x, k = 0
    cdef floating v, best = 0
    best_k[0] = -1
    for fy in range(pool_h):
        y = y0 + fy
        for fx in range(pool_w):
            x = x0 + fx
            v = img[y * W + x] if (0 <= y < H and 0 <= x < W) else 0
            if best_k[0] < 0 or v > best or (v != v and best == best):
                best = v
                best_k[0] = k
            k += 1
    return best


cdef inline floating _max_2x2(
    const floating* corner, Py_ssize_t W, Py_ssize_t* best_k, bint* seen_nan,
) noexcept nogil:
    """Max of the 2x2 window at ``corner`` (row stride W), its position in
    best_k, and whether it holds a NaN in seen_nan (the caller then redoes the
    window with the exact code: the result here is meaningless with a NaN).

    Straight-line code with no branch: data-dependent branches were
    mispredicted about half of the time on real activations (SimpleConvNet's
    (100, 30, 24, 24) float32 pooling on one thread: 2.4-2.9 ms with them,
    0.5-0.6 ms without).
    """
    cdef floating a = corner[0], b = corner[1], c = corner[W], d = corner[W + 1]
    cdef floating best = a
    cdef int na, nb
    # the value: the first maximum in window order (a, b, c, d)
    best = b if b > best else best
    best = c if c > best else best
    best = d if d > best else best
    # its position: how many cells come before the first one equal to it
    # (0/1 comparisons added up)
    na = a != best
    nb = na & (b != best)
    best_k[0] = na + nb + (nb & (c != best))
    seen_nan[0] = (a != a) | (b != b) | (c != c) | (d != d)
    return best


cdef bint _pool_plane_2x2(
    const floating* img, floating* out, int64_t* arg,
    Py_ssize_t W, Py_ssize_t OH, Py_ssize_t OW,
) noexcept nogil:
    """The book's pooling, 2x2 windows with stride 2 and no padding, of one plane.

    Every window lies inside the image, so there is no bounds test either.
    NaNs are not handled here: the return value says whether the plane held
    one, and the caller then redoes the plane with the exact general code.
    """
    cdef Py_ssize_t oy, ox, k
    cdef bint nan = False, seen_nan
    for oy in range(OH):
        for ox in range(OW):
            out[oy * OW + ox] = _max_2x2(img + 2 * oy * W + 2 * ox, W, &k, &seen_nan)
            arg[oy * OW + ox] = k
            nan = nan | seen_nan
    return nan


cdef void _pool_plane(
    const floating* img, floating* out, int64_t* arg,
    Py_ssize_t H, Py_ssize_t W, Py_ssize_t OH, Py_ssize_t OW,
    Py_ssize_t pool_h, Py_ssize_t pool_w, Py_ssize_t stride, Py_ssize_t pad,
) noexcept nogil:
    """Max pooling of one (H, W) plane into one (OH, OW) plane."""
    cdef Py_ssize_t oy, ox, fy, fx, y0, x0, best_k
    cdef floating v, best
    cdef Py_ssize_t take
    cdef bint seen_nan
    cdef const floating* corner
    for oy in range(OH):
        y0 = oy * stride - pad
        for ox in range(OW):
            x0 = ox * stride - pad
            if y0 >= 0 and x0 >= 0 and y0 + pool_h <= H and x0 + pool_w <= W:
                # Fast path, the whole window inside the image. The running
                # argmax is updated arithmetically, k + take * (new - k),
                # not with an if: on random data a branch would be
                # mispredicted half of the time. A NaN only sets a flag and
                # sends the window to the exact general code.
                corner = img + y0 * W + x0
                if pool_h == 2 and pool_w == 2:
                    best = _max_2x2(corner, W, &best_k, &seen_nan)   # the book's pooling
                else:
                    best = corner[0]
                    best_k = 0
                    seen_nan = False
                    for fy in range(pool_h):
                        for fx in range(pool_w):
                            v = corner[fy * W + fx]
                            take = v > best
                            best = v if take else best
                            best_k = best_k + take * (fy * pool_w + fx - best_k)
                            seen_nan = seen_nan | (v != v)
                if seen_nan:
                    best = _window_max(img, H, W, y0, x0, pool_h, pool_w, &best_k)
            else:
                best = _window_max(img, H, W, y0, x0, pool_h, pool_w, &best_k)
            out[oy * OW + ox] = best
            arg[oy * OW + ox] = best_k


cdef bint _unpool_plane(
    const floating* dout, const int64_t* arg, floating* dimg,
    Py_ssize_t H, Py_ssize_t W, Py_ssize_t OH, Py_ssize_t OW,
    Py_ssize_t pool_h, Py_ssize_t pool_w, Py_ssize_t stride, Py_ssize_t pad,
) noexcept nogil:
    """Add each output gradient of one plane to the input cell that won its window.

    Overlapping windows (stride < pool size) add up; a winner in the padding
    has no input cell and its gradient is dropped. Returns True if an argmax
    value lies outside [0, pool_h * pool_w) (skipped; the caller raises).
    """
    cdef Py_ssize_t oy, ox, y, x, k
    cdef bint bad = False
    for oy in range(OH):
        for ox in range(OW):
            k = arg[oy * OW + ox]
            if k < 0 or k >= pool_h * pool_w:
                bad = True
                continue
            y = oy * stride - pad + k // pool_w
            x = ox * stride - pad + k % pool_w
            if 0 <= y < H and 0 <= x < W:
                dimg[y * W + x] += dout[oy * OW + ox]
    return bad


cdef void _forward(
    const floating[:, :, :, ::1] x, floating[:, :, :, ::1] out, int64_t[:, :, :, ::1] arg,
    Py_ssize_t pool_h, Py_ssize_t pool_w, Py_ssize_t stride, Py_ssize_t pad, int threads,
) noexcept:
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], H = x.shape[2], W = x.shape[3]
    cdef Py_ssize_t OH = out.shape[2], OW = out.shape[3]
    cdef Py_ssize_t plane, n, c
    # 2x2 windows, stride 2, no padding, every window inside the image
    cdef bint book_case = (pool_h == 2 and pool_w == 2 and stride == 2 and pad == 0
                           and 2 * OH <= H and 2 * OW <= W)
    with nogil:
        for plane in prange(N * C, num_threads=threads, schedule="static"):
            n = plane // C
            c = plane % C
            if book_case and not _pool_plane_2x2(&x[n, c, 0, 0], &out[n, c, 0, 0],
                                                 &arg[n, c, 0, 0], W, OH, OW):
                continue
            _pool_plane(&x[n, c, 0, 0], &out[n, c, 0, 0], &arg[n, c, 0, 0],
                        H, W, OH, OW, pool_h, pool_w, stride, pad)


cdef bint _backward(
    const floating[:, :, :, ::1] dout, const int64_t[:, :, :, ::1] arg, floating[:, :, :, ::1] dx,
    Py_ssize_t pool_h, Py_ssize_t pool_w, Py_ssize_t stride, Py_ssize_t pad, int threads,
) noexcept:
    """dx from dout and argmax, each plane zeroed by its thread first; True if an argmax
    value was out of range."""
    cdef Py_ssize_t N = dx.shape[0], C = dx.shape[1], H = dx.shape[2], W = dx.shape[3]
    cdef Py_ssize_t OH = dout.shape[2], OW = dout.shape[3]
    cdef Py_ssize_t plane, n, c
    cdef int bad = 0
    with nogil:
        for plane in prange(N * C, num_threads=threads, schedule="static"):
            n = plane // C
            c = plane % C
            memset(&dx[n, c, 0, 0], 0, H * W * sizeof(floating))
            bad |= _unpool_plane(&dout[n, c, 0, 0], &arg[n, c, 0, 0], &dx[n, c, 0, 0],
                                 H, W, OH, OW, pool_h, pool_w, stride, pad)
    return bad != 0


def maxpool_forward(x, pool_h, pool_w, stride=2, pad=0):
    """x (N, C, H, W) -> (out (N, C, OH, OW), argmax (N, C, OH, OW) int64).

    See ``numpy_kernels.maxpool_forward``; ``x`` must already be validated.
    """
    cdef Py_ssize_t ph = pool_h, pw = pool_w, s = stride, p = pad
    N, C, H, W = x.shape
    OH = (H + 2 * p - ph) // s + 1
    OW = (W + 2 * p - pw) // s + 1
    out = _buffers.empty((N, C, OH, OW), x.dtype)
    argmax = _buffers.empty((N, C, OH, OW), np.int64)
    cdef int threads = _backend.threads_for(out.size * ph * pw, PARALLEL_MIN_WORK)
    if x.dtype == np.float64:
        _forward[double](x, out, argmax, ph, pw, s, p, threads)
    else:
        _forward[float](x, out, argmax, ph, pw, s, p, threads)
    return out, argmax


def maxpool_backward(dout, argmax, input_shape, pool_h, pool_w, stride=2, pad=0):
    """dout, argmax (N, C, OH, OW) -> dx (N, C, H, W) with ``input_shape``.

    See ``numpy_kernels.maxpool_backward``; arguments must already be validated.
    """
    cdef Py_ssize_t ph = pool_h, pw = pool_w, s = stride, p = pad
    cdef bint bad
    dx = _buffers.empty(tuple(input_shape), dout.dtype)       # each plane zeroed in the loop
    cdef int threads = _backend.threads_for(dx.size + dout.size, PARALLEL_MIN_WORK)
    if dout.dtype == np.float64:
        bad = _backward[double](dout, argmax, dx, ph, pw, s, p, threads)
    else:
        bad = _backward[float](dout, argmax, dx, ph, pw, s, p, threads)
    if bad:
        raise ValueError(f"maxpool_backward: argmax values must lie in [0, {ph * pw})")
    return dx
