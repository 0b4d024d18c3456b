"""Channels-last (NHWC) convolution in NumPy: the reference for ``src_c/conv_nhwc.pyx``.

Keras stores a batch of images as x (N, H, W, C) and a convolution kernel as
(KH, KW, C, F). Unfold every output position's patch into one row, in
(ky, kx, c) order (im2col in channels-last order):

    cols (N*OH*OW, KH*KW*C)

and the kernel reshaped to (KH*KW*C, F) is already the matrix to multiply it
with: out (N*OH*OW, F) = cols @ kernel + bias, which *is* the NHWC output
(N, OH, OW, F). No transposes anywhere.

Geometry: strides (SH, SW); pads (top, bottom, left, right) of zeros, which
covers Keras' 'valid' (all 0) and 'same' (the extra row/column at the
bottom/right). OH = (H + top + bottom - KH) // SH + 1, likewise OW.

Arguments arrive validated by ``fastnn.kernels`` (one float dtype, C order,
matching shapes), so these functions only compute.
"""
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


def nhwc_out_size(H, W, KH, KW, strides, pads):
    """(OH, OW) of a channels-last convolution or pooling window."""
    (sh, sw), (top, bottom, left, right) = strides, pads
    return (H + top + bottom - KH) // sh + 1, (W + left + right - KW) // sw + 1


def _padded(x, pads, fill=0):
    top, bottom, left, right = pads
    if not any(pads):
        return x
    return np.pad(x, [(0, 0), (top, bottom), (left, right), (0, 0)], constant_values=fill)


def nhwc_patches(x, KH, KW, strides, pads):
    """x (N, H, W, C) -> cols (N*OH*OW, KH*KW*C), each patch in (ky, kx, c) order.

    Row ``(n, oy, ox)`` holds the window whose top-left corner is at
    ``(oy*SH - top, ox*SW - left)``; positions outside the image read 0.
    """
    N, H, W, C = x.shape
    OH, OW = nhwc_out_size(H, W, KH, KW, strides, pads)
    sh, sw = strides
    xp = _padded(x, pads)
    # A view: windows[n, y, x, c, ky, kx] = xp[n, y + ky, x + kx, c]; keep the strided corners.
    windows = sliding_window_view(xp, (KH, KW), axis=(1, 2))[:, :sh * OH:sh, :sw * OW:sw]
    # One copy: (N, OH, OW, C, KH, KW) -> (N, OH, OW, KH, KW, C) -> rows.
    return windows.transpose(0, 1, 2, 4, 5, 3).reshape(N * OH * OW, KH * KW * C)


def nhwc_fold(cols, input_shape, KH, KW, strides, pads):
    """The adjoint of ``nhwc_patches``: add each row back onto its window.

    cols (N*OH*OW, KH*KW*C) -> (N, H, W, C); overlapping windows sum.
    """
    N, H, W, C = input_shape
    OH, OW = nhwc_out_size(H, W, KH, KW, strides, pads)
    (sh, sw), (top, bottom, left, right) = strides, pads
    cols6 = cols.reshape(N, OH, OW, KH, KW, C)
    grad = np.zeros((N, H + top + bottom, W + left + right, C), dtype=cols.dtype)
    for ky in range(KH):
        for kx in range(KW):
            grad[:, ky:ky + sh * OH:sh, kx:kx + sw * OW:sw, :] += cols6[:, :, :, ky, kx, :]
    return grad[:, top:top + H, left:left + W, :]


def conv2d_nhwc_forward(x, kernel, bias, strides, pads, relu=False):
    """x (N, H, W, C), kernel (KH, KW, C, F), bias (F,) -> out (N, OH, OW, F).

    relu=True returns max(out, 0), the output of a ReLU applied after the convolution.
    """
    N, H, W, C = x.shape
    KH, KW, _, F = kernel.shape
    OH, OW = nhwc_out_size(H, W, KH, KW, strides, pads)
    cols = nhwc_patches(x, KH, KW, strides, pads)
    out = cols @ kernel.reshape(KH * KW * C, F) + bias
    if relu:
        out = np.maximum(out, 0)
    return out.reshape(N, OH, OW, F)


def conv2d_nhwc_backward(dout, x, kernel, strides, pads, relu_out=None, need_dx=True):
    """Gradients of conv2d_nhwc_forward -> (dx (N,H,W,C) or None, dkernel (KH,KW,C,F), dbias (F,)).

    relu_out: the forward output when it ran with relu=True; dout (the
    gradient after the ReLU) is then first masked by relu_out > 0.
    """
    KH, KW, C, F = kernel.shape
    dz = dout.reshape(-1, F)
    if relu_out is not None:
        dz = np.where(relu_out.reshape(-1, F) > 0, dz, 0).astype(dz.dtype, copy=False)
    dbias = dz.sum(axis=0)
    cols = nhwc_patches(x, KH, KW, strides, pads)
    dkernel = (cols.T @ dz).reshape(KH, KW, C, F)
    dx = None
    if need_dx:
        dcols = dz @ kernel.reshape(KH * KW * C, F).T
        dx = np.ascontiguousarray(nhwc_fold(dcols, x.shape, KH, KW, strides, pads))
    return dx, dkernel, dbias


def maxpool_nhwc_forward(x, pool_size, strides, pads):
    """x (N, H, W, C) -> (out (N, OH, OW, C), argmax (N, OH, OW, C) int32).

    argmax is the index ky*PW + kx of the maximum within its window (the
    first one on ties, as np.argmax); padding counts as -inf, so it never
    wins over a real value.
    """
    PH, PW = pool_size
    N, H, W, C = x.shape
    OH, OW = nhwc_out_size(H, W, PH, PW, strides, pads)
    (sh, sw) = strides
    xp = _padded(x, pads, fill=-np.inf)
    windows = sliding_window_view(xp, (PH, PW), axis=(1, 2))[:, :sh * OH:sh, :sw * OW:sw]
    flat = windows.reshape(N, OH, OW, C, PH * PW)            # (N, OH, OW, C, PH*PW), a copy
    argmax = np.argmax(flat, axis=-1)
    out = np.take_along_axis(flat, argmax[..., None], axis=-1)[..., 0]
    return np.ascontiguousarray(out), argmax.astype(np.int32)


def maxpool_nhwc_backward(dout, argmax, input_shape, pool_size, strides, pads):
    """dout, argmax (N, OH, OW, C) -> dx (N, H, W, C): each dout value added at its window's maximum."""
    PH, PW = pool_size
    N, H, W, C = input_shape
    (sh, sw), (top, bottom, left, right) = strides, pads
    OH, OW = dout.shape[1:3]
    grad = np.zeros((N, H + top + bottom, W + left + right, C), dtype=dout.dtype)
    for ky in range(PH):
        for kx in range(PW):
            grad[:, ky:ky + sh * OH:sh, kx:kx + sw * OW:sw, :] += np.where(argmax == ky * PW + kx, dout, 0)
    return np.ascontiguousarray(grad[:, top:top + H, left:left + W, :])
