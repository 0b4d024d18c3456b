"""DepthwiseConv2D and SeparableConv2D (channels_last), the convolutions of
MobileNet and Xception.

DepthwiseConv2D convolves each input channel with its own depth_multiplier
filters: x (N, H, W, C), kernel (kh, kw, C, M) -> (N, OH, OW, C*M), output
channel c*M + m coming from input channel c. SeparableConv2D is a depthwise
convolution (no bias) followed by a pointwise (1x1) convolution
(C*M -> filters) with a bias and an activation; the 1x1 convolution is a
plain matrix product on the affine kernels.

The depthwise part runs on ``fastnn.kernels.depthwise_conv_forward/backward``
(compiled, or NumPy), padding included, so no padded copy is made. Padding
and output sizes follow Keras ('valid', or 'same' with the extra row/column
at the bottom/right).
"""
import numpy as np

from ... import kernels
from .. import initializers as _init
from .base import ActivatedLayer
from .convolutional import _pair, _padding, _Windowed


def _pop_unsupported(where, kwargs, names):
    """Keras' regularizer/constraint arguments: accepted when None (as in Keras configs), else refused."""
    for name in names:
        if kwargs.pop(name, None) is not None:
            raise ValueError(f"{where}: {name} is not supported (only None)")


_DEPTHWISE_EXTRAS = ("depthwise_regularizer", "bias_regularizer", "activity_regularizer",
                     "depthwise_constraint", "bias_constraint")
_SEPARABLE_EXTRAS = _DEPTHWISE_EXTRAS + ("pointwise_regularizer", "pointwise_constraint")


class _DepthwiseBase(_Windowed, ActivatedLayer):
    def _common(self, where, kernel_size, strides, padding, depth_multiplier, data_format, dilation_rate):
        if data_format not in (None, "channels_last"):
            raise ValueError(f"{where}: only data_format='channels_last' is supported, got {data_format!r}")
        if _pair(where, "dilation_rate", dilation_rate) != (1, 1):
            raise ValueError(f"{where}: dilation_rate other than 1 is not supported")
        if isinstance(depth_multiplier, bool) or not isinstance(depth_multiplier, (int, np.integer)) \
                or depth_multiplier < 1:
            raise ValueError(f"{where}: depth_multiplier must be a positive int, got {depth_multiplier!r}")
        self.depth_multiplier = int(depth_multiplier)
        self.kernel_size = self._window = _pair(where, "kernel_size", kernel_size)
        self.strides = _pair(where, "strides", strides)
        self.padding = _padding(where, padding)

    def _depthwise(self, x, K):
        top, _, left, _ = self._pads
        oh, ow = self.output_shape[:2]
        self._x = x
        return kernels.depthwise_conv_forward(x, K, *self.strides, top, left, oh, ow)

    def _depthwise_backward(self, d, K):
        top, _, left, _ = self._pads
        return kernels.depthwise_conv_backward(d, self._x, K, *self.strides, top, left)

    def _base_config(self):
        config = super().get_config()
        config.update(kernel_size=list(self.kernel_size), strides=list(self.strides), padding=self.padding,
                      depth_multiplier=self.depth_multiplier, data_format="channels_last",
                      dilation_rate=[1, 1], activation=self.activation.name, use_bias=self.use_bias)
        return config


class DepthwiseConv2D(_DepthwiseBase):
    """x (N, H, W, C) -> (N, OH, OW, C*depth_multiplier); kernel (kh, kw, C, depth_multiplier), bias (C*dm,)."""

    def __init__(self, kernel_size, strides=(1, 1), padding="valid", depth_multiplier=1, data_format=None,
                 dilation_rate=(1, 1), activation=None, use_bias=True, depthwise_initializer="glorot_uniform",
                 bias_initializer="zeros", **kwargs):
        _pop_unsupported("DepthwiseConv2D", kwargs, _DEPTHWISE_EXTRAS)
        super().__init__(**kwargs)
        where = f"DepthwiseConv2D '{self.name}'"
        self._common(where, kernel_size, strides, padding, depth_multiplier, data_format, dilation_rate)
        self._set_activation(activation)
        self.use_bias = bool(use_bias)
        self.depthwise_initializer = _init.get(depthwise_initializer, where=f"{where} depthwise_initializer")
        self.bias_initializer = _init.get(bias_initializer, where=f"{where} bias_initializer")

    def build(self, input_shape):
        self._check_rank(input_shape)
        kh, kw = self.kernel_size
        C = input_shape[2]
        self.add_weight("kernel", (kh, kw, C, self.depth_multiplier), self.depthwise_initializer)
        if self.use_bias:
            self.add_weight("bias", (C * self.depth_multiplier,), self.bias_initializer)

    def compute_output_shape(self, input_shape):
        self._check_rank(input_shape)
        oh, ow, self._pads = self._plan(input_shape)
        return (oh, ow, input_shape[2] * self.depth_multiplier)

    def forward(self, x, training=False):
        z = self._depthwise(x, self.params["kernel"])
        if self.use_bias:
            z += self.params["bias"]
        return self._activate(z)

    def backward(self, dout, skip_activation=False):
        dz = self._activation_grad(dout, skip_activation)
        dx, dK = self._depthwise_backward(dz, self.params["kernel"])
        self.grads = {"kernel": dK}
        if self.use_bias:
            self.grads["bias"] = dz.sum(axis=(0, 1, 2))
        return dx

    def get_config(self):
        config = self._base_config()
        config.update(depthwise_initializer=_init.serialize(self.depthwise_initializer),
                      bias_initializer=_init.serialize(self.bias_initializer))
        return config


class SeparableConv2D(_DepthwiseBase):
    """Depthwise then pointwise convolution: x (N, H, W, C) -> (N, OH, OW, filters).

    Weights, in get_weights order: depthwise_kernel (kh, kw, C, depth_multiplier),
    pointwise_kernel (1, 1, C*depth_multiplier, filters), bias (filters,).
    """

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid", data_format=None,
                 dilation_rate=(1, 1), depth_multiplier=1, activation=None, use_bias=True,
                 depthwise_initializer="glorot_uniform", pointwise_initializer="glorot_uniform",
                 bias_initializer="zeros", **kwargs):
        _pop_unsupported("SeparableConv2D", kwargs, _SEPARABLE_EXTRAS)
        super().__init__(**kwargs)
        where = f"SeparableConv2D '{self.name}'"
        if isinstance(filters, bool) or not isinstance(filters, (int, np.integer)) or filters < 1:
            raise ValueError(f"{where}: filters must be a positive int, got {filters!r}")
        self.filters = int(filters)
        self._common(where, kernel_size, strides, padding, depth_multiplier, data_format, dilation_rate)
        self._set_activation(activation)
        self.use_bias = bool(use_bias)
        self.depthwise_initializer = _init.get(depthwise_initializer, where=f"{where} depthwise_initializer")
        self.pointwise_initializer = _init.get(pointwise_initializer, where=f"{where} pointwise_initializer")
        self.bias_initializer = _init.get(bias_initializer, where=f"{where} bias_initializer")

    def build(self, input_shape):
        self._check_rank(input_shape)
        kh, kw = self.kernel_size
        C, M = input_shape[2], self.depth_multiplier
        self.add_weight("depthwise_kernel", (kh, kw, C, M), self.depthwise_initializer)
        self.add_weight("pointwise_kernel", (1, 1, C * M, self.filters), self.pointwise_initializer)
        if self.use_bias:
            self.add_weight("bias", (self.filters,), self.bias_initializer)

    def compute_output_shape(self, input_shape):
        self._check_rank(input_shape)
        oh, ow, self._pads = self._plan(input_shape)
        return (oh, ow, self.filters)

    def forward(self, x, training=False):
        p = self.params
        d = self._depthwise(x, p["depthwise_kernel"])
        N, OH, OW, CM = d.shape
        self._d2 = d.reshape(N * OH * OW, CM)
        P = p["pointwise_kernel"].reshape(CM, self.filters)
        b = p["bias"] if self.use_bias else np.zeros(self.filters, dtype=P.dtype)
        z = kernels.affine_forward(self._d2, P, b)
        return self._activate(z.reshape(N, OH, OW, self.filters))

    def backward(self, dout, skip_activation=False):
        p = self.params
        dz = self._activation_grad(dout, skip_activation)
        N, OH, OW, F = dz.shape
        CM = self._d2.shape[1]
        P = p["pointwise_kernel"].reshape(CM, F)
        dd, dP, db = kernels.affine_backward(np.ascontiguousarray(dz).reshape(-1, F), self._d2, P)
        dx, dK = self._depthwise_backward(dd.reshape(N, OH, OW, CM), p["depthwise_kernel"])
        self.grads = {"depthwise_kernel": dK, "pointwise_kernel": dP.reshape(1, 1, CM, F)}
        if self.use_bias:
            self.grads["bias"] = db
        return dx

    def get_config(self):
        config = self._base_config()
        config.update(filters=self.filters,
                      depthwise_initializer=_init.serialize(self.depthwise_initializer),
                      pointwise_initializer=_init.serialize(self.pointwise_initializer),
                      bias_initializer=_init.serialize(self.bias_initializer))
        return config
