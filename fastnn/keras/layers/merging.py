"""Merging layers: Concatenate, and the element-wise Add, Subtract, Multiply, Average, Maximum, Minimum."""
import numpy as np

from .base import Layer


class Concatenate(Layer):
    """[(N, ..., a), (N, ..., b)] -> (N, ..., a + b) for axis=-1."""
    weightless = True

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        self.axis = int(axis)

    def _sample_axis(self, ndim):
        """The axis within one sample (the batch axis is 0 in Keras' numbering)."""
        full = self.axis if self.axis >= 0 else ndim + 1 + self.axis
        if not 1 <= full <= ndim:
            raise ValueError(f"Concatenate '{self.name}': axis {self.axis} is out of range for {ndim + 1}-D inputs")
        return full - 1

    def compute_output_shape(self, input_shape):
        if not isinstance(input_shape, list) or len(input_shape) < 2:
            raise ValueError(f"Concatenate '{self.name}': expects a list of at least 2 inputs")
        ndim = len(input_shape[0])
        if any(len(s) != ndim for s in input_shape):
            raise ValueError(f"Concatenate '{self.name}': inputs have different ranks: {input_shape}")
        ax = self._sample_axis(ndim)
        for s in input_shape[1:]:
            if any(a != b for i, (a, b) in enumerate(zip(s, input_shape[0])) if i != ax):
                raise ValueError(
                    f"Concatenate '{self.name}': shapes must match except on the concatenation axis, "
                    f"got {input_shape}"
                )
        out = list(input_shape[0])
        out[ax] = sum(s[ax] for s in input_shape)
        return tuple(out)

    def forward(self, xs, training=False):
        self._sizes = [x.shape[self.axis] for x in xs]
        return np.concatenate(xs, axis=self.axis)

    def backward(self, dout):
        cuts = np.cumsum(self._sizes)[:-1]
        return [np.ascontiguousarray(d) for d in np.split(dout, cuts, axis=self.axis)]

    def get_config(self):
        config = super().get_config()
        config["axis"] = self.axis
        return config


def concatenate(inputs, axis=-1, **kwargs):
    """Functional form: ``concatenate([a, b])`` = ``Concatenate()([a, b])``."""
    return Concatenate(axis=axis, **kwargs)(inputs)


# ---------------------------------------------------------------------------
# Element-wise merges: Add, Subtract, Multiply, Average, Maximum, Minimum
# ---------------------------------------------------------------------------
def _broadcast_shape(layer, shapes):
    """Sample shapes of equal rank -> their broadcast shape (sizes 1 stretch), else a clear error."""
    ranks = {len(s) for s in shapes}
    if len(ranks) != 1:
        raise ValueError(f"{type(layer).__name__} '{layer.name}': inputs have different ranks: {shapes}")
    out = []
    for sizes in zip(*shapes):
        known = {s for s in sizes if s is not None and s != 1}
        if len(known) > 1:
            raise ValueError(
                f"{type(layer).__name__} '{layer.name}': inputs must have the same shape "
                f"(or size 1 where they differ), got {[tuple(s) for s in shapes]}"
            )
        if known:
            out.append(known.pop())
        elif any(s is None for s in sizes):
            out.append(None)
        else:
            out.append(1)
    return tuple(out)


def _unbroadcast(g, shape):
    """Sum the gradient ``g`` over the axes where the input of ``shape`` was stretched."""
    axes = tuple(i for i, (a, b) in enumerate(zip(shape, g.shape)) if a == 1 and b != 1)
    if axes:
        g = g.sum(axis=axes, keepdims=True)
    return np.ascontiguousarray(g)


class _Merge(Layer):
    """Several inputs of one shape (sizes 1 broadcast) -> one output of that shape."""
    weightless = True

    min_inputs = 2
    max_inputs = None

    def compute_output_shape(self, input_shape):
        cls = type(self).__name__
        if not isinstance(input_shape, list):
            raise ValueError(f"{cls} '{self.name}': expects a list of inputs, e.g. {cls}()([a, b])")
        n = len(input_shape)
        if n < self.min_inputs or (self.max_inputs is not None and n > self.max_inputs):
            want = f"exactly {self.max_inputs}" if self.max_inputs == self.min_inputs else f"at least {self.min_inputs}"
            raise ValueError(f"{cls} '{self.name}': expects {want} inputs, got {n}")
        return _broadcast_shape(self, [tuple(s) for s in input_shape])

    def forward(self, xs, training=False):
        self._shapes = [x.shape for x in xs]
        return self._merge(xs)

    def backward(self, dout):
        return [_unbroadcast(g, s) for g, s in zip(self._grads(dout), self._shapes)]


class Add(_Merge):
    """x1 + x2 + ... (the residual connections of ResNet/Xception)."""

    def _merge(self, xs):
        out = xs[0] + xs[1]
        for x in xs[2:]:
            out = out + x
        return out

    def _grads(self, dout):
        return [dout] * len(self._shapes)


class Subtract(_Merge):
    """x1 - x2 (exactly two inputs)."""
    max_inputs = 2

    def _merge(self, xs):
        return xs[0] - xs[1]

    def _grads(self, dout):
        return [dout, -dout]


class Multiply(_Merge):
    """x1 * x2 * ... element-wise."""

    def _merge(self, xs):
        self._xs = xs
        out = xs[0] * xs[1]
        for x in xs[2:]:
            out = out * x
        return out

    def _grads(self, dout):
        grads = []
        for i in range(len(self._xs)):
            g = dout
            for j, x in enumerate(self._xs):
                if j != i:
                    g = g * x
            grads.append(g)
        return grads


class Average(_Merge):
    """(x1 + x2 + ...) / n."""

    def _merge(self, xs):
        return Add._merge(self, xs) / xs[0].dtype.type(len(xs))

    def _grads(self, dout):
        g = dout / dout.dtype.type(len(self._shapes))
        return [g] * len(self._shapes)


class _Extremum(_Merge):
    """Maximum/Minimum: the gradient goes to the input that won (the first on ties)."""

    def _merge(self, xs):
        stacked = np.stack(np.broadcast_arrays(*xs))
        self._winner = self._pick(stacked, axis=0)
        return np.take_along_axis(stacked, self._winner[None], axis=0)[0]

    def _grads(self, dout):
        return [np.where(self._winner == i, dout, 0).astype(dout.dtype) for i in range(len(self._shapes))]


class Maximum(_Extremum):
    """Element-wise maximum of the inputs."""
    _pick = staticmethod(np.argmax)


class Minimum(_Extremum):
    """Element-wise minimum of the inputs."""
    _pick = staticmethod(np.argmin)


def add(inputs, **kwargs):
    """Functional form: ``add([a, b])`` = ``Add()([a, b])``."""
    return Add(**kwargs)(inputs)


def subtract(inputs, **kwargs):
    """Functional form: ``subtract([a, b])`` = ``Subtract()([a, b])``."""
    return Subtract(**kwargs)(inputs)


def multiply(inputs, **kwargs):
    """Functional form: ``multiply([a, b])`` = ``Multiply()([a, b])``."""
    return Multiply(**kwargs)(inputs)


def average(inputs, **kwargs):
    """Functional form: ``average([a, b])`` = ``Average()([a, b])``."""
    return Average(**kwargs)(inputs)


def maximum(inputs, **kwargs):
    """Functional form: ``maximum([a, b])`` = ``Maximum()([a, b])``."""
    return Maximum(**kwargs)(inputs)


def minimum(inputs, **kwargs):
    """Functional form: ``minimum([a, b])`` = ``Minimum()([a, b])``."""
    return Minimum(**kwargs)(inputs)
