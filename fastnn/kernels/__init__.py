"""The one interface to fastnn's hot kernels.

Every layer calls these functions. Each checks its arguments (see
``_checks``), brings them to one float dtype and C order, then runs the
implementation of the selected backend:

* ``numpy_kernels``: pure NumPy, always present, the reference;
* ``fastnn._ext.*``: the compiled Cython twins (``src_c/*.pyx``), which hold
  functions of the same names and signatures.

A kernel whose compiled version is missing runs on NumPy (``backend_info()``
lists which are compiled); a missing compiled module is reported with one
warning, never an error.
"""
import importlib
import warnings

import numpy as np

from .. import _backend
from . import _checks as chk
from . import numpy_kernels

#: Compiled modules in fastnn._ext; each may define any of KERNEL_NAMES.
COMPILED_MODULES = ("im2col", "conv", "pool", "dense", "softmax", "elementwise", "depthwise", "avgpool",
                    "conv_nhwc", "norm")

KERNEL_NAMES = (
    "im2col", "col2im", "conv_forward", "conv_backward",
    "maxpool_forward", "maxpool_backward", "affine_forward", "affine_backward",
    "softmax", "softmax_cross_entropy_forward", "softmax_cross_entropy_backward",
    "relu_forward", "relu_backward", "sgd_update", "momentum_update", "adam_update",
    "nesterov_update", "rmsprop_update", "adagrad_update",
    "depthwise_conv_forward", "depthwise_conv_backward", "avgpool_forward", "avgpool_backward",
)

#: The channels-last (Keras) kernels: interface in channels_last.py, NumPy
#: twins in numpy_conv_nhwc.py / numpy_norm.py, error cases in tests/test_kernels_nhwc.py etc.
CHANNELS_LAST_NAMES = (
    "conv2d_nhwc_forward", "conv2d_nhwc_backward", "maxpool_nhwc_forward", "maxpool_nhwc_backward",
    "batchnorm_forward_train", "batchnorm_forward_infer", "batchnorm_backward", "dropout_apply",
)

_compiled = {}          # kernel name -> compiled function
_load_errors = {}       # module name -> why it did not import
_loaded = False


def _load_compiled():
    global _loaded
    if _loaded:
        return
    for mod in COMPILED_MODULES:
        try:
            module = importlib.import_module("fastnn._ext." + mod)
        except ImportError as exc:
            _load_errors[mod] = str(exc)
            continue
        for name in KERNEL_NAMES + CHANNELS_LAST_NAMES:
            fn = getattr(module, name, None)
            if fn is not None:
                _compiled[name] = fn
    _loaded = True
    if _backend.get_backend() == "cython" and len(_compiled) == 0:
        warnings.warn(KernelFallbackWarning(fallback_message()), stacklevel=_outside_fastnn())


class KernelFallbackWarning(RuntimeWarning):
    """The compiled kernels are not built: fastnn runs on its NumPy fallback."""


#: How to get the compiled kernels, for messages.
HOW_TO_COMPILE = ("to get them, install a C compiler (Debian/Ubuntu: apt-get install build-essential "
                  "python3-dev) and reinstall fastnn from its source (in its folder: "
                  "pip install --force-reinstall --no-cache-dir .)")


def fallback_message():
    """One line: which backend runs, why, and how to get the compiled one."""
    return ("fastnn: running on the NumPy kernels (slower, same numbers): the compiled kernels are "
            "not built in this installation; " + HOW_TO_COMPILE + "; FASTNN_BACKEND=numpy silences this")


def _outside_fastnn():
    """The ``stacklevel`` of the first caller outside the fastnn package, so that a
    warning shows the user's own line, not one of fastnn's."""
    import os
    import sys

    package = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep
    frame, level = sys._getframe(1), 1
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(package):
        frame, level = frame.f_back, level + 1
    return level


def _impl(name):
    """The function that computes kernel ``name`` under the current backend."""
    if _backend.get_backend() == "cython":
        _load_compiled()
        fn = _compiled.get(name)
        if fn is not None:
            return fn
    return getattr(numpy_kernels, name, None) or _NUMPY_CHANNELS_LAST[name]


def compiled_kernels():
    """Names of the kernels that have a compiled implementation."""
    _load_compiled()
    return sorted(_compiled)


def missing_modules():
    """Compiled modules that failed to import, with the reason."""
    _load_compiled()
    return dict(_load_errors)


def _same_dtype(*arrays):
    """Cast float arrays to their common dtype (NumPy's promotion) in C order.

    (np.asarray with order="C", not np.ascontiguousarray, which turns a 0-d
    array into shape (1,).)
    """
    dtype = arrays[0].dtype
    for a in arrays:
        if a.dtype != dtype:
            dtype = chk.common_dtype(*arrays)
            break
    return [np.asarray(a, dtype=dtype, order="C") for a in arrays]


# --------------------------------------------------------------------------
# im2col / col2im
# --------------------------------------------------------------------------
def im2col(x, filter_h, filter_w, stride=1, pad=0):
    """x: (N, C, H, W) -> (N*OH*OW, C*FH*FW). See ``numpy_kernels.im2col``."""
    where = "im2col"
    x = chk.float_array(where, "input", x, ndim=4)
    chk.window_geometry(where, x.shape, filter_h, filter_w, stride, pad)
    return _impl("im2col")(np.ascontiguousarray(x), int(filter_h), int(filter_w), int(stride), int(pad))


def col2im(col, input_shape, filter_h, filter_w, stride=1, pad=0):
    """col: (N*OH*OW, C*FH*FW) -> (N, C, H, W). See ``numpy_kernels.col2im``."""
    where = "col2im"
    col = chk.float_array(where, "col", col, ndim=2)
    shape = chk.input_shape_4d(where, input_shape)
    OH, OW = chk.window_geometry(where, shape, filter_h, filter_w, stride, pad)
    N, C = shape[:2]
    chk.shape_is(where, "col", col, (N * OH * OW, C * filter_h * filter_w))
    return _impl("col2im")(np.ascontiguousarray(col), shape, int(filter_h), int(filter_w), int(stride), int(pad))


# --------------------------------------------------------------------------
# Convolution
# --------------------------------------------------------------------------
def _conv_args(where, x, W, stride, pad):
    x = chk.float_array(where, "input", x, ndim=4)
    W = chk.float_array(where, "weights W", W, ndim=4)
    if x.shape[1] != W.shape[1]:
        raise ValueError(
            f"{where}: input has {x.shape[1]} channels but W {W.shape} expects {W.shape[1]}"
        )
    OH, OW = chk.window_geometry(where, x.shape, W.shape[2], W.shape[3], stride, pad)
    return x, W, OH, OW


def conv_forward(x, W, b, stride=1, pad=0, relu=False):
    """Convolution: x (N,C,H,W), W (FN,C,FH,FW), b (FN,) -> (out (N,FN,OH,OW), col or None).

    relu=True returns max(out, 0) instead, the output of a Relu layer placed
    after the convolution, in the same pass over the output.
    """
    where = "Convolution.forward"
    x, W, _, _ = _conv_args(where, x, W, stride, pad)
    b = chk.float_array(where, "bias b", b)
    if b.size != W.shape[0]:
        raise ValueError(f"{where}: bias has {b.size} values for {W.shape[0]} filters")
    relu = chk.flag(where, "relu", relu)
    x, W, b = _same_dtype(x, W, b.reshape(-1))
    return _impl("conv_forward")(x, W, b, int(stride), int(pad), relu)


def conv_backward(dout, x, W, stride=1, pad=0, col=None, relu_out=None, need_dx=True):
    """Gradients of conv_forward -> (dx (N,C,H,W), dW (FN,C,FH,FW), db (FN,)).

    relu_out: the output of ``conv_forward(..., relu=True)``; dout is then the
    gradient w.r.t. that output and goes through the ReLU first (as
    ``relu_backward(dout, relu_out)``), in the same pass.
    need_dx=False: dx is not computed and None is returned in its place.
    """
    where = "Convolution.backward"
    x, W, OH, OW = _conv_args(where, x, W, stride, pad)
    dout = chk.float_array(where, "dout", dout, ndim=4)
    shape = (x.shape[0], W.shape[0], OH, OW)
    chk.shape_is(where, "dout", dout, shape)
    if relu_out is not None:
        relu_out = chk.float_array(where, "relu_out", relu_out, ndim=4)
        chk.shape_is(where, "relu_out", relu_out, shape)
        dout, x, W, relu_out = _same_dtype(dout, x, W, relu_out)
    else:
        dout, x, W = _same_dtype(dout, x, W)
    need_dx = chk.flag(where, "need_dx", need_dx)
    fn = _impl("conv_backward")
    if fn is numpy_kernels.conv_backward:
        if col is not None and col.dtype != x.dtype:
            col = None
        return fn(dout, x, W, int(stride), int(pad), col, relu_out, need_dx)
    return fn(dout, x, W, int(stride), int(pad), relu_out, need_dx)


# --------------------------------------------------------------------------
# Max pooling
# --------------------------------------------------------------------------
def maxpool_forward(x, pool_h, pool_w, stride=2, pad=0):
    """x (N,C,H,W) -> (out (N,C,OH,OW), argmax (N,C,OH,OW) int64, index within the window)."""
    where = "Pooling.forward"
    x = chk.float_array(where, "input", x, ndim=4)
    chk.window_geometry(where, x.shape, pool_h, pool_w, stride, pad)
    return _impl("maxpool_forward")(np.ascontiguousarray(x), int(pool_h), int(pool_w), int(stride), int(pad))


def maxpool_backward(dout, argmax, input_shape, pool_h, pool_w, stride=2, pad=0):
    """dout, argmax (N,C,OH,OW) -> dx with ``input_shape`` (N,C,H,W)."""
    where = "Pooling.backward"
    dout = chk.float_array(where, "dout", dout, ndim=4)
    shape = chk.input_shape_4d(where, input_shape)
    OH, OW = chk.window_geometry(where, shape, pool_h, pool_w, stride, pad)
    expected = (shape[0], shape[1], OH, OW)
    chk.shape_is(where, "dout", dout, expected)
    if not isinstance(argmax, np.ndarray) or argmax.dtype != np.int64:
        raise TypeError(f"{where}: argmax must be the int64 array from maxpool_forward")
    chk.shape_is(where, "argmax", argmax, expected)
    fn = _impl("maxpool_backward")
    return chk.run_argmax_checked(
        where, fn, fn is not numpy_kernels.maxpool_backward, argmax, pool_h * pool_w,
        np.ascontiguousarray(dout), np.ascontiguousarray(argmax), shape,
        int(pool_h), int(pool_w), int(stride), int(pad),
    )


# --------------------------------------------------------------------------
# Affine
# --------------------------------------------------------------------------
def affine_forward(x, W, b, relu=False):
    """x (N, D) @ W (D, M) + b (M,) -> (N, M).

    relu=True returns max(out, 0) instead, the output of a Relu layer placed
    after the affine layer, in the same pass as the bias.
    """
    where = "Affine.forward"
    x = chk.float_array(where, "input", x, ndim=2)
    W = chk.float_array(where, "weights W", W, ndim=2)
    b = chk.float_array(where, "bias b", b)
    chk.non_empty_batch(where, "input", x)
    if x.shape[1] != W.shape[0]:
        raise ValueError(f"{where}: input has {x.shape[1]} features but W {W.shape} expects {W.shape[0]}")
    if b.size != W.shape[1]:
        raise ValueError(f"{where}: bias has {b.size} values for {W.shape[1]} outputs")
    relu = chk.flag(where, "relu", relu)
    x, W, b = _same_dtype(x, W, b.reshape(-1))
    return _impl("affine_forward")(x, W, b, relu)


def affine_backward(dout, x, W, need_dx=True, relu_out=None):
    """dout (N, M) -> (dx (N, D), dW (D, M), db (M,)).

    need_dx=False: dx is not computed and None is returned in its place
    (the first layer of a network, whose input needs no gradient).
    relu_out: the output of ``affine_forward(..., relu=True)``; dout is then the
    gradient w.r.t. that ReLU's output, taken through it first by the backend's
    ``relu_backward`` kernel, in the same call.
    """
    where = "Affine.backward"
    x = chk.float_array(where, "input", x, ndim=2)
    W = chk.float_array(where, "weights W", W, ndim=2)
    dout = chk.float_array(where, "dout", dout, ndim=2)
    chk.shape_is(where, "dout", dout, (x.shape[0], W.shape[1]))
    if x.shape[1] != W.shape[0]:
        raise ValueError(f"{where}: input has {x.shape[1]} features but W {W.shape} expects {W.shape[0]}")
    need_dx = chk.flag(where, "need_dx", need_dx)
    if relu_out is None:
        dout, x, W = _same_dtype(dout, x, W)
    else:
        relu_out = chk.float_array(where, "relu_out", relu_out, ndim=2)
        chk.shape_is(where, "relu_out", relu_out, dout.shape)
        dout, x, W, relu_out = _same_dtype(dout, x, W, relu_out)
        dout = _impl("relu_backward")(dout, relu_out)
    return _impl("affine_backward")(dout, x, W, need_dx)


# --------------------------------------------------------------------------
# Softmax with cross-entropy
# --------------------------------------------------------------------------
def _softmax_cross_entropy(name, where, what, a, t, *scalars):
    """Check a (N, K) array ``a`` (scores or probabilities) and targets t, run kernel ``name``.

    The compiled kernels check the range of integer labels in their own loop
    (t.min() and t.max() here would cost more than the whole kernel at batch
    100) and raise ValueError at the first label outside [0, K); that is
    turned into the NumPy path's message, so both backends say the same.
    """
    a = chk.float_array(where, what, a, ndim=2)
    chk.non_empty_batch(where, what, a)
    if a.shape[1] == 0:
        raise ValueError(f"{where}: {what} must have at least one class, got shape {a.shape}")
    fn = _impl(name)
    compiled = fn is not getattr(numpy_kernels, name)
    targets = chk.labels_or_targets(where, t, *a.shape, check_range=not compiled)
    if targets.ndim == 2:
        targets = targets.astype(a.dtype, copy=False)
    a, targets = np.ascontiguousarray(a), np.ascontiguousarray(targets)
    if not compiled:
        return fn(a, targets, *scalars)
    try:
        return fn(a, targets, *scalars)
    except ValueError:
        if targets.ndim == 1:
            chk.labels_in_range(where, t, a.shape[1])
        raise


def softmax(x):
    """Row-wise softmax of (N, K) scores -> (N, K) probabilities (the row's max subtracted first)."""
    where = "softmax"
    x = chk.float_array(where, "scores", x, ndim=2)
    chk.non_empty_batch(where, "scores", x)
    if x.shape[1] == 0:
        raise ValueError(f"{where}: scores must have at least one class, got shape {x.shape}")
    return _impl("softmax")(np.ascontiguousarray(x))


def softmax_cross_entropy_forward(x, t):
    """x (N, K) scores, t (N,) labels or (N, K) targets -> (mean loss, y (N, K))."""
    return _softmax_cross_entropy(
        "softmax_cross_entropy_forward", "SoftmaxWithLoss.forward", "scores", x, t)


def softmax_cross_entropy_backward(y, t, dout=1.0):
    """y (N, K) from the forward pass, t as there -> dx (N, K) = dout * (y - t) / N."""
    return _softmax_cross_entropy(
        "softmax_cross_entropy_backward", "SoftmaxWithLoss.backward", "y", y, t, float(dout))


# --------------------------------------------------------------------------
# ReLU
# --------------------------------------------------------------------------
def relu_forward(x):
    """max(x, 0) of a float array of any shape."""
    x = chk.float_array("Relu.forward", "input", x)
    return _impl("relu_forward")(np.asarray(x, order="C"))  # keeps a 0-d shape


def relu_backward(dout, out):
    """dout where the forward output was > 0, else 0."""
    where = "Relu.backward"
    out = chk.float_array(where, "forward output", out)
    dout = chk.float_array(where, "dout", dout)
    chk.shape_is(where, "dout", dout, out.shape)
    dout, out = _same_dtype(dout, out)
    return _impl("relu_backward")(dout, out)


# --------------------------------------------------------------------------
# Optimizer updates (in place)
# --------------------------------------------------------------------------
def _update_args(where, param, *others):
    """Check an in-place update's arrays: param, then (name, array) pairs of its grad and state.

    The parameters and the state arrays are written in place, so they must be
    writeable, and no two of the arrays may share memory (``m is v``, or a
    state that is a view of the parameters): the result would depend on the
    order in which a backend reads and writes them. Mixed float dtypes are
    allowed; see ``_in_place``.
    """
    if not isinstance(param, np.ndarray) or param.dtype not in chk.FLOAT_DTYPE_SET:
        raise TypeError(f"{where}: parameters must be float32/float64 arrays, got {type(param).__name__}")
    names, arrays = ["parameters"], [param]
    for name, a in others:
        a = chk.float_array(where, name, a)
        chk.shape_is(where, name, a, param.shape)
        names.append(name)
        arrays.append(a)
    for name, a in zip(names, arrays):
        if name != "grad" and not a.flags.writeable:
            raise ValueError(f"{where}: the {name} array is read-only; the update writes it in place")
    n = len(arrays)
    for i in range(n - 1):
        a = arrays[i]
        for j in range(i + 1, n):
            b = arrays[j]
            if a.size and b.size and np.may_share_memory(a, b) and np.shares_memory(a, b):
                raise ValueError(
                    f"{where}: {names[i]} and {names[j]} share memory; each must be an array of its own"
                )
    return arrays[1:]


def _in_place(fn_name, param, grad, states, *scalars):
    """Run an in-place update kernel on param and its state arrays.

    Both backends compute in the parameters' dtype: a gradient or a state
    array of the other float dtype is cast to it first, and a state array is
    rounded back to its own dtype afterwards (so float64 parameters with a
    float32 velocity give the same numbers on both). The compiled kernels
    also need C-contiguous arrays; where an array is not, they work on a copy
    that is written back afterwards.
    """
    fn = _impl(fn_name)
    compiled = fn is not getattr(numpy_kernels, fn_name)
    dtype = param.dtype
    written = [param, *states]
    if compiled:
        grad = np.ascontiguousarray(grad, dtype=dtype)
        work = [np.ascontiguousarray(a, dtype=dtype) for a in written]
    else:
        grad = np.asarray(grad, dtype=dtype)
        work = [a if a.dtype == dtype else a.astype(dtype) for a in written]
    fn(work[0], grad, *work[1:], *scalars)
    for original, copy in zip(written, work):
        if copy is not original:
            original[...] = copy


def sgd_update(param, grad, lr):
    """param -= lr * grad, in place."""
    (grad,) = _update_args("SGD.update", param, ("grad", grad))
    _in_place("sgd_update", param, grad, [], float(lr))


def momentum_update(param, grad, velocity, lr, momentum):
    """v = momentum*v - lr*grad; param += v, in place."""
    grad, velocity = _update_args("Momentum.update", param, ("grad", grad), ("velocity", velocity))
    _in_place("momentum_update", param, grad, [velocity], float(lr), float(momentum))


def adam_update(param, grad, m, v, lr_t, beta1, beta2, eps=1e-7):
    """One Adam step in place on param, m and v (bias correction folded into lr_t)."""
    grad, m, v = _update_args("Adam.update", param, ("grad", grad), ("m", m), ("v", v))
    _in_place("adam_update", param, grad, [m, v], float(lr_t), float(beta1), float(beta2), float(eps))


def nesterov_update(param, grad, velocity, lr, momentum):
    """v = momentum*v - lr*grad; param += momentum*v - lr*grad, in place (Keras' SGD(nesterov=True))."""
    grad, velocity = _update_args("Nesterov.update", param, ("grad", grad), ("velocity", velocity))
    _in_place("nesterov_update", param, grad, [velocity], float(lr), float(momentum))


def rmsprop_update(param, grad, velocity, lr, rho, eps=1e-7):
    """v = rho*v + (1-rho)*grad^2; param -= lr*grad/sqrt(v + eps), in place (Keras' RMSprop)."""
    grad, velocity = _update_args("RMSprop.update", param, ("grad", grad), ("velocity", velocity))
    _in_place("rmsprop_update", param, grad, [velocity], float(lr), float(rho), float(eps))


def adagrad_update(param, grad, accumulator, lr, eps=1e-7):
    """accumulator += grad^2; param -= lr*grad/sqrt(accumulator + eps), in place (Keras' Adagrad)."""
    grad, accumulator = _update_args("Adagrad.update", param, ("grad", grad), ("accumulator", accumulator))
    _in_place("adagrad_update", param, grad, [accumulator], float(lr), float(eps))


# Channels_last kernels (depthwise convolution, average pooling): checks and dispatch in nhwc.py.
from .nhwc import (avgpool_backward, avgpool_forward, depthwise_conv_backward,  # noqa: E402,F401
                   depthwise_conv_forward)

# The channels-last (Keras) convolution, max-pooling, BatchNormalization and Dropout:
# interface in channels_last.py, NumPy twins in numpy_conv_nhwc.py and numpy_norm.py.
from . import numpy_conv_nhwc, numpy_norm  # noqa: E402
from .channels_last import (  # noqa: E402,F401
    batchnorm_backward, batchnorm_forward_infer, batchnorm_forward_train,
    conv2d_nhwc_backward, conv2d_nhwc_forward, dropout_backward, dropout_forward,
    maxpool_nhwc_backward, maxpool_nhwc_forward,
)

_NUMPY_CHANNELS_LAST = {name: getattr(numpy_conv_nhwc, name, None) or getattr(numpy_norm, name)
                        for name in CHANNELS_LAST_NAMES}

__all__ = list(KERNEL_NAMES) + [n for n in CHANNELS_LAST_NAMES if n != "dropout_apply"] + [
    "dropout_forward", "dropout_backward", "compiled_kernels", "missing_modules", "numpy_kernels",
    "KernelFallbackWarning", "fallback_message"]
