"""BatchNormalization and LayerNormalization, Keras-style. (BatchNormalization: one (gamma, beta) per channel/feature.)

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
