"""Bad input to any kernel gets a clear error, the same on both backends.

The compiled kernels run without bounds checks, so these checks in
``fastnn.kernels`` are what stands between a wrong call and a crash. Each
case names the kernel, builds bad arguments, and gives the exception type
and a pattern its message must match (the message names the function).
"""
import re

import numpy as np
import pytest

from fastnn import kernels


def f64(*shape):
    return np.ones(shape, dtype=np.float64)


def i64(*shape):
    return np.ones(shape, dtype=np.int64)


def argmax(*shape):
    return np.zeros(shape, dtype=np.int64)


# (id, kernel, args, exception, message pattern)
CASES = [
    # --- im2col / col2im
    ("im2col-rank", "im2col", (f64(2, 3, 4), 2, 2), ValueError, r"im2col: input must be 4-D, got shape \(2, 3, 4\)"),
    ("im2col-int", "im2col", (i64(1, 1, 4, 4), 2, 2), TypeError, r"im2col: input must be float32 or float64, got dtype int64"),
    ("im2col-window", "im2col", (f64(1, 1, 4, 4), 5, 2), ValueError, r"window 5x2 is larger than the padded input 4x4"),
    ("im2col-window-pad", "im2col", (f64(1, 1, 4, 4), 7, 7, 1, 1), ValueError, r"larger than the padded input 6x6 \(input 4x4, pad 1\)"),
    ("im2col-empty", "im2col", (f64(0, 1, 4, 4), 2, 2), ValueError, r"im2col: empty batch"),
    ("im2col-stride0", "im2col", (f64(1, 1, 4, 4), 2, 2, 0), ValueError, r"stride must be >= 1, got 0"),
    ("im2col-pad-neg", "im2col", (f64(1, 1, 4, 4), 2, 2, 1, -1), ValueError, r"pad must be >= 0, got -1"),
    ("im2col-float-size", "im2col", (f64(1, 1, 4, 4), 2.0, 2), TypeError, r"filter height must be an int"),
    ("im2col-not-array", "im2col", ("abc", 2, 2), TypeError, r"im2col: input must be a NumPy array, got str"),
    ("col2im-shape", "col2im", (f64(9, 5), (1, 1, 4, 4), 2, 2), ValueError, r"col2im: col must have shape \(9, 4\), got \(9, 5\)"),
    ("col2im-rank", "col2im", (f64(9), (1, 1, 4, 4), 2, 2), ValueError, r"col2im: col must be 2-D"),
    ("col2im-int", "col2im", (i64(9, 4), (1, 1, 4, 4), 2, 2), TypeError, r"col2im: col must be float32 or float64"),
    ("col2im-input-shape", "col2im", (f64(9, 4), (1, 4, 4), 2, 2), ValueError, r"col2im: input_shape must be \(N, C, H, W\)"),
    ("col2im-empty", "col2im", (f64(0, 4), (0, 1, 4, 4), 2, 2), ValueError, r"col2im: empty batch"),
    ("col2im-window", "col2im", (f64(1, 4), (1, 1, 1, 1), 2, 2), ValueError, r"window 2x2 is larger than the padded input 1x1"),
    # --- convolution
    ("conv-rank", "conv_forward", (f64(3, 4, 4), f64(2, 1, 3, 3), f64(2)), ValueError, r"Convolution.forward: input must be 4-D"),
    ("conv-W-rank", "conv_forward", (f64(1, 1, 4, 4), f64(2, 3, 3), f64(2)), ValueError, r"Convolution.forward: weights W must be 4-D"),
    ("conv-channels", "conv_forward", (f64(1, 3, 4, 4), f64(2, 1, 3, 3), f64(2)), ValueError, r"input has 3 channels but W \(2, 1, 3, 3\) expects 1"),
    ("conv-bias", "conv_forward", (f64(1, 1, 4, 4), f64(2, 1, 3, 3), f64(3)), ValueError, r"bias has 3 values for 2 filters"),
    ("conv-int", "conv_forward", (i64(1, 1, 4, 4), f64(2, 1, 3, 3), f64(2)), TypeError, r"Convolution.forward: input must be float32 or float64"),
    ("conv-int-W", "conv_forward", (f64(1, 1, 4, 4), i64(2, 1, 3, 3), f64(2)), TypeError, r"weights W must be float32 or float64"),
    ("conv-window", "conv_forward", (f64(1, 1, 4, 4), f64(2, 1, 5, 5), f64(2)), ValueError, r"window 5x5 is larger than the padded input 4x4"),
    ("conv-empty", "conv_forward", (f64(0, 1, 4, 4), f64(2, 1, 3, 3), f64(2)), ValueError, r"Convolution.forward: empty batch"),
    ("convb-dout", "conv_backward", (f64(1, 2, 3, 3), f64(1, 1, 4, 4), f64(2, 1, 3, 3)), ValueError, r"Convolution.backward: dout must have shape \(1, 2, 2, 2\), got \(1, 2, 3, 3\)"),
    ("convb-rank", "conv_backward", (f64(2, 2, 2), f64(1, 1, 4, 4), f64(2, 1, 3, 3)), ValueError, r"Convolution.backward: dout must be 4-D"),
    ("convb-int", "conv_backward", (i64(1, 2, 2, 2), f64(1, 1, 4, 4), f64(2, 1, 3, 3)), TypeError, r"dout must be float32 or float64"),
    ("convb-empty", "conv_backward", (f64(0, 2, 2, 2), f64(0, 1, 4, 4), f64(2, 1, 3, 3)), ValueError, r"Convolution.backward: empty batch"),
    # --- max pooling
    ("pool-rank", "maxpool_forward", (f64(4, 4), 2, 2), ValueError, r"Pooling.forward: input must be 4-D, got shape \(4, 4\)"),
    ("pool-int", "maxpool_forward", (i64(1, 1, 4, 4), 2, 2), TypeError, r"Pooling.forward: input must be float32 or float64, got dtype int64"),
    ("pool-window", "maxpool_forward", (f64(1, 1, 3, 3), 4, 2), ValueError, r"Pooling.forward: window 4x2 is larger than the padded input 3x3"),
    ("pool-window-pad", "maxpool_forward", (f64(1, 1, 3, 3), 6, 6, 2, 1), ValueError, r"larger than the padded input 5x5 \(input 3x3, pad 1\)"),
    ("pool-empty", "maxpool_forward", (f64(0, 3, 4, 4), 2, 2), ValueError, r"Pooling.forward: empty batch"),
    ("pool-zero-dim", "maxpool_forward", (f64(1, 0, 4, 4), 2, 2), ValueError, r"Pooling.forward: input has a zero dimension"),
    ("pool-size0", "maxpool_forward", (f64(1, 1, 4, 4), 0, 2), ValueError, r"filter height must be >= 1, got 0"),
    ("pool-bool-stride", "maxpool_forward", (f64(1, 1, 4, 4), 2, 2, True), TypeError, r"stride must be an int, got True"),
    ("poolb-argmax-dtype", "maxpool_backward", (f64(1, 1, 2, 2), np.zeros((1, 1, 2, 2), np.int32), (1, 1, 4, 4), 2, 2), TypeError, r"Pooling.backward: argmax must be the int64 array"),
    ("poolb-argmax-float", "maxpool_backward", (f64(1, 1, 2, 2), f64(1, 1, 2, 2), (1, 1, 4, 4), 2, 2), TypeError, r"argmax must be the int64 array"),
    ("poolb-argmax-list", "maxpool_backward", (f64(1, 1, 2, 2), [[[[0, 0], [0, 0]]]], (1, 1, 4, 4), 2, 2), TypeError, r"argmax must be the int64 array"),
    ("poolb-argmax-range", "maxpool_backward", (f64(1, 1, 2, 2), argmax(1, 1, 2, 2) + 4, (1, 1, 4, 4), 2, 2), ValueError, r"argmax values must lie in \[0, 4\)"),
    ("poolb-argmax-one-value", "maxpool_backward", (f64(2, 3, 2, 2), np.where(np.arange(24).reshape(2, 3, 2, 2) == 17, 4, argmax(2, 3, 2, 2)), (2, 3, 4, 4), 2, 2), ValueError, r"Pooling.backward: argmax values must lie in \[0, 4\)"),
    ("poolb-argmax-negative", "maxpool_backward", (f64(1, 1, 2, 2), argmax(1, 1, 2, 2) - 1, (1, 1, 4, 4), 2, 2), ValueError, r"argmax values must lie in \[0, 4\)"),
    ("poolb-argmax-shape", "maxpool_backward", (f64(1, 1, 2, 2), argmax(1, 1, 2, 3), (1, 1, 4, 4), 2, 2), ValueError, r"argmax must have shape \(1, 1, 2, 2\), got \(1, 1, 2, 3\)"),
    ("poolb-dout-shape", "maxpool_backward", (f64(1, 1, 3, 3), argmax(1, 1, 3, 3), (1, 1, 4, 4), 2, 2), ValueError, r"Pooling.backward: dout must have shape \(1, 1, 2, 2\), got \(1, 1, 3, 3\)"),
    ("poolb-dout-int", "maxpool_backward", (i64(1, 1, 2, 2), argmax(1, 1, 2, 2), (1, 1, 4, 4), 2, 2), TypeError, r"Pooling.backward: dout must be float32 or float64"),
    ("poolb-input-shape", "maxpool_backward", (f64(1, 1, 2, 2), argmax(1, 1, 2, 2), (1, 4, 4), 2, 2), ValueError, r"input_shape must be \(N, C, H, W\)"),
    ("poolb-input-shape-type", "maxpool_backward", (f64(1, 1, 2, 2), argmax(1, 1, 2, 2), 4, 2, 2), TypeError, r"input_shape must be a tuple"),
    ("poolb-empty", "maxpool_backward", (f64(0, 1, 2, 2), argmax(0, 1, 2, 2), (0, 1, 4, 4), 2, 2), ValueError, r"Pooling.backward: empty batch"),
    ("poolb-window", "maxpool_backward", (f64(1, 1, 1, 1), argmax(1, 1, 1, 1), (1, 1, 2, 2), 3, 3), ValueError, r"window 3x3 is larger than the padded input 2x2"),
    # --- affine
    ("affine-rank", "affine_forward", (f64(2, 3, 4), f64(12, 5), f64(5)), ValueError, r"Affine.forward: input must be 2-D, got shape \(2, 3, 4\)"),
    ("affine-W-rank", "affine_forward", (f64(2, 3), f64(3), f64(5)), ValueError, r"Affine.forward: weights W must be 2-D"),
    ("affine-features", "affine_forward", (f64(2, 5), f64(4, 3), f64(3)), ValueError, r"input has 5 features but W \(4, 3\) expects 4"),
    ("affine-bias", "affine_forward", (f64(2, 4), f64(4, 3), f64(2)), ValueError, r"bias has 2 values for 3 outputs"),
    ("affine-int", "affine_forward", (i64(2, 4), f64(4, 3), f64(3)), TypeError, r"Affine.forward: input must be float32 or float64, got dtype int64"),
    ("affine-int-bias", "affine_forward", (f64(2, 4), f64(4, 3), i64(3)), TypeError, r"bias b must be float32 or float64"),
    ("affineb-relu-shape", "affine_backward", (f64(2, 3), f64(2, 4), f64(4, 3), True, f64(3, 2)), ValueError, r"Affine.backward: relu_out must have shape \(2, 3\), got \(3, 2\)"),
    ("affine-empty", "affine_forward", (f64(0, 4), f64(4, 3), f64(3)), ValueError, r"Affine.forward: input has an empty batch"),
    ("affineb-dout", "affine_backward", (f64(2, 4), f64(2, 4), f64(4, 3)), ValueError, r"Affine.backward: dout must have shape \(2, 3\), got \(2, 4\)"),
    ("affineb-features", "affine_backward", (f64(2, 3), f64(2, 5), f64(4, 3)), ValueError, r"Affine.backward: input has 5 features"),
    ("affineb-int", "affine_backward", (i64(2, 3), f64(2, 4), f64(4, 3)), TypeError, r"Affine.backward: dout must be float32 or float64"),
    ("affineb-rank", "affine_backward", (f64(2, 3), f64(2, 4), f64(4, 3, 1)), ValueError, r"Affine.backward: weights W must be 2-D"),
    # --- softmax with cross-entropy
    ("sce-rank", "softmax_cross_entropy_forward", (f64(10), np.array([1])), ValueError, r"SoftmaxWithLoss.forward: scores must be 2-D, got shape \(10,\)"),
    ("sce-int", "softmax_cross_entropy_forward", (i64(2, 3), np.array([0, 1])), TypeError, r"scores must be float32 or float64, got dtype int64"),
    ("sce-empty", "softmax_cross_entropy_forward", (f64(0, 3), np.zeros(0, np.int64)), ValueError, r"SoftmaxWithLoss.forward: scores has an empty batch"),
    ("sce-label-high", "softmax_cross_entropy_forward", (f64(2, 3), np.array([0, 3])), ValueError, r"labels must lie in \[0, 3\), got values in \[0, 3\]"),
    ("sce-label-negative", "softmax_cross_entropy_forward", (f64(2, 3), np.array([-1, 2])), ValueError, r"labels must lie in \[0, 3\), got values in \[-1, 2\]"),
    ("sce-label-count", "softmax_cross_entropy_forward", (f64(2, 3), np.array([0, 1, 2])), ValueError, r"3 labels for a batch of 2"),
    ("sce-label-float", "softmax_cross_entropy_forward", (f64(2, 3), np.array([0.0, 1.0])), TypeError, r"labels must be integers, got dtype float64"),
    ("sce-targets-shape", "softmax_cross_entropy_forward", (f64(2, 3), f64(2, 4)), ValueError, r"targets must be one-hot of the scores. shape \(2, 3\), or integer labels .*got shape \(2, 4\)"),
    ("sce-targets-rank", "softmax_cross_entropy_forward", (f64(2, 3), f64(2, 3, 1)), ValueError, r"targets must be \(N,\) labels or \(N, K\) one-hot"),
    ("sce-targets-str", "softmax_cross_entropy_forward", (f64(2, 3), np.array([["a"] * 3] * 2)), TypeError, r"targets must be numeric"),
    ("sceb-rank", "softmax_cross_entropy_backward", (f64(6), np.array([0])), ValueError, r"SoftmaxWithLoss.backward: y must be 2-D"),
    ("sceb-empty", "softmax_cross_entropy_backward", (f64(0, 3), np.zeros(0, np.int64)), ValueError, r"SoftmaxWithLoss.backward: y has an empty batch"),
    ("sceb-label-high", "softmax_cross_entropy_backward", (f64(2, 3), np.array([5, 0])), ValueError, r"SoftmaxWithLoss.backward: labels must lie in \[0, 3\)"),
    ("sceb-targets-shape", "softmax_cross_entropy_backward", (f64(2, 3), f64(3, 3)), ValueError, r"targets must be one-hot of the scores. shape \(2, 3\)"),
    ("sceb-int", "softmax_cross_entropy_backward", (i64(2, 3), np.array([0, 1])), TypeError, r"SoftmaxWithLoss.backward: y must be float32 or float64"),
    # --- ReLU
    ("relu-int", "relu_forward", (i64(3, 3),), TypeError, r"Relu.forward: input must be float32 or float64, got dtype int64"),
    ("relu-bool", "relu_forward", (np.ones(3, dtype=bool),), TypeError, r"Relu.forward: input must be float32 or float64, got dtype bool"),
    ("relu-object", "relu_forward", ({"a": 1},), TypeError, r"Relu.forward: input must be a NumPy array, got dict"),
    ("softmax-rank", "softmax", (f64(3),), ValueError, r"softmax: scores must be 2-D, got shape \(3,\)"),
    ("softmax-int", "softmax", (i64(2, 3),), TypeError, r"softmax: scores must be float32 or float64"),
    ("softmax-empty", "softmax", (f64(0, 3),), ValueError, r"softmax: scores has an empty batch"),
    ("softmax-no-class", "softmax", (f64(2, 0),), ValueError, r"softmax: scores must have at least one class"),
    ("relub-shape", "relu_backward", (f64(3, 4), f64(4, 3)), ValueError, r"Relu.backward: dout must have shape \(4, 3\), got \(3, 4\)"),
    ("relub-int", "relu_backward", (f64(3), i64(3)), TypeError, r"Relu.backward: forward output must be float32 or float64"),
    # --- optimizer updates
    ("sgd-int-param", "sgd_update", (i64(3), f64(3), 0.1), TypeError, r"SGD.update: parameters must be float32/float64 arrays"),
    ("sgd-list-param", "sgd_update", ([1.0, 2.0], f64(2), 0.1), TypeError, r"SGD.update: parameters must be float32/float64 arrays, got list"),
    ("sgd-grad-shape", "sgd_update", (f64(3, 2), f64(2, 3), 0.1), ValueError, r"SGD.update: grad must have shape \(3, 2\), got \(2, 3\)"),
    ("sgd-grad-int", "sgd_update", (f64(3), i64(3), 0.1), TypeError, r"SGD.update: grad must be float32 or float64"),
    ("momentum-velocity-shape", "momentum_update", (f64(3), f64(3), f64(4), 0.1, 0.9), ValueError, r"Momentum.update: velocity must have shape \(3,\), got \(4,\)"),
    ("momentum-int-param", "momentum_update", (i64(3), f64(3), f64(3), 0.1, 0.9), TypeError, r"Momentum.update: parameters must be float32/float64"),
    ("adam-m-shape", "adam_update", (f64(3), f64(3), f64(2), f64(3), 0.1, 0.9, 0.999), ValueError, r"Adam.update: m must have shape \(3,\), got \(2,\)"),
    ("adam-v-int", "adam_update", (f64(3), f64(3), f64(3), i64(3), 0.1, 0.9, 0.999), TypeError, r"Adam.update: v must be float32 or float64"),
    ("nesterov-velocity-shape", "nesterov_update", (f64(3), f64(3), f64(4), 0.1, 0.9), ValueError, r"Nesterov.update: velocity must have shape \(3,\), got \(4,\)"),
    ("rmsprop-velocity-int", "rmsprop_update", (f64(3), f64(3), i64(3), 0.1, 0.9), TypeError, r"RMSprop.update: velocity must be float32 or float64"),
    ("adagrad-accumulator-shape", "adagrad_update", (f64(2, 2), f64(2, 2), f64(4), 0.1), ValueError, r"Adagrad.update: accumulator must have shape \(2, 2\), got \(4,\)"),
    # --- channels_last depthwise convolution and average pooling (more in test_keras_vision_layers.py)
    ("dwconv-rank", "depthwise_conv_forward", (f64(4, 4, 2), f64(3, 3, 2, 1), 1, 1, 0, 0, 2, 2), ValueError, r"DepthwiseConv2D.forward: input must be 4-D"),
    ("dwconvb-kernel", "depthwise_conv_backward", (f64(1, 2, 2, 2), f64(1, 4, 4, 2), f64(3, 3, 3, 1), 1, 1, 0, 0), ValueError, r"DepthwiseConv2D.backward: kernel must have shape \(kh, kw, 2, M\)"),
    ("avgpool-int", "avgpool_forward", (i64(1, 4, 4, 2), 2, 2, 2, 2, 0, 0, 2, 2), TypeError, r"AveragePooling2D.forward: input must be float32 or float64"),
    ("avgpoolb-outside", "avgpool_backward", (f64(1, 5, 2, 2), (1, 4, 4, 2), 2, 2, 2, 2, 0, 0), ValueError, r"AveragePooling2D.backward: output 5x2 .* has windows outside the input 4x4"),
]


@pytest.mark.parametrize("case_id, kernel, args, exc, pattern", CASES, ids=[c[0] for c in CASES])
def test_bad_input_raises_a_clear_error(backend, case_id, kernel, args, exc, pattern):
    with pytest.raises(exc, match=pattern):
        getattr(kernels, kernel)(*args)


def test_every_kernel_has_error_cases():
    covered = {c[1] for c in CASES}
    assert covered == set(kernels.KERNEL_NAMES)


def test_error_messages_name_the_layer_or_function():
    # Each message starts with the name of what was called, e.g. "Pooling.forward:".
    for case_id, kernel, args, exc, pattern in CASES:
        with pytest.raises(exc) as info:
            getattr(kernels, kernel)(*args)
        assert re.match(r"^[A-Za-z0-9_.]+: ", str(info.value)), (case_id, str(info.value))


@pytest.mark.parametrize("name, args", [
    ("sgd_update", (np.ones(3), np.ones(3), 0.1)),
    ("momentum_update", (np.ones(3), np.ones(3), np.zeros(3), 0.1, 0.9)),
    ("adam_update", (np.ones(3), np.ones(3), np.zeros(3), np.zeros(3), 0.1, 0.9, 0.999)),
    ("nesterov_update", (np.ones(3), np.ones(3), np.zeros(3), 0.1, 0.9)),
    ("rmsprop_update", (np.ones(3), np.ones(3), np.zeros(3), 0.1, 0.9)),
    ("adagrad_update", (np.ones(3), np.ones(3), np.zeros(3), 0.1)),
])
def test_read_only_parameters_are_refused_not_corrupted(backend, name, args):
    param = args[0]
    param.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        getattr(kernels, name)(*args)
    np.testing.assert_array_equal(param, np.ones(3))


def test_failed_update_leaves_the_parameters_alone(backend):
    param = np.arange(4.0)
    with pytest.raises(ValueError, match="grad must have shape"):
        kernels.sgd_update(param, np.ones(5), 0.1)
    np.testing.assert_array_equal(param, np.arange(4.0))
