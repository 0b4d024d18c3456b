"""Concatenate: joins several inputs along one axis (the last by default)."""
import numpy as np

from .base import Layer


class Concatenate(Layer):
    """[(N, ..., a), (N, ..., b)] -> (N, ..., a + b) for axis=-1."""

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
