"""Kernel interface of the channels-last (Keras) kernels: checks, then dispatch.

Part of ``fastnn.kernels`` (re-exported there). Like the book's kernels, each
function checks its arguments with an error naming the kernel, brings them to
one float dtype in C order, then runs the selected backend's implementation:
``numpy_nhwc``/``numpy_norm`` or the compiled ``fastnn._ext.conv_nhwc`` /
``fastnn._ext.norm``.
"""
import numbers

import numpy as np

from . import _checks as chk


def _impl(name):
    from . import _impl as impl    # the dispatcher of fastnn.kernels
    return impl(name)


def _pair(where, name, value):
    try:
        a, b = value
    except (TypeError, ValueError):
        raise TypeError(f"{where}: {name} must be a pair of ints, got {value!r}") from None
    return chk.positive_int(where, name, a), chk.positive_int(where, name, b)


def _pads(where, pads):
    try:
        values = tuple(pads)
    except TypeError:
        raise TypeError(f"{where}: pads must be (top, bottom, left, right), got {pads!r}") from None
    if len(values) != 4:
        raise ValueError(f"{where}: pads must be (top, bottom, left, right), got {pads!r}")
    return tuple(chk.non_negative_int(where, "pad", v) for v in values)


def _same(*arrays):
    dtype = chk.common_dtype(*arrays)
    return [np.asarray(a, dtype=dtype, order="C") for a in arrays]


# --------------------------------------------------------------------------
# Convolution, NHWC
# --------------------------------------------------------------------------
def _conv_args(where, x, kernel, strides, pads):
    x = chk.float_array(where, "input", x, ndim=4)
    kernel = chk.float_array(where, "kernel", kernel, ndim=4)
    strides = _pair(where, "strides", strides)
    pads = _pads(where, pads)
    N, H, W, C = x.shape
    KH, KW, KC, F = kernel.shape
    if N == 0:
        raise ValueError(f"{where}: empty batch (input shape {x.shape})")
    if min(H, W, C, KH, KW, F) == 0:
        raise ValueError(f"{where}: zero dimension in input {x.shape} or kernel {kernel.shape}")
    if KC != C:
        raise ValueError(f"{where}: input has {C} channels but the kernel {kernel.shape} expects {KC}")
    top, bottom, left, right = pads
    if KH > H + top + bottom or KW > W + left + right:
        raise ValueError(
            f"{where}: kernel {KH}x{KW} is larger than the padded input "
            f"{H + top + bottom}x{W + left + right} (input {H}x{W}, pads {pads})"
        )
    OH = (H + top + bottom - KH) // strides[0] + 1
    OW = (W + left + right - KW) // strides[1] + 1
    return x, kernel, strides, pads, (N, OH, OW, F)


def conv2d_nhwc_forward(x, kernel, bias, strides=(1, 1), pads=(0, 0, 0, 0), relu=False):
    """x (N,H,W,C), kernel (KH,KW,C,F), bias (F,) -> out (N,OH,OW,F).

    strides (SH, SW); pads (top, bottom, left, right) of zeros. relu=True
    returns max(out, 0), the output of a following ReLU, in the same pass.
    """
    where = "Conv2D.forward"
    x, kernel, strides, pads, _ = _conv_args(where, x, kernel, strides, pads)
    bias = chk.float_array(where, "bias", bias)
    if bias.size != kernel.shape[3]:
        raise ValueError(f"{where}: bias has {bias.size} values for {kernel.shape[3]} filters")
    relu = chk.flag(where, "relu", relu)
    x, kernel, bias = _same(x, kernel, bias.reshape(-1))
    return _impl("conv2d_nhwc_forward")(x, kernel, bias, strides, pads, relu)


def conv2d_nhwc_backward(dout, x, kernel, strides=(1, 1), pads=(0, 0, 0, 0), relu_out=None, need_dx=True):
    """Gradients of conv2d_nhwc_forward -> (dx (N,H,W,C), dkernel (KH,KW,C,F), dbias (F,)).

    relu_out: the forward output of a relu=True call; dout is then the
    gradient after that ReLU. need_dx=False returns None for dx (the first
    layer of a model needs no input gradient) and skips its products.
    """
    where = "Conv2D.backward"
    x, kernel, strides, pads, out_shape = _conv_args(where, x, kernel, strides, pads)
    dout = chk.float_array(where, "dout", dout, ndim=4)
    chk.shape_is(where, "dout", dout, out_shape)
    need_dx = chk.flag(where, "need_dx", need_dx)
    if relu_out is not None:
        relu_out = chk.float_array(where, "relu_out", relu_out, ndim=4)
        chk.shape_is(where, "relu_out", relu_out, out_shape)
        dout, x, kernel, relu_out = _same(dout, x, kernel, relu_out)
    else:
        dout, x, kernel = _same(dout, x, kernel)
    return _impl("conv2d_nhwc_backward")(dout, x, kernel, strides, pads, relu_out, need_dx)


CHANNELS_LAST_KERNELS = ("conv2d_nhwc_forward", "conv2d_nhwc_backward")
