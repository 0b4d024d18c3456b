"""Compiled affine (fully connected) layer: twins of ``numpy_kernels.affine_*``.

All three products go to BLAS (``scipy.linalg.cython_blas``). BLAS is
column-major while our arrays are row-major (C order); a row-major (r, c)
matrix read column-major is its transpose (c, r). So to get the row-major
product C = A @ B we ask BLAS for the column-major product C^T = B^T A^T,
passing B first: no copies, only swapped arguments.

Arguments arrive validated by ``fastnn.kernels`` (2-D, C-contiguous, one
float dtype, matching shapes).
The GIL is released while the bias loop and BLAS run.
"""
import numpy as np

from cython cimport floating
from scipy.linalg.cython_blas cimport dgemm, sgemm

include "_openmp.pxi"

cdef extern from "<limits.h>":
    int INT_MAX


cdef void _gemm(
    char transa, char transb, int m, int n, int k, floating alpha,
    const floating* a, int lda, const floating* b, int ldb,
    floating beta, floating* c, int ldc,
) noexcept nogil:
    """Column-major C = alpha * op(A) op(B) + beta * C, in the dtype of the arrays."""
    if floating is double:
        dgemm(&transa, &transb, &m, &n, &k, &alpha, <double*>a, &lda,
              <double*>b, &ldb, &beta, c, &ldc)
    else:
        sgemm(&transa, &transb, &m, &n, &k, &alpha, <float*>a, &lda,
              <float*>b, &ldb, &beta, c, &ldc)


cdef inline int _ld(Py_ssize_t n) noexcept nogil:
    """A leading dimension: BLAS wants at least 1 even for an empty matrix."""
    return <int>n if n > 1 else 1


def _check_blas_size(where, *dims):
    """BLAS takes 32-bit int sizes; refuse larger matrices instead of overflowing."""
    for d in dims:
        if d > INT_MAX:
            raise ValueError(f"{where}: dimension {d} is too large for BLAS (max {INT_MAX})")


cdef void _affine_forward(
    const floating[:, ::1] x, const floating[:, ::1] W, const floating[::1] b,
    floating[:, ::1] out,
) noexcept:
    cdef Py_ssize_t N = x.shape[0], D = x.shape[1], M = W.shape[1], i, j
    with nogil:
        # Start from the bias in every row, then add x @ W with beta = 1.
        for i in range(N):
            for j in range(M):
                out[i, j] = b[j]
        if N == 0 or M == 0 or D == 0:
            return
        # out^T (M, N) += W^T (M, D) @ x^T (D, N), all column-major views.
        _gemm(c"N", c"N", <int>M, <int>N, <int>D, <floating>1.0,
              &W[0, 0], _ld(M), &x[0, 0], _ld(D), <floating>1.0, &out[0, 0], _ld(M))


cdef void _affine_backward(
    const floating[:, ::1] dout, const floating[:, ::1] x, const floating[:, ::1] W,
    floating[:, ::1] dx, floating[:, ::1] dW, floating[::1] db,
) noexcept:
    cdef Py_ssize_t N = x.shape[0], D = x.shape[1], M = W.shape[1], i, j
    with nogil:
        # db = sum of dout over the batch, row by row as NumPy's sum(axis=0) does.
        for j in range(M):
            db[j] = 0
        for i in range(N):
            for j in range(M):
                db[j] += dout[i, j]
        if N == 0 or M == 0 or D == 0:
            # An empty product: dx and dW stay the zeros they were created as.
            return
        # dx = dout @ W^T  ->  dx^T (D, N) = W (D, M) @ dout^T (M, N).
        _gemm(c"T", c"N", <int>D, <int>N, <int>M, <floating>1.0,
              &W[0, 0], _ld(M), &dout[0, 0], _ld(M), <floating>0.0, &dx[0, 0], _ld(D))
        # dW = x^T @ dout  ->  dW^T (M, D) = dout^T (M, N) @ x (N, D).
        _gemm(c"N", c"T", <int>M, <int>D, <int>N, <floating>1.0,
              &dout[0, 0], _ld(M), &x[0, 0], _ld(D), <floating>0.0, &dW[0, 0], _ld(M))


def affine_forward(x, W, b):
    """out = x @ W + b.   x: (N, D), W: (D, M), b: (M,) -> (N, M)."""
    N, D = x.shape
    M = W.shape[1]
    _check_blas_size("Affine.forward", N, D, M)
    out = np.empty((N, M), dtype=x.dtype)
    if x.dtype == np.float64:
        _affine_forward[double](x, W, b, out)
    else:
        _affine_forward[float](x, W, b, out)
    return out


def affine_backward(dout, x, W):
    """dout: (N, M) -> (dx = dout @ W.T (N, D), dW = x.T @ dout (D, M), db (M,))."""
    N, D = x.shape
    M = W.shape[1]
    _check_blas_size("Affine.backward", N, D, M)
    dx = np.zeros((N, D), dtype=x.dtype)
    dW = np.zeros((D, M), dtype=x.dtype)
    db = np.empty(M, dtype=x.dtype)
    if x.dtype == np.float64:
        _affine_backward[double](dout, x, W, dx, dW, db)
    else:
        _affine_backward[float](dout, x, W, dx, dW, db)
    return dx, dW, db
