"""Reductions: sum, mean, max, min (with gradients) and argmax (without).

``axis`` is None (every axis), an int or a tuple; ``keepdims`` keeps the
reduced axes with size 1. Backward puts the reduced axes back and broadcasts.
"""
import numpy as np

from .._autodiff import Function, apply


def _axes(axis, ndim):
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    return tuple(int(a) % ndim if ndim else 0 for a in axes)


def _unreduce(g, x, axis, keepdims):
    """g of the reduced shape -> broadcastable against x."""
    g = np.asarray(g)
    if not keepdims:
        for a in sorted(_axes(axis, x.ndim)):
            g = np.expand_dims(g, a)
    return g


class Sum(Function):
    name = "sum"

    def forward(self, x):
        return np.sum(x, axis=self.axis, keepdims=self.keepdims)

    def backward(self, gy):                     # every summed value gets the gradient of the sum
        x = np.asarray(self.xs[0])
        return (np.broadcast_to(_unreduce(gy, x, self.axis, self.keepdims), x.shape),)


class Mean(Function):
    name = "mean"

    def forward(self, x):
        return np.mean(x, axis=self.axis, keepdims=self.keepdims)

    def backward(self, gy):
        x = np.asarray(self.xs[0])
        count = int(np.prod([x.shape[a] for a in _axes(self.axis, x.ndim)]))
        return (np.broadcast_to(_unreduce(gy, x, self.axis, self.keepdims) / count, x.shape),)


class _Extremum(Function):
    """max/min: the gradient goes to the winning value(s), shared between ties."""

    def forward(self, x):
        return getattr(np, self.numpy_name)(x, axis=self.axis, keepdims=self.keepdims)

    def backward(self, gy):
        x = np.asarray(self.xs[0])
        y = _unreduce(self.y, x, self.axis, self.keepdims)
        mask = (x == y)
        share = mask / np.sum(mask, axis=_axes(self.axis, x.ndim), keepdims=True)
        return (_unreduce(gy, x, self.axis, self.keepdims) * share,)


class Max(_Extremum):
    name = "max"
    numpy_name = "max"


class Min(_Extremum):
    name = "min"
    numpy_name = "min"


class Argmax(Function):
    name = "argmax"
    differentiable = False

    def forward(self, x):
        return np.argmax(x, axis=self.axis, keepdims=self.keepdims)


class Argmin(Argmax):
    name = "argmin"

    def forward(self, x):
        return np.argmin(x, axis=self.axis, keepdims=self.keepdims)


def _axis_arg(axis):
    if axis is None or isinstance(axis, (int, np.integer)):
        return None if axis is None else int(axis)
    return tuple(int(a) for a in axis)


def sum(x, axis=None, keepdims=False):  # noqa: A001 - Keras' name
    return apply(Sum(axis=_axis_arg(axis), keepdims=bool(keepdims)), x)


def mean(x, axis=None, keepdims=False):
    return apply(Mean(axis=_axis_arg(axis), keepdims=bool(keepdims)), x)


def max(x, axis=None, keepdims=False):  # noqa: A001
    return apply(Max(axis=_axis_arg(axis), keepdims=bool(keepdims)), x)


def min(x, axis=None, keepdims=False):  # noqa: A001
    return apply(Min(axis=_axis_arg(axis), keepdims=bool(keepdims)), x)


amax, amin = max, min


def argmax(x, axis=None, keepdims=False):
    """Index of the largest value (int64; no gradient)."""
    return apply(Argmax(axis=None if axis is None else int(axis), keepdims=bool(keepdims)), x)


def argmin(x, axis=None, keepdims=False):
    return apply(Argmin(axis=None if axis is None else int(axis), keepdims=bool(keepdims)), x)
