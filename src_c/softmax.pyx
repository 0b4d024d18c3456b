"""Compiled softmax, alone and with cross-entropy: twins of ``numpy_kernels.softmax``
and ``numpy_kernels.softmax_cross_entropy_*``.

The NumPy reference makes a temporary array of the whole batch per step
(max, x - max, exp, sum, divide, log); here the rows go in blocks that stay
in the L1 cache (up to 64 rows, about 2048 scores), each row computing

    m = max_k x[k];   e[k] = exp(x[k] - m);   s = sum_k e[k];   y[k] = e[k] / s
    loss_row = -log(y[label] + 1e-7)

and the mean over the batch is the loss (1e-7 inside the log as in the book).
Large batches are split over threads by blocks.

exp is the vectorisable polynomial of softmax_exp.h (within 1 ulp of libm's)
for x[k] - m >= -708 (float32: -87), and libm's exp below that, where the
result is subnormal or 0. A row with a NaN or +inf score comes out all NaN,
as in NumPy.

Targets come in two forms, as in the book:

* (N,) int64 labels;
* (N, K) float targets (one-hot or soft, same dtype as the scores): the
  forward pass reduces them to labels with argmax (first maximum wins, as
  np.argmax), the backward pass uses them as they are.

Arguments arrive validated by ``fastnn.kernels`` (2-D scores with N >= 1,
C-contiguous, one float dtype), except the range of the labels: that is
checked here, in one pass over the N labels before any row is computed
(cheaper than t.min() and t.max() in the caller). A label outside [0, K)
raises ValueError; ``fastnn.kernels`` turns it into the message of the NumPy
path.
The GIL is released while the loops run.
"""
import numpy as np

from cython cimport floating
from cython.parallel cimport prange
from libc.math cimport exp, expf, log, logf
from libc.stdint cimport int64_t

from fastnn import _backend

include "_openmp.pxi"

cdef extern from "softmax_exp.h" nogil:
    void fastnn_exp_inplace_f64(double* y, Py_ssize_t n)
    void fastnn_exp_inplace_f32(float* y, Py_ssize_t n)
    double FASTNN_EXP_MIN_F64
    float FASTNN_EXP_MIN_F32

# Below this many scores a call is too small to be worth threads.
PARALLEL_MIN_WORK = 1 << 15


cdef inline void _fast_exp_inplace(floating* y, Py_ssize_t n) noexcept nogil:
    """y = exp(y) for n values in [FASTNN_EXP_MIN_*, 0] (or NaN), vectorised."""
    if floating is double:
        fastnn_exp_inplace_f64(y, n)
    else:
        fastnn_exp_inplace_f32(y, n)


cdef inline bint _below_fast_exp(floating v) noexcept nogil:
    """True where _fast_exp_inplace does not hold: exp(v) is subnormal or 0."""
    if floating is double:
        return v < FASTNN_EXP_MIN_F64
    else:
        return v < FASTNN_EXP_MIN_F32


cdef inline floating _exp(floating v) noexcept nogil:
    if floating is double:
        return exp(v)
    else:
        return expf(v)


cdef inline floating _log(floating v) noexcept nogil:
    if floating is double:
        return log(v)
    else:
        return logf(v)


# The forward pass works on blocks of rows: up to BLOCK_ROWS rows and about
# BLOCK_SCORES scores, small enough to stay in the L1 cache.
cdef enum:
    BLOCK_ROWS = 64
    BLOCK_SCORES = 2048


cdef inline floating _row_max(const floating* x, Py_ssize_t K) noexcept nogil:
    """max of K scores, NaNs skipped (unless x[0] is NaN).

    np.max would give NaN for a row with a NaN; the softmax row is all NaN
    either way (the NaN score makes the row's sum NaN), and without the NaN
    test the comparison compiles to one max instruction per score.
    """
    cdef Py_ssize_t k
    cdef floating m = x[0]
    for k in range(1, K):
        m = x[k] if x[k] > m else m
    return m


cdef void _softmax_block(const floating* x, floating* y, Py_ssize_t rows, Py_ssize_t K) noexcept nogil:
    """y = softmax of ``rows`` (<= BLOCK_ROWS) consecutive rows of K scores.

    Three passes over the whole block rather than three per row: the middle
    one, exp of every score, is then one long loop that GCC vectorises and
    the CPU pipelines (per row, the chain max -> exp -> sum of a short row
    leaves it waiting on latencies).
    """
    cdef floating maxes[BLOCK_ROWS]
    cdef floating s, d
    cdef Py_ssize_t i, k, n = rows * K
    # 1. y = x - (the max of its row)
    for i in range(rows):
        maxes[i] = _row_max(x + i * K, K)
        for k in range(K):
            y[i * K + k] = x[i * K + k] - maxes[i]
    # 2. exp, without a branch
    _fast_exp_inplace(y, n)
    # 3. per row: libm's exp where the fast one does not hold, the sum (in
    #    order, like NumPy's sum of a short row) and the division
    for i in range(rows):
        s = 0
        for k in range(i * K, i * K + K):
            d = x[k] - maxes[i]
            if _below_fast_exp(d):   # rare: a score far below its row's max, or -inf
                y[k] = _exp(d)
            s += y[k]
        for k in range(i * K, i * K + K):
            y[k] = y[k] / s


cdef Py_ssize_t _argmax_row(const floating* t, Py_ssize_t K) noexcept nogil:
    """np.argmax of one row: the first maximum, a NaN counting as the maximum."""
    cdef Py_ssize_t k, best = 0
    for k in range(1, K):
        if t[best] != t[best]:
            break
        if t[k] > t[best] or t[k] != t[k]:
            best = k
    return best


cdef inline Py_ssize_t _label(
    const int64_t[::1] labels, const floating[:, ::1] t, bint use_labels, Py_ssize_t i,
) noexcept nogil:
    """The class of row i: labels[i], or argmax of the target row t[i]."""
    if use_labels:
        return labels[i]
    return _argmax_row(&t[i, 0], t.shape[1])


cdef int _check_labels(const int64_t[::1] labels, Py_ssize_t K) except -1:
    """Raise ValueError at the first label outside [0, K) (one pass, no temporaries)."""
    cdef Py_ssize_t i
    for i in range(labels.shape[0]):
        if labels[i] < 0 or labels[i] >= K:
            raise ValueError(f"label {labels[i]} of row {i} is outside [0, {K})")
    return 0


cdef void _forward_block(
    const floating[:, ::1] x, const int64_t[::1] labels, const floating[:, ::1] t,
    bint use_labels, floating[:, ::1] y, Py_ssize_t i0, Py_ssize_t i1, double* loss,
) noexcept nogil:
    """Rows i0 <= i < i1 (at most BLOCK_ROWS): y[i] = softmax(x[i]), loss[i - i0] = their cross-entropy."""
    cdef Py_ssize_t i
    _softmax_block(&x[i0, 0], &y[i0, 0], i1 - i0, x.shape[1])
    for i in range(i0, i1):
        loss[i - i0] = -_log(y[i, _label(labels, t, use_labels, i)] + <floating>1e-7)


cdef double _forward(
    const floating[:, ::1] x, const int64_t[::1] labels, const floating[:, ::1] t,
    bint use_labels, floating[:, ::1] y, int threads,
):
    """Fill y with the softmax rows; return the summed cross-entropy of the rows.

    The rows go in blocks (see _softmax_block). With several threads the
    blocks are shared out and each row's loss goes to row_loss (N values);
    the sum is then taken in row order as on one thread, so the loss does not
    depend on the thread count.
    """
    cdef Py_ssize_t N = x.shape[0], K = x.shape[1], b, i, i0, i1
    cdef Py_ssize_t rows = max(1, min(<Py_ssize_t>BLOCK_ROWS, BLOCK_SCORES // K))
    cdef Py_ssize_t blocks = (N + rows - 1) // rows
    cdef double block_loss[BLOCK_ROWS]
    cdef double[::1] row_loss
    cdef double total = 0
    if threads <= 1:
        with nogil:
            for b in range(blocks):
                i0 = b * rows
                i1 = min(N, i0 + rows)
                _forward_block(x, labels, t, use_labels, y, i0, i1, block_loss)
                for i in range(i1 - i0):
                    total += block_loss[i]
        return total
    row_loss = np.empty(N)
    with nogil:
        for b in prange(blocks, num_threads=threads, schedule="static"):
            i0 = b * rows
            i1 = min(N, i0 + rows)
            _forward_block(x, labels, t, use_labels, y, i0, i1, &row_loss[i0])
        for i in range(N):
            total += row_loss[i]
    return total


cdef void _backward_labels(
    const floating[:, ::1] y, const int64_t[::1] labels, floating scale, floating[:, ::1] dx,
) noexcept:
    """dx = (y - onehot(labels)) * scale: all of y scaled, then each row's label entry redone."""
    cdef Py_ssize_t N = y.shape[0], K = y.shape[1], i, k
    cdef const floating* src = &y[0, 0]
    cdef floating* dst = &dx[0, 0]
    with nogil:
        for k in range(N * K):      # one flat loop: GCC vectorises it whatever K is
            dst[k] = src[k] * scale
        for i in range(N):
            dx[i, labels[i]] = (y[i, labels[i]] - 1) * scale


cdef void _backward_targets(
    const floating[:, ::1] y, const floating[:, ::1] t, floating scale, floating[:, ::1] dx,
) noexcept:
    """dx = (y - t) * scale."""
    cdef Py_ssize_t n = y.shape[0] * y.shape[1], k
    cdef const floating* ys = &y[0, 0]
    cdef const floating* ts = &t[0, 0]
    cdef floating* dst = &dx[0, 0]
    with nogil:
        for k in range(n):
            dst[k] = (ys[k] - ts[k]) * scale


cdef void _softmax_rows(const floating[:, ::1] x, floating[:, ::1] y, int threads) noexcept:
    """y = softmax of every row of x, in blocks of rows (shared out over threads)."""
    cdef Py_ssize_t N = x.shape[0], K = x.shape[1], b, i0
    cdef Py_ssize_t rows = max(1, min(<Py_ssize_t>BLOCK_ROWS, BLOCK_SCORES // K))
    cdef Py_ssize_t blocks = (N + rows - 1) // rows
    with nogil:
        if threads <= 1:
            for b in range(blocks):
                i0 = b * rows
                _softmax_block(&x[i0, 0], &y[i0, 0], min(rows, N - i0), K)
        else:
            for b in prange(blocks, num_threads=threads, schedule="static"):
                i0 = b * rows
                _softmax_block(&x[i0, 0], &y[i0, 0], min(rows, N - i0), K)


def softmax(x):
    """x (N, K) scores -> y (N, K), each row softmax(x[i]) (twin of ``numpy_kernels.softmax``)."""
    cdef Py_ssize_t N = x.shape[0], K = x.shape[1]
    if N == 0 or K == 0:   # fastnn.kernels refuses these
        raise ValueError(f"softmax: scores of shape {x.shape}, expected N >= 1 and K >= 1")
    y = np.empty_like(x)
    cdef int threads = _backend.threads_for(N * K, PARALLEL_MIN_WORK)
    if x.dtype == np.float64:
        _softmax_rows[double](x, y, threads)
    else:
        _softmax_rows[float](x, y, threads)
    return y


def softmax_cross_entropy_forward(x, t):
    """x (N, K) scores, t (N,) int64 labels or (N, K) targets -> (mean loss, y (N, K))."""
    cdef Py_ssize_t N = x.shape[0], K = x.shape[1]
    if N == 0 or K == 0:   # fastnn.kernels refuses these; the kernel itself must not divide by K = 0
        raise ValueError(f"softmax_cross_entropy_forward: scores of shape {x.shape}, expected N >= 1 and K >= 1")
    cdef bint use_labels = t.ndim == 1
    # The unused one of (labels, targets) is passed as None (an empty memoryview).
    cdef const int64_t[::1] labels = t if use_labels else None
    if use_labels:
        _check_labels(labels, K)
    targets = None if use_labels else t
    cdef int threads = _backend.threads_for(N * K, PARALLEL_MIN_WORK)
    y = np.empty_like(x)
    cdef double total
    if x.dtype == np.float64:
        total = _forward[double](x, labels, targets, use_labels, y, threads)
    else:
        total = _forward[float](x, labels, targets, use_labels, y, threads)
    return total / N, y


def softmax_cross_entropy_backward(y, t, dout=1.0):
    """dx (N, K) = dout * (y - t) / N, with t labels (one-hot implied) or targets."""
    cdef const int64_t[::1] labels
    if y.shape[0] == 0 or y.shape[1] == 0:
        raise ValueError(f"softmax_cross_entropy_backward: y of shape {y.shape}, expected N >= 1 and K >= 1")
    # The scale is rounded to y's dtype first, as NumPy does for ``array * python float``.
    cdef double scale = float(dout) / y.shape[0]
    dx = np.empty_like(y)
    cdef bint f64 = y.dtype == np.float64
    if t.ndim == 1:
        labels = t
        _check_labels(labels, y.shape[1])
        if f64:
            _backward_labels[double](y, labels, scale, dx)
        else:
            _backward_labels[float](y, labels, scale, dx)
    elif f64:
        _backward_targets[double](y, t, scale, dx)
    else:
        _backward_targets[float](y, t, scale, dx)
    return dx
