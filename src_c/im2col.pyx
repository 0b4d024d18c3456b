"""Compiled im2col / col2im: the twins of ``fastnn.kernels.numpy_kernels``.

Same arguments, same results (new C-contiguous arrays of the input's
dtype). ``fastnn.kernels`` validates the arguments before calling here; the
functions still check the shapes they rely on, so a direct call with bad
arguments raises instead of reading out of bounds.

Images are processed in parallel (OpenMP, ``fastnn.get_num_threads()``
threads), each thread on whole images. Both kernels only move data; col2im
adds in the NumPy order, so its sums are NumPy's exactly.

Where im2col's time goes (DeepConvNet conv2, float64, batch 100: a 90 MB
output, on the 2-core benchmark machine): every call gets fresh pages from
the OS, which zeroes each one at its first write, about 8 ms of system time
per call, for the NumPy backend too; the copy itself takes about 5 ms of CPU.
So the output is placed for huge pages (_empty_on_huge_pages), the threads
fault on separate pages (the "guided" schedule in _im2col_impl), and the copy
uses fixed-length moves (_copy_window).
"""
include "_openmp.pxi"
include "im2col_core.pxi"

from libc.string cimport memcpy

import numpy as np

from cython.parallel cimport parallel, prange, threadid

from fastnn._backend import get_num_threads


def _geometry(where, shape, filter_h, filter_w, stride, pad):
    """(N, C, H, W, OH, OW) of a sliding window, or ValueError."""
    N, C, H, W = (int(s) for s in shape)
    filter_h, filter_w, stride, pad = int(filter_h), int(filter_w), int(stride), int(pad)
    if min(N, C, H, W) < 1 or filter_h < 1 or filter_w < 1 or stride < 1 or pad < 0:
        raise ValueError(f"{where}: bad geometry: input {tuple(shape)}, filter "
                         f"{filter_h}x{filter_w}, stride {stride}, pad {pad}")
    if filter_h > H + 2 * pad or filter_w > W + 2 * pad:
        raise ValueError(f"{where}: window {filter_h}x{filter_w} is larger than the padded "
                         f"input {H + 2 * pad}x{W + 2 * pad}")
    OH = (H + 2 * pad - filter_h) // stride + 1
    OW = (W + 2 * pad - filter_w) // stride + 1
    return N, C, H, W, OH, OW


cdef inline void _copy_window(const real* src, Py_ssize_t Wp, Py_ssize_t FH, Py_ssize_t FW,
                              real* dst) noexcept nogil:
    """dst (FH*FW) = the FH x FW window of one channel whose top-left value is src
    (the rows of the padded image are Wp apart)."""
    cdef Py_ssize_t fy, fx
    # A window row is only FW values (24 bytes for a 3-wide float64 filter),
    # and a loop of FW iterations per row spent more time on loop control than
    # on moving data. memcpy with a length known at compile time becomes one or
    # two moves, so the widths of the book's nets (3 and 5) get their own
    # branch. Measured on one thread, output already touched, batch 100: 1.4x
    # faster for DeepConvNet conv2 and SimpleConvNet conv1 in float64 (7.8 ->
    # 5.5 ms, 0.61 -> 0.43 ms), 2.5x for conv2 in float32 (9.6 -> 3.9 ms).
    if FW == 3:
        for fy in range(FH):
            memcpy(dst + 3 * fy, src + fy * Wp, 3 * sizeof(real))
    elif FW == 5:
        for fy in range(FH):
            memcpy(dst + 5 * fy, src + fy * Wp, 5 * sizeof(real))
    else:
        for fy in range(FH):
            for fx in range(FW):
                dst[fy * FW + fx] = src[fy * Wp + fx]


cdef void _padded_to_rows(const real* xp, Py_ssize_t C, Py_ssize_t Hp, Py_ssize_t Wp,
                          Py_ssize_t FH, Py_ssize_t FW, Py_ssize_t stride,
                          Py_ssize_t OH, Py_ssize_t OW, real* rows) noexcept nogil:
    """The book's im2col of one padded image xp (C, Hp, Wp):
    rows (OH*OW, C*FH*FW), row (oy, ox), column (c, fy, fx).

    Writes rows in order, so the output is streamed front to back."""
    cdef Py_ssize_t oy, ox, c
    cdef Py_ssize_t window = FH * FW
    cdef real* dst = rows
    for oy in range(OH):
        for ox in range(OW):
            for c in range(C):
                _copy_window(xp + (c * Hp + oy * stride) * Wp + ox * stride, Wp, FH, FW, dst)
                dst += window


def _im2col_impl(const real[:, :, :, ::1] x, real[:, ::1] col, real[:, ::1] work,
                 Py_ssize_t FH, Py_ssize_t FW, Py_ssize_t stride, Py_ssize_t pad,
                 Py_ssize_t OH, Py_ssize_t OW, int nthreads):
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], H = x.shape[2], W = x.shape[3]
    cdef Py_ssize_t per_image = OH * OW * C * FH * FW
    cdef Py_ssize_t n
    cdef const real* src
    cdef real* xpad = NULL
    # "guided": each thread first takes a large run of consecutive images (half,
    # then a quarter, ... of what is left), then smaller ones to even out the
    # finish. Each thread thus streams through its own region of the output,
    # and the threads rarely fault on the same fresh 2 MB page at once, which
    # made one image per task ("dynamic") cost more kernel time: at DeepConvNet
    # conv2 (float64, batch 100, 90 MB) 10.2 ms of system time per call
    # instead of 11.9, and a best wall time of 6.9 ms instead of 8.0.
    with nogil, parallel(num_threads=nthreads):
        xpad = &work[threadid(), 0]          # this thread's padded image
        for n in prange(N, schedule="guided"):
            src = &x[n, 0, 0, 0]
            if pad > 0:
                pad_image(src, C, H, W, pad, xpad)
                src = xpad
            _padded_to_rows(src, C, H + 2 * pad, W + 2 * pad, FH, FW, stride, OH, OW,
                            &col[0, 0] + n * per_image)


cdef void _rows_add_to_image(const real* rows, Py_ssize_t C, Py_ssize_t H, Py_ssize_t W,
                             Py_ssize_t FH, Py_ssize_t FW, Py_ssize_t stride, Py_ssize_t pad,
                             Py_ssize_t OH, Py_ssize_t OW, real* img) noexcept nogil:
    """img (C, H, W) += fold of one image's rows (OH*OW, C*FH*FW), the adjoint of _image_to_rows.

    Loops filter tap (c, fy, fx) outermost, as the NumPy col2im does, so each
    pixel adds its contributions in the same order and the sums are NumPy's.
    The reads step through a column of `rows` (stride K), which stays in cache
    while the taps of one channel are folded.
    """
    cdef Py_ssize_t K = C * FH * FW
    cdef Py_ssize_t c, fy, fx, oy, ox, iy, ox_lo, ox_hi
    cdef const real* src
    cdef real* dst
    for c in range(C):
        for fy in range(FH):
            for fx in range(FW):
                src = rows + (c * FH + fy) * FW + fx
                ox_lo = _first_inside(fx - pad, stride)
                ox_hi = _end_inside(fx - pad, stride, W, OW)
                for oy in range(OH):
                    iy = oy * stride + fy - pad
                    if 0 <= iy < H:
                        dst = img + (c * H + iy) * W
                        if stride == 1:
                            for ox in range(ox_lo, ox_hi):
                                dst[ox + fx - pad] += src[(oy * OW + ox) * K]
                        else:
                            for ox in range(ox_lo, ox_hi):
                                dst[ox * stride + fx - pad] += src[(oy * OW + ox) * K]


def _col2im_impl(const real[:, ::1] col, real[:, :, :, ::1] img,
                 Py_ssize_t FH, Py_ssize_t FW, Py_ssize_t stride, Py_ssize_t pad,
                 Py_ssize_t OH, Py_ssize_t OW, int nthreads):
    cdef Py_ssize_t N = img.shape[0], C = img.shape[1], H = img.shape[2], W = img.shape[3]
    cdef Py_ssize_t per_image = OH * OW * C * FH * FW
    cdef Py_ssize_t n
    for n in prange(N, nogil=True, schedule="dynamic", num_threads=nthreads):
        memset(&img[n, 0, 0, 0], 0, C * H * W * sizeof(real))
        _rows_add_to_image(&col[0, 0] + n * per_image, C, H, W, FH, FW, stride, pad, OH, OW,
                           &img[n, 0, 0, 0])


#: Below this many copied values per thread, im2col/col2im use fewer threads.
MIN_VALUES_PER_THREAD = 200_000


def _threads(N, values):
    """Threads for N images and `values` copied values: at most one per image."""
    return max(1, min(int(get_num_threads()), int(N), int(values // max(1, MIN_VALUES_PER_THREAD))))


#: Size of a transparent huge page (Linux on x86-64 and arm64 with 4 KB pages).
HUGE_PAGE = 2 * 1024 * 1024
#: Outputs from this size on start on a huge-page boundary (see _empty_on_huge_pages).
HUGE_PAGE_ALIGN_MIN_BYTES = 32 * 1024 * 1024


def _empty_on_huge_pages(shape, dtype):
    """np.empty(shape, dtype), starting on a HUGE_PAGE boundary when it is large.

    From 32 MB on, glibc's malloc (which NumPy uses) maps fresh pages for every
    array, so every call pays a page fault per page at first write. NumPy asks
    Linux for huge pages on large arrays, but only the 2 MB-aligned part of
    the array can get them; the unaligned head and tail (up to 2 MB each) are
    faulted 4 KB at a time. At DeepConvNet conv2 (90 MB) that is about 545 of
    the 590 faults per call, measured 0.6-0.9 ms of the ~8.5 ms the kernel
    spends preparing fresh pages (each 4 KB fault costs ~2 us in this VM).
    Starting the array on a 2 MB boundary inside a slightly larger buffer
    leaves 45 faults. The untouched slack is address space only: pages that
    are never written are never mapped.

    The result is C-contiguous and writable; it is a view (its ``base`` is
    the uint8 buffer), which callers of im2col cannot tell from an owner.
    """
    dtype = np.dtype(dtype)
    nbytes = dtype.itemsize
    for s in shape:
        nbytes *= s
    if nbytes < HUGE_PAGE_ALIGN_MIN_BYTES:
        return np.empty(shape, dtype=dtype)
    # Slack of two huge pages: one to move the start to a boundary, one so that
    # the huge page holding the last byte lies inside the buffer as well.
    raw = np.empty(nbytes + 2 * HUGE_PAGE, dtype=np.uint8)
    start = -raw.ctypes.data % HUGE_PAGE
    return raw[start:start + nbytes].view(dtype).reshape(shape)


def im2col(x, filter_h, filter_w, stride=1, pad=0):
    """x (N, C, H, W) -> col (N*OH*OW, C*FH*FW), as ``numpy_kernels.im2col``."""
    N, C, H, W, OH, OW = _geometry("im2col", x.shape, filter_h, filter_w, stride, pad)
    col = _empty_on_huge_pages((N * OH * OW, C * filter_h * filter_w), x.dtype)
    nthreads = _threads(N, col.size)
    work = np.empty((nthreads, C * (H + 2 * pad) * (W + 2 * pad)), dtype=x.dtype)
    _im2col_impl(x, col, work, filter_h, filter_w, stride, pad, OH, OW, nthreads)
    return col


def col2im(col, input_shape, filter_h, filter_w, stride=1, pad=0):
    """col (N*OH*OW, C*FH*FW) -> image (N, C, H, W), as ``numpy_kernels.col2im``."""
    N, C, H, W, OH, OW = _geometry("col2im", input_shape, filter_h, filter_w, stride, pad)
    if col.ndim != 2 or col.shape[0] != N * OH * OW or col.shape[1] != C * filter_h * filter_w:
        raise ValueError(f"col2im: col must have shape {(N * OH * OW, C * filter_h * filter_w)}, "
                         f"got {col.shape}")
    img = np.empty((N, C, H, W), dtype=col.dtype)
    _col2im_impl(col, img, filter_h, filter_w, stride, pad, OH, OW, _threads(N, col.size))
    return img
