"""Compiled softmax with cross-entropy: twins of ``numpy_kernels.softmax_cross_entropy_*``.

The NumPy reference makes a temporary array per step (max, x - max, exp,
sum, divide, log); here each row is done in one pass over its K scores:

    m = max_k x[k];   e[k] = exp(x[k] - m);   s = sum_k e[k];   y[k] = e[k] / s
    loss_row = -log(y[label] + 1e-7)

and the mean over the batch is the loss (1e-7 inside the log as in the book).
Large batches are split over threads by rows.

Targets come in two forms, as in the book:

* (N,) int64 labels;
* (N, K) float targets (one-hot or soft, same dtype as the scores): the
  forward pass reduces them to labels with argmax (first maximum wins, as
  np.argmax), the backward pass uses them as they are.

Arguments arrive validated by ``fastnn.kernels`` (2-D scores with N >= 1,
labels in [0, K), C-contiguous, one float dtype).
The GIL is released while the loops run.
"""
import numpy as np

from cython cimport floating
from cython.parallel cimport prange
from libc.math cimport exp, expf, log, logf
from libc.stdint cimport int64_t

from fastnn import _backend

include "_openmp.pxi"

# Below this many scores a call is too small to be worth threads.
PARALLEL_MIN_WORK = 1 << 15


# 0-size placeholders for arguments a call does not use
_NO_LABELS = np.zeros(0, dtype=np.int64)
_EMPTY_F64 = np.zeros(0, dtype=np.float64)
_EMPTY_2D_F64 = np.zeros((0, 0), dtype=np.float64)
_EMPTY_2D_F32 = np.zeros((0, 0), dtype=np.float32)


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


cdef void _softmax_row(const floating* x, floating* y, Py_ssize_t K) noexcept nogil:
    """y = softmax(x) for one row of K scores (the max is subtracted first)."""
    cdef Py_ssize_t k
    cdef floating m = x[0], s = 0
    for k in range(1, K):
        if x[k] > m or x[k] != x[k]:   # np.max propagates NaN
            m = x[k]
    for k in range(K):
        y[k] = _exp(x[k] - m)
        s += y[k]
    for k in range(K):
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


cdef double _forward(
    const floating[:, ::1] x, const int64_t[::1] labels, const floating[:, ::1] t,
    bint use_labels, floating[:, ::1] y, double[::1] row_loss, int threads,
) noexcept:
    """Fill y with the softmax rows; return the summed cross-entropy of the rows.

    With several threads the rows are shared out and each row's loss goes to
    row_loss (N values); the sum is then taken in row order as on one thread,
    so the loss does not depend on the thread count.
    """
    cdef Py_ssize_t N = x.shape[0], K = x.shape[1], i
    cdef double total = 0
    with nogil:
        if threads <= 1:
            for i in range(N):
                _softmax_row(&x[i, 0], &y[i, 0], K)
                total += -_log(y[i, _label(labels, t, use_labels, i)] + <floating>1e-7)
            return total
        for i in prange(N, num_threads=threads, schedule="static"):
            _softmax_row(&x[i, 0], &y[i, 0], K)
            row_loss[i] = -_log(y[i, _label(labels, t, use_labels, i)] + <floating>1e-7)
        for i in range(N):
            total += row_loss[i]
        return total


cdef void _backward_labels(
    const floating[:, ::1] y, const int64_t[::1] labels, floating scale, floating[:, ::1] dx,
) noexcept:
    """dx = (y - onehot(labels)) * scale."""
    cdef Py_ssize_t N = y.shape[0], K = y.shape[1], i, k
    cdef floating v
    with nogil:
        for i in range(N):
            for k in range(K):
                v = y[i, k]
                if k == labels[i]:
                    v = v - 1
                dx[i, k] = v * scale


cdef void _backward_targets(
    const floating[:, ::1] y, const floating[:, ::1] t, floating scale, floating[:, ::1] dx,
) noexcept:
    """dx = (y - t) * scale."""
    cdef Py_ssize_t N = y.shape[0], K = y.shape[1], i, k
    with nogil:
        for i in range(N):
            for k in range(K):
                dx[i, k] = (y[i, k] - t[i, k]) * scale


def softmax_cross_entropy_forward(x, t):
    """x (N, K) scores, t (N,) int64 labels or (N, K) targets -> (mean loss, y (N, K))."""
    N, K = x.shape
    y = np.empty_like(x)
    threads = _backend.threads_for(N * K, PARALLEL_MIN_WORK)
    row_loss = np.empty(N, dtype=np.float64) if threads > 1 else _EMPTY_F64
    use_labels = t.ndim == 1
    # The unused one of (labels, targets) gets a 0-size placeholder.
    labels = t if use_labels else _NO_LABELS
    cdef double total
    if x.dtype == np.float64:
        targets = _EMPTY_2D_F64 if use_labels else t
        total = _forward[double](x, labels, targets, use_labels, y, row_loss, threads)
    else:
        targets = _EMPTY_2D_F32 if use_labels else t
        total = _forward[float](x, labels, targets, use_labels, y, row_loss, threads)
    return total / N, y


def softmax_cross_entropy_backward(y, t, dout=1.0):
    """dx (N, K) = dout * (y - t) / N, with t labels (one-hot implied) or targets."""
    # The scale is rounded to y's dtype first, as NumPy does for ``array * python float``.
    scale = float(dout) / y.shape[0]
    dx = np.empty_like(y)
    if y.dtype == np.float64:
        if t.ndim == 1:
            _backward_labels[double](y, t, scale, dx)
        else:
            _backward_targets[double](y, t, scale, dx)
    else:
        if t.ndim == 1:
            _backward_labels[float](y, t, scale, dx)
        else:
            _backward_targets[float](y, t, scale, dx)
    return dx
