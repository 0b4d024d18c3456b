"""Subclassed models: ``class M(keras.Model)`` with layers made in ``__init__`` and a ``call``.

    class WideAndDeepModel(keras.Model):
        def __init__(self, units=30, activation="relu", **kwargs):
            super().__init__(**kwargs)
            self.hidden1 = keras.layers.Dense(units, activation=activation)
            ...
        def call(self, inputs):
            input_A, input_B = inputs
            ...
            return main_output, aux_output

The model is built (on its first data, or by ``build(input_shape)``) by
tracing ``call`` once on ``keras.Input`` tensors shaped like the data: the
layers it calls and the ``keras.ops`` it applies become a ``Graph``, the same
one ``keras.Model(inputs, outputs)`` would hold, so fit/evaluate/predict run
unchanged. If ``call`` takes ``training``, it is traced for ``training=True``
(used by fit) and ``training=False`` (evaluate, predict).

Attributes that hold layers (or lists of layers) are tracked in assignment
order: they are ``model.layers``, the order of ``get_weights``.
"""
import numpy as np

from . import _trace, backend
from .layers.base import KerasTensor, Layer


def is_subclassed(model):
    """A Model subclass with its own call() (the class or an instance)."""
    return callable(getattr(model if isinstance(model, type) else type(model), "call", None))


def track(model, value):
    layers = [value] if isinstance(value, Layer) else \
        [v for v in value if isinstance(v, Layer)] if isinstance(value, (list, tuple)) else []
    tracked = model.__dict__.setdefault("_tracked", [])
    for layer in layers:
        if not any(layer is t for t in tracked):
            tracked.append(layer)


# ------------------------------------------------------------ input specs
def _is_shape(s):
    return isinstance(s, (tuple, list)) and all(d is None or isinstance(d, (int, np.integer)) for d in s)


def inputs_from_shapes(input_shape):
    """build(input_shape): (None, 8), [(None, 5), (None, 6)] or {'name': (None, 8)} -> Input tensors."""
    from .layers.core import Input
    if isinstance(input_shape, dict):
        return {k: Input(shape=tuple(v)[1:], name=k) for k, v in input_shape.items()}
    if _is_shape(input_shape):
        return Input(shape=tuple(input_shape)[1:])
    if isinstance(input_shape, (list, tuple)) and all(_is_shape(s) for s in input_shape):
        return type(input_shape)(Input(shape=tuple(s)[1:]) for s in input_shape)
    raise ValueError(f"build: input_shape must be a shape like (None, 8), a list of shapes or a dict, "
                     f"got {input_shape!r}")


def inputs_from_data(x):
    """Input tensors shaped like the data x (an array, a tuple/list of arrays or a dict)."""
    def shape(a, what):
        s = getattr(a, "shape", None)
        s = tuple(s) if s is not None else np.shape(a)
        if len(s) < 1:
            raise ValueError(f"{what} needs a batch axis, got a scalar")
        return (None,) + tuple(s[1:])

    if isinstance(x, dict):
        return inputs_from_shapes({k: shape(v, f"input '{k}'") for k, v in x.items()})
    if isinstance(x, (list, tuple)) and len(x) > 1 and all(hasattr(a, "shape") for a in x):
        return type(x)(inputs_from_shapes(shape(a, f"input {i}")) for i, a in enumerate(x))
    if isinstance(x, (list, tuple)) and len(x) == 1 and hasattr(x[0], "shape"):
        x = x[0]
    return inputs_from_shapes(shape(x, "the model input"))


# ------------------------------------------------------------------ build
def build(model, inputs):
    """Trace model.call on the Input tensors ``inputs`` and install the graph(s)."""
    from ._autodiff import OpLayer
    from ._graph import Graph
    from .layers.core import InputLayer
    flat_in = list(inputs.values()) if isinstance(inputs, dict) else \
        list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
    keys = [True, False] if _trace.takes_training(model.call) else [None]
    graphs = {}
    where = f"Model '{model.name}' ({type(model).__name__})"
    for key in keys:
        with _trace.frame(model, "model"):
            out = model.call(inputs, **({} if key is None else {"training": key}))
        if isinstance(out, dict):
            names, outs = list(out), list(out.values())
        else:
            names, outs = None, list(out) if isinstance(out, (list, tuple)) else [out]
        for o in outs:
            if not isinstance(o, KerasTensor):
                raise TypeError(f"{where}: call() must return tensors computed from its inputs "
                                f"(a tensor, a tuple/list or a dict of them), got {type(o).__name__}")
            if not o.batched:
                raise ValueError(f"{where}: call() returned {o!r}, which has no batch axis")
        graphs[key] = Graph(flat_in, outs, where=f"call() of {where}", allow_shared=True)
    tracked = model.__dict__.get("_tracked", [])
    tracked_ids = {id(l) for l in tracked}
    used = set()
    for g in graphs.values():
        for t in g.nodes:
            layer = t.layer
            owners = [v.owner for v in layer.variables()] if isinstance(layer, OpLayer) else [layer]
            for o in owners:
                used.add(id(o))
                if o.params and id(o) not in tracked_ids and not isinstance(o, InputLayer):
                    raise ValueError(
                        f"{where}: layer '{o.name}' ({type(o).__name__}) has weights but is not an attribute "
                        f"of the model; create layers in __init__ (self.{o.name} = ...) and only call them in call()"
                    )
    for layer in tracked:
        if id(layer) not in used and layer.params:
            layer.grads = {k: np.zeros_like(v) for k, v in layer.params.items()}
    model._graph = graphs[False if None not in graphs else None]
    model._train_graph = graphs.get(True)
    model._inputs_nested = len(flat_in) > 1
    model._outputs_nested = isinstance(out, (list, tuple)) and len(outs) > 1
    model._output_keys = names
    model.dtype = backend.floatx()
    model._build_input_shape = shapes_of(inputs)
    if model.compiled:
        model._resolve_losses()


def shapes_of(inputs):
    """The shapes (with the batch axis) of Input tensors, in the structure build(input_shape) takes."""
    if isinstance(inputs, dict):
        return {k: tuple(t.shape) for k, t in inputs.items()}
    if isinstance(inputs, (list, tuple)):
        return [tuple(t.shape) for t in inputs]
    return tuple(inputs.shape)


# ----------------------------------------------------------------- config
def check_config(model):
    """model.save / to_json need get_config, as in Keras."""
    from ._model import Model
    if type(model).get_config is Model.get_config:
        raise NotImplementedError(
            f"Model '{model.name}' ({type(model).__name__}) is a subclassed model without get_config(): "
            f"its architecture is Python code, so it cannot be saved as a whole. Either define "
            f"get_config() returning the arguments of __init__ (then load_model(path, custom_objects="
            f"{{'{type(model).__name__}': {type(model).__name__}}})), or use model.save_weights(...) and "
            f"rebuild the model in Python before load_weights(...)"
        )


def build_config(model):
    """{'input_shape': ...} as model.build(...) received it, in JSON form."""
    shape = model._build_input_shape
    if isinstance(shape, dict):
        shape = {k: list(v) for k, v in shape.items()}
    elif shape and isinstance(shape[0], tuple):
        shape = {"list": [list(s) for s in shape]}
    else:
        shape = list(shape)
    return {"input_shape": shape}


def build_from_config(model, build_config):
    """Build a model rebuilt from its config with the input shape it was saved with."""
    shape = (build_config or {}).get("input_shape")
    if shape is None:
        return model
    if isinstance(shape, dict) and set(shape) == {"list"}:
        shape = [tuple(s) for s in shape["list"]]
    elif isinstance(shape, dict):
        shape = {k: tuple(v) for k, v in shape.items()}
    else:
        shape = tuple(shape)
    model.build(shape)
    return model
