"""Conv2D and MaxPooling2D, channels_last.

Keras stores images as NHWC and a conv kernel as (kh, kw, in, out). Conv2D
runs on the channels-last kernels (``fastnn.kernels.conv2d_nhwc_*``), which
take those layouts as they are, both strides and the four pads, and fuse a
following ReLU. MaxPooling2D runs on the channels-last pooling kernels
(``fastnn.kernels.maxpool_nhwc_*``), also without copies.

Padding. 'valid': no padding, out = (H - k) // s + 1. 'same': out = ceil(H / s)
and the input is padded by pad_total = max((out - 1)*s + k - H, 0) rows,
pad_total // 2 on top and the rest at the bottom (Keras/TensorFlow's rule, so
the extra row goes at the bottom/right). The kernels take the four pads as
they are, so no padded copy is made. Max pooling pads with -inf, so that
padding never wins a window.
"""
import numpy as np

from ... import kernels
from .. import initializers as _init
from .base import ActivatedLayer, Layer


def _pair(where, what, value):
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        value = (int(value), int(value))
    try:
        a, b = (int(v) for v in value)
    except (TypeError, ValueError):
        raise ValueError(f"{where}: {what} must be an int or a pair of ints, got {value!r}") from None
    if a < 1 or b < 1:
        raise ValueError(f"{where}: {what} must be positive, got {value!r}")
    return a, b


def _padding(where, padding):
    padding = str(padding).lower()
    if padding not in ("valid", "same"):
        raise ValueError(f"{where}: padding must be 'valid' or 'same', got {padding!r}")
    return padding


def window_plan(size, k, s, padding):
    """(out, pad_before, pad_after) of one spatial axis."""
    if padding == "valid":
        if size < k:
            return 0, 0, 0
        return (size - k) // s + 1, 0, 0
    out = -(-size // s)
    total = max((out - 1) * s + k - size, 0)
    return out, total // 2, total - total // 2


class _Windowed(Layer):
    """Shared geometry of the sliding-window layers."""

    openmp_kernels = True

    def _plan(self, input_shape):
        H, W = input_shape[0], input_shape[1]
        (kh, kw), (sh, sw) = self._window, self.strides
        oh, top, bottom = window_plan(H, kh, sh, self.padding)
        ow, left, right = window_plan(W, kw, sw, self.padding)
        if oh < 1 or ow < 1:
            raise ValueError(
                f"{type(self).__name__} '{self.name}': window {kh}x{kw} is larger than the input "
                f"{H}x{W} with padding '{self.padding}'"
            )
        return oh, ow, (top, bottom, left, right)

    def _check_rank(self, input_shape):
        if len(input_shape) != 3:
            raise ValueError(
                f"{type(self).__name__} '{self.name}': expects samples of shape (height, width, channels), "
                f"got {tuple(input_shape)}"
            )


class Conv2D(_Windowed, ActivatedLayer):
    """2-D convolution. x (N, H, W, C) -> (N, OH, OW, filters); kernel (kh, kw, C, filters)."""

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid", data_format=None,
                 dilation_rate=(1, 1), activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", **kwargs):
        super().__init__(**kwargs)
        where = f"Conv2D '{self.name}'"
        if isinstance(filters, bool) or not isinstance(filters, (int, np.integer)) or filters < 1:
            raise ValueError(f"{where}: filters must be a positive int, got {filters!r}")
        if data_format not in (None, "channels_last"):
            raise ValueError(f"{where}: only data_format='channels_last' is supported, got {data_format!r}")
        if _pair(where, "dilation_rate", dilation_rate) != (1, 1):
            raise ValueError(f"{where}: dilation_rate other than 1 is not supported")
        self.filters = int(filters)
        self.kernel_size = self._window = _pair(where, "kernel_size", kernel_size)
        self.strides = _pair(where, "strides", strides)
        self.padding = _padding(where, padding)
        self._set_activation(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = _init.get(kernel_initializer, where=f"{where} kernel_initializer")
        self.bias_initializer = _init.get(bias_initializer, where=f"{where} bias_initializer")

    def build(self, input_shape):
        self._check_rank(input_shape)
        kh, kw = self.kernel_size
        self.add_weight("kernel", (kh, kw, input_shape[2], self.filters), self.kernel_initializer)
        if self.use_bias:
            self.add_weight("bias", (self.filters,), self.bias_initializer)

    def compute_output_shape(self, input_shape):
        self._check_rank(input_shape)
        oh, ow, self._pads = self._plan(input_shape)
        return (oh, ow, self.filters)

    @property
    def kernel(self):
        return self.params["kernel"]

    @property
    def bias(self):
        return self.params.get("bias")

    def forward(self, x, training=False):
        # Channels-last kernels: the Keras layouts as they are, no transposes.
        kernel = self.params["kernel"]
        b = self.params.get("bias")
        if b is None:
            b = np.zeros(self.filters, dtype=kernel.dtype)
        self._x = x
        self._fused_relu = self.activation.name == "relu"
        out = kernels.conv2d_nhwc_forward(x, kernel, b, self.strides, self._pads, relu=self._fused_relu)
        if self._fused_relu:             # the ReLU ran in the kernel's pass over the output
            self._z, self._a = None, out
            return out
        return self._activate(out)

    def backward(self, dout, skip_activation=False):
        # need_input_grad is False when the model feeds this layer its input directly.
        need_dx = getattr(self, "need_input_grad", True)
        if self._fused_relu and not skip_activation:
            dz, relu_out = dout, self._a
        else:
            dz, relu_out = self._activation_grad(dout, skip_activation), None
        dx, dkernel, db = kernels.conv2d_nhwc_backward(
            dz, self._x, self.params["kernel"], self.strides, self._pads, relu_out=relu_out, need_dx=need_dx)
        self.grads = {"kernel": dkernel}
        if self.use_bias:
            self.grads["bias"] = db
        return dx

    def get_config(self):
        config = super().get_config()
        config.update(filters=self.filters, kernel_size=list(self.kernel_size), strides=list(self.strides),
                      padding=self.padding, data_format="channels_last", dilation_rate=[1, 1],
                      activation=self.activation.name, use_bias=self.use_bias,
                      kernel_initializer=_init.serialize(self.kernel_initializer),
                      bias_initializer=_init.serialize(self.bias_initializer))
        return config


class MaxPooling2D(_Windowed):
    """Max over pool_size windows. x (N, H, W, C) -> (N, OH, OW, C); strides default to pool_size.

    After a ReLU (a Conv2D with activation="relu", say) whose output feeds only
    this layer, the model's graph asks ``backward(dout, through_relu=True)`` for
    the gradient w.r.t. the ReLU's input, and the layer before skips its ReLU
    gradient. The numbers are the same: the input gradient is nonzero only at
    each window's maximum, whose ReLU output is the pooled value, so the mask
    ``out > 0`` is taken on the pooled output (a quarter of the values for 2x2
    windows) instead of the whole ReLU output.
    """
    weightless = True
    absorbs_relu = True

    def __init__(self, pool_size=(2, 2), strides=None, padding="valid", data_format=None, **kwargs):
        super().__init__(**kwargs)
        where = f"MaxPooling2D '{self.name}'"
        if data_format not in (None, "channels_last"):
            raise ValueError(f"{where}: only data_format='channels_last' is supported, got {data_format!r}")
        self.pool_size = self._window = _pair(where, "pool_size", pool_size)
        self.strides = _pair(where, "strides", strides if strides is not None else self.pool_size)
        self.padding = _padding(where, padding)

    def compute_output_shape(self, input_shape):
        self._check_rank(input_shape)
        oh, ow, self._pads = self._plan(input_shape)
        return (oh, ow, input_shape[2])

    def forward(self, x, training=False):
        self._x_shape = x.shape
        out, self._argmax = kernels.maxpool_nhwc_forward(x, self.pool_size, self.strides, self._pads)
        self._out = out
        return out

    def backward(self, dout, through_relu=False):
        if through_relu:                 # the ReLU before this layer: d where the maximum is > 0
            dout = kernels.relu_backward(dout, self._out)
        return kernels.maxpool_nhwc_backward(dout, self._argmax, self._x_shape, self.pool_size, self.strides,
                                             self._pads)

    def get_config(self):
        config = super().get_config()
        config.update(pool_size=list(self.pool_size), strides=list(self.strides), padding=self.padding,
                      data_format="channels_last")
        return config
