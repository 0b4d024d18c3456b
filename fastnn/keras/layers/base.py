"""The Layer base class and the symbolic tensors of the functional API.

A layer is built once for an input shape (the shape of ONE sample, without
the batch axis), owns its weights as NumPy arrays, and has

* ``forward(x, training)`` -> output for a batch (it caches what backward needs),
* ``backward(dout)`` -> gradient w.r.t. its input, storing the gradients of its
  weights in ``self.grads`` (same keys as ``self.params``).

Calling a layer on a ``KerasTensor`` (from ``Input`` or another layer) records
the connection for ``Model``; calling it on an array computes the output.
"""
import numpy as np

from .. import activations as _activations
from .. import backend

#: Keyword arguments every layer accepts.
BASE_KWARGS = ("input_shape", "input_dim", "batch_input_shape", "batch_size", "name", "dtype", "trainable")


def shape_str(shape):
    """(None, 28, 28, 1) as Keras prints it."""
    return "(" + ", ".join("None" if s is None else str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"


class KerasTensor:
    """A symbolic batch: its shape ``(None, *sample_shape)`` and where it comes from."""

    def __init__(self, sample_shape, layer, inbound=(), layer_takes_list=False):
        self.sample_shape = tuple(sample_shape)
        self.layer = layer                  # the layer that produces it
        self.inbound = tuple(inbound)       # the tensors that layer was called on
        self.layer_takes_list = layer_takes_list   # called as layer([a, b]) rather than layer(a)

    @property
    def shape(self):
        return (None,) + self.sample_shape

    @property
    def name(self):
        return self.layer.name

    def __repr__(self):
        return f"<KerasTensor shape={shape_str(self.shape)} from {self.layer.name}>"


class Layer:
    """Base class of every fastnn.keras layer."""

    def __init__(self, **kwargs):
        cls = type(self).__name__
        unknown = sorted(set(kwargs) - set(BASE_KWARGS))
        if unknown:
            raise ValueError(
                f"{cls}: unknown keyword argument(s) {unknown}; "
                f"accepted besides the layer's own arguments: {list(BASE_KWARGS)}"
            )
        name = kwargs.get("name")
        if name is not None and not isinstance(name, str):
            raise TypeError(f"{cls}: name must be a string, got {name!r}")
        self.name = name or backend.unique_name(backend.snake_case(cls))
        self.dtype = kwargs.get("dtype") or None
        self.trainable = bool(kwargs.get("trainable", True))
        self._declared_input_shape = None
        if kwargs.get("input_shape") is not None:
            self._declared_input_shape = _as_shape(cls, "input_shape", kwargs["input_shape"])
        elif kwargs.get("batch_input_shape") is not None:
            self._declared_input_shape = _as_shape(cls, "batch_input_shape", kwargs["batch_input_shape"])[1:]
        elif kwargs.get("input_dim") is not None:
            self._declared_input_shape = _as_shape(cls, "input_dim", (kwargs["input_dim"],))
        self.built = False
        self.input_shape = None      # sample shape it was built for
        self.output_shape = None
        self.params = {}             # weight name -> array, in Keras' get_weights order
        self._trainable_names = []
        self.grads = {}

    # ------------------------------------------------------------------ build
    def build(self, input_shape):
        """Create the weights for samples of ``input_shape`` (override when there are weights)."""

    def compute_output_shape(self, input_shape):
        return input_shape

    def _ensure_built(self, input_shape):
        input_shape = tuple(input_shape) if not isinstance(input_shape, list) else input_shape
        if not self.built:
            if self.dtype is None:
                self.dtype = backend.floatx()
            self.build(input_shape)
            self.input_shape = input_shape
            self.output_shape = self.compute_output_shape(input_shape)
            self.built = True
        else:
            self._check_input_shape(input_shape)
        return self.output_shape

    def _check_input_shape(self, input_shape):
        if _shapes_match(self.input_shape, input_shape):
            return
        raise ValueError(
            f"Input of layer '{self.name}' ({type(self).__name__}) is incompatible with the layer: "
            f"expected samples of shape {_fmt(self.input_shape)}, got {_fmt(input_shape)}"
        )

    def add_weight(self, name, shape, initializer, trainable=True):
        value = initializer(shape, dtype=self.dtype)
        self.params[name] = np.ascontiguousarray(value)
        if trainable:
            self._trainable_names.append(name)
        return self.params[name]

    # ------------------------------------------------------------------ call
    def __call__(self, inputs, training=False):
        symbolic = isinstance(inputs, KerasTensor) or (
            isinstance(inputs, (list, tuple)) and inputs and all(isinstance(t, KerasTensor) for t in inputs)
        )
        if symbolic:
            if isinstance(inputs, KerasTensor):
                out_shape = self._ensure_built(inputs.sample_shape)
                return KerasTensor(out_shape, self, (inputs,))
            out_shape = self._ensure_built([t.sample_shape for t in inputs])
            return KerasTensor(out_shape, self, tuple(inputs), layer_takes_list=True)
        # Eager call on arrays.
        if isinstance(inputs, (list, tuple)):
            arrays = [np.asarray(a, dtype=self.dtype or backend.floatx()) for a in inputs]
            self._ensure_built([a.shape[1:] for a in arrays])
            return self.forward(arrays, training)
        x = np.asarray(inputs, dtype=self.dtype or backend.floatx())
        self._ensure_built(x.shape[1:])
        return self.forward(x, training)

    def forward(self, x, training=False):
        raise NotImplementedError

    def backward(self, dout):
        raise NotImplementedError

    # --------------------------------------------------------------- weights
    @property
    def weights(self):
        return list(self.params.values())

    @property
    def trainable_weights(self):
        if not self.trainable:
            return []
        return [self.params[n] for n in self._trainable_names]

    @property
    def non_trainable_weights(self):
        names = set(self._trainable_names) if self.trainable else set()
        return [v for n, v in self.params.items() if n not in names]

    def trainable_param_names(self):
        return list(self._trainable_names) if self.trainable else []

    def get_weights(self):
        return [v.copy() for v in self.params.values()]

    def set_weights(self, weights):
        weights = list(weights)
        if len(weights) != len(self.params):
            raise ValueError(
                f"Layer '{self.name}' expects {len(self.params)} weight arrays "
                f"({list(self.params)}), got {len(weights)}"
            )
        for (name, current), new in zip(self.params.items(), weights):
            new = np.asarray(new)
            if new.shape != current.shape:
                raise ValueError(
                    f"Layer '{self.name}': weight '{name}' has shape {current.shape}, "
                    f"got an array of shape {new.shape}"
                )
            current[...] = new      # in place, so optimizer state stays attached

    def count_params(self):
        return int(sum(v.size for v in self.params.values()))

    # ----------------------------------------------------------------- config
    def get_config(self):
        """Keras' base keys; subclasses add their own arguments (the input shape travels
        in the model's InputLayer, as in Keras 3)."""
        return {"name": self.name, "trainable": self.trainable, "dtype": self.dtype}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        dtype = config.get("dtype")
        if isinstance(dtype, dict):          # Keras 3's DTypePolicy: {"class_name": ..., "config": {"name": ...}}
            config["dtype"] = (dtype.get("config") or {}).get("name")
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}>"


class ActivatedLayer(Layer):
    """A layer followed by an activation (Dense, Conv2D, Activation).

    When the model fuses the last softmax (or sigmoid) with the cross-entropy
    loss, it calls ``backward(dz, skip_activation=True)`` with the gradient
    w.r.t. the activation's input, (y - t) / N.
    """

    def _set_activation(self, activation):
        self.activation = _activations.get(activation, where=f"{type(self).__name__} '{self.name}'")

    def _activate(self, z):
        a = self.activation.forward(z)
        self._z, self._a = z, a
        return a

    def _activation_grad(self, dout, skip_activation):
        if skip_activation:
            return dout
        return self.activation.backward(dout, self._a, self._z)


def _as_shape(cls, what, shape):
    try:
        shape = tuple(None if s is None else int(s) for s in shape)
    except TypeError:
        raise TypeError(f"{cls}: {what} must be a tuple of ints, got {shape!r}") from None
    if any(s is not None and s < 1 for s in shape):
        raise ValueError(f"{cls}: {what} must contain positive sizes, got {shape}")
    return shape


def _shapes_match(expected, got):
    if isinstance(expected, list) or isinstance(got, list):
        if not (isinstance(expected, list) and isinstance(got, list)) or len(expected) != len(got):
            return False
        return all(_shapes_match(e, g) for e, g in zip(expected, got))
    if len(expected) != len(got):
        return False
    return all(e is None or g is None or e == g for e, g in zip(expected, got))


def _fmt(shape):
    if isinstance(shape, list):
        return "[" + ", ".join(shape_str((None,) + tuple(s)) for s in shape) + "]"
    return shape_str((None,) + tuple(shape))
