"""Lambda: a layer from a function, ``Lambda(lambda x: keras.ops.square(x))``.

The function is written with keras.ops (or Python operators) and is traced
like any ``call``: its gradient comes from the ops' own backward passes.
"""
from .base import Layer


class Lambda(Layer):
    """``y = function(x, **arguments)``; x one tensor or a list of tensors (N, ...) -> (N, ...)."""

    def __init__(self, function, output_shape=None, mask=None, arguments=None, **kwargs):
        super().__init__(**kwargs)
        if not callable(function):
            raise TypeError(f"Lambda '{self.name}': function must be callable, got {type(function).__name__}")
        if mask is not None:
            raise ValueError(f"Lambda '{self.name}': mask is not supported")
        self.function = function
        self.arguments = dict(arguments or {})
        self._expected_shape = None if output_shape is None or callable(output_shape) else \
            tuple(None if s is None else int(s) for s in output_shape)

    def call(self, inputs):
        return self.function(inputs, **self.arguments)

    def __call__(self, inputs, training=None, **kwargs):
        out = super().__call__(inputs, training, **kwargs)
        shape = getattr(out, "sample_shape", None)
        if shape is not None and self._expected_shape is not None:
            if len(shape) != len(self._expected_shape) or any(
                    e is not None and s is not None and e != s for e, s in zip(self._expected_shape, shape)):
                raise ValueError(f"Lambda '{self.name}': output_shape={self._expected_shape} but the function "
                                 f"gives samples of shape {shape}")
        return out

    def get_config(self):
        name = getattr(self.function, "__name__", type(self.function).__name__)
        raise NotImplementedError(
            f"Lambda '{self.name}' (function {name!r}): a Lambda layer holds Python code, which fastnn never "
            f"stores in or runs from a file. Save the weights (save_weights) and rebuild the model in Python, "
            f"or write a Layer subclass with get_config()"
        )
