"""BatchNormalization, Keras-style: one (gamma, beta) per channel/feature.

In training each channel is normalised with the mean and (biased) variance of
the batch over every other axis, and the moving statistics follow
``moving = momentum * moving + (1 - momentum) * batch``. At inference the
moving statistics are used. Weights, in get_weights order:
gamma, beta (trainable), moving_mean, moving_variance (not trainable).
"""
import numpy as np

from .. import initializers as _init
from .base import Layer


class BatchNormalization(Layer):
    """y = gamma * (x - mean) / sqrt(var + epsilon) + beta, per channel of ``axis``."""

    def __init__(self, axis=-1, momentum=0.99, epsilon=1e-3, center=True, scale=True, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(axis, (int, np.integer)):
            raise ValueError(f"BatchNormalization '{self.name}': axis must be one int, got {axis!r}")
        self.axis = int(axis)
        self.momentum = float(momentum)
        self.epsilon = float(epsilon)
        self.center = bool(center)
        self.scale = bool(scale)

    def build(self, input_shape):
        ndim = len(input_shape) + 1                      # with the batch axis
        axis = self.axis if self.axis >= 0 else ndim + self.axis
        if not 1 <= axis < ndim:
            raise ValueError(
                f"BatchNormalization '{self.name}': axis {self.axis} is out of range for inputs "
                f"of shape {(None,) + tuple(input_shape)}"
            )
        self._axis = axis
        self._reduce = tuple(a for a in range(ndim) if a != axis)
        channels = (input_shape[axis - 1],)
        if self.scale:
            self.add_weight("gamma", channels, _init.Ones())
        if self.center:
            self.add_weight("beta", channels, _init.Zeros())
        self.add_weight("moving_mean", channels, _init.Zeros(), trainable=False)
        self.add_weight("moving_variance", channels, _init.Ones(), trainable=False)

    def _broadcast(self, v, ndim):
        shape = [1] * ndim
        shape[self._axis] = v.shape[0]
        return v.reshape(shape)

    def forward(self, x, training=False):
        p, nd = self.params, x.ndim
        gamma = self._broadcast(p["gamma"], nd) if self.scale else 1
        beta = self._broadcast(p["beta"], nd) if self.center else 0
        if training:
            mean = x.mean(axis=self._reduce)
            var = x.var(axis=self._reduce)
            m = self.momentum
            p["moving_mean"][...] = m * p["moving_mean"] + (1 - m) * mean
            p["moving_variance"][...] = m * p["moving_variance"] + (1 - m) * var
        else:
            mean, var = p["moving_mean"], p["moving_variance"]
        self._training = training
        self._inv_std = self._broadcast(1.0 / np.sqrt(var + self.epsilon), nd).astype(x.dtype)
        self._xhat = (x - self._broadcast(mean, nd)) * self._inv_std
        return (gamma * self._xhat + beta).astype(x.dtype, copy=False)

    def backward(self, dout):
        p, nd, xhat = self.params, dout.ndim, self._xhat
        self.grads = {}
        if self.scale:
            self.grads["gamma"] = np.sum(dout * xhat, axis=self._reduce)
        if self.center:
            self.grads["beta"] = np.sum(dout, axis=self._reduce)
        dxhat = dout * self._broadcast(p["gamma"], nd) if self.scale else dout
        if not self._training:
            return dxhat * self._inv_std
        # Gradient through the batch mean and variance (m values per channel):
        # dx = inv_std / m * (m*dxhat - sum(dxhat) - xhat * sum(dxhat * xhat)).
        m = dout.size / dout.shape[self._axis]
        s1 = np.sum(dxhat, axis=self._reduce, keepdims=True)
        s2 = np.sum(dxhat * xhat, axis=self._reduce, keepdims=True)
        return (self._inv_std / m) * (m * dxhat - s1 - xhat * s2)

    def get_config(self):
        config = super().get_config()
        config.update(axis=self.axis, momentum=self.momentum, epsilon=self.epsilon,
                      center=self.center, scale=self.scale)
        return config
