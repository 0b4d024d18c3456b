"""Reshaping, joining, splitting and indexing. Backward moves the gradient back into place.

Shapes, as Keras gives them, include the batch axis: ``reshape(x, (-1, 4, 4))``.
"""
import numpy as np

from .._autodiff import Function, KerasTensor, Variable, apply


class Reshape(Function):
    name = "reshape"

    def forward(self, x):
        return np.reshape(x, self.newshape)

    def backward(self, gy):
        return (np.reshape(gy, np.shape(self.xs[0])),)


class Transpose(Function):
    name = "transpose"

    def forward(self, x):
        return np.transpose(x, self.axes)

    def backward(self, gy):
        x = np.asarray(self.xs[0])
        if self.axes is None:
            return (np.transpose(gy),)
        return (np.transpose(gy, np.argsort([a % x.ndim for a in self.axes])),)


class ExpandDims(Function):
    name = "expand_dims"

    def forward(self, x):
        return np.expand_dims(x, self.axis)

    def backward(self, gy):
        return (np.reshape(gy, np.shape(self.xs[0])),)


class Squeeze(Function):
    name = "squeeze"

    def forward(self, x):
        return np.squeeze(x, self.axis)

    def backward(self, gy):
        return (np.reshape(gy, np.shape(self.xs[0])),)


class Concatenate(Function):
    name = "concatenate"

    def forward(self, *xs):
        return np.concatenate(xs, axis=self.axis)

    def backward(self, gy):                     # cut the gradient where the inputs were joined
        cuts = np.cumsum([np.shape(x)[self.axis] for x in self.xs])[:-1]
        return np.split(gy, cuts, axis=self.axis)


class Stack(Function):
    name = "stack"

    def forward(self, *xs):
        return np.stack(xs, axis=self.axis)

    def backward(self, gy):
        return [np.take(gy, i, axis=self.axis) for i in range(len(self.xs))]


class GetItem(Function):
    """x[key] with ints, slices, None, Ellipsis or integer arrays; backward scatters (adds) into zeros."""
    name = "get_item"

    def forward(self, x):
        return np.asarray(x)[self.key]

    def backward(self, gy):
        x = np.asarray(self.xs[0])
        gx = np.zeros(x.shape, dtype=np.result_type(gy, x.dtype if x.dtype.kind == "f" else gy))
        np.add.at(gx, self.key, gy)
        return (gx,)


class Identity(Function):
    name = "identity"

    def forward(self, x):
        return np.asarray(x)

    def backward(self, gy):
        return (gy,)


def reshape(x, newshape):
    """x with shape ``newshape`` (the batch axis included; one entry may be -1)."""
    if isinstance(newshape, (int, np.integer)):
        newshape = (newshape,)
    newshape = tuple(newshape)
    if sum(s is None for s in newshape) == 1 and -1 not in newshape:
        newshape = tuple(-1 if s is None else s for s in newshape)     # (x.shape[0], 4) on a symbolic x
    try:
        newshape = tuple(int(s) for s in newshape)
    except TypeError:
        raise TypeError(f"keras.ops.reshape: newshape must hold ints (one may be -1), got {newshape}") from None
    return apply(Reshape(newshape=newshape), x)


def transpose(x, axes=None):
    return apply(Transpose(axes=None if axes is None else tuple(int(a) for a in axes)), x)


def expand_dims(x, axis):
    return apply(ExpandDims(axis=int(axis) if isinstance(axis, (int, np.integer)) else tuple(axis)), x)


def squeeze(x, axis=None):
    axis = None if axis is None else int(axis) if isinstance(axis, (int, np.integer)) else tuple(axis)
    return apply(Squeeze(axis=axis), x)


def concatenate(xs, axis=0):
    """Join tensors along an existing axis (axis=0 by default, as keras.ops)."""
    xs = _sequence(xs, "concatenate")
    return apply(Concatenate(axis=int(axis)), *xs)


def stack(x, axis=0):
    """Join tensors along a new axis."""
    xs = _sequence(x, "stack")
    return apply(Stack(axis=int(axis)), *xs)


def split(x, indices_or_sections, axis=0):
    """np.split: a list of pieces; each piece is a slice of x (so gradients flow back)."""
    from .. import _trace
    axis = int(axis)
    if isinstance(x, KerasTensor) or (isinstance(x, Variable) and _trace.active()):
        size = x.shape[axis]
        if size is None:
            raise ValueError(f"keras.ops.split: axis {axis} of {x!r} has no fixed size (it is the batch axis)")
        if isinstance(indices_or_sections, (int, np.integer)):
            n = int(indices_or_sections)
            if n < 1 or size % n:
                raise ValueError(f"keras.ops.split: axis {axis} of size {size} cannot be split into {n} equal parts")
            cuts = [size // n * i for i in range(1, n)]
        else:
            cuts = [int(i) for i in indices_or_sections]
        bounds = [0] + cuts + [size]
        ax = axis % x.ndim
        return [getitem(x, (slice(None),) * ax + (slice(a, b),)) for a, b in zip(bounds[:-1], bounds[1:])]
    a = x.value if isinstance(x, Variable) else np.asarray(x)
    return np.split(a, indices_or_sections, axis=axis)


def getitem(x, key):
    """x[key]; on symbolic tensors the key may hold ints, slices, None, ... and integer arrays."""
    parts = key if isinstance(key, tuple) else (key,)
    for k in parts:
        if isinstance(k, (KerasTensor, Variable)):
            raise TypeError("keras.ops: indexing with a tensor is not supported; use constant indices or slices")
        if isinstance(x, KerasTensor) and np.asarray(k).dtype == bool and not isinstance(k, bool):
            raise TypeError(f"keras.ops: boolean-mask indexing of {x!r} gives a data-dependent shape; "
                            f"use keras.ops.where instead")
    key = tuple(np.asarray(k) if isinstance(k, list) else k for k in parts) if isinstance(key, tuple) else \
        (np.asarray(key) if isinstance(key, list) else key)
    return apply(GetItem(key=key), x)


def convert_to_tensor(x, dtype=None, sparse=None):
    """An array from x (list, array, weight); on a symbolic tensor, itself (cast to dtype if given)."""
    if isinstance(x, KerasTensor):
        from .math import cast
        return x if dtype is None else cast(x, dtype)
    if isinstance(x, Variable):
        x = x.value
    return np.asarray(x, dtype=dtype)


def shape(x):
    """The shape as a tuple; None for the batch axis of a symbolic tensor."""
    return tuple(x.shape) if isinstance(x, (KerasTensor, Variable)) else np.shape(x)


def _sequence(xs, name):
    if isinstance(xs, (KerasTensor, np.ndarray)) or not isinstance(xs, (list, tuple)):
        raise TypeError(f"keras.ops.{name} takes a list or tuple of tensors, got {type(xs).__name__}")
    if not xs:
        raise ValueError(f"keras.ops.{name}: the list of tensors is empty")
    return list(xs)
