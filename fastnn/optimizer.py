"""The book's optimizers (chapter 6): ``update(params, grads)`` changes params in place.

``params`` and ``grads`` are dicts of arrays with the same keys and shapes
(``{'W1': ..., 'b1': ...}``). State (velocities, squared-gradient sums,
moments) is created at the first update, one array per key with the
parameter's dtype, so a float32 network stays float32.
SGD, Momentum and Adam run through the ``fastnn.kernels`` update kernels;
the others are a few NumPy lines.
"""
import numbers

import numpy as np

from . import kernels


def _check_rate(where, name, value, low=0.0, low_open=True, high=None, high_open=False):
    """Check a hyper-parameter is a real number in the given range."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value):
        raise TypeError(f"{where}: {name} must be a finite number, got {value!r}")
    bad_low = value <= low if low_open else value < low
    bad_high = high is not None and (value >= high if high_open else value > high)
    if bad_low or bad_high:
        left = "(" if low_open else "["
        right = "inf)" if high is None else (f"{high})" if high_open else f"{high}]")
        raise ValueError(f"{where}: {name} must be in {left}{low}, {right}, got {value!r}")
    return float(value)


class Optimizer:
    """Base class: checks the arguments, then runs the subclass's ``_step``.

    ``update(params, grads)`` checks that params and grads have the same
    keys and shapes and calls ``_step`` with dicts of arrays. Parameters that
    are plain numbers (the book's ch06 optimizer comparison uses
    ``params['x'] = -7.0``) are stepped as one-element arrays and written
    back into ``params`` as numbers.
    """

    def update(self, params, grads):
        """Update ``params`` in place from ``grads`` (dicts with the same keys)."""
        self._check(params, grads)
        scalar_keys = [k for k, v in params.items() if not isinstance(v, np.ndarray)]
        if not scalar_keys:
            self._step(params, grads)
            return
        arrays = dict(params)
        grad_arrays = dict(grads)
        for key in scalar_keys:
            arrays[key] = np.array([params[key]], dtype=np.float64)
            grad_arrays[key] = np.array([grads[key]], dtype=np.float64)
        self._step(arrays, grad_arrays)
        for key in scalar_keys:
            params[key] = float(arrays[key][0])

    def _check(self, params, grads):
        where = f"{type(self).__name__}.update"
        if not hasattr(params, "keys") or not hasattr(grads, "keys"):
            raise TypeError(f"{where}: params and grads must be dicts of arrays")
        if set(params.keys()) != set(grads.keys()):
            missing = sorted(set(params) - set(grads))
            extra = sorted(set(grads) - set(params))
            raise ValueError(
                f"{where}: params and grads must have the same keys; "
                f"missing in grads: {missing}, not in params: {extra}"
            )
        for key in params:
            p, g = params[key], grads[key]
            if isinstance(p, np.ndarray):
                if p.dtype not in (np.float32, np.float64):
                    raise TypeError(
                        f"{where}: params[{key!r}] must be a float32/float64 array (it is updated in place), "
                        f"got dtype {p.dtype}"
                    )
            elif isinstance(p, bool) or not isinstance(p, numbers.Real):
                raise TypeError(
                    f"{where}: params[{key!r}] must be a float array or a number, got {type(p).__name__}"
                )
            if np.shape(g) != np.shape(p):
                raise ValueError(
                    f"{where}: grads[{key!r}] has shape {np.shape(g)} but params[{key!r}] has {np.shape(p)}"
                )

    @staticmethod
    def _zeros_like(params):
        """One zero array per parameter, of its shape and dtype (the optimizer's state)."""
        return {key: np.zeros_like(val) for key, val in params.items()}


class SGD(Optimizer):
    """Stochastic gradient descent: W <- W - lr * dW."""

    def __init__(self, lr=0.01):
        self.lr = _check_rate("SGD", "lr", lr)

    def _step(self, params, grads):
        for key in params:
            kernels.sgd_update(params[key], grads[key], self.lr)


class Momentum(Optimizer):
    """SGD with momentum: v <- momentum*v - lr*dW; W <- W + v."""

    def __init__(self, lr=0.01, momentum=0.9):
        self.lr = _check_rate("Momentum", "lr", lr)
        self.momentum = _check_rate("Momentum", "momentum", momentum, 0.0, False, 1.0, True)
        self.v = None

    def _step(self, params, grads):
        if self.v is None:
            self.v = self._zeros_like(params)
        for key in params:
            kernels.momentum_update(params[key], grads[key], self.v[key], self.lr, self.momentum)


class Nesterov(Optimizer):
    """Nesterov's accelerated gradient in the form of arXiv:1212.0901 (eq. 7),
    which the book implements: the step uses the velocity from *before* it,

    W <- W + momentum**2 * v - (1 + momentum) * lr * dW
    v <- momentum*v - lr*dW
    """

    def __init__(self, lr=0.01, momentum=0.9):
        self.lr = _check_rate("Nesterov", "lr", lr)
        self.momentum = _check_rate("Nesterov", "momentum", momentum, 0.0, False, 1.0, True)
        self.v = None

    def _step(self, params, grads):
        if self.v is None:
            self.v = self._zeros_like(params)
        mu, lr = self.momentum, self.lr
        for key in params:
            v, g = self.v[key], grads[key]
            params[key] += mu * mu * v
            params[key] -= (1 + mu) * lr * g
            v *= mu
            v -= lr * g


class AdaGrad(Optimizer):
    """Per-weight learning rates: h <- h + dW*dW; W <- W - lr * dW / (sqrt(h) + 1e-7)."""

    def __init__(self, lr=0.01):
        self.lr = _check_rate("AdaGrad", "lr", lr)
        self.h = None

    def _step(self, params, grads):
        if self.h is None:
            self.h = self._zeros_like(params)
        for key in params:
            g = grads[key]
            self.h[key] += g * g
            params[key] -= self.lr * g / (np.sqrt(self.h[key]) + 1e-7)


class RMSprop(Optimizer):
    """AdaGrad with a decaying sum: h <- decay*h + (1-decay)*dW*dW;
    W <- W - lr * dW / (sqrt(h) + 1e-7)."""

    def __init__(self, lr=0.01, decay_rate=0.99):
        self.lr = _check_rate("RMSprop", "lr", lr)
        self.decay_rate = _check_rate("RMSprop", "decay_rate", decay_rate, 0.0, False, 1.0, True)
        self.h = None

    def _step(self, params, grads):
        if self.h is None:
            self.h = self._zeros_like(params)
        for key in params:
            g = grads[key]
            self.h[key] *= self.decay_rate
            self.h[key] += (1 - self.decay_rate) * g * g
            params[key] -= self.lr * g / (np.sqrt(self.h[key]) + 1e-7)


class Adam(Optimizer):
    """Adam (arXiv:1412.6980) as the book writes it.

    At step i (counted in ``iter``):
        m <- m + (1-beta1)(dW - m);  v <- v + (1-beta2)(dW*dW - v)
        lr_t = lr * sqrt(1 - beta2**i) / (1 - beta1**i)      (bias correction)
        W <- W - lr_t * m / (sqrt(v) + 1e-7)
    """

    def __init__(self, lr=0.001, beta1=0.9, beta2=0.999):
        self.lr = _check_rate("Adam", "lr", lr)
        self.beta1 = _check_rate("Adam", "beta1", beta1, 0.0, False, 1.0, True)
        self.beta2 = _check_rate("Adam", "beta2", beta2, 0.0, False, 1.0, True)
        self.iter = 0
        self.m = None
        self.v = None

    def _step(self, params, grads):
        if self.m is None:
            self.m = self._zeros_like(params)
            self.v = self._zeros_like(params)
        self.iter += 1
        lr_t = self.lr * np.sqrt(1.0 - self.beta2 ** self.iter) / (1.0 - self.beta1 ** self.iter)
        for key in params:
            kernels.adam_update(params[key], grads[key], self.m[key], self.v[key],
                                lr_t, self.beta1, self.beta2, 1e-7)


# ``np`` too, as the book's module gives it (ch06/optimizer_compare_mnist.py relies on that).
__all__ = ["np", "Optimizer", "SGD", "Momentum", "Nesterov", "AdaGrad", "RMSprop", "Adam"]
