"""Compiled BatchNormalization and Dropout: twins of ``kernels/numpy_norm.py``.

BatchNormalization works on the 2-D view (M, C), channel last. The column
statistics are formed per fixed block of rows (float64 running sums, one
row of C sums per block, added in block order afterwards: the same bits
whatever the thread count), then one pass writes the output:

    forward   sums of x; sums of (x - mean)^2; y = x * a + b    (a = gamma*inv_std, b = beta - mean*a)
    backward  sums of d and of d * (x - mean) in one pass;
              dx = d * A + x * B + K (per-column coefficients, see batchnorm_backward)

Dropout: one pass computes each element's draw from its index (SplitMix64
of key + (i+1) * G, as in numpy_norm) and writes x * scale or 0. Nothing
is stored: the backward pass regenerates the mask from the key.

Threads: rows (or elements) are split in contiguous blocks; small arrays
run on one thread with no OpenMP region.
"""
include "_openmp.pxi"

import numpy as np

from cython.parallel cimport prange
from libc.stdint cimport uint64_t

from fastnn import _buffers
from fastnn._backend import get_num_threads

ctypedef fused real:
    float
    double

#: Below this many values a kernel runs on one thread.
PARALLEL_MIN_SIZE = 1 << 16
#: Fixed blocks of rows whose column sums are formed separately.
BLOCKS = 16

cdef uint64_t GOLDEN = 0x9E3779B97F4A7C15ULL


def _threads(n):
    return 1 if n < PARALLEL_MIN_SIZE else max(1, int(get_num_threads()))


# --------------------------------------------------------------------------
# Column sums over fixed blocks of rows
# --------------------------------------------------------------------------
cdef void _block_sums(const real* x, const real* d, const double* shift, double* s1, double* s2,
                      Py_ssize_t r0, Py_ssize_t r1, Py_ssize_t C, int mode) noexcept nogil:
    """mode 0: s1 += x; mode 1: s1 += (x - shift)^2; mode 2: s1 += d, s2 += d * (x - shift)."""
    cdef Py_ssize_t r, c
    cdef double v
    for r in range(r0, r1):
        if mode == 0:
            for c in range(C):
                s1[c] += x[r * C + c]
        elif mode == 1:
            for c in range(C):
                v = x[r * C + c] - shift[c]
                s1[c] += v * v
        else:
            for c in range(C):
                s1[c] += d[r * C + c]
                s2[c] += d[r * C + c] * (x[r * C + c] - shift[c])


def _sums(const real[:, ::1] x, const real[:, ::1] d, const double[::1] shift,
          double[:, ::1] p1, double[:, ::1] p2, int mode, int nthreads):
    cdef Py_ssize_t M = x.shape[0], C = x.shape[1], blocks = p1.shape[0], j
    with nogil:
        if nthreads > 1:
            for j in prange(blocks, num_threads=nthreads, schedule="static"):
                _block_sums(&x[0, 0], &d[0, 0], &shift[0], &p1[j, 0], &p2[j, 0],
                            j * M // blocks, (j + 1) * M // blocks, C, mode)
        else:
            for j in range(blocks):
                _block_sums(&x[0, 0], &d[0, 0], &shift[0], &p1[j, 0], &p2[j, 0],
                            j * M // blocks, (j + 1) * M // blocks, C, mode)


cdef void _rows_lincomb(const real* u, const real* v, const real* S, const real* A, const real* T,
                        const real* B, const real* K, real* out, Py_ssize_t r0, Py_ssize_t r1,
                        Py_ssize_t C, bint use_v) noexcept nogil:
    """out = (u - S) * A + K, plus (v - T) * B if use_v; per-column coefficients."""
    cdef Py_ssize_t r, c
    for r in range(r0, r1):
        if use_v:
            for c in range(C):
                out[r * C + c] = (u[r * C + c] - S[c]) * A[c] + (v[r * C + c] - T[c]) * B[c] + K[c]
        else:
            for c in range(C):
                out[r * C + c] = (u[r * C + c] - S[c]) * A[c] + K[c]


def _lincomb(const real[:, ::1] u, const real[:, ::1] v, const real[::1] S, const real[::1] A,
             const real[::1] T, const real[::1] B, const real[::1] K, real[:, ::1] out,
             bint use_v, int nthreads):
    cdef Py_ssize_t M = u.shape[0], C = u.shape[1], j
    cdef Py_ssize_t blocks = nthreads
    with nogil:
        if nthreads > 1:
            for j in prange(blocks, num_threads=nthreads, schedule="static"):
                _rows_lincomb(&u[0, 0], &v[0, 0], &S[0], &A[0], &T[0], &B[0], &K[0], &out[0, 0],
                              j * M // blocks, (j + 1) * M // blocks, C, use_v)
        else:
            _rows_lincomb(&u[0, 0], &v[0, 0], &S[0], &A[0], &T[0], &B[0], &K[0], &out[0, 0],
                          0, M, C, use_v)


def _column_sums(x, d, shift, mode):
    """(sums1, sums2) over the rows in float64, per fixed block then in block order."""
    M, C = x.shape
    blocks = max(1, min(BLOCKS, M))
    p1 = np.zeros((blocks, C))
    p2 = np.zeros((blocks, C))
    _sums(x, d, shift, p1, p2, mode, _threads(x.size))
    s1, s2 = p1[0].copy(), p2[0].copy()
    for j in range(1, blocks):
        s1 += p1[j]
        if mode == 2:
            s2 += p2[j]
    return s1, s2


def _apply(u, v, S, A, T, B, K, use_v):
    """(u - S) * A + K [+ (v - T) * B], coefficients rounded to u's dtype."""
    coef = lambda c: np.ascontiguousarray(c, dtype=u.dtype)
    out = _buffers.empty(u.shape, u.dtype)
    _lincomb(u, v, coef(S), coef(A), coef(T), coef(B), coef(K), out, use_v, _threads(u.size))
    return out


def batchnorm_forward_train(x, gamma, beta, eps):
    """x (M, C) -> (y, mean, var, inv_std); the statistics in float64."""
    M, C = x.shape
    s, _ = _column_sums(x, x, np.zeros(C), 0)
    mean = s / M
    sq, _ = _column_sums(x, x, mean, 1)
    var = sq / M
    inv_std = 1.0 / np.sqrt(var + eps)
    y = _apply(x, x, mean, gamma * inv_std, mean, gamma, beta, False)
    return y, mean, var, inv_std


def batchnorm_forward_infer(x, gamma, beta, mean, var, eps):
    """x (M, C) -> y = (x - mean) * gamma / sqrt(var + eps) + beta."""
    inv_std = 1.0 / np.sqrt(var + eps)
    return _apply(x, x, mean, gamma * inv_std, mean, gamma, beta, False)


def batchnorm_backward(dout, x, gamma, mean, inv_std, training):
    """-> (dx, dgamma, dbeta). In training dx = d*A + (x - mean)*B + K with
    A = gamma*inv_std, B = -A*inv_std*dgamma/m, K = -A*dbeta/m; else dx = d*A."""
    M, C = x.shape
    dbeta, dxc = _column_sums(x, dout, mean, 2)
    dgamma = dxc * inv_std
    A = gamma * inv_std
    zero = np.zeros(C)
    if training:
        dx = _apply(dout, x, zero, A, mean, -A * inv_std * dgamma / M, -A * dbeta / M, True)
    else:
        dx = _apply(dout, x, zero, A, zero, zero, zero, False)
    return dx, dgamma, dbeta


# --------------------------------------------------------------------------
# Dropout
# --------------------------------------------------------------------------
cdef inline uint64_t _splitmix64(uint64_t z) noexcept nogil:
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL
    return z ^ (z >> 31)


cdef void _dropout_range(const real* x, real* out, uint64_t key, uint64_t threshold, real scale,
                         Py_ssize_t i0, Py_ssize_t i1) noexcept nogil:
    cdef Py_ssize_t i
    cdef uint64_t z
    for i in range(i0, i1):
        z = _splitmix64(key + <uint64_t>(i + 1) * GOLDEN)
        out[i] = x[i] * scale if (z >> 11) >= threshold else 0


def _dropout(const real[::1] x, real[::1] out, uint64_t key, uint64_t threshold, double scale, int nthreads):
    cdef Py_ssize_t n = x.shape[0], j
    cdef real s = <real>scale
    with nogil:
        if nthreads > 1:
            for j in prange(nthreads, num_threads=nthreads, schedule="static"):
                _dropout_range(&x[0], &out[0], key, threshold, s, j * n // nthreads, (j + 1) * n // nthreads)
        elif n > 0:
            _dropout_range(&x[0], &out[0], key, threshold, s, 0, n)


def dropout_apply(x, key, rate, scale):
    """x * scale where element i's draw is kept, else 0 (see numpy_norm.dropout_keep)."""
    import math
    out = _buffers.empty(x.shape, x.dtype)
    if x.size:
        _dropout(x.reshape(-1), out.reshape(-1), int(key) & 0xFFFFFFFFFFFFFFFF,
                 math.ceil(float(rate) * 2.0 ** 53), float(scale), _threads(x.size))
    return out
