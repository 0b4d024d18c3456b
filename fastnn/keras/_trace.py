"""Tracing ``call``: a layer's or model's Python code run once on symbolic tensors.

Running ``call`` on ``KerasTensor`` placeholders records every layer call and
every ``keras.ops`` operation as a node, which gives a ``Graph`` — the same
kind of graph the functional API builds. That graph is then run forward and
backward on real batches; ``call`` itself is not run again.

Because ``call`` runs only once, Python that looks at the *values* of a tensor
(``if ops.sum(x) > 0:``) cannot be traced: the tensor's ``__bool__`` raises
``data_dependent_error``, naming the file and line, instead of silently
keeping one branch. ``training`` is not data: when ``call`` takes a
``training`` argument it is traced twice, with ``training=True`` (used by
``fit``) and ``training=False`` (predict, evaluate), so ``if training:`` works.
"""
import contextlib
import inspect
import linecache
import os
import sys

import numpy as np

from . import backend
from .layers.base import KerasTensor

_STACK = []       # what is being traced: (owner, kind), innermost last
_FASTNN_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@contextlib.contextmanager
def frame(owner, kind):
    """kind: 'layer', 'model', 'loss' (tracing) or 'eager' (a call on arrays)."""
    _STACK.append((owner, kind))
    try:
        yield
    finally:
        _STACK.pop()


def active():
    return bool(_STACK) and _STACK[-1][1] != "eager"


def describe(owner, kind):
    if kind == "loss":
        return f"the loss function '{getattr(owner, '__name__', type(owner).__name__)}'"
    what = "model" if kind == "model" else "layer"
    return f"call() of {what} '{owner.name}' ({type(owner).__name__})"


def where():
    """Where an op is being recorded, for error messages."""
    for owner, kind in reversed(_STACK):
        if kind != "eager":
            return describe(owner, kind)
    return "the functional API"


def _user_line():
    """(file, line, source) of the innermost frame outside fastnn: the user's line."""
    f = sys._getframe(1)
    while f is not None:
        fname = os.path.abspath(f.f_code.co_filename)
        if not fname.startswith(_FASTNN_DIR + os.sep) or os.sep + "tests" + os.sep in fname:
            return fname, f.f_lineno, linecache.getline(fname, f.f_lineno).strip()
        f = f.f_back
    return "?", 0, ""


def data_dependent_error(tensor, what):
    fname, line, source = _user_line()
    return TypeError(
        f"{where()}: {what} needs the values of the symbolic tensor {tensor!r}, at {fname}:{line}"
        f"{': ' + source if source else ''}. A model's call() is traced once into a graph, before any data "
        f"flows, so Python control flow cannot depend on tensor values; write it with keras.ops "
        f"(e.g. keras.ops.where(condition, x1, x2)) instead"
    )


def takes_training(fn):
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False
    return "training" in params or any(p.kind == p.VAR_KEYWORD for p in params.values())


def _call_kwargs(fn, training, kwargs):
    kw = dict(kwargs)
    if training is not None and takes_training(fn):
        kw["training"] = training
    return kw


def _placeholder(shape, dtype):
    from .layers.core import Input
    return Input(shape=shape, dtype=dtype)


# ------------------------------------------------------------------ layers
def _build_layer(layer, shapes, many):
    if not layer.built:
        if layer.dtype is None:
            layer.dtype = backend.floatx()
        full = [(None,) + tuple(s) for s in shapes] if many else (None,) + tuple(shapes[0])
        with frame(layer, "eager"):
            layer.build(full)
        layer.input_shape = list(shapes) if many else tuple(shapes[0])
        layer.built = True
    elif layer.input_shape is not None:
        layer._check_input_shape(list(shapes) if many else tuple(shapes[0]))


def call_layer(layer, inputs, training, kwargs):
    """``layer(inputs)`` for a layer written with call(): eager on arrays, traced on tensors."""
    cls = type(layer).__name__
    many = isinstance(inputs, (list, tuple))
    items = list(inputs) if many else [inputs]
    n_sym = sum(isinstance(t, KerasTensor) for t in items)
    if n_sym == 0:
        from ._autodiff import Variable
        dtype = layer.dtype or backend.floatx()
        arrays = [np.asarray(a.value if isinstance(a, Variable) else a, dtype=dtype) for a in items]
        if any(a.ndim == 0 for a in arrays):
            raise ValueError(f"{cls} '{layer.name}': inputs need a batch axis, got a scalar")
        _build_layer(layer, [a.shape[1:] for a in arrays], many)
        with frame(layer, "eager"):
            return layer.call(arrays if many else arrays[0], **_call_kwargs(layer.call, training, kwargs))
    if n_sym != len(items):
        raise TypeError(f"{cls} '{layer.name}': called on a mix of symbolic tensors and arrays")
    for t in items:
        if not t.batched:
            raise ValueError(f"{cls} '{layer.name}': its input {t!r} has no batch axis; layers take batches")
    shapes = [t.sample_shape for t in items]
    _build_layer(layer, shapes, many)
    keys = [training] if training is not None else ([True, False] if takes_training(layer.call) else [None])
    traces = {}
    for key in keys:
        phs = [_placeholder(t.sample_shape, t.dtype) for t in items]
        with frame(layer, "layer"):
            out = layer.call(phs if many else phs[0], **_call_kwargs(layer.call, key, kwargs))
        if not isinstance(out, KerasTensor):
            raise TypeError(
                f"{cls} '{layer.name}': call() must return one tensor computed from its inputs "
                f"(with keras.ops or layers), got {type(out).__name__}"
            )
        if not out.batched:
            raise ValueError(f"{cls} '{layer.name}': call() returned {out!r}, which has no batch axis")
        traces[key] = _graph(phs, [out], f"call() of layer '{layer.name}' ({cls})")
        traces[key].grads_into = layer
    layer._traces = dict(getattr(layer, "_traces", None) or {}, **{_k(k): g for k, g in traces.items()})
    _collect_sublayer_params(layer, list(traces.values()))
    layer.output_shape = out.sample_shape
    return KerasTensor(out.sample_shape, layer, tuple(items), layer_takes_list=many, dtype=out.dtype,
                       training=training)


def _k(key):
    return "any" if key is None else bool(key)


def _graph(inputs, outputs, where_):
    from ._graph import Graph
    return Graph(inputs, outputs, where=where_, allow_shared=True)


def _collect_sublayer_params(layer, graphs):
    """Expose the weights of the layers used inside call() as this layer's, 'sublayer/kernel'."""
    from ._autodiff import OpLayer
    old = set(getattr(layer, "_sub_param_names", ()))
    for k in old:
        layer.params.pop(k, None)
    layer._trainable_names = [n for n in layer._trainable_names if n not in old]
    subs, seen = [], {id(layer)}
    for g in graphs:
        for t in g.nodes:
            owners = [v.owner for v in t.layer.variables()] if isinstance(t.layer, OpLayer) else [t.layer]
            for sub in owners:
                if id(sub) not in seen:
                    seen.add(id(sub))
                    if sub.params:
                        subs.append(sub)
    names, counts = [], {}
    layer._sub_prefixes = []
    layer._var_keys = {(id(layer), n): n for n in layer.params}
    for sub in subs:
        # Local names (dense, dense_1, ... in call order), the same in every instance of the layer,
        # so that weights saved from one instance load into another.
        base = backend.snake_case(type(sub).__name__)
        k = counts[base] = counts.get(base, -1) + 1
        prefix = base if k == 0 else f"{base}_{k}"
        layer._sub_prefixes.append(prefix)
        trainable = set(sub.trainable_param_names())
        for p, v in sub.params.items():
            key = f"{prefix}/{p}"
            layer._var_keys[(id(sub), p)] = key
            layer.params[key] = v
            names.append(key)
            if p in trainable:
                layer._trainable_names.append(key)
    layer._sublayers = subs
    layer._sub_param_names = names


def traced_forward(layer, x, training):
    traces = getattr(layer, "_traces", None)
    if not traces:
        raise RuntimeError(f"{type(layer).__name__} '{layer.name}' has not been called on symbolic tensors yet")
    graph = traces.get("any") or traces.get(bool(training)) or next(iter(traces.values()))
    layer._last_graph = graph
    return graph.forward(x if isinstance(x, list) else [x], training)[0]


def traced_backward(layer, dout):
    """Backward through the traced call(): the ops hand the gradients of the weights they read
    to ``layer.grads`` (add_variable_grads); the layers called inside add their own."""
    graph = layer._last_graph
    layer.grads = {}
    gxs = graph.backward([dout], [False])
    called = {id(t.layer) for t in graph.nodes}
    for s, prefix in zip(getattr(layer, "_sublayers", ()), getattr(layer, "_sub_prefixes", ())):
        if id(s) not in called:
            continue                        # only its weights are read (tied weights)
        for p, g in s.grads.items():
            key = f"{prefix}/{p}"
            current = layer.grads.get(key)
            layer.grads[key] = g if current is None else current + g
    for name, v in layer.params.items():
        if name not in layer.grads:
            layer.grads[name] = np.zeros_like(v)
    many = len(graph.inputs) > 1 or isinstance(layer.input_shape, list)
    return gxs if many else gxs[0]
