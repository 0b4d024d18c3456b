# The loops shared by the im2col and conv modules (included by both).
#
# Everything here works on ONE image and on raw pointers; the callers have
# checked every shape. Layouts, with the book's letters (K = C*FH*FW):
#
#   image  img   (C, H, W)            C order
#   colT         (K, rows*OW)         C order: row k = (c, fy, fx) holds, for every
#                                     output position p = (oy, ox) of the chunk of
#                                     output rows [oy0, oy1), the pixel that filter
#                                     tap (fy, fx) of channel c sees there.
#
# colT is the transpose of the book's im2col matrix (restricted to one image).
# In this layout a convolution is one matrix product whose result is already
# in NCHW order: out[n] (FN, OH*OW) = W (FN, K) @ colT (K, OH*OW).
from libc.string cimport memcpy, memset

ctypedef fused real:
    float
    double


cdef inline Py_ssize_t _first_inside(Py_ssize_t offset, Py_ssize_t stride) noexcept nogil:
    """Smallest o >= 0 with o*stride + offset >= 0 (offset = tap - pad)."""
    if offset >= 0:
        return 0
    return (-offset + stride - 1) // stride


cdef inline Py_ssize_t _end_inside(Py_ssize_t offset, Py_ssize_t stride, Py_ssize_t size,
                                   Py_ssize_t out_len) noexcept nogil:
    """One past the largest o < out_len with o*stride + offset < size."""
    cdef Py_ssize_t last = size - 1 - offset
    if last < 0:
        return 0
    last = last // stride + 1
    return last if last < out_len else out_len


cdef void image_to_colT(const real* img, Py_ssize_t C, Py_ssize_t H, Py_ssize_t W,
                        Py_ssize_t FH, Py_ssize_t FW, Py_ssize_t stride, Py_ssize_t pad,
                        Py_ssize_t OW, Py_ssize_t oy0, Py_ssize_t oy1,
                        real* colT) noexcept nogil:
    """Fill colT (K, (oy1-oy0)*OW) from one image (C, H, W); padding reads as 0."""
    cdef Py_ssize_t P = (oy1 - oy0) * OW
    cdef Py_ssize_t c, fy, fx, oy, ox, iy, ox_lo, ox_hi
    cdef real* dst
    cdef const real* src
    for c in range(C):
        for fy in range(FH):
            for fx in range(FW):
                dst = colT + ((c * FH + fy) * FW + fx) * P
                # output columns whose input column lies inside the image
                ox_lo = _first_inside(fx - pad, stride)
                ox_hi = _end_inside(fx - pad, stride, W, OW)
                if ox_hi < ox_lo:
                    ox_hi = ox_lo
                for oy in range(oy0, oy1):
                    iy = oy * stride + fy - pad
                    if iy < 0 or iy >= H:
                        memset(dst, 0, OW * sizeof(real))
                    else:
                        if ox_lo > 0:
                            memset(dst, 0, ox_lo * sizeof(real))
                        if ox_hi < OW:
                            memset(dst + ox_hi, 0, (OW - ox_hi) * sizeof(real))
                        src = img + (c * H + iy) * W
                        if stride == 1:
                            if ox_hi > ox_lo:
                                memcpy(dst + ox_lo, src + (ox_lo + fx - pad),
                                       (ox_hi - ox_lo) * sizeof(real))
                        else:
                            for ox in range(ox_lo, ox_hi):
                                dst[ox] = src[ox * stride + fx - pad]
                    dst += OW


cdef void colT_add_to_image(const real* colT, Py_ssize_t C, Py_ssize_t H, Py_ssize_t W,
                            Py_ssize_t FH, Py_ssize_t FW, Py_ssize_t stride, Py_ssize_t pad,
                            Py_ssize_t OW, Py_ssize_t oy0, Py_ssize_t oy1,
                            real* img) noexcept nogil:
    """The adjoint of image_to_colT: img (C, H, W) += fold of colT (K, (oy1-oy0)*OW).

    Contributions that fall in the padding are dropped. Each pixel receives
    its contributions in (fy, fx) order, the order of the NumPy col2im, so a
    whole image folded in one chunk gives NumPy's sums exactly.
    """
    cdef Py_ssize_t P = (oy1 - oy0) * OW
    cdef Py_ssize_t c, fy, fx, oy, ox, iy, ox_lo, ox_hi
    cdef const real* src
    cdef real* dst
    for c in range(C):
        for fy in range(FH):
            for fx in range(FW):
                src = colT + ((c * FH + fy) * FW + fx) * P
                ox_lo = _first_inside(fx - pad, stride)
                ox_hi = _end_inside(fx - pad, stride, W, OW)
                for oy in range(oy0, oy1):
                    iy = oy * stride + fy - pad
                    if 0 <= iy < H:
                        dst = img + (c * H + iy) * W
                        if stride == 1:
                            for ox in range(ox_lo, ox_hi):
                                dst[ox + fx - pad] += src[ox]
                        else:
                            for ox in range(ox_lo, ox_hi):
                                dst[ox * stride + fx - pad] += src[ox]
                    src += OW
