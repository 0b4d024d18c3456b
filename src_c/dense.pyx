"""Compiled affine (fully connected) layer: twins of ``numpy_kernels.affine_*``.

All three products go to BLAS (``scipy.linalg.cython_blas``, through the
row-major ``matmul_rm`` of blas_gemm.pxi):

    forward   out (N, M) = x (N, D) @ W (D, M) + b       (bias first, gemm adds)
    backward  dx  (N, D) = dout (N, M) @ W^T
              dW  (D, M) = x^T @ dout (N, M)
              db  (M,)   = sum of dout over the batch

Threads: large products are cut into blocks, one per OpenMP thread, each
block one single-threaded gemm. Forward: blocks of the columns of out when
it has at least as many columns as rows (a Keras batch of 32-100 through
Dense(512) or Dense(4096)), so each thread packs only its share of W and
x, the smaller operand, is shared; blocks of rows otherwise. With rows,
batch 100 through 784->512 took 1.48 ms against NumPy's 0.69 ms: each of
the two threads packed all of W. When the inner dimension is much longer
than both sides of out (a Dense after Flatten: 100x5408 @ 5408x100), blocks
of it instead: each thread multiplies its share of x's columns by its share
of W's rows, and the partial products are added in thread order.
Backward: half of the threads take rows of dx, the other half rows of dW,
i.e. columns of x. BLAS itself stays on
one thread (``fastnn._blas``): letting OpenBLAS thread these products made
its worker threads spin through the following convolution kernels and
slowed a DeepConvNet step by about 40%.

Inside ``fastnn._blas.threaded_blas()`` (networks made only of dense
products, where no OpenMP kernel follows) the products are left to BLAS
and its own threads instead: one ``np.matmul`` each, as the NumPy twin
computes them.

Arguments arrive validated by ``fastnn.kernels`` (2-D, C-contiguous, one
float dtype, matching shapes). The GIL is released while the loops run.
"""
import numpy as np

from cython.parallel cimport prange

from fastnn import _backend, _buffers
from fastnn._blas import blas_may_thread, one_blas_thread

include "_openmp.pxi"

ctypedef fused real:
    float
    double

include "blas_gemm.pxi"
include "relu_rule.pxi"

cdef extern from "<limits.h>":
    int INT_MAX

#: Below this many multiply-adds a product runs on one thread, with no OpenMP
#: region at all: waking a sleeping thread (fastnn's OpenMP threads wait
#: passively) costs tens of microseconds, as much as such a product takes on
#: one core (8M multiply-adds: about 0.1 ms in float32). At 1M, the book's
#: TwoLayerNet (784-50-10, batch 32 and 100) ran slower compiled than on NumPy
#: (issue 18). Not re-measured on a quiet machine yet: see bench/.
PARALLEL_MIN_MADDS = 8_000_000


#: The forward product is split along the inner dimension D when D is at least
#: this many times the larger of N and M. Measured on 2 cores, A/B in one
#: process (medians of 15, split along D / by rows or columns), float32 and
#: float64: 100x5408 @ 5408x100 (the Keras-style CNN's Dense after Flatten)
#: 1.35 / 1.52 ms and 2.28 / 2.50 ms; 100x4320 @ 4320x100 (SimpleConvNet)
#: 1.00 / 1.06 ms and 1.85 / 1.96 ms; 32x5408 @ 5408x100 0.60 / 0.60 ms and
#: 0.90 / 0.98 ms.
SPLIT_D_RATIO = 8


def _check_blas_size(where, *dims):
    """BLAS takes 32-bit int sizes; refuse larger matrices instead of overflowing."""
    for d in dims:
        if d > INT_MAX:
            raise ValueError(f"{where}: dimension {d} is too large for BLAS (max {INT_MAX})")


cdef inline Py_ssize_t _block_start(Py_ssize_t i, Py_ssize_t blocks, Py_ssize_t n) noexcept nogil:
    """First index of block i when n indices are cut into `blocks` near-equal blocks."""
    return i * n // blocks


cdef void _bias_relu(real[:, ::1] out, const real[::1] b, bint relu) noexcept nogil:
    """out = out + b (each row), then max(., 0) if relu: one pass, in place."""
    cdef Py_ssize_t N = out.shape[0], M = out.shape[1], i, j
    for i in range(N):
        if relu:
            for j in range(M):
                out[i, j] = relu_value(out[i, j] + b[j])
        else:
            for j in range(M):
                out[i, j] = out[i, j] + b[j]


cdef void _relu_in_place(real[:, ::1] out) noexcept nogil:
    cdef Py_ssize_t N = out.shape[0], M = out.shape[1], i, j
    for i in range(N):
        for j in range(M):
            out[i, j] = relu_value(out[i, j])


cdef void _affine_forward(const real[:, ::1] x, const real[:, ::1] W, const real[::1] b,
                          real[:, ::1] out, int threads, bint relu, real[:, :, ::1] partial) noexcept:
    """out = x @ W + b, then max(out, 0) if relu.

    partial: (threads - 1, N, M) scratch when the product is split along D
    (see affine_forward), else unused.
    """
    cdef Py_ssize_t N = x.shape[0], D = x.shape[1], M = W.shape[1]
    cdef Py_ssize_t i, j, blk, r0, r1
    with nogil:
        for i in range(N):               # start from the bias; gemm adds x @ W (beta = 1)
            for j in range(M):
                out[i, j] = b[j]
        if N > 0 and M > 0 and D > 0:
            if threads == 1:             # no OpenMP region: nothing to wake
                matmul_rm(c'N', c'N', <int>N, <int>M, <int>D, 1, &x[0, 0], <int>D,
                          &W[0, 0], <int>M, 1, &out[0, 0], <int>M)
            elif partial.shape[0] == threads - 1:
                # blocks of D: thread 0 adds x[:, r0:r1] @ W[r0:r1] to out, thread
                # blk > 0 writes its share to partial[blk - 1]; each thread packs
                # only its share of both operands. The shares are then added in
                # order, so the sum does not depend on the threads' timing.
                for blk in prange(threads, num_threads=threads, schedule="static"):
                    r0 = _block_start(blk, threads, D)
                    r1 = _block_start(blk + 1, threads, D)
                    if blk == 0:
                        matmul_rm(c'N', c'N', <int>N, <int>M, <int>(r1 - r0), 1, &x[0, r0], <int>D,
                                  &W[r0, 0], <int>M, 1, &out[0, 0], <int>M)
                    else:
                        matmul_rm(c'N', c'N', <int>N, <int>M, <int>(r1 - r0), 1, &x[0, r0], <int>D,
                                  &W[r0, 0], <int>M, 0, &partial[blk - 1, 0, 0], <int>M)
                for blk in range(threads - 1):
                    for i in range(N):
                        for j in range(M):
                            out[i, j] += partial[blk, i, j]
            elif M >= N:                 # blocks of columns: each thread packs its share of W
                for blk in prange(threads, num_threads=threads, schedule="static"):
                    r0 = _block_start(blk, threads, M)
                    r1 = _block_start(blk + 1, threads, M)
                    if r1 > r0:          # out[:, r0:r1] += x @ W[:, r0:r1]
                        matmul_rm(c'N', c'N', <int>N, <int>(r1 - r0), <int>D, 1, &x[0, 0], <int>D,
                                  &W[0, r0], <int>M, 1, &out[0, r0], <int>M)
            else:                        # blocks of rows: each thread packs its share of x
                for blk in prange(threads, num_threads=threads, schedule="static"):
                    r0 = _block_start(blk, threads, N)
                    r1 = _block_start(blk + 1, threads, N)
                    if r1 > r0:          # out[r0:r1] += x[r0:r1] @ W
                        matmul_rm(c'N', c'N', <int>(r1 - r0), <int>M, <int>D, 1, &x[r0, 0], <int>D,
                                  &W[0, 0], <int>M, 1, &out[r0, 0], <int>M)
        if relu:
            _relu_in_place(out)


cdef void _affine_backward(const real[:, ::1] dout, const real[:, ::1] x, const real[:, ::1] W,
                           real[:, ::1] dx, real[:, ::1] dW, real[::1] db, int threads,
                           bint need_dx) noexcept:
    """db, dW and (if need_dx) dx of affine_backward."""
    cdef Py_ssize_t N = x.shape[0], D = x.shape[1], M = W.shape[1]
    cdef Py_ssize_t blk
    cdef int dx_threads = (threads + 1) // 2 if need_dx else 0
    with nogil:
        _column_sums(dout, db)
        if N == 0 or M == 0 or D == 0:
            return                       # empty products: dx and dW stay zero
        if threads == 1:
            if need_dx:
                _dx_rows(dout, W, dx, 0, N)
            _dW_rows(x, dout, dW, 0, D)
            return
        # The two products go to different threads (a share of the threads
        # each, cut into row blocks): each thread then streams one operand
        # (W for dx, x for dW) instead of both, which measured faster than
        # cutting both products over all threads (float64 4320x100 layer).
        # Without dx, all threads share dW.
        for blk in prange(threads, num_threads=threads, schedule="static"):
            if blk < dx_threads:         # dx[r0:r1] = dout[r0:r1] @ W^T, rows of the batch
                _dx_rows(dout, W, dx, _block_start(blk, dx_threads, N),
                         _block_start(blk + 1, dx_threads, N))
            else:                        # dW[r0:r1] = x[:, r0:r1]^T @ dout, rows of dW
                _dW_rows(x, dout, dW, _block_start(blk - dx_threads, threads - dx_threads, D),
                         _block_start(blk - dx_threads + 1, threads - dx_threads, D))


cdef void _column_sums(const real[:, ::1] dout, real[::1] db) noexcept nogil:
    """db = sum of dout over the batch, row by row as NumPy's sum(axis=0) does."""
    cdef Py_ssize_t N = dout.shape[0], M = dout.shape[1], i, j
    for j in range(M):
        db[j] = 0
    for i in range(N):
        for j in range(M):
            db[j] += dout[i, j]


cdef inline void _dx_rows(const real[:, ::1] dout, const real[:, ::1] W, real[:, ::1] dx,
                          Py_ssize_t r0, Py_ssize_t r1) noexcept nogil:
    """dx[r0:r1] (rows of the batch) = dout[r0:r1] (r1-r0, M) @ W^T (M, D)."""
    cdef Py_ssize_t D = W.shape[0], M = W.shape[1]
    if r1 > r0:
        matmul_rm(c'N', c'T', <int>(r1 - r0), <int>D, <int>M, 1, &dout[r0, 0], <int>M,
                  &W[0, 0], <int>M, 0, &dx[r0, 0], <int>D)


cdef inline void _dW_rows(const real[:, ::1] x, const real[:, ::1] dout, real[:, ::1] dW,
                          Py_ssize_t r0, Py_ssize_t r1) noexcept nogil:
    """dW[r0:r1] = x[:, r0:r1]^T (r1-r0, N) @ dout (N, M); the columns of x have row stride D."""
    cdef Py_ssize_t N = x.shape[0], D = x.shape[1], M = dout.shape[1]
    if r1 > r0:
        matmul_rm(c'T', c'N', <int>(r1 - r0), <int>M, <int>N, 1, &x[0, r0], <int>D,
                  &dout[0, 0], <int>M, 0, &dW[r0, 0], <int>M)


def affine_forward(x, W, b, relu=False):
    """out = x @ W + b.   x: (N, D), W: (D, M), b: (M,) -> (N, M).

    relu=True: max(out, 0), applied in the same pass as the bias (or right
    after the product, while out is in cache).
    """
    N, D = x.shape
    M = W.shape[1]
    _check_blas_size("Affine.forward", N, D, M)
    if blas_may_thread():                # a dense-only network: BLAS threads the product
        out = np.matmul(x, W)
        if out.dtype == np.float64:
            _bias_relu[double](out, b, relu)
        else:
            _bias_relu[float](out, b, relu)
        return out
    out = _buffers.empty((N, M), x.dtype)
    threads = _backend.threads_for(N * D * M, PARALLEL_MIN_MADDS)
    # A long inner dimension (a Dense after Flatten: 100 x 5408 @ 5408 x 100) is
    # split along D: cut by rows or by columns of out, each thread would pack
    # all of one operand, which here is as large as the other.
    split_d = threads > 1 and D >= SPLIT_D_RATIO * max(N, M)
    partial = np.empty((threads - 1 if split_d else 0, N, M), dtype=x.dtype)
    with one_blas_thread():
        if x.dtype == np.float64:
            _affine_forward[double](x, W, b, out, threads, relu, partial)
        else:
            _affine_forward[float](x, W, b, out, threads, relu, partial)
    return out


def affine_backward(dout, x, W, need_dx=True):
    """dout: (N, M) -> (dx = dout @ W.T (N, D), dW = x.T @ dout (D, M), db (M,)).

    need_dx=False: None in place of dx, which is not computed.
    """
    N, D = x.shape
    M = W.shape[1]
    _check_blas_size("Affine.backward", N, D, M)
    if blas_may_thread():                # a dense-only network: BLAS threads the products
        db = np.empty(M, dtype=x.dtype)
        if x.dtype == np.float64:        # (a compiled loop: np.sum's set-up costs more at batch 32)
            _column_sums[double](dout, db)
        else:
            _column_sums[float](dout, db)
        return (np.matmul(dout, W.T) if need_dx else None), np.matmul(x.T, dout), db
    # the products overwrite dx and dW (beta = 0); an empty product leaves them zero
    fill = _buffers.zeros if N * D * M == 0 else _buffers.empty
    dx = fill((N, D) if need_dx else (0, D), x.dtype)
    dW = fill((D, M), x.dtype)
    db = np.empty(M, dtype=x.dtype)
    threads = _backend.threads_for(N * D * M, PARALLEL_MIN_MADDS)
    with one_blas_thread():
        if x.dtype == np.float64:
            _affine_backward[double](dout, x, W, dx, dW, db, threads, need_dx)
        else:
            _affine_backward[float](dout, x, W, dx, dW, db, threads, need_dx)
    return (dx if need_dx else None), dW, db
