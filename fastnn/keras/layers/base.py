"""The Layer base class and the symbolic tensors of the functional API.

A layer is built once for an input shape (the shape of ONE sample, without
the batch axis), owns its weights as NumPy arrays, and has

* ``forward(x, training)`` -> output for a batch (it caches what backward needs),
* ``backward(dout)`` -> gradient w.r.t. its input, storing the gradients of its
  weights in ``self.grads`` (same keys as ``self.params``).

Calling a layer on a ``KerasTensor`` (from ``Input`` or another layer) records
the connection for ``Model``; calling it on an array computes the output.

A layer of your own may instead, as in Keras, define ``build(input_shape)``
(``input_shape`` with the batch axis), creating weights with ``add_weight``,
and ``call(inputs)`` written with ``keras.ops``: then ``call`` is traced into a
small graph whose forward/backward serve as the layer's (``fastnn/keras/_trace.py``).
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
    """A symbolic batch: its shape ``(None, *sample_shape)`` and where it comes from.

    Python operators, indexing and ``keras.ops`` on it record graph nodes
    (see ``fastnn/keras/_autodiff.py``). Its values are not known while a
    model is built, so anything that needs them (``if``, ``bool``, ``len``,
    ``float``, ``np.asarray``) raises an error naming the line.
    A reduction over the batch axis gives an unbatched tensor
    (``batched=False``): then ``sample_shape`` is its whole shape.
    """
    __array_priority__ = 200

    def __init__(self, sample_shape, layer, inbound=(), layer_takes_list=False, batched=True, dtype=None,
                 training=None):
        self.sample_shape = tuple(sample_shape)
        self.layer = layer                  # the layer that produces it
        self.inbound = tuple(inbound)       # the tensors that layer was called on
        self.layer_takes_list = layer_takes_list   # called as layer([a, b]) rather than layer(a)
        self.batched = batched
        self.dtype = str(np.dtype(dtype or getattr(layer, "dtype", None) or backend.floatx()))
        self.training = training            # fixed by layer(x, training=...), else None: the model's

    @property
    def shape(self):
        return (None,) + self.sample_shape if self.batched else self.sample_shape

    @property
    def ndim(self):
        return len(self.shape)

    @property
    def name(self):
        return self.layer.name

    def __repr__(self):
        return f"<KerasTensor shape={shape_str(self.shape)} from {self.layer.name}>"

    # Values are unknown while tracing: refuse what needs them, naming the user's line.
    def _needs_value(self, what):
        from .._trace import data_dependent_error
        raise data_dependent_error(self, what)

    def __bool__(self):
        self._needs_value("a Python `if`, `while`, `and`, `or` or `not` on it")

    def __len__(self):
        self._needs_value("len()")

    def __iter__(self):
        self._needs_value("iterating over it (or unpacking it)")

    def __float__(self):
        self._needs_value("float()")

    def __int__(self):
        self._needs_value("int()")

    def __index__(self):
        self._needs_value("using it as an index")

    def __array__(self, dtype=None, copy=None):
        self._needs_value("converting it to a NumPy array (a NumPy function on it)")

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        """np.add(array, tensor), np.exp(tensor), ...: the matching keras.ops function."""
        from .. import ops
        fn = ops.UFUNCS.get(ufunc.__name__) if method == "__call__" and not kwargs else None
        if fn is None:
            self._needs_value(f"NumPy's {ufunc.__name__}.{method} (use keras.ops instead)")
        return fn(*inputs)


class Layer:
    """Base class of every fastnn.keras layer."""

    #: Whether the layer's compiled kernels split their work over OpenMP threads
    #: (convolution, pooling, batch normalization). A model without such layers
    #: lets BLAS thread its dense products (``fastnn._blas.threaded_blas``).
    openmp_kernels = False

    #: True for layer types that hold no weights and call no other layers
    #: (reshapes, activations, pooling, dropout, merges): a model's backward
    #: pass does not ask the layers before them for the gradient of its input
    #: if nothing before them has weights either (see Graph._wants_grad).
    weightless = False

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

    def add_weight(self, name=None, shape=None, initializer=None, trainable=True, dtype=None, **kwargs):
        """Create a weight of ``shape`` and return it as a ``Variable``.

        Keras' keywords: ``add_weight(name="kernel", shape=(in, out), initializer="glorot_uniform",
        trainable=True)``; the shape may also come first, as in Keras 3. The value
        lives in ``self.params[name]``; trainable weights get gradients in ``fit``.
        """
        from .. import initializers as _init
        from .._autodiff import Variable, register_weight
        cls = type(self).__name__
        if name is not None and not isinstance(name, str):          # add_weight((3, 4), ...) as in Keras 3
            name, shape = kwargs.pop("name", None), name
        for key in ("regularizer", "constraint"):
            if kwargs.pop(key, None) is not None:
                raise ValueError(f"{cls} '{self.name}': add_weight({key}=...) is not supported")
        for key in ("autocast", "aggregation", "synchronization", "use_resource", "experimental_autocast"):
            kwargs.pop(key, None)
        if kwargs:
            raise ValueError(f"{cls} '{self.name}': add_weight got unknown keyword argument(s) {sorted(kwargs)}")
        if shape is None:
            shape = ()
        shape = (int(shape),) if isinstance(shape, (int, np.integer)) else shape
        try:
            shape = tuple(int(s) for s in shape)
        except (TypeError, ValueError):
            raise TypeError(f"{cls} '{self.name}': add_weight shape must be a tuple of ints, got {shape!r}") from None
        if any(s < 0 for s in shape):
            raise ValueError(f"{cls} '{self.name}': add_weight shape must not be negative, got {shape}")
        if name is None:
            k = 0
            while (name := "variable" if k == 0 else f"variable_{k}") in self.params:
                k += 1
        if name in self.params:
            raise ValueError(f"{cls} '{self.name}': a weight named '{name}' already exists")
        dtype = dtype or self.dtype or backend.floatx()
        if initializer is None:
            initializer = "glorot_uniform" if np.dtype(dtype).kind == "f" else "zeros"
        if not isinstance(initializer, (str, dict, _init.Initializer)) and callable(initializer):
            value = initializer(shape, dtype=dtype)
        else:
            init = _init.get(initializer, where=f"{cls} '{self.name}' weight '{name}'")
            value = init(shape, dtype=dtype)
        value = np.asarray(value, dtype=dtype)
        if value.shape != shape:
            raise ValueError(f"{cls} '{self.name}': the initializer of '{name}' gave shape {value.shape}, not {shape}")
        self.params[name] = np.ascontiguousarray(value)
        if trainable:
            self._trainable_names.append(name)
        register_weight(self, name)
        return Variable(self, name, trainable)

    # ------------------------------------------------------------------ call
    def _uses_call(self):
        """A layer written Keras' way (build/call with keras.ops) rather than forward/backward."""
        return type(self).forward is Layer.forward

    def __call__(self, inputs, training=None, **kwargs):
        if self._uses_call():
            from .._trace import call_layer
            return call_layer(self, inputs, training, kwargs)
        cls = type(self).__name__
        if kwargs:
            raise TypeError(f"{cls} '{self.name}': unexpected argument(s) {sorted(kwargs)} in the call")
        many = isinstance(inputs, (list, tuple))
        tensors = list(inputs) if many else [inputs]
        n_sym = sum(isinstance(t, KerasTensor) for t in tensors)
        if n_sym and n_sym != len(tensors):
            raise TypeError(f"{cls} '{self.name}': called on a mix of symbolic tensors and arrays; "
                            f"turn the arrays into tensors with keras.ops.convert_to_tensor or pass only tensors")
        if n_sym and tensors:
            for t in tensors:
                if not t.batched:
                    raise ValueError(f"{cls} '{self.name}': its input {t!r} has no batch axis "
                                     f"(it was reduced over the batch); layers take batches")
            if not many:
                out_shape = self._ensure_built(inputs.sample_shape)
                return KerasTensor(out_shape, self, (inputs,), training=training)
            out_shape = self._ensure_built([t.sample_shape for t in inputs])
            return KerasTensor(out_shape, self, tuple(inputs), layer_takes_list=True, training=training)
        # Eager call on arrays.
        if many:
            arrays = [np.asarray(a, dtype=self.dtype or backend.floatx()) for a in inputs]
            self._ensure_built([a.shape[1:] for a in arrays])
            return self.forward(arrays, bool(training))
        x = np.asarray(inputs, dtype=self.dtype or backend.floatx())
        self._ensure_built(x.shape[1:])
        return self.forward(x, bool(training))

    def call(self, inputs, *args, **kwargs):
        """Override with the layer's computation written with keras.ops (or override forward/backward)."""
        raise NotImplementedError(
            f"{type(self).__name__} '{self.name}': a Layer subclass must define call(self, inputs) "
            f"(with keras.ops), or forward/backward"
        )

    def forward(self, x, training=False):
        """Layers written with call(): run the traced graph of call (see _trace.py)."""
        from .._trace import traced_forward
        return traced_forward(self, x, training)

    def backward(self, dout):
        from .._trace import traced_backward
        return traced_backward(self, dout)

    # ------------------------------------------------ state of one call
    def _snapshot(self):
        """What forward left for backward, so that a layer called twice can run backward for each call."""
        inner = getattr(self, "_last_graph", None)      # layers written with call(): their traced graph
        nested = []
        if inner is not None:
            nested = [(inner, dict(inner.__dict__))] + [(t.layer, t.layer._snapshot()) for t in inner.nodes]
        return dict(self.__dict__), nested

    def _restore(self, state):
        own, nested = state
        self.__dict__.update(own)
        for obj, s in nested:
            if isinstance(obj, Layer):
                obj._restore(s)
            else:
                obj.__dict__.update(s)

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
