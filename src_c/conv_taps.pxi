# Convolution with stride 1 as one small matrix product per filter tap
# (included by conv.pyx, after im2col_core.pxi, blas_gemm.pxi and relu_rule.pxi).
#
# With stride 1 the pixels that filter tap (fy, fx) sees, for all output
# positions, form a shifted window of the padded image. Read the padded image
# of one channel as a flat row of Hp*Wp values: output pixel (oy, ox) of tap
# (fy, fx) reads value (oy + fy) * Wp + (ox + fx) = j + fy * Wp + fx, where
# j = oy * Wp + ox. So if the output is computed on a "wide" grid of OH rows
# of Wp columns (j = 0 .. OH*Wp - 1), tap (fy, fx) reads the contiguous run
# xpad[c, off : off + OH*Wp] with off = fy*Wp + fx, for every channel c:
#
#     wide (FN, OH*Wp) = sum over taps t of  W_t (FN, C) @ xpad[:, off_t : off_t + OH*Wp]
#
# a gemm whose second operand is a plain strided view of the padded image
# (row stride Hp*Wp), so no im2col matrix is built at all. The columns
# ox >= OW of the wide grid straddle two image rows and are thrown away when
# the result is cropped to (FN, OH, OW). This pays when C is large enough for
# the per-tap products (inner size C) to run at BLAS speed; measured in
# bench/_conv_timing.py --explore.
#
# The backward pass is the transpose of the same picture, with dout copied
# into a wide grid whose extra columns are zero (so they add nothing):
#
#     dW_t      (FN, C)     += dout_wide (FN, OH*Wp) @ xpad[:, off_t : ...]^T
#     dxpad[:, off_t : ...] += W_t^T (C, FN) @ dout_wide          (then cropped)
#
# The last window ends FW-1 values past the last channel's plane, so xpad
# and dxpad carry FW-1 values of zero slack at the end. Every value a wide
# column reads is finite (image or zero), so 0 * value adds exactly 0.

cdef inline Py_ssize_t taps_plane_size(Py_ssize_t C, Py_ssize_t Hp, Py_ssize_t Wp,
                                       Py_ssize_t FW) noexcept nogil:
    """Values of a padded image with its slack: C planes of Hp*Wp, then FW-1 zeros."""
    return C * Hp * Wp + FW - 1


cdef void _pad_with_slack(const real* img, Py_ssize_t C, Py_ssize_t H, Py_ssize_t W,
                          Py_ssize_t pad, Py_ssize_t FW, real* xpad) noexcept nogil:
    """xpad = the zero-framed image, followed by FW-1 zeros."""
    cdef Py_ssize_t Hp = H + 2 * pad, Wp = W + 2 * pad, i
    pad_image(img, C, H, W, pad, xpad)
    for i in range(FW - 1):
        xpad[C * Hp * Wp + i] = 0


cdef void _forward_image_taps(const real* img, const real* Wtaps, const real* b, real* out,
                              real* xpad, real* wide, Py_ssize_t C, Py_ssize_t H, Py_ssize_t W,
                              Py_ssize_t FN, Py_ssize_t FH, Py_ssize_t FW, Py_ssize_t pad,
                              Py_ssize_t OH, Py_ssize_t OW, bint relu) noexcept nogil:
    """out (FN, OH, OW) = conv of one image, stride 1, then max(out, 0) if relu.
    Wtaps (FH*FW, FN, C): W_t per tap."""
    cdef Py_ssize_t Hp = H + 2 * pad, Wp = W + 2 * pad, J = OH * Wp
    cdef Py_ssize_t t, f, oy, ox
    cdef const real* row
    cdef real* dst
    cdef real bias
    _pad_with_slack(img, C, H, W, pad, FW, xpad)
    for t in range(FH * FW):
        # wide (FN, J) (+)= W_t (FN, C) @ xpad[:, off : off + J], row stride Hp*Wp
        matmul_rm(c'N', c'N', <int>FN, <int>J, <int>C, 1, Wtaps + t * FN * C, <int>C,
                  xpad + (t // FW) * Wp + (t % FW), <int>(Hp * Wp), 0 if t == 0 else 1,
                  wide, <int>J)
    for f in range(FN):                      # crop the wide grid, adding the bias
        bias = b[f]
        for oy in range(OH):
            row = wide + f * J + oy * Wp
            dst = out + (f * OH + oy) * OW
            if relu:
                for ox in range(OW):
                    dst[ox] = relu_value(row[ox] + bias)
            else:
                for ox in range(OW):
                    dst[ox] = row[ox] + bias


cdef void _backward_image_taps(const real* img, const real* Wtaps, const real* dout,
                               const real* relu_out, real* dx, real* dWtaps, real* db,
                               real* xpad, real* dxpad, real* wide,
                               Py_ssize_t C, Py_ssize_t H, Py_ssize_t W,
                               Py_ssize_t FN, Py_ssize_t FH, Py_ssize_t FW, Py_ssize_t pad,
                               Py_ssize_t OH, Py_ssize_t OW, bint need_dx) noexcept nogil:
    """dx (C, H, W) of one image (if need_dx), stride 1; dWtaps (FH*FW, FN, C) and db (FN,)
    are accumulated. relu_out, if not NULL, masks dout (see _relu_masked) as it is copied."""
    cdef Py_ssize_t Hp = H + 2 * pad, Wp = W + 2 * pad, J = OH * Wp
    cdef Py_ssize_t t, f, c, oy, ox, off
    cdef const real* src
    cdef const real* mask
    cdef real* row
    for f in range(FN):
        for oy in range(OH):                 # dout into the wide grid, zero beyond OW
            src = dout + (f * OH + oy) * OW
            row = wide + f * J + oy * Wp
            if relu_out != NULL:
                mask = relu_out + (f * OH + oy) * OW
                for ox in range(OW):
                    row[ox] = relu_grad(src[ox], mask[ox])
            else:
                for ox in range(OW):
                    row[ox] = src[ox]
            for ox in range(OW, Wp):
                row[ox] = 0
        db[f] += _sum(wide + f * J, J)       # the zeros beyond OW add nothing
    _pad_with_slack(img, C, H, W, pad, FW, xpad)
    for t in range(FH * FW):
        off = (t // FW) * Wp + (t % FW)
        # dW_t (FN, C) += wide (FN, J) @ xpad[:, off : off + J]^T
        matmul_rm(c'N', c'T', <int>FN, <int>C, <int>J, 1, wide, <int>J,
                  xpad + off, <int>(Hp * Wp), 1, dWtaps + t * FN * C, <int>C)
        if need_dx:
            # dxpad[:, off : off + J] (C, J) (+)= W_t^T (C, FN) @ wide (FN, J); the first
            # tap (off = 0) writes instead of adding, so only what it leaves out is zeroed
            if t == 0:
                for c in range(C):
                    memset(dxpad + c * Hp * Wp + J, 0, (Hp * Wp - J) * sizeof(real))
                memset(dxpad + C * Hp * Wp, 0, (FW - 1) * sizeof(real))
            matmul_rm(c'T', c'N', <int>C, <int>J, <int>FN, 1, Wtaps + t * FN * C, <int>C,
                      wide, <int>J, 0 if t == 0 else 1, dxpad + off, <int>(Hp * Wp))
    if need_dx:
        crop_image(dxpad, C, H, W, pad, dx)


def _forward_batch_taps(const real[:, :, :, ::1] x, const real[:, :, ::1] Wtaps, const real[::1] b,
                        real[:, :, :, ::1] out, real[:, ::1] work, Py_ssize_t pad, bint relu,
                        int nthreads):
    """Every image of the batch through _forward_image_taps, images shared out over threads."""
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], H = x.shape[2], W = x.shape[3]
    cdef Py_ssize_t FN = out.shape[1], OH = out.shape[2], OW = out.shape[3]
    cdef Py_ssize_t FW = W + 2 * pad - OW + 1, FH = H + 2 * pad - OH + 1
    cdef Py_ssize_t plane = taps_plane_size(C, H + 2 * pad, W + 2 * pad, FW)
    cdef Py_ssize_t n
    cdef real* xpad = NULL
    with nogil, parallel(num_threads=nthreads):
        xpad = &work[threadid(), 0]          # the padded image, then the wide grid
        for n in prange(N, schedule="dynamic"):
            _forward_image_taps(&x[n, 0, 0, 0], &Wtaps[0, 0, 0], &b[0], &out[n, 0, 0, 0],
                                xpad, xpad + plane, C, H, W, FN, FH, FW, pad, OH, OW, relu)


def _backward_batch_taps(const real[:, :, :, ::1] dout, const real[:, :, :, ::1] relu_out,
                         const real[:, :, :, ::1] x, const real[:, :, ::1] Wtaps, real[:, :, :, ::1] dx,
                         real[:, ::1] dW_parts, real[:, ::1] db_parts, real[:, ::1] work,
                         Py_ssize_t pad, bint relu, bint need_dx, int nthreads):
    """dx of every image; dW_parts[j] (taps layout) and db_parts[j]: sums over the j-th
    fixed block of images (see _backward_batch for why blocks, and for relu)."""
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], H = x.shape[2], W = x.shape[3]
    cdef Py_ssize_t FN = dout.shape[1], OH = dout.shape[2], OW = dout.shape[3]
    cdef Py_ssize_t FW = W + 2 * pad - OW + 1, FH = H + 2 * pad - OH + 1
    cdef Py_ssize_t plane = taps_plane_size(C, H + 2 * pad, W + 2 * pad, FW)
    cdef Py_ssize_t blocks = dW_parts.shape[0]
    cdef Py_ssize_t j, n
    cdef real* xpad = NULL
    with nogil, parallel(num_threads=nthreads):
        xpad = &work[threadid(), 0]          # the padded image, its gradient, the wide grid
        for j in prange(blocks, schedule="dynamic"):
            for n in range(j * N // blocks, (j + 1) * N // blocks):
                _backward_image_taps(&x[n, 0, 0, 0], &Wtaps[0, 0, 0], &dout[n, 0, 0, 0],
                                     &relu_out[n, 0, 0, 0] if relu else NULL,
                                     &dx[n, 0, 0, 0] if need_dx else NULL,
                                     &dW_parts[j, 0], &db_parts[j, 0],
                                     xpad, xpad + plane, xpad + 2 * plane,
                                     C, H, W, FN, FH, FW, pad, OH, OW, need_dx)
