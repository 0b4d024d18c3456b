"""Activation and loss functions of the book, in plain NumPy.

These are the formulas a learner meets in chapters 3 and 4. They work on
NumPy arrays of any float dtype and keep it (a float32 input gives a float32
result). The layers in ``fastnn.layers`` compute the same things through the
kernel interface; the functions here stay readable NumPy on purpose.
"""
import numpy as np


def identity_function(x):
    """Return x unchanged (the output activation for regression)."""
    return x


def step_function(x):
    """1 where x > 0, else 0, as an integer array of the same shape."""
    return np.array(np.asarray(x) > 0, dtype=int)


def sigmoid(x):
    """1 / (1 + exp(-x)), elementwise.

    For very negative x, exp(-x) overflows to inf and the result is 0, which
    is the right limit; the overflow warning is silenced for that reason.
    """
    with np.errstate(over="ignore"):
        return 1 / (1 + np.exp(-x))


def sigmoid_grad(x):
    """Derivative of the sigmoid at x: sigmoid(x) * (1 - sigmoid(x))."""
    s = sigmoid(x)
    return (1.0 - s) * s


def relu(x):
    """max(0, x), elementwise."""
    return np.maximum(0, x)


def relu_grad(x):
    """Derivative of ReLU: 1 where x >= 0, else 0 (the book takes 1 at x == 0)."""
    x = np.asarray(x)
    grad = np.zeros_like(x)
    grad[x >= 0] = 1
    return grad


def softmax(x):
    """Softmax over the last axis of a 1-D (K,) or 2-D (N, K) array.

    The maximum is subtracted first: softmax(x) == softmax(x - c) for any c,
    and with c = max(x) no exp can overflow.
    """
    x = np.asarray(x)
    if x.ndim not in (1, 2):
        raise ValueError(f"softmax: expected a 1-D (K,) or 2-D (N, K) array, got shape {x.shape}")
    z = x - np.max(x, axis=-1, keepdims=True)
    e = np.exp(z)
    return e / np.sum(e, axis=-1, keepdims=True)


def sum_squared_error(y, t):
    """0.5 * sum((y - t)**2) over every element (the book's "mean squared error")."""
    y = np.asarray(y)
    t = np.asarray(t)
    if y.shape != t.shape:
        raise ValueError(f"sum_squared_error: y {y.shape} and t {t.shape} must have the same shape")
    return 0.5 * np.sum((y - t) ** 2)


#: The book calls ``sum_squared_error`` by this name too.
mean_squared_error = sum_squared_error


def cross_entropy_error(y, t):
    """Mean cross-entropy of probabilities y against targets t.

    y: (N, K) probabilities, or (K,) for one sample.
    t: (N,) integer labels or (N, K) one-hot targets (or (K,) / a scalar label
    for one sample). One-hot targets are reduced to labels with argmax, so
    only the probability of the true class counts:

        loss = -sum_n log(y[n, t_n] + 1e-7) / N

    The 1e-7 keeps log away from log(0) = -inf.
    """
    y = np.asarray(y)
    t = np.asarray(t)
    if y.ndim == 1:
        y = y.reshape(1, y.size)
        t = t.reshape(1, t.size)
    if y.ndim != 2:
        raise ValueError(f"cross_entropy_error: y must be (N, K) or (K,), got shape {y.shape}")
    if t.size == y.size:
        t = t.reshape(y.shape).argmax(axis=1)
    t = t.reshape(-1)
    batch_size = y.shape[0]
    if t.shape[0] != batch_size:
        raise ValueError(
            f"cross_entropy_error: y has {batch_size} rows but t gives {t.shape[0]} targets "
            f"(expected (N,) labels or (N, K) one-hot)"
        )
    if t.dtype.kind not in "iu":
        raise TypeError(f"cross_entropy_error: labels must be integers, got dtype {t.dtype}")
    return -np.sum(np.log(y[np.arange(batch_size), t] + 1e-7)) / batch_size


def softmax_loss(X, t):
    """Cross-entropy of softmax(X) against t (labels or one-hot)."""
    return cross_entropy_error(softmax(X), t)


# What ``from fastnn.functions import *`` gives: the book's functions and, as
# the book's module (which has no __all__) does, ``np``.
__all__ = [
    "np", "identity_function", "step_function", "sigmoid", "sigmoid_grad", "relu", "relu_grad",
    "softmax", "sum_squared_error", "mean_squared_error", "cross_entropy_error", "softmax_loss",
]
