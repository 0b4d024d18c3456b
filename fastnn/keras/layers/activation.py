"""Activation layers with arguments: ReLU, LeakyReLU, ELU, Softmax.

Each keeps the input's shape; the backward pass is written out next to the
forward one. ``ReLU()`` with its defaults runs on the relu kernels (the same
ones ``Activation('relu')`` uses).
"""
import warnings

import numpy as np

from ... import kernels
from .base import Layer


def _non_negative(layer, what, value, allow_none=False):
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) or value < 0:
        raise ValueError(f"{type(layer).__name__} '{layer.name}': {what} must be a number >= 0, got {value!r}")
    return float(value)


class ReLU(Layer):
    """f(x) = max_value for x >= max_value, x for threshold <= x < max_value,
    negative_slope * (x - threshold) otherwise. Defaults: the plain ReLU."""
    weightless = True

    def __init__(self, max_value=None, negative_slope=0.0, threshold=0.0, **kwargs):
        super().__init__(**kwargs)
        self.max_value = _non_negative(self, "max_value", max_value, allow_none=True)
        self.negative_slope = _non_negative(self, "negative_slope", negative_slope)
        self.threshold = _non_negative(self, "threshold", threshold)

    def _plain(self):
        return self.max_value is None and self.negative_slope == 0 and self.threshold == 0

    def forward(self, x, training=False):
        if self._plain():
            self._out = kernels.relu_forward(x)
            return self._out
        self._x = x
        t = x.dtype.type(self.threshold)
        out = np.where(x >= t, x, x.dtype.type(self.negative_slope) * (x - t))
        if self.max_value is not None:
            out = np.minimum(out, x.dtype.type(self.max_value))
        return out.astype(x.dtype, copy=False)

    def backward(self, dout):
        if self._plain():
            return kernels.relu_backward(dout, self._out)
        x = self._x
        slope = np.where(x >= self.threshold, 1.0, self.negative_slope).astype(dout.dtype)
        if self.max_value is not None:
            slope[x >= self.max_value] = 0
        return dout * slope

    def get_config(self):
        config = super().get_config()
        config.update(max_value=self.max_value, negative_slope=self.negative_slope, threshold=self.threshold)
        return config


class LeakyReLU(Layer):
    """f(x) = x for x >= 0, negative_slope * x otherwise (``alpha=`` is the old name)."""
    weightless = True

    def __init__(self, negative_slope=0.3, **kwargs):
        if "alpha" in kwargs:
            warnings.warn("LeakyReLU: argument `alpha` is deprecated; use `negative_slope`", stacklevel=2)
            negative_slope = kwargs.pop("alpha")
        super().__init__(**kwargs)
        self.negative_slope = _non_negative(self, "negative_slope", negative_slope)

    def forward(self, x, training=False):
        self._neg = x < 0
        return np.where(self._neg, x * x.dtype.type(self.negative_slope), x)

    def backward(self, dout):
        return np.where(self._neg, dout * dout.dtype.type(self.negative_slope), dout)

    def get_config(self):
        config = super().get_config()
        config["negative_slope"] = self.negative_slope
        return config


class ELU(Layer):
    """f(x) = x for x > 0, alpha * (exp(x) - 1) otherwise."""
    weightless = True

    def __init__(self, alpha=1.0, **kwargs):
        super().__init__(**kwargs)
        if isinstance(alpha, bool) or not isinstance(alpha, (int, float, np.integer, np.floating)):
            raise ValueError(f"ELU '{self.name}': alpha must be a number, got {alpha!r}")
        self.alpha = float(alpha)

    def forward(self, x, training=False):
        self._pos = x > 0
        self._em1 = np.expm1(np.minimum(x, 0))          # exp(x) - 1 where x <= 0
        return np.where(self._pos, x, x.dtype.type(self.alpha) * self._em1)

    def backward(self, dout):
        # d/dx alpha*(exp(x) - 1) = alpha*exp(x) = alpha*(exp(x) - 1) + alpha.
        neg_grad = self.alpha * (self._em1 + 1)
        return np.where(self._pos, dout, dout * neg_grad.astype(dout.dtype, copy=False))

    def get_config(self):
        config = super().get_config()
        config["alpha"] = self.alpha
        return config


class Softmax(Layer):
    """exp(x) / sum(exp(x)) along ``axis`` (the last by default; an int or a tuple of ints)."""
    weightless = True

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        axes = tuple(axis) if isinstance(axis, (list, tuple)) else (axis,)
        if not axes or any(isinstance(a, bool) or not isinstance(a, (int, np.integer)) for a in axes):
            raise ValueError(f"Softmax '{self.name}': axis must be an int or a tuple of ints, got {axis!r}")
        self.axis = int(axes[0]) if not isinstance(axis, (list, tuple)) else [int(a) for a in axes]

    def build(self, input_shape):
        ndim = len(input_shape) + 1
        axes = self.axis if isinstance(self.axis, list) else [self.axis]
        for a in axes:
            if not (-ndim <= a < ndim) or a % ndim == 0:
                raise ValueError(
                    f"Softmax '{self.name}': axis {a} is out of range for inputs of shape "
                    f"{(None,) + tuple(input_shape)} (the batch axis 0 is not allowed)"
                )
        self._axes = tuple(a % ndim for a in axes)

    def forward(self, x, training=False):
        z = x - x.max(axis=self._axes, keepdims=True)
        e = np.exp(z)
        self._y = e / e.sum(axis=self._axes, keepdims=True)
        return self._y

    def backward(self, dout):
        y = self._y
        return y * (dout - (dout * y).sum(axis=self._axes, keepdims=True))

    def get_config(self):
        config = super().get_config()
        config["axis"] = self.axis
        return config
