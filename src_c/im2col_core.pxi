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
from libc.string cimport memset

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


cdef void pad_image(const real* img, Py_ssize_t C, Py_ssize_t H, Py_ssize_t W, Py_ssize_t pad,
                    real* out) noexcept nogil:
    """out (C, H+2*pad, W+2*pad) = img (C, H, W) framed by `pad` zeros."""
    cdef Py_ssize_t Wp = W + 2 * pad
    cdef Py_ssize_t c, y, i
    cdef const real* src
    cdef real* dst = out
    for c in range(C):
        for i in range(pad * Wp):           # top border
            dst[i] = 0
        dst += pad * Wp
        for y in range(H):
            src = img + (c * H + y) * W
            for i in range(pad):
                dst[i] = 0
            for i in range(W):
                dst[pad + i] = src[i]
            for i in range(pad + W, Wp):
                dst[i] = 0
            dst += Wp
        for i in range(pad * Wp):           # bottom border
            dst[i] = 0
        dst += pad * Wp


cdef void padded_to_colT(const real* xp, Py_ssize_t C, Py_ssize_t Hp, Py_ssize_t Wp,
                         Py_ssize_t FH, Py_ssize_t FW, Py_ssize_t stride,
                         Py_ssize_t OW, Py_ssize_t oy0, Py_ssize_t oy1,
                         real* colT) noexcept nogil:
    """Fill colT (K, (oy1-oy0)*OW) from one padded image xp (C, Hp, Wp).

    With the padding already in xp, every filter tap reads whole rows: no
    bounds to test, and short plain loops the compiler vectorises.
    """
    cdef Py_ssize_t c, fy, fx, oy, ox
    cdef const real* src
    cdef real* dst = colT
    for c in range(C):
        for fy in range(FH):
            for fx in range(FW):
                for oy in range(oy0, oy1):
                    src = xp + (c * Hp + oy * stride + fy) * Wp + fx
                    if stride == 1:
                        for ox in range(OW):
                            dst[ox] = src[ox]
                    else:
                        for ox in range(OW):
                            dst[ox] = src[ox * stride]
                    dst += OW


cdef void colT_add_to_padded(const real* colT, Py_ssize_t C, Py_ssize_t Hp, Py_ssize_t Wp,
                             Py_ssize_t FH, Py_ssize_t FW, Py_ssize_t stride,
                             Py_ssize_t OW, Py_ssize_t oy0, Py_ssize_t oy1,
                             real* xp) noexcept nogil:
    """The adjoint of padded_to_colT: xp (C, Hp, Wp) += fold of colT (K, (oy1-oy0)*OW).

    xp is the padded image (the caller crops the frame off afterwards). Each
    pixel receives its contributions in (fy, fx) order, the order of the NumPy
    col2im, so a whole image folded in one chunk gives NumPy's sums exactly.
    """
    cdef Py_ssize_t c, fy, fx, oy, ox
    cdef const real* src = colT
    cdef real* dst
    for c in range(C):
        for fy in range(FH):
            for fx in range(FW):
                for oy in range(oy0, oy1):
                    dst = xp + (c * Hp + oy * stride + fy) * Wp + fx
                    if stride == 1:
                        for ox in range(OW):
                            dst[ox] += src[ox]
                    else:
                        for ox in range(OW):
                            dst[ox * stride] += src[ox]
                    src += OW


cdef void crop_image(const real* xp, Py_ssize_t C, Py_ssize_t H, Py_ssize_t W, Py_ssize_t pad,
                     real* out) noexcept nogil:
    """out (C, H, W) = xp (C, H+2*pad, W+2*pad) without its frame: the adjoint of pad_image."""
    cdef Py_ssize_t Hp = H + 2 * pad, Wp = W + 2 * pad
    cdef Py_ssize_t c, y, i
    cdef const real* src
    for c in range(C):
        for y in range(H):
            src = xp + (c * Hp + y + pad) * Wp + pad
            for i in range(W):
                out[(c * H + y) * W + i] = src[i]
