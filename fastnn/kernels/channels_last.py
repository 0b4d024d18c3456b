"""Kernel interface of the channels-last (Keras) kernels: checks, then dispatch.

Part of ``fastnn.kernels`` (re-exported there). Like the book's kernels, each
function checks its arguments with an error naming the kernel, brings them to
one float dtype in C order, then runs the selected backend's implementation:
``numpy_conv_nhwc``/``numpy_norm`` or the compiled ``fastnn._ext.conv_nhwc`` /
``fastnn._ext.norm``.
"""
import numbers

import numpy as np

from . import _checks as chk
from . import numpy_conv_nhwc


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


# --------------------------------------------------------------------------
# BatchNormalization, channel (feature) axis last
# --------------------------------------------------------------------------
def _columns(where, name, x):
    """x (..., C) as its (M, C) view in C order; M, C > 0."""
    x = chk.float_array(where, name, x)
    if x.ndim < 2:
        raise ValueError(f"{where}: {name} must have a batch axis and a channel axis, got shape {x.shape}")
    if x.size == 0:
        raise ValueError(f"{where}: {name} is empty (shape {x.shape})")
    return np.asarray(x, order="C").reshape(-1, x.shape[-1])


def _per_channel(where, name, v, C):
    v = chk.float_array(where, name, v)
    if v.shape != (C,):
        raise ValueError(f"{where}: {name} must have shape ({C},), got {v.shape}")
    return np.asarray(v, dtype=np.float64)


def _epsilon(where, eps):
    if isinstance(eps, bool) or not isinstance(eps, numbers.Real) or not eps > 0:
        raise ValueError(f"{where}: epsilon must be a positive number, got {eps!r}")
    return float(eps)


def batchnorm_forward_train(x, gamma, beta, epsilon):
    """x (..., C) -> (y like x, mean (C,), var (C,), inv_std (C,)) with the batch's statistics.

    Each channel (last axis) is normalised over every other axis; the
    statistics come back in float64 (biased variance, as Keras).
    """
    where = "BatchNormalization.forward"
    x2 = _columns(where, "input", x)
    C = x2.shape[1]
    gamma, beta = _per_channel(where, "gamma", gamma, C), _per_channel(where, "beta", beta, C)
    y, mean, var, inv_std = _impl("batchnorm_forward_train")(x2, gamma, beta, _epsilon(where, epsilon))
    return y.reshape(x.shape), mean, var, inv_std


def batchnorm_forward_infer(x, gamma, beta, mean, var, epsilon):
    """x (..., C) -> y like x, normalised with the given (moving) mean and variance."""
    where = "BatchNormalization.forward"
    x2 = _columns(where, "input", x)
    C = x2.shape[1]
    args = [_per_channel(where, n, v, C) for n, v in
            (("gamma", gamma), ("beta", beta), ("moving_mean", mean), ("moving_variance", var))]
    y = _impl("batchnorm_forward_infer")(x2, *args, _epsilon(where, epsilon))
    return y.reshape(x.shape)


def batchnorm_backward(dout, x, gamma, mean, inv_std, training=True):
    """Gradients -> (dx like x, dgamma (C,), dbeta (C,)).

    mean, inv_std: what the forward pass normalised with (the batch's in
    training, the moving ones at inference); training=True also takes the
    gradient through the batch statistics.
    """
    where = "BatchNormalization.backward"
    x2 = _columns(where, "input", x)
    d2 = _columns(where, "dout", dout)
    if np.shape(dout) != np.shape(x):
        raise ValueError(f"{where}: dout must have shape {np.shape(x)}, got {np.shape(dout)}")
    C = x2.shape[1]
    gamma, mean, inv_std = (_per_channel(where, n, v, C) for n, v in
                            (("gamma", gamma), ("mean", mean), ("inv_std", inv_std)))
    training = chk.flag(where, "training", training)
    d2, x2 = _same(d2, x2)
    dx, dgamma, dbeta = _impl("batchnorm_backward")(d2, x2, gamma, mean, inv_std, training)
    return dx.reshape(np.shape(x)), dgamma, dbeta


# --------------------------------------------------------------------------
# Dropout
# --------------------------------------------------------------------------
def _dropout_args(where, x, rate, key):
    x = chk.float_array(where, "input", x)
    if isinstance(rate, bool) or not isinstance(rate, numbers.Real) or not 0 <= rate < 1:
        raise ValueError(f"{where}: rate must be a number in [0, 1), got {rate!r}")
    if isinstance(key, bool) or not isinstance(key, numbers.Integral) or not 0 <= key < 2 ** 64:
        raise ValueError(f"{where}: key must be an int in [0, 2**64), got {key!r}")
    scale = x.dtype.type(1) / x.dtype.type(1 - float(rate))     # 1/(1 - rate) in x's dtype
    return np.asarray(x, order="C"), float(rate), int(key), float(scale)


def dropout_forward(x, rate, key):
    """Inverted dropout of x (any shape): each value zeroed with probability
    ``rate``, the others scaled by 1/(1 - rate). The mask is a function of
    (key, position) only (see numpy_norm.dropout_keep): the same key gives
    the same mask on both backends."""
    x, rate, key, scale = _dropout_args("Dropout.forward", x, rate, key)
    return _impl("dropout_apply")(x, key, rate, scale)


def dropout_backward(dout, rate, key):
    """Gradient of dropout_forward(x, rate, key): dout through the same mask and scale."""
    dout, rate, key, scale = _dropout_args("Dropout.backward", dout, rate, key)
    return _impl("dropout_apply")(dout, key, rate, scale)


CHANNELS_LAST_KERNELS = ("conv2d_nhwc_forward", "conv2d_nhwc_backward",
                         "batchnorm_forward_train", "batchnorm_forward_infer", "batchnorm_backward",
                         "dropout_forward", "dropout_backward")


# --------------------------------------------------------------------------
# Max pooling, NHWC
# --------------------------------------------------------------------------
def _pool_args(where, shape, pool_size, strides, pads):
    pool_size = _pair(where, "pool_size", pool_size)
    strides = _pair(where, "strides", strides)
    pads = _pads(where, pads)
    N, H, W, C = shape
    if N == 0 or min(H, W, C) == 0:
        raise ValueError(f"{where}: input has an empty dimension (shape {tuple(shape)})")
    (ph, pw), (top, bottom, left, right) = pool_size, pads
    if max(top, bottom) >= ph or max(left, right) >= pw:
        raise ValueError(f"{where}: pads {pads} must be smaller than the window {ph}x{pw} "
                         "(a window of padding only has no maximum)")
    if ph * pw > chk.MAX_WINDOW:             # argmax holds positions in the window as int32
        raise ValueError(f"{where}: window {ph}x{pw} has more than 2**31 - 1 values")
    if ph > H + top + bottom or pw > W + left + right:
        raise ValueError(f"{where}: window {ph}x{pw} is larger than the padded input "
                         f"{H + top + bottom}x{W + left + right}")
    OH = (H + top + bottom - ph) // strides[0] + 1
    OW = (W + left + right - pw) // strides[1] + 1
    return pool_size, strides, pads, (N, OH, OW, C)


def maxpool_nhwc_forward(x, pool_size=(2, 2), strides=(2, 2), pads=(0, 0, 0, 0)):
    """x (N,H,W,C) -> (out (N,OH,OW,C), argmax (N,OH,OW,C) int32, index ky*PW+kx within the window).

    pads (top, bottom, left, right) count as -inf: padding never wins.
    """
    where = "MaxPooling2D.forward"
    x = chk.float_array(where, "input", x, ndim=4)
    pool_size, strides, pads, _ = _pool_args(where, x.shape, pool_size, strides, pads)
    return _impl("maxpool_nhwc_forward")(np.ascontiguousarray(x), pool_size, strides, pads)


def maxpool_nhwc_backward(dout, argmax, input_shape, pool_size=(2, 2), strides=(2, 2), pads=(0, 0, 0, 0)):
    """dout, argmax (N,OH,OW,C) -> dx with ``input_shape`` (N,H,W,C)."""
    where = "MaxPooling2D.backward"
    dout = chk.float_array(where, "dout", dout, ndim=4)
    shape = chk.input_shape_4d(where, input_shape)
    pool_size, strides, pads, out_shape = _pool_args(where, shape, pool_size, strides, pads)
    chk.shape_is(where, "dout", dout, out_shape)
    if not isinstance(argmax, np.ndarray) or argmax.dtype != np.int32:
        raise TypeError(f"{where}: argmax must be the int32 array from maxpool_nhwc_forward")
    chk.shape_is(where, "argmax", argmax, out_shape)
    fn = _impl("maxpool_nhwc_backward")
    return chk.run_argmax_checked(
        where, fn, fn is not numpy_conv_nhwc.maxpool_nhwc_backward, argmax, pool_size[0] * pool_size[1],
        np.ascontiguousarray(dout), np.ascontiguousarray(argmax), shape, pool_size, strides, pads)
