"""BatchNormalization, Keras-style: one (gamma, beta) per channel/feature.

In training each channel is normalised with the mean and (biased) variance of
the batch over every other axis, and the moving statistics follow
``moving = momentum * moving + (1 - momentum) * batch``. At inference the
moving statistics are used. Weights, in get_weights order:
gamma, beta (trainable), moving_mean, moving_variance (not trainable).

The arithmetic works on a 2-D view (M, C): the channel axis last, the M
values of each channel in a column. Column sums are taken as ``ones @ x``
(a BLAS matrix-vector product), much faster than NumPy's reductions over
the leading axes of an NHWC array with few channels.
"""
import numpy as np

from .. import initializers as _init
from .base import Layer


def _column_sums(a):
    """(M, C) -> (C,) sums of each column."""
    return np.ones(a.shape[0], dtype=a.dtype) @ a


class BatchNormalization(Layer):
    """y = gamma * (x - mean) / sqrt(var + epsilon) + beta, per channel of ``axis``."""

    def __init__(self, axis=-1, momentum=0.99, epsilon=1e-3, center=True, scale=True,
                 beta_initializer="zeros", gamma_initializer="ones", moving_mean_initializer="zeros",
                 moving_variance_initializer="ones", **kwargs):
        super().__init__(**kwargs)
        where = f"BatchNormalization '{self.name}'"
        self.beta_initializer = _init.get(beta_initializer, where=f"{where} beta_initializer")
        self.gamma_initializer = _init.get(gamma_initializer, where=f"{where} gamma_initializer")
        self.moving_mean_initializer = _init.get(moving_mean_initializer, where=f"{where} moving_mean_initializer")
        self.moving_variance_initializer = _init.get(moving_variance_initializer,
                                                     where=f"{where} moving_variance_initializer")
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
        channels = (input_shape[axis - 1],)
        if self.scale:
            self.add_weight("gamma", channels, self.gamma_initializer)
        if self.center:
            self.add_weight("beta", channels, self.beta_initializer)
        self.add_weight("moving_mean", channels, self.moving_mean_initializer, trainable=False)
        self.add_weight("moving_variance", channels, self.moving_variance_initializer, trainable=False)

    def _to_2d(self, a):
        """(N, ..., C at self._axis, ...) -> (M, C) with the channel axis last."""
        if self._axis != a.ndim - 1:
            a = np.moveaxis(a, self._axis, -1)
        self._moved_shape = a.shape
        return np.ascontiguousarray(a).reshape(-1, a.shape[-1])

    def _from_2d(self, a2):
        a = a2.reshape(self._moved_shape)
        if self._axis != a.ndim - 1:
            a = np.ascontiguousarray(np.moveaxis(a, -1, self._axis))
        return a

    def forward(self, x, training=False):
        p = self.params
        x2 = self._to_2d(x)
        if training:
            m = x2.shape[0]
            mean = _column_sums(x2) / m
            xc = x2 - mean
            var = _column_sums(xc * xc) / m
            mom = self.momentum
            p["moving_mean"][...] = mom * p["moving_mean"] + (1 - mom) * mean
            p["moving_variance"][...] = mom * p["moving_variance"] + (1 - mom) * var
        else:
            xc = x2 - p["moving_mean"].astype(x.dtype, copy=False)
            var = p["moving_variance"]
        self._training = training
        self._inv_std = (1.0 / np.sqrt(var + self.epsilon)).astype(x.dtype)
        self._xhat = xc * self._inv_std
        y = self._xhat * p["gamma"] if self.scale else self._xhat.copy()
        if self.center:
            y += p["beta"]
        return self._from_2d(y.astype(x.dtype, copy=False))

    def backward(self, dout):
        p, xhat = self.params, self._xhat
        d2 = self._to_2d(dout)
        self.grads = {}
        if self.scale:
            self.grads["gamma"] = _column_sums(d2 * xhat)
        if self.center:
            self.grads["beta"] = _column_sums(d2)
        dxhat = d2 * p["gamma"] if self.scale else d2
        if not self._training:
            return self._from_2d(dxhat * self._inv_std)
        # Gradient through the batch mean and variance (m values per channel):
        # dx = inv_std / m * (m*dxhat - sum(dxhat) - xhat * sum(dxhat * xhat)).
        m = d2.shape[0]
        s1 = _column_sums(dxhat)
        s2 = _column_sums(dxhat * xhat)
        dx = (self._inv_std / m) * (m * dxhat - s1 - xhat * s2)
        return self._from_2d(dx)

    def get_config(self):
        config = super().get_config()
        config.update(axis=self.axis, momentum=self.momentum, epsilon=self.epsilon,
                      center=self.center, scale=self.scale,
                      beta_initializer=_init.serialize(self.beta_initializer),
                      gamma_initializer=_init.serialize(self.gamma_initializer),
                      moving_mean_initializer=_init.serialize(self.moving_mean_initializer),
                      moving_variance_initializer=_init.serialize(self.moving_variance_initializer))
        return config
