"""Compiled channels-last convolution: twins of ``kernels/numpy_conv_nhwc.py``.

The batch x (N, H, W, C) has N*OH*OW output positions; position p's patch
is KH rows of KW*C values, and each of those rows is *contiguous* in NHWC
memory (KW neighbouring pixels, all their channels), so building a patch row
is KH memcpy calls (with zeros where the window hangs over the padding; no
padded copy of the image is made). With the kernel as the matrix
Km (KH*KW*C, F), chunks of positions go straight to BLAS:

    forward   out[p0:p1] (Pc, F)  = cols (Pc, Kd) @ Km + bias     (written in place: NHWC)
    backward  dKm        (Kd, F) += cols^T @ dout[p0:p1]
              dcols      (Pc, Kd) = dout[p0:p1] @ Km^T            then folded into dx
              dbias      (F,)    += column sums of dout[p0:p1]

Threads (OpenMP; BLAS kept on one thread, see ``fastnn._blas``): the forward
pass hands out chunks of positions across the whole batch (so batch 1 uses
every thread too). The backward pass hands out fixed blocks of whole images,
each with its own partial dKm and dbias, added in block order afterwards: a
thread folds only into its own images (no races) and the sums do not depend
on the scheduling. Small problems run on one thread.
"""
include "_openmp.pxi"

ctypedef fused real:
    float
    double

include "blas_gemm.pxi"
include "relu_rule.pxi"

import numpy as np

from cython.parallel cimport parallel, prange, threadid
from libc.string cimport memcpy, memset

from fastnn import _buffers
from fastnn._backend import get_num_threads
from fastnn._blas import one_blas_thread

#: Target bytes of one chunk of patch rows (Pc rows of Kd values).
WORKSPACE_BYTES = 8 * 1024 * 1024
#: Bounds on the rows of a chunk. Each chunk is one BLAS call, which packs
#: the whole kernel matrix Km (Kd, F) again, so a chunk needs a few hundred
#: rows to pay for that: with the 3x3 384-channel layers (Kd = 3456) the
#: forward pass ran at 45% of the GEMM peak with 37-row chunks (512 kB) and
#: at 75-80% with 600-row chunks (8 MB; bench/_conv_timing.py).
MIN_CHUNK_ROWS = 128
MAX_CHUNK_ROWS = 1024
#: Below this many multiply-adds per thread, fewer threads are used.
MIN_MADDS_PER_THREAD = 2_000_000
#: Fixed blocks of images for the backward pass's partial sums.
BLOCKS = 16
#: Upper bound on the memory of the partial sums of dKm.
PARTIALS_BYTES = 64 * 1024 * 1024

_INT_MAX = 2 ** 31 - 1
_NO_RELU_OUT = {np.dtype(t).char: np.zeros((1, 1), dtype=t) for t in (np.float32, np.float64)}


#: Short loops over channels run on chunks of at most this many values held in
#: arrays on the stack (bias sums, pooling windows): the compiler then knows
#: they alias nothing, and vectorizes them without run-time overlap checks.
cdef enum:
    CHANNEL_CHUNK = 64


# --------------------------------------------------------------------------
# Patch rows and their adjoint
# --------------------------------------------------------------------------
cdef struct Geometry:
    Py_ssize_t N, H, W, C, KH, KW, F, SH, SW, top, left, OH, OW


cdef void _patch_rows(const real* x, const Geometry* g, Py_ssize_t p0, Py_ssize_t p1,
                      real* cols) noexcept nogil:
    """cols (p1 - p0, KH*KW*C) = rows p0..p1 of the batch's patch matrix."""
    cdef Py_ssize_t P = g.OH * g.OW, C = g.C, KC = g.KW * g.C, Kd = g.KH * g.KW * g.C
    cdef Py_ssize_t p, n, q, oy, ox, ky, y, x0, jlo, jhi
    cdef real* dst
    for p in range(p0, p1):
        n = p // P
        q = p - n * P
        oy = q // g.OW
        ox = q - oy * g.OW
        x0 = ox * g.SW - g.left
        jlo = -x0 if x0 < 0 else 0
        jhi = g.W - x0 if g.W - x0 < g.KW else g.KW
        for ky in range(g.KH):
            dst = cols + (p - p0) * Kd + ky * KC
            y = oy * g.SH + ky - g.top
            if y < 0 or y >= g.H or jhi <= jlo:
                memset(dst, 0, KC * sizeof(real))
                continue
            if jlo > 0:
                memset(dst, 0, jlo * C * sizeof(real))
            memcpy(dst + jlo * C, x + ((n * g.H + y) * g.W + x0 + jlo) * C, (jhi - jlo) * C * sizeof(real))
            if jhi < g.KW:
                memset(dst + jhi * C, 0, (g.KW - jhi) * C * sizeof(real))


cdef void _fold_rows(const real* cols, const Geometry* g, Py_ssize_t p0, Py_ssize_t p1,
                     real* dx) noexcept nogil:
    """dx += each row p0..p1 of cols added onto its window (the adjoint of _patch_rows)."""
    cdef Py_ssize_t P = g.OH * g.OW, C = g.C, KC = g.KW * g.C, Kd = g.KH * g.KW * g.C
    cdef Py_ssize_t p, n, q, oy, ox, ky, y, x0, jlo, jhi, i, m
    cdef const real* src
    cdef real* d
    for p in range(p0, p1):
        n = p // P
        q = p - n * P
        oy = q // g.OW
        ox = q - oy * g.OW
        x0 = ox * g.SW - g.left
        jlo = -x0 if x0 < 0 else 0
        jhi = g.W - x0 if g.W - x0 < g.KW else g.KW
        if jhi <= jlo:
            continue
        m = (jhi - jlo) * C
        for ky in range(g.KH):
            y = oy * g.SH + ky - g.top
            if y < 0 or y >= g.H:
                continue
            src = cols + (p - p0) * Kd + ky * KC + jlo * C
            d = dx + ((n * g.H + y) * g.W + x0 + jlo) * C
            for i in range(m):
                d[i] += src[i]


# --------------------------------------------------------------------------
# Chunks
# --------------------------------------------------------------------------
cdef void _forward_chunk(const real* x, const real* Km, const real* b, real* out, real* cols,
                         const Geometry* g, Py_ssize_t p0, Py_ssize_t p1, bint relu) noexcept nogil:
    cdef Py_ssize_t Kd = g.KH * g.KW * g.C, F = g.F, Pc = p1 - p0, r, f
    _patch_rows(x, g, p0, p1, cols)
    for r in range(Pc):                  # the bias; gemm then adds cols @ Km (beta = 1)
        for f in range(F):
            out[(p0 + r) * F + f] = b[f]
    matmul_rm(c'N', c'N', <int>Pc, <int>F, <int>Kd, 1, cols, <int>Kd, Km, <int>F,
              1, out + p0 * F, <int>F)
    if relu:
        for r in range(Pc * F):
            out[p0 * F + r] = relu_value(out[p0 * F + r])


cdef void _backward_chunk(const real* x, const real* Km, const real* dout, const real* relu_out,
                          real* dx, real* dKm, real* db, real* cols, real* masked,
                          const Geometry* g, Py_ssize_t p0, Py_ssize_t p1,
                          bint relu, bint need_dx) noexcept nogil:
    cdef Py_ssize_t Kd = g.KH * g.KW * g.C, F = g.F, Pc = p1 - p0, r, f, f0, fm
    cdef const real* d = dout + p0 * F
    cdef real acc[CHANNEL_CHUNK]
    if relu:                             # the gradient through the ReLU, as relu_backward
        for r in range(Pc * F):
            masked[r] = relu_grad(dout[p0 * F + r], relu_out[p0 * F + r])
        d = masked
    # db += column sums of d, a chunk of columns at a time in an array on the stack
    # (the compiler then vectorizes the short rows without overlap checks)
    f0 = 0
    while f0 < F:
        fm = F - f0 if F - f0 < CHANNEL_CHUNK else CHANNEL_CHUNK
        for f in range(fm):
            acc[f] = 0
        for r in range(Pc):
            for f in range(fm):
                acc[f] += d[r * F + f0 + f]
        for f in range(fm):
            db[f0 + f] += acc[f]
        f0 += fm
    _patch_rows(x, g, p0, p1, cols)
    # dKm (Kd, F) += cols^T (Kd, Pc) @ d (Pc, F)
    matmul_rm(c'T', c'N', <int>Kd, <int>F, <int>Pc, 1, cols, <int>Kd, d, <int>F, 1, dKm, <int>F)
    if need_dx:
        # cols is no longer needed: dcols (Pc, Kd) = d (Pc, F) @ Km^T, folded into dx
        matmul_rm(c'N', c'T', <int>Pc, <int>Kd, <int>F, 1, d, <int>F, Km, <int>F, 0, cols, <int>Kd)
        _fold_rows(cols, g, p0, p1, dx)


# --------------------------------------------------------------------------
# The batch
# --------------------------------------------------------------------------
def _forward_batch(const real[:, :, :, ::1] x, const real[:, ::1] Km, const real[::1] b,
                   real[:, ::1] out, real[:, ::1] work, tuple geom, Py_ssize_t chunk,
                   bint relu, int nthreads):
    cdef Geometry g
    g.N, g.H, g.W, g.C, g.KH, g.KW, g.F, g.SH, g.SW, g.top, g.left, g.OH, g.OW = geom
    cdef Py_ssize_t total = out.shape[0]
    cdef Py_ssize_t nchunks = (total + chunk - 1) // chunk
    cdef Py_ssize_t c
    cdef real* cols = NULL
    with nogil, parallel(num_threads=nthreads):
        cols = &work[threadid(), 0]
        for c in prange(nchunks, schedule="dynamic"):
            _forward_chunk(&x[0, 0, 0, 0], &Km[0, 0], &b[0], &out[0, 0], cols, &g,
                           c * chunk, total if (c + 1) * chunk > total else (c + 1) * chunk, relu)


def _backward_batch(const real[:, ::1] dout, const real[:, ::1] relu_out,
                    const real[:, :, :, ::1] x, const real[:, ::1] Km, real[:, :, :, ::1] dx,
                    real[:, ::1] dK_parts, real[:, ::1] db_parts, real[:, ::1] work,
                    tuple geom, Py_ssize_t chunk, bint relu, bint need_dx, int nthreads):
    """Block j (images j*N//blocks ..) adds into dK_parts[j] and db_parts[j], and folds
    into its images of dx; it zeroes those first (on its own thread, just before use)."""
    cdef Geometry g
    g.N, g.H, g.W, g.C, g.KH, g.KW, g.F, g.SH, g.SW, g.top, g.left, g.OH, g.OW = geom
    cdef Py_ssize_t P = g.OH * g.OW, blocks = dK_parts.shape[0]
    cdef Py_ssize_t j, p, e, end, i0, i1
    cdef real* cols = NULL
    with nogil, parallel(num_threads=nthreads):
        cols = &work[threadid(), 0]      # a chunk of patch rows, then room for the masked dout
        for j in prange(blocks, schedule="dynamic"):
            i0 = j * g.N // blocks
            i1 = (j + 1) * g.N // blocks
            memset(&dK_parts[j, 0], 0, dK_parts.shape[1] * sizeof(real))
            if need_dx:
                memset(&dx[i0, 0, 0, 0], 0, (i1 - i0) * g.H * g.W * g.C * sizeof(real))
            p = i0 * P
            end = i1 * P
            while p < end:
                e = end if p + chunk > end else p + chunk
                _backward_chunk(&x[0, 0, 0, 0], &Km[0, 0], &dout[0, 0], &relu_out[0, 0],
                                &dx[0, 0, 0, 0] if need_dx else NULL, &dK_parts[j, 0], &db_parts[j, 0],
                                cols, cols + chunk * g.KH * g.KW * g.C, &g, p, e, relu, need_dx)
                p = e


# --------------------------------------------------------------------------
# Python entry points
# --------------------------------------------------------------------------
def _plan(where, x, kernel, strides, pads):
    """Check what the loops rely on; return (geometry tuple, OH, OW, Kd, chunk rows)."""
    if x.ndim != 4 or kernel.ndim != 4:
        raise ValueError(f"{where}: x and kernel must be 4-D, got shapes {x.shape} and {kernel.shape}")
    N, H, W, C = x.shape
    KH, KW, KC, F = kernel.shape
    sh, sw = (int(s) for s in strides)
    top, bottom, left, right = (int(p) for p in pads)
    if KC != C:
        raise ValueError(f"{where}: input has {C} channels but the kernel {kernel.shape} expects {KC}")
    if min(N, H, W, C, KH, KW, F, sh, sw) < 1 or min(top, bottom, left, right) < 0:
        raise ValueError(f"{where}: bad geometry: x {x.shape}, kernel {kernel.shape}, "
                         f"strides {strides}, pads {pads}")
    if KH > H + top + bottom or KW > W + left + right:
        raise ValueError(f"{where}: kernel {KH}x{KW} is larger than the padded input")
    OH = (H + top + bottom - KH) // sh + 1
    OW = (W + left + right - KW) // sw + 1
    Kd = KH * KW * C
    if max(Kd, F) > _INT_MAX or N * OH * OW * max(Kd, F) > 2 ** 62:
        raise ValueError(f"{where}: matrices too large for BLAS (Kd={Kd}, F={F})")
    chunk = max(MIN_CHUNK_ROWS, min(MAX_CHUNK_ROWS, WORKSPACE_BYTES // (Kd * x.itemsize)))
    chunk = min(chunk, N * OH * OW)
    geom = (N, H, W, C, KH, KW, F, sh, sw, top, left, OH, OW)
    return geom, OH, OW, Kd, chunk


def _threads(units, madds):
    n = max(1, int(get_num_threads()))
    return max(1, min(n, units, int(madds // max(1, MIN_MADDS_PER_THREAD))))


def conv2d_nhwc_forward(x, kernel, bias, strides, pads, relu=False):
    """x (N,H,W,C), kernel (KH,KW,C,F), bias (F,) -> out (N,OH,OW,F); relu: max(out, 0)."""
    geom, OH, OW, Kd, chunk = _plan("conv2d_nhwc_forward", x, kernel, strides, pads)
    N, F = geom[0], geom[6]
    if bias.ndim != 1 or bias.shape[0] != F:
        raise ValueError(f"conv2d_nhwc_forward: bias must have shape ({F},), got {bias.shape}")
    total = N * OH * OW
    nchunks = -(-total // chunk)
    omp = _threads(nchunks, total * Kd * F)
    out = _buffers.empty((N, OH, OW, F), x.dtype)
    work = _buffers.empty((omp, chunk * Kd), x.dtype)
    with one_blas_thread():
        _forward_batch(x, kernel.reshape(Kd, F), bias, out.reshape(total, F), work, geom, chunk,
                       bool(relu), omp)
    return out


def conv2d_nhwc_backward(dout, x, kernel, strides, pads, relu_out=None, need_dx=True):
    """Gradients of conv2d_nhwc_forward -> (dx (N,H,W,C) or None, dkernel (KH,KW,C,F), dbias (F,))."""
    geom, OH, OW, Kd, chunk = _plan("conv2d_nhwc_backward", x, kernel, strides, pads)
    N, F = geom[0], geom[6]
    if dout.shape != (N, OH, OW, F):
        raise ValueError(f"conv2d_nhwc_backward: dout must have shape {(N, OH, OW, F)}, got {dout.shape}")
    relu = relu_out is not None
    if relu and relu_out.shape != dout.shape:
        raise ValueError(f"conv2d_nhwc_backward: relu_out must have shape {dout.shape}, got {relu_out.shape}")
    total = N * OH * OW
    omp = _threads(N, total * Kd * F)
    blocks = min(N, max(BLOCKS, 2 * omp), max(1, PARTIALS_BYTES // (Kd * F * x.itemsize)))
    blocks = max(blocks, min(N, omp))
    need_dx = bool(need_dx)
    dx = _buffers.empty(x.shape if need_dx else (1, 1, 1, 1), x.dtype)     # zeroed block by block
    dK_parts = _buffers.empty((blocks, Kd * F), x.dtype)
    db_parts = np.zeros((blocks, F), dtype=x.dtype)
    work = _buffers.empty((omp, chunk * Kd + (chunk * F if relu else 0)), x.dtype)
    r_out = relu_out.reshape(total, F) if relu else _NO_RELU_OUT[x.dtype.char]
    with one_blas_thread():
        _backward_batch(dout.reshape(total, F), r_out, x, kernel.reshape(Kd, F), dx,
                        dK_parts, db_parts, work, geom, chunk, relu, need_dx, omp)
    dK, db = dK_parts[0], db_parts[0]
    for j in range(1, blocks):           # block order: deterministic
        dK += dK_parts[j]
        db += db_parts[j]
    return (dx if need_dx else None), dK.reshape(kernel.shape), db


# --------------------------------------------------------------------------
# Max pooling, NHWC (twins of numpy_conv_nhwc.maxpool_nhwc_*)
# --------------------------------------------------------------------------
from libc.stdint cimport int32_t
from libc.math cimport INFINITY


cdef void _pool_window_exact(const real* x, real* best, int32_t* where, const Geometry* g,
                             Py_ssize_t n, Py_ssize_t oy, Py_ssize_t ox) noexcept nogil:
    """One window, every channel, the way np.argmax sees the padded window: padding
    is -inf and comes in window order; a NaN wins, the first NaN."""
    cdef Py_ssize_t C = g.C, ky, kx, y, xx, c
    cdef const real* src
    cdef real v
    for c in range(C):
        best[c] = -INFINITY
        where[c] = 0
    for ky in range(g.KH):
        y = oy * g.SH + ky - g.top
        if y < 0 or y >= g.H:
            continue
        for kx in range(g.KW):
            xx = ox * g.SW + kx - g.left
            if xx < 0 or xx >= g.W:
                continue
            src = x + ((n * g.H + y) * g.W + xx) * C
            for c in range(C):
                v = src[c]
                if v > best[c] or (v != v and best[c] == best[c]):
                    best[c] = v
                    where[c] = ky * g.KW + kx


#: Window sizes up to this many values keep positions in the kernels' float
#: scratch rows exactly (float32 holds integers exactly up to 2**24).
cdef enum:
    EXACT_POSITIONS = 16777216


cdef void _pool_image(const real* x, real* out, int32_t* arg, const Geometry* g,
                      Py_ssize_t n) noexcept nogil:
    """out, arg of image n: per window and channel, the first maximum (padding is -inf;
    a NaN wins, the first NaN as np.argmax).

    Per chunk of channels, two branch-free passes over the window's pixels,
    which the compiler vectorizes: the maxima, then the first position holding
    each maximum, kept as a float (the same vector width as the values). A
    window with a NaN, or a maximum of -inf (where padding could come first),
    is redone exactly by _pool_window_exact. (One pass with a branch per value
    made a 2x2 pooling 7x slower than the NCHW kernel; the same passes on
    scratch rows outside the stack spent more time in overlap checks and loop
    set-up: 3.5-4.1 ms against 2.8-3.7 ms for (100, 26, 26, 32) on one core.)"""
    cdef Py_ssize_t C = g.C, oy, ox, y, xx, c, c0, m, y0, y1, x0, x1, w
    cdef const real* src
    cdef real best[CHANNEL_CHUNK]
    cdef real pos[CHANNEL_CHUNK]
    cdef real v, b, k
    cdef int odd
    cdef bint exact = g.KH * g.KW > EXACT_POSITIONS
    for oy in range(g.OH):
        y0 = oy * g.SH - g.top
        y1 = y0 + g.KH
        y0 = 0 if y0 < 0 else y0
        y1 = g.H if y1 > g.H else y1
        for ox in range(g.OW):
            x0 = ox * g.SW - g.left
            x1 = x0 + g.KW
            x0 = 0 if x0 < 0 else x0
            x1 = g.W if x1 > g.W else x1
            w = ((n * g.OH + oy) * g.OW + ox) * C
            odd = exact
            c0 = 0
            while c0 < C and not odd:
                m = C - c0 if C - c0 < CHANNEL_CHUNK else CHANNEL_CHUNK
                src = x + ((n * g.H + y0) * g.W + x0) * C + c0
                for c in range(m):
                    best[c] = src[c]
                for y in range(y0, y1):
                    for xx in range(x0, x1):
                        src = x + ((n * g.H + y) * g.W + xx) * C + c0
                        for c in range(m):
                            v = src[c]
                            b = best[c]
                            best[c] = v if v > b else b
                            odd = odd | (v != v)
                for c in range(m):
                    odd = odd | (best[c] == -INFINITY)
                    pos[c] = -1
                if odd:
                    break
                for y in range(y0, y1):
                    for xx in range(x0, x1):
                        src = x + ((n * g.H + y) * g.W + xx) * C + c0
                        k = (y - (oy * g.SH - g.top)) * g.KW + (xx - (ox * g.SW - g.left))
                        for c in range(m):
                            pos[c] = pos[c] + ((pos[c] < 0) & (src[c] == best[c])) * (k - pos[c])
                for c in range(m):
                    out[w + c0 + c] = best[c]
                    arg[w + c0 + c] = <int32_t>pos[c]   # float -> int32: a conversion SSE2 vectorizes
                c0 += m
            if odd:
                _pool_window_exact(x, out + w, arg + w, g, n, oy, ox)


cdef int _unpool_image(const real* dout, const int32_t* arg, real* dx, const Geometry* g,
                       Py_ssize_t n, bint tiles) noexcept nogil:
    """dx of image n += each dout value at its window's maximum: per window element k,
    a masked add over the channels, with the window's dout values and positions (as
    floats: one vector width, no division, no branch per value) first copied to
    arrays on the stack, a chunk of at most CHANNEL_CHUNK channels at a time. A
    window whose dout holds an infinity or a NaN takes a select instead, so that it
    adds 0, not 0 * inf = NaN, where it is not the maximum (as NumPy's scatter).

    tiles: the windows cover every input value exactly once, and dx is written
    instead of added to (it need not be zeroed first).

    Returns 1 if an argmax value lies outside [0, KH*KW), else 0: the caller then
    raises (dx holds no meaning; the writes stay inside the windows whatever the
    values)."""
    cdef Py_ssize_t C = g.C, oy, ox, ky, kx, y, xx, c, c0, m, o
    cdef int32_t a, window = g.KH * g.KW
    cdef real k, v
    cdef real* d
    cdef real pos[CHANNEL_CHUNK]
    cdef real val[CHANNEL_CHUNK]
    cdef int finite, bad = 0
    for oy in range(g.OH):
        for ox in range(g.OW):
            o = ((n * g.OH + oy) * g.OW + ox) * C
            c0 = 0
            while c0 < C:
                m = C - c0 if C - c0 < CHANNEL_CHUNK else CHANNEL_CHUNK
                finite = 1
                for c in range(m):
                    a = arg[o + c0 + c]
                    bad = bad | (a < 0) | (a >= window)
                    pos[c] = <real>a               # int32 -> float: a conversion SSE2 vectorizes
                    val[c] = dout[o + c0 + c]
                    v = val[c] - val[c]                # 0 for a finite value, NaN otherwise
                    finite = finite & (v == 0)
                for ky in range(g.KH):
                    y = oy * g.SH + ky - g.top
                    if y < 0 or y >= g.H:
                        continue
                    for kx in range(g.KW):
                        xx = ox * g.SW + kx - g.left
                        if xx < 0 or xx >= g.W:
                            continue
                        d = dx + ((n * g.H + y) * g.W + xx) * C + c0
                        k = ky * g.KW + kx
                        if finite and tiles:         # (+ 0 turns the -0.0 of 0 * -x into 0.0)
                            for c in range(m):
                                d[c] = (pos[c] == k) * val[c] + 0
                        elif finite:
                            for c in range(m):
                                d[c] = d[c] + (pos[c] == k) * val[c]
                        elif tiles:
                            for c in range(m):
                                d[c] = val[c] if pos[c] == k else 0
                        else:
                            for c in range(m):
                                d[c] = d[c] + (val[c] if pos[c] == k else 0)
                c0 += m
    return bad


def _pool_batch(const real[:, :, :, ::1] x, real[:, :, :, ::1] out, int32_t[:, :, :, ::1] arg,
                tuple geom, int nthreads):
    cdef Geometry g
    g.N, g.H, g.W, g.C, g.KH, g.KW, g.F, g.SH, g.SW, g.top, g.left, g.OH, g.OW = geom
    cdef Py_ssize_t n
    with nogil, parallel(num_threads=nthreads):
        for n in prange(g.N, schedule="static"):
            _pool_image(&x[0, 0, 0, 0], &out[0, 0, 0, 0], &arg[0, 0, 0, 0], &g, n)


def _unpool_batch(const real[:, :, :, ::1] dout, const int32_t[:, :, :, ::1] arg, real[:, :, :, ::1] dx,
                  tuple geom, bint tiles, int nthreads):
    cdef Geometry g
    g.N, g.H, g.W, g.C, g.KH, g.KW, g.F, g.SH, g.SW, g.top, g.left, g.OH, g.OW = geom
    cdef Py_ssize_t n
    cdef int bad = 0
    with nogil, parallel(num_threads=nthreads):
        for n in prange(g.N, schedule="static"):
            if not tiles:                # the image is added to: zero it first, on this thread
                memset(&dx[n, 0, 0, 0], 0, g.H * g.W * g.C * sizeof(real))
            bad |= _unpool_image(&dout[0, 0, 0, 0], &arg[0, 0, 0, 0], &dx[0, 0, 0, 0], &g, n, tiles)
    return bad


#: Below this many window reads a pooling call runs on one thread.
POOL_MIN_WORK = 1 << 17


def _pool_geometry(where, shape, pool_size, strides, pads):
    N, H, W, C = (int(s) for s in shape)
    ph, pw = (int(p) for p in pool_size)
    sh, sw = (int(s) for s in strides)
    top, bottom, left, right = (int(p) for p in pads)
    if min(N, H, W, C, ph, pw, sh, sw) < 1 or min(top, bottom, left, right) < 0 \
            or max(top, bottom) >= ph or max(left, right) >= pw or ph > H + top + bottom or pw > W + left + right:
        raise ValueError(f"{where}: bad geometry: input {tuple(shape)}, pool {pool_size}, strides {strides}, pads {pads}")
    OH = (H + top + bottom - ph) // sh + 1
    OW = (W + left + right - pw) // sw + 1
    threads = 1 if N * OH * OW * C * ph * pw < POOL_MIN_WORK else max(1, min(N, int(get_num_threads())))
    return (N, H, W, C, ph, pw, C, sh, sw, top, left, OH, OW), threads


def maxpool_nhwc_forward(x, pool_size, strides, pads):
    """x (N,H,W,C) -> (out (N,OH,OW,C), argmax (N,OH,OW,C) int32, index ky*PW+kx in the window)."""
    geom, threads = _pool_geometry("maxpool_nhwc_forward", x.shape, pool_size, strides, pads)
    N, OH, OW, C = geom[0], geom[11], geom[12], geom[3]
    out = _buffers.empty((N, OH, OW, C), x.dtype)
    arg = _buffers.empty((N, OH, OW, C), np.int32)
    _pool_batch(x, out, arg, geom, threads)
    return out, arg


def maxpool_nhwc_backward(dout, argmax, input_shape, pool_size, strides, pads):
    """dout, argmax (N,OH,OW,C) -> dx (input_shape): dout added at each window's maximum."""
    geom, threads = _pool_geometry("maxpool_nhwc_backward", input_shape, pool_size, strides, pads)
    if dout.shape != (geom[0], geom[11], geom[12], geom[3]) or argmax.shape != dout.shape:
        raise ValueError(f"maxpool_nhwc_backward: dout and argmax must have shape "
                         f"{(geom[0], geom[11], geom[12], geom[3])}, got {dout.shape} and {argmax.shape}")
    N, H, W, C, KH, KW, _, SH, SW, top, left, OH, OW = geom
    # windows side by side, without gaps or padding: each input value is written once
    tiles = (SH, SW) == (KH, KW) and (H, W) == (OH * KH, OW * KW) and top == left == 0
    dx = _buffers.empty(tuple(int(s) for s in input_shape), dout.dtype)      # zeroed image by image if added to
    if _unpool_batch(dout, argmax, dx, geom, tiles, threads):
        raise ValueError(f"maxpool_nhwc_backward: argmax values must lie in [0, {KH * KW})")
    return dx
