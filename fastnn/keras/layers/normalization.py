"""BatchNormalization and LayerNormalization, Keras-style. (BatchNormalization: one (gamma, beta) per channel/feature.)

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

    openmp_kernels = True

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
                      center=self.center, scale=self.scale,
                      beta_initializer=_init.serialize(self.beta_initializer),
                      gamma_initializer=_init.serialize(self.gamma_initializer),
                      moving_mean_initializer=_init.serialize(self.moving_mean_initializer),
                      moving_variance_initializer=_init.serialize(self.moving_variance_initializer))
        return config


class LayerNormalization(Layer):
    """Normalise each sample over ``axis`` (the last by default), then scale and shift:

    y = gamma * (x - mean) / sqrt(var + epsilon) + beta, mean and (biased)
    variance taken per sample over the axes in ``axis``; gamma and beta have
    the shape of those axes. Same in training and at inference.
    Weights, in get_weights order: gamma, beta.
    """

    def __init__(self, axis=-1, epsilon=1e-3, center=True, scale=True, rms_scaling=False,
                 beta_initializer="zeros", gamma_initializer="ones", **kwargs):
        for extra in ("beta_regularizer", "gamma_regularizer", "beta_constraint", "gamma_constraint"):
            if kwargs.pop(extra, None) is not None:
                raise ValueError(f"LayerNormalization: {extra} is not supported (only None)")
        super().__init__(**kwargs)
        if rms_scaling:
            raise ValueError(
                f"LayerNormalization '{self.name}': rms_scaling=True is not supported (Keras deprecates it: "
                f"it scales by the variance, not the root mean square)"
            )
        axes = list(axis) if isinstance(axis, (list, tuple)) else [axis]
        if not axes or any(isinstance(a, bool) or not isinstance(a, (int, np.integer)) for a in axes):
            raise ValueError(f"LayerNormalization '{self.name}': axis must be an int or a list of ints, got {axis!r}")
        self.axis = [int(a) for a in axes] if isinstance(axis, (list, tuple)) else int(axis)
        self.epsilon = float(epsilon)
        self.center = bool(center)
        self.scale = bool(scale)
        where = f"LayerNormalization '{self.name}'"
        self.beta_initializer = _init.get(beta_initializer, where=f"{where} beta_initializer")
        self.gamma_initializer = _init.get(gamma_initializer, where=f"{where} gamma_initializer")

    def build(self, input_shape):
        ndim = len(input_shape) + 1
        axes = self.axis if isinstance(self.axis, list) else [self.axis]
        full = []
        for a in axes:
            if not -ndim <= a < ndim or a % ndim == 0:
                raise ValueError(
                    f"LayerNormalization '{self.name}': axis {a} is out of range for inputs of shape "
                    f"{(None,) + tuple(input_shape)} (the batch axis 0 cannot be normalised over)"
                )
            full.append(a % ndim)
        self._axes = tuple(sorted(set(full)))
        shape = tuple(input_shape[a - 1] for a in self._axes)
        if None in shape:
            raise ValueError(
                f"LayerNormalization '{self.name}': the normalised axes {list(self._axes)} of inputs of shape "
                f"{(None,) + tuple(input_shape)} must have known sizes"
            )
        self._bshape = tuple(input_shape[a - 1] if a in self._axes else 1 for a in range(1, ndim))
        if self.scale:
            self.add_weight("gamma", shape, self.gamma_initializer)
        if self.center:
            self.add_weight("beta", shape, self.beta_initializer)

    def forward(self, x, training=False):
        mean = x.mean(axis=self._axes, keepdims=True)
        xc = x - mean
        var = (xc * xc).mean(axis=self._axes, keepdims=True)
        self._inv_std = (1.0 / np.sqrt(var + self.epsilon)).astype(x.dtype)
        self._xhat = xc * self._inv_std
        y = self._xhat * self.params["gamma"].reshape(self._bshape) if self.scale else self._xhat.copy()
        if self.center:
            y += self.params["beta"].reshape(self._bshape)
        return y.astype(x.dtype, copy=False)

    def backward(self, dout):
        xhat = self._xhat
        batch_axes = tuple(a for a in range(dout.ndim) if a not in self._axes)
        self.grads = {}
        if self.scale:
            self.grads["gamma"] = (dout * xhat).sum(axis=batch_axes).reshape(self.params["gamma"].shape)
            dxhat = dout * self.params["gamma"].reshape(self._bshape)
        else:
            dxhat = dout
        if self.center:
            self.grads["beta"] = dout.sum(axis=batch_axes).reshape(self.params["beta"].shape)
        # Per sample, over the m normalised values:
        # dx = inv_std * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat)).
        m1 = dxhat.mean(axis=self._axes, keepdims=True)
        m2 = (dxhat * xhat).mean(axis=self._axes, keepdims=True)
        return (self._inv_std * (dxhat - m1 - xhat * m2)).astype(dout.dtype, copy=False)

    def get_config(self):
        config = super().get_config()
        config.update(axis=self.axis, epsilon=self.epsilon, center=self.center, scale=self.scale,
                      rms_scaling=False, beta_initializer=_init.serialize(self.beta_initializer),
                      gamma_initializer=_init.serialize(self.gamma_initializer))
        return config
