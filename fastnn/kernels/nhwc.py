"""Checked entry points of the channels_last kernels: depthwise convolution and
average pooling (used by ``keras.layers.DepthwiseConv2D``, ``SeparableConv2D``,
``AveragePooling2D``).

Each function validates rank, dtype, shapes and the window geometry, brings
the arrays to one float dtype in C order, then runs the compiled kernel
(``src_c/depthwise.pyx``, ``src_c/avgpool.pyx``) or its NumPy twin
(``numpy_nhwc``), whichever the backend selects. See ``numpy_nhwc`` for the
geometry (window, strides, top/left padding, output size).
"""
import numpy as np

from . import _checks as chk


def _impl(name):
    from . import _impl as dispatch     # fastnn.kernels' backend dispatch
    return dispatch(name)


def _geometry(where, H, W, kh, kw, sh, sw, pad_top, pad_left, OH=None, OW=None):
    kh = chk.positive_int(where, "window height", kh)
    kw = chk.positive_int(where, "window width", kw)
    sh = chk.positive_int(where, "stride height", sh)
    sw = chk.positive_int(where, "stride width", sw)
    pad_top = chk.non_negative_int(where, "pad_top", pad_top)
    pad_left = chk.non_negative_int(where, "pad_left", pad_left)
    if pad_top >= kh or pad_left >= kw:
        raise ValueError(f"{where}: padding ({pad_top}, {pad_left}) must be smaller than the window {kh}x{kw}")
    if OH is None:
        return kh, kw, sh, sw, pad_top, pad_left
    OH = chk.positive_int(where, "output height", OH)
    OW = chk.positive_int(where, "output width", OW)
    # Every window must start inside the padded input and touch the input.
    if (OH - 1) * sh - pad_top >= H or (OW - 1) * sw - pad_left >= W:
        raise ValueError(
            f"{where}: output {OH}x{OW} with strides ({sh}, {sw}) and padding ({pad_top}, {pad_left}) "
            f"has windows outside the input {H}x{W}"
        )
    return kh, kw, sh, sw, pad_top, pad_left, OH, OW


def _nhwc(where, name, a):
    a = chk.float_array(where, name, a, ndim=4)
    if 0 in a.shape:
        raise ValueError(f"{where}: {name} has a zero dimension (shape {a.shape})")
    return a


def depthwise_conv_forward(x, K, sh, sw, pad_top, pad_left, OH, OW):
    """x (N, H, W, C), K (kh, kw, C, M) -> (N, OH, OW, C*M), zero padding."""
    where = "DepthwiseConv2D.forward"
    x = _nhwc(where, "input", x)
    K = chk.float_array(where, "kernel", K, ndim=4)
    if K.shape[2] != x.shape[3] or 0 in K.shape:
        raise ValueError(f"{where}: kernel must have shape (kh, kw, {x.shape[3]}, M), got {K.shape}")
    g = _geometry(where, x.shape[1], x.shape[2], K.shape[0], K.shape[1], sh, sw, pad_top, pad_left, OH, OW)
    dtype = chk.common_dtype(x, K)
    x, K = np.ascontiguousarray(x, dtype=dtype), np.ascontiguousarray(K, dtype=dtype)
    return _impl("depthwise_conv_forward")(x, K, *g[2:])


def depthwise_conv_backward(dout, x, K, sh, sw, pad_top, pad_left):
    """dout (N, OH, OW, C*M) -> (dx (N, H, W, C), dK (kh, kw, C, M))."""
    where = "DepthwiseConv2D.backward"
    x = _nhwc(where, "input", x)
    K = chk.float_array(where, "kernel", K, ndim=4)
    dout = _nhwc(where, "dout", dout)
    if K.shape[2] != x.shape[3] or 0 in K.shape:
        raise ValueError(f"{where}: kernel must have shape (kh, kw, {x.shape[3]}, M), got {K.shape}")
    if dout.shape[0] != x.shape[0] or dout.shape[3] != K.shape[2] * K.shape[3]:
        raise ValueError(
            f"{where}: dout must have shape ({x.shape[0]}, OH, OW, {K.shape[2] * K.shape[3]}), got {dout.shape}"
        )
    g = _geometry(where, x.shape[1], x.shape[2], K.shape[0], K.shape[1], sh, sw, pad_top, pad_left,
                  dout.shape[1], dout.shape[2])
    dtype = chk.common_dtype(x, K, dout)
    x, K, dout = (np.ascontiguousarray(a, dtype=dtype) for a in (x, K, dout))
    return _impl("depthwise_conv_backward")(dout, x, K, *g[2:6])


def avgpool_forward(x, pool_h, pool_w, sh, sw, pad_top, pad_left, OH, OW):
    """x (N, H, W, C) -> (N, OH, OW, C), the mean over each window's cells inside the input."""
    where = "AveragePooling2D.forward"
    x = _nhwc(where, "input", x)
    g = _geometry(where, x.shape[1], x.shape[2], pool_h, pool_w, sh, sw, pad_top, pad_left, OH, OW)
    return _impl("avgpool_forward")(np.ascontiguousarray(x), *g)


def avgpool_backward(dout, input_shape, pool_h, pool_w, sh, sw, pad_top, pad_left):
    """dout (N, OH, OW, C) -> dx of ``input_shape`` (N, H, W, C)."""
    where = "AveragePooling2D.backward"
    dout = _nhwc(where, "dout", dout)
    try:
        if isinstance(input_shape, (str, bytes)):
            raise TypeError
        shape = tuple(int(s) for s in input_shape)
    except (TypeError, ValueError):
        raise TypeError(f"{where}: input_shape must be a tuple (N, H, W, C), got {input_shape!r}") from None
    if len(shape) != 4 or min(shape) < 1:
        raise ValueError(f"{where}: input_shape must be (N, H, W, C) with positive sizes, got {input_shape!r}")
    if dout.shape[0] != shape[0] or dout.shape[3] != shape[3]:
        raise ValueError(f"{where}: dout must have shape ({shape[0]}, OH, OW, {shape[3]}), got {dout.shape}")
    g = _geometry(where, shape[1], shape[2], pool_h, pool_w, sh, sw, pad_top, pad_left,
                  dout.shape[1], dout.shape[2])
    return _impl("avgpool_backward")(np.ascontiguousarray(dout), shape, *g[:6])
