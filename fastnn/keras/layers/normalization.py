"""BatchNormalization, Keras-style: one (gamma, beta) per channel/feature.

In training each channel is normalised with the mean and (biased) variance of
the batch over every other axis, and the moving statistics follow
``moving = momentum * moving + (1 - momentum) * batch``. At inference the
moving statistics are used. Weights, in get_weights order:
gamma, beta (trainable), moving_mean, moving_variance (not trainable).

The arithmetic runs on the kernels ``fastnn.kernels.batchnorm_*`` (compiled
in ``src_c/norm.pyx``, NumPy twin in ``kernels/numpy_norm.py``), which take
the channel axis last: an NHWC batch or a Dense output as it is, any other
``axis`` moved last first. The batch statistics are formed in float64.
"""
import numpy as np

from ... import kernels
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
        channels = (input_shape[axis - 1],)
        if self.scale:
            self.add_weight("gamma", channels, _init.Ones())
        if self.center:
            self.add_weight("beta", channels, _init.Zeros())
        self.add_weight("moving_mean", channels, _init.Zeros(), trainable=False)
        self.add_weight("moving_variance", channels, _init.Ones(), trainable=False)

    def _channels_last(self, a):
        """The batch with the channel axis last (a view when it already is)."""
        if self._axis != a.ndim - 1:
            a = np.moveaxis(a, self._axis, -1)
        return np.ascontiguousarray(a)

    def _back(self, a):
        if self._axis != a.ndim - 1:
            a = np.ascontiguousarray(np.moveaxis(a, -1, self._axis))
        return a

    def _gamma_beta(self, channels, dtype):
        p = self.params
        gamma = p["gamma"] if self.scale else np.ones(channels, dtype=dtype)
        beta = p["beta"] if self.center else np.zeros(channels, dtype=dtype)
        return gamma, beta

    def forward(self, x, training=False):
        p = self.params
        xl = self._channels_last(x)
        gamma, beta = self._gamma_beta(xl.shape[-1], xl.dtype)
        if training:
            y, mean, var, inv_std = kernels.batchnorm_forward_train(xl, gamma, beta, self.epsilon)
            mom = self.momentum
            p["moving_mean"][...] = mom * p["moving_mean"] + (1 - mom) * mean
            p["moving_variance"][...] = mom * p["moving_variance"] + (1 - mom) * var
        else:
            mean = p["moving_mean"].astype(np.float64)
            inv_std = 1.0 / np.sqrt(p["moving_variance"].astype(np.float64) + self.epsilon)
            y = kernels.batchnorm_forward_infer(xl, gamma, beta, p["moving_mean"], p["moving_variance"],
                                                self.epsilon)
        self._training = training
        self._x, self._mean, self._inv_std = xl, mean, inv_std
        return self._back(y)

    def backward(self, dout):
        gamma, _ = self._gamma_beta(self._x.shape[-1], self._x.dtype)
        dx, dgamma, dbeta = kernels.batchnorm_backward(
            self._channels_last(dout), self._x, gamma, self._mean, self._inv_std, self._training)
        self.grads = {}
        if self.scale:
            self.grads["gamma"] = dgamma.astype(self._x.dtype)
        if self.center:
            self.grads["beta"] = dbeta.astype(self._x.dtype)
        return self._back(dx)

    def get_config(self):
        config = super().get_config()
        config.update(axis=self.axis, momentum=self.momentum, epsilon=self.epsilon,
                      center=self.center, scale=self.scale)
        return config
