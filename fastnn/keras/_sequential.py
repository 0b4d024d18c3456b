"""``Sequential``: a plain stack of layers, each feeding the next.

The input shape comes from the first layer's ``input_shape=``/``input_dim=``,
from an ``Input(...)`` added first, from ``model.build((None, ...))``, or from
the first data passed to fit/predict. Once it is known, every ``add`` checks
the new layer against the output of the previous one.
"""
from ._model import Model
from .layers.base import KerasTensor, Layer
from .layers.core import Input, InputLayer


class Sequential(Model):
    def __init__(self, layers=None, name=None, **kwargs):
        super().__init__(name=name, **kwargs)
        self._stack = []
        self._input_shape = None
        self._input_name = None
        self._inputs_nested = self._outputs_nested = False
        for layer in layers or []:
            self.add(layer)

    def _default_name(self):
        return "sequential"

    @property
    def layers(self):
        """The layers in order (without the implicit input layer)."""
        return list(self._stack)

    def add(self, layer):
        """Append a layer (or an ``Input(...)``, which sets the input shape)."""
        if isinstance(layer, KerasTensor) and isinstance(layer.layer, InputLayer):
            if self._stack:
                raise ValueError(f"Sequential '{self.name}': an Input can only be added first")
            self._input_shape = layer.sample_shape
            self._input_name = layer.layer.name
            return
        if isinstance(layer, InputLayer):
            self._input_shape, self._input_name = layer.shape, layer.name
            return
        if not isinstance(layer, Layer):
            raise TypeError(
                f"Sequential '{self.name}': add() expects a keras layer, got {type(layer).__name__}"
            )
        if any(l is layer for l in self._stack):
            raise ValueError(f"Sequential '{self.name}': layer '{layer.name}' is already in the model")
        if not self._stack and self._input_shape is None and layer._declared_input_shape is not None:
            self._input_shape = layer._declared_input_shape
        self._stack.append(layer)
        if self._input_shape is not None:
            try:
                self._rebuild()
            except Exception:
                self._stack.pop()
                raise

    def pop(self):
        if not self._stack:
            raise ValueError(f"Sequential '{self.name}': there is no layer to pop")
        layer = self._stack.pop()
        if self._stack and self._input_shape is not None:
            self._rebuild()
        return layer

    def build(self, input_shape=None):
        """Build for inputs of ``input_shape`` (with the batch axis, e.g. (None, 784))."""
        if input_shape is not None:
            self._input_shape = tuple(input_shape)[1:]
        if self._input_shape is None:
            raise ValueError(f"Sequential '{self.name}': build() needs an input_shape such as (None, 784)")
        self._rebuild()

    def _rebuild(self):
        if not self._stack:
            return
        name = self._input_name or f"{self.name}_input"
        self._input_name = name
        inp = Input(shape=self._input_shape, name=name)
        x = inp
        for layer in self._stack:
            x = layer(x)
        self._set_graph(inp, x)
        self._inputs_nested = self._outputs_nested = False
        if self.compiled:
            self._resolve_losses()

    def _ensure_built_for(self, x):
        if self.built:
            return
        if not self._stack:
            raise ValueError(f"Sequential '{self.name}' has no layers")
        if isinstance(x, (list, tuple)) and len(x) == 1:
            x = x[0]
        shape = getattr(x, "shape", None)
        if shape is None:
            import numpy as np
            shape = np.asarray(x).shape
        if len(shape) < 2:
            raise ValueError(f"Sequential '{self.name}': inputs need a batch axis and a feature axis, got {shape}")
        self._input_shape = tuple(shape[1:])
        self._rebuild()

    @property
    def built(self):
        return self._graph is not None

    def __repr__(self):
        return f"<Sequential name={self.name}, layers={[l.name for l in self._stack]}>"
