"""Numerical differentiation (chapter 4): the slow, simple check of every backward pass."""
import numpy as np


def numerical_diff(f, x):
    """Derivative of a scalar function f at x by the central difference.

    (f(x + h) - f(x - h)) / (2h) with h = 1e-4: its error shrinks like h**2,
    while a much smaller h would drown in float rounding.
    """
    h = 1e-4
    return (f(x + h) - f(x - h)) / (2 * h)


def numerical_gradient(f, x):
    """Gradient of the scalar function f with respect to the array x (any shape).

    Each element of x is nudged by +h and -h in place (h = 1e-4), f(x) is
    evaluated for both, and the element is put back: x is unchanged on
    return. Because x is changed in place, f may ignore its argument and read
    x some other way, as the book's networks do with their parameters
    (``lambda W: net.loss(x, t)``).
    Returns an array shaped like x, of x's dtype.
    """
    if not isinstance(x, np.ndarray):
        raise TypeError(f"numerical_gradient: x must be a NumPy array, got {type(x).__name__}")
    if x.dtype.kind != "f":
        raise TypeError(
            f"numerical_gradient: x must be a float array (it is nudged by 1e-4 in place), got dtype {x.dtype}"
        )
    h = 1e-4
    grad = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"], op_flags=[["readwrite"]])
    while not it.finished:
        idx = it.multi_index
        original = x[idx]
        x[idx] = float(original) + h
        f_plus = f(x)
        x[idx] = float(original) - h
        f_minus = f(x)
        grad[idx] = (f_plus - f_minus) / (2 * h)
        x[idx] = original
        it.iternext()
    return grad


def numerical_gradient_2d(f, X):
    """The book's row-wise variant: for a 2-D X, the gradient of f at each row.

    X (K,) -> numerical_gradient(f, X); X (N, K) -> row n holds the gradient
    of f at the point X[n] (f is called with that row, not with X).
    """
    if not isinstance(X, np.ndarray):
        raise TypeError(f"numerical_gradient_2d: X must be a NumPy array, got {type(X).__name__}")
    if X.ndim == 1:
        return numerical_gradient(f, X)
    if X.ndim != 2:
        raise ValueError(f"numerical_gradient_2d: X must be 1-D or 2-D, got shape {X.shape}")
    grad = np.zeros_like(X)
    for idx, row in enumerate(X):
        grad[idx] = numerical_gradient(f, row)
    return grad


def gradient_descent(f, init_x, lr=0.01, step_num=100):
    """Minimise f by step_num steps of x -= lr * numerical_gradient(f, x).

    Starts from a float copy of init_x (init_x itself is not changed) and
    returns the final x.
    """
    if not lr > 0:
        raise ValueError(f"gradient_descent: lr must be > 0, got {lr!r}")
    if int(step_num) != step_num or step_num < 0:
        raise ValueError(f"gradient_descent: step_num must be an int >= 0, got {step_num!r}")
    init_x = np.asarray(init_x)
    x = np.array(init_x, dtype=init_x.dtype if init_x.dtype.kind == "f" else np.float64)
    for _ in range(int(step_num)):
        x -= lr * numerical_gradient(f, x)
    return x


# ``from fastnn.gradient import *`` gives what the book's module gives (``np``
# included) and chapter 4's numerical_diff and gradient_descent.
__all__ = ["np", "numerical_diff", "numerical_gradient", "numerical_gradient_2d", "gradient_descent"]
