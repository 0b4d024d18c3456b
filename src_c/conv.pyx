"""Compiled convolution: the twins of ``numpy_kernels.conv_forward/backward``.

The NumPy version builds the im2col matrix of the whole batch (N*OH*OW rows
of C*FH*FW values: 90 MB for a batch of 100 16-channel 28x28 images) and
then reorders the product into NCHW. Here each image is handled on its own,
in chunks of output rows small enough for the core's cache:

    colT  (K, P)   = the image's patches, one row per filter tap   (K = C*FH*FW)
    out[n] (FN, P) = W (FN, K) @ colT + b                            (P = OH*OW)

so the matrix product (BLAS gemm) writes straight into the NCHW output.
colT is copied from a zero-framed copy of the image (no bounds tests in the
copy loops). The backward pass rebuilds colT chunk by chunk (cheaper than
storing it):

    dW    += dout[n] (FN, P) @ colT^T        partial sums over fixed blocks of
    db    += row sums of dout[n]             images, added in block order
    dcolT  = W^T (K, FN) @ dout[n]           then folded into dx[n] (col2im)

Threads: OpenMP threads take whole images (``fastnn.get_num_threads()``),
dynamically scheduled, each calling BLAS on its own thread (BLAS is kept to
one thread while the kernel runs, see ``fastnn._blas``), so the two never
oversubscribe the cores. dW and db do not depend on the scheduling, nor on
the thread count up to BLOCKS/2 = 8 threads. A batch smaller than the thread count
uses one thread per image; small problems run on one thread.
"""
include "_openmp.pxi"
include "im2col_core.pxi"
include "blas_gemm.pxi"
include "relu_rule.pxi"

import numpy as np

from cython.parallel cimport parallel, prange, threadid

from fastnn import _buffers
from fastnn._backend import get_num_threads
from fastnn._blas import one_blas_thread

#: Upper bound on one thread's colT chunk, in bytes. The chunk is filled,
#: multiplied and (backward) folded back while it is still in the core's
#: cache (1 MB of L2 per core here). Each chunk is one BLAS call, which packs
#: its colT operand; larger chunks spread the call's fixed costs. Measured
#: with bench/_conv_timing.py --explore and, as CPU time of one thread, over
#: DeepConvNet's six layers forward and backward (float32 / float64 ms):
#: 128 kB 160 / 265, 1 MB 147 / 230. The per-tap products that stride-1
#: layers with 8+ channels used before took 164-174 / 246-250.
WORKSPACE_BYTES = 1024 * 1024

#: Below this many multiply-adds per thread, a product runs on fewer threads.
MIN_MADDS_PER_THREAD = 2_000_000

#: Fixed blocks of images whose dW partial sums are formed separately in the
#: backward pass (more for more threads). Blocks are scheduled dynamically; with
#: 2 threads, 8 blocks left one thread idle for up to 1/8 of a layer at its end
#: (DeepConvNet float32 step, medians of 12 alternating rounds: 8 blocks 52.8 ms,
#: 16 blocks 51.2 ms, 32 blocks 54.6 ms).
BLOCKS = 16

#: Upper bound on the memory of the per-block partial sums of dW.
PARTIALS_BYTES = 64 * 1024 * 1024

_INT_MAX = 2 ** 31 - 1   # BLAS takes 32-bit int sizes

# the relu_out argument of a backward pass without ReLU (never read)
_NO_RELU_OUT = {np.dtype(t).char: np.zeros((0, 0, 0, 0), dtype=t) for t in (np.float32, np.float64)}


# --------------------------------------------------------------------------
# One image
# --------------------------------------------------------------------------
cdef void _forward_image(const real* img, const real* Wm, const real* b, real* out,
                         real* colT, real* xpad, Py_ssize_t C, Py_ssize_t H, Py_ssize_t W,
                         Py_ssize_t FN, Py_ssize_t FH, Py_ssize_t FW,
                         Py_ssize_t stride, Py_ssize_t pad, Py_ssize_t OH, Py_ssize_t OW,
                         Py_ssize_t rows, bint relu) noexcept nogil:
    """out (FN, OH*OW) = W (FN, K) @ colT (K, OH*OW) + b, `rows` output rows at a time,
    then max(out, 0) if relu (on each chunk while it is still in cache).

    xpad receives the padded image when pad > 0.
    """
    cdef Py_ssize_t K = C * FH * FW, P = OH * OW
    cdef Py_ssize_t oy0 = 0, oy1, p0, Pc, f, p
    cdef const real* src = _padded(img, C, H, W, pad, xpad)
    while oy0 < OH:
        oy1 = oy0 + rows if oy0 + rows < OH else OH
        p0 = oy0 * OW
        Pc = (oy1 - oy0) * OW
        padded_to_colT(src, C, H + 2 * pad, W + 2 * pad, FH, FW, stride, OW, oy0, oy1, colT)
        for f in range(FN):                  # the bias, then gemm adds W @ colT (beta = 1)
            for p in range(p0, p0 + Pc):
                out[f * P + p] = b[f]
        matmul_rm(c'N', c'N', <int>FN, <int>Pc, <int>K, 1, Wm, <int>K, colT, <int>Pc,
                  1, out + p0, <int>P)
        if relu:
            for f in range(FN):
                for p in range(p0, p0 + Pc):
                    out[f * P + p] = relu_value(out[f * P + p])
        oy0 = oy1


cdef inline real _sum(const real* a, Py_ssize_t n) noexcept nogil:
    """a[0] + ... + a[n-1] with 4 running sums, so the adds overlap in the CPU's pipeline."""
    cdef real s0 = 0, s1 = 0, s2 = 0, s3 = 0
    cdef Py_ssize_t i = 0
    while i + 4 <= n:
        s0 += a[i]
        s1 += a[i + 1]
        s2 += a[i + 2]
        s3 += a[i + 3]
        i += 4
    while i < n:
        s0 += a[i]
        i += 1
    return (s0 + s1) + (s2 + s3)


cdef inline const real* _padded(const real* img, Py_ssize_t C, Py_ssize_t H, Py_ssize_t W,
                                Py_ssize_t pad, real* xpad) noexcept nogil:
    """The image with its zero frame: written to xpad if pad > 0, else img itself."""
    if pad == 0:
        return img
    pad_image(img, C, H, W, pad, xpad)
    return xpad


cdef const real* _relu_masked(const real* dout, const real* relu_out, real* masked,
                             Py_ssize_t n, bint relu) noexcept nogil:
    """dout if not relu, else masked = dout where relu_out > 0, 0 elsewhere (n values):
    the gradient through the Relu that followed the convolution, as relu_backward."""
    cdef Py_ssize_t i
    if not relu:
        return dout
    for i in range(n):
        masked[i] = relu_grad(dout[i], relu_out[i])
    return masked


cdef void _backward_image(const real* img, const real* Wm, const real* dout, real* dx,
                          real* dWT, real* db, real* colT, real* xpad, real* dxpad,
                          Py_ssize_t C, Py_ssize_t H, Py_ssize_t W,
                          Py_ssize_t FN, Py_ssize_t FH, Py_ssize_t FW,
                          Py_ssize_t stride, Py_ssize_t pad, Py_ssize_t OH, Py_ssize_t OW,
                          Py_ssize_t rows, bint need_dx) noexcept nogil:
    """dx = fold(W^T @ dout) of one image (if need_dx); dW^T (K, FN) and db (FN,) are accumulated.

    xpad and dxpad receive the padded image and its padded gradient when pad > 0.
    """
    cdef Py_ssize_t K = C * FH * FW, P = OH * OW, Hp = H + 2 * pad, Wp = W + 2 * pad
    cdef Py_ssize_t oy0 = 0, oy1, p0, Pc, f
    cdef const real* src = _padded(img, C, H, W, pad, xpad)
    cdef real* grad = dxpad if pad > 0 else dx     # the fold adds into the padded gradient
    for f in range(FN):
        db[f] += _sum(dout + f * P, P)
    if need_dx:
        memset(grad, 0, C * Hp * Wp * sizeof(real))
    while oy0 < OH:
        oy1 = oy0 + rows if oy0 + rows < OH else OH
        p0 = oy0 * OW
        Pc = (oy1 - oy0) * OW
        padded_to_colT(src, C, Hp, Wp, FH, FW, stride, OW, oy0, oy1, colT)
        # dW^T (K, FN) += colT (K, Pc) @ dout[:, chunk]^T (Pc, FN); accumulating the
        # transpose lets BLAS read colT, the large operand, without transposing it
        matmul_rm(c'N', c'T', <int>K, <int>FN, <int>Pc, 1, colT, <int>Pc, dout + p0, <int>P,
                  1, dWT, <int>FN)
        if need_dx:
            # colT is no longer needed: reuse it for dcolT (K, Pc) = W^T (K, FN) @ dout[:, chunk]
            matmul_rm(c'T', c'N', <int>K, <int>Pc, <int>FN, 1, Wm, <int>K, dout + p0, <int>P,
                      0, colT, <int>Pc)
            colT_add_to_padded(colT, C, Hp, Wp, FH, FW, stride, OW, oy0, oy1, grad)
        oy0 = oy1
    if need_dx and pad > 0:
        crop_image(dxpad, C, H, W, pad, dx)


# --------------------------------------------------------------------------
# The batch, in parallel over images
# --------------------------------------------------------------------------
def _forward_batch(const real[:, :, :, ::1] x, const real[:, :, :, ::1] Wt, const real[::1] b,
                   real[:, :, :, ::1] out, real[:, ::1] work,
                   Py_ssize_t stride, Py_ssize_t pad, Py_ssize_t rows, bint relu, int nthreads):
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], H = x.shape[2], W = x.shape[3]
    cdef Py_ssize_t FN = Wt.shape[0], FH = Wt.shape[2], FW = Wt.shape[3]
    cdef Py_ssize_t OH = out.shape[2], OW = out.shape[3]
    cdef Py_ssize_t n
    cdef real* colT = NULL
    with nogil, parallel(num_threads=nthreads):
        colT = &work[threadid(), 0]          # a colT chunk, then room for the padded image
        for n in prange(N, schedule="dynamic"):
            _forward_image(&x[n, 0, 0, 0], &Wt[0, 0, 0, 0], &b[0], &out[n, 0, 0, 0],
                           colT, colT + C * FH * FW * rows * OW,
                           C, H, W, FN, FH, FW, stride, pad, OH, OW, rows, relu)


def _backward_batch(const real[:, :, :, ::1] dout, const real[:, :, :, ::1] relu_out,
                    const real[:, :, :, ::1] x, const real[:, :, :, ::1] Wt, real[:, :, :, ::1] dx,
                    real[:, ::1] dW_parts, real[:, ::1] db_parts, real[:, ::1] work,
                    Py_ssize_t stride, Py_ssize_t pad, Py_ssize_t rows, bint relu, bint need_dx,
                    int nthreads):
    """dx of every image (if need_dx); dW_parts[j] (dW^T, (K, FN)) and db_parts[j]:
    sums over the j-th block of images.

    The images are cut into len(dW_parts) fixed blocks that threads take in
    any order (dynamic schedule): each block's sum is formed in image order,
    so the totals do not depend on which thread ran which block.
    With relu, dout is first masked by relu_out > 0 (see _relu_masked).
    """
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], H = x.shape[2], W = x.shape[3]
    cdef Py_ssize_t FN = Wt.shape[0], FH = Wt.shape[2], FW = Wt.shape[3]
    cdef Py_ssize_t OH = dout.shape[2], OW = dout.shape[3]
    cdef Py_ssize_t blocks = dW_parts.shape[0]
    # values of one padded image (none without padding: see _work_size)
    cdef Py_ssize_t pads = C * (H + 2 * pad) * (W + 2 * pad) if pad > 0 else 0
    cdef Py_ssize_t j, n
    cdef real* colT = NULL
    cdef const real* d = NULL
    with nogil, parallel(num_threads=nthreads):
        # a colT chunk, the padded image, its gradient, the masked dout
        colT = &work[threadid(), 0]
        for j in prange(blocks, schedule="dynamic"):
            for n in range(j * N // blocks, (j + 1) * N // blocks):
                d = _relu_masked(&dout[n, 0, 0, 0], &relu_out[n, 0, 0, 0] if relu else NULL,
                                 colT + C * FH * FW * rows * OW + 2 * pads, FN * OH * OW, relu)
                _backward_image(&x[n, 0, 0, 0], &Wt[0, 0, 0, 0], d,
                                &dx[n, 0, 0, 0] if need_dx else NULL, &dW_parts[j, 0], &db_parts[j, 0],
                                colT, colT + C * FH * FW * rows * OW,
                                colT + C * FH * FW * rows * OW + pads,
                                C, H, W, FN, FH, FW, stride, pad, OH, OW, rows, need_dx)


# --------------------------------------------------------------------------
# Python entry points
# --------------------------------------------------------------------------
def _plan(where, x, Wt, stride, pad):
    """Check what the loops rely on; return (N, C, H, W, FN, FH, FW, OH, OW, rows, threads)."""
    if x.ndim != 4 or Wt.ndim != 4:
        raise ValueError(f"{where}: x and W must be 4-D, got shapes {x.shape} and {Wt.shape}")
    N, C, H, W = x.shape
    FN, WC, FH, FW = Wt.shape
    stride, pad = int(stride), int(pad)
    if WC != C:
        raise ValueError(f"{where}: input has {C} channels but W {Wt.shape} expects {WC}")
    if min(N, C, H, W, FN, FH, FW) < 1 or stride < 1 or pad < 0:
        raise ValueError(f"{where}: bad geometry: x {x.shape}, W {Wt.shape}, stride {stride}, pad {pad}")
    if FH > H + 2 * pad or FW > W + 2 * pad:
        raise ValueError(f"{where}: filter {FH}x{FW} is larger than the padded input "
                         f"{H + 2 * pad}x{W + 2 * pad}")
    OH = (H + 2 * pad - FH) // stride + 1
    OW = (W + 2 * pad - FW) // stride + 1
    K = C * FH * FW
    if max(K, OH * OW, FN) > _INT_MAX:
        raise ValueError(f"{where}: matrices too large for BLAS (K={K}, OH*OW={OH * OW})")
    rows = max(1, min(OH, WORKSPACE_BYTES // (K * OW * x.itemsize)))
    return N, C, H, W, FN, FH, FW, OH, OW, rows


def _work_size(C, H, W, FH, FW, pad, rows, OW, padded_images):
    """Values of one thread's workspace: a colT chunk, then (if pad) room for
    `padded_images` padded images (the input; in the backward pass its gradient too)."""
    return C * FH * FW * rows * OW + (padded_images * C * (H + 2 * pad) * (W + 2 * pad) if pad else 0)


def _threads(N, madds):
    """OpenMP threads over the N images for `madds` multiply-adds in all: at
    most one per image, and one for small problems, where starting threads
    would cost more than it saves."""
    n = max(1, int(get_num_threads()))
    return max(1, min(n, N, int(madds // max(1, MIN_MADDS_PER_THREAD))))


def _dW_blocks(N, omp, dW_bytes):
    """How many fixed blocks of images get their own partial dW.

    BLOCKS blocks (fewer for a smaller batch) for up to BLOCKS/2 threads, so
    that the sums, hence the bits, of dW do not depend on the thread count;
    more with more threads; fewer where the partial copies of a large dW would
    not fit in PARTIALS_BYTES (never fewer than the threads).
    """
    blocks = min(N, max(BLOCKS, 2 * omp), max(1, PARTIALS_BYTES // dW_bytes))
    return max(blocks, min(N, omp))


def conv_forward(x, W, b, stride=1, pad=0, relu=False):
    """x (N,C,H,W), W (FN,C,FH,FW), b (FN,) -> (out (N,FN,OH,OW), None).

    As ``numpy_kernels.conv_forward``; no im2col matrix is kept, hence None.
    relu: return max(out, 0) instead, applied while each part is in cache.
    """
    N, C, H, Wd, FN, FH, FW, OH, OW, rows = _plan("conv_forward", x, W, stride, pad)
    if b.ndim != 1 or b.shape[0] != FN:
        raise ValueError(f"conv_forward: bias must have shape ({FN},), got {b.shape}")
    omp = _threads(N, N * OH * OW * FN * C * FH * FW)
    out = _buffers.empty((N, FN, OH, OW), x.dtype)
    work = _buffers.empty((omp, _work_size(C, H, Wd, FH, FW, pad, rows, OW, 1)), x.dtype)
    with one_blas_thread():
        _forward_batch(x, W, b, out, work, stride, pad, rows, relu, omp)
    return out, None


def conv_backward(dout, x, W, stride=1, pad=0, relu_out=None, need_dx=True):
    """Gradients of conv_forward -> (dx (N,C,H,W), dW (FN,C,FH,FW), db (FN,)).

    relu_out: the output of conv_forward(..., relu=True); dout is then the
    gradient after the ReLU, masked here by relu_out > 0 image by image.
    need_dx=False: no dx (None in its place), and none of its products.
    """
    N, C, H, Wd, FN, FH, FW, OH, OW, rows = _plan("conv_backward", x, W, stride, pad)
    if dout.shape != (N, FN, OH, OW):
        raise ValueError(f"conv_backward: dout must have shape {(N, FN, OH, OW)}, got {dout.shape}")
    K = C * FH * FW
    omp = _threads(N, N * OH * OW * FN * K)
    blocks = _dW_blocks(N, omp, FN * K * x.itemsize)
    need_dx = bool(need_dx)
    dx = _buffers.empty((N, C, H, Wd) if need_dx else (0, 0, 0, 0), x.dtype)
    dW_parts = _buffers.zeros((blocks, FN * K), x.dtype)
    db_parts = np.zeros((blocks, FN), dtype=x.dtype)
    relu = relu_out is not None
    if relu and relu_out.shape != dout.shape:
        raise ValueError(f"conv_backward: relu_out must have shape {dout.shape}, got {relu_out.shape}")
    if not relu:
        relu_out = _NO_RELU_OUT[x.dtype.char]
    masked = FN * OH * OW if relu else 0      # room for one image's masked dout
    work = _buffers.empty((omp, _work_size(C, H, Wd, FH, FW, pad, rows, OW, 2) + masked), x.dtype)
    with one_blas_thread():
        _backward_batch(dout, relu_out, x, W, dx, dW_parts, db_parts, work, stride, pad, rows,
                        relu, need_dx, omp)
    # add the blocks' partial sums in block order (deterministic)
    dW_sum, db = dW_parts[0], db_parts[0]
    for j in range(1, blocks):
        dW_sum += dW_parts[j]
        db += db_parts[j]
    # dW^T (K, FN) -> (FN, K)
    dW = np.ascontiguousarray(dW_sum.reshape(K, FN).T).reshape(FN, C, FH, FW)
    return (dx if need_dx else None), dW, db
