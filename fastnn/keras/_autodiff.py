"""Automatic gradients for ``keras.ops``: the book's chapter 5 computational graph, grown up.

Every operation is a ``Function`` (the name DeZero uses) with

* ``forward(*xs) -> y`` on NumPy arrays, and
* ``backward(gy) -> (gx1, gx2, ...)``: the gradient w.r.t. each input, given
  the gradient ``gy`` w.r.t. its output (like ``MulLayer``/``AddLayer``).

``apply(fn, *args)`` runs an operation. On arrays it just computes ``y``
(eager). When an argument is a symbolic ``KerasTensor`` (inside a model's or a
layer's ``call`` being traced, or in the functional API) it records a node
instead: an ``OpLayer`` whose forward/backward are the function's own. The
node is an ordinary layer of the model's ``Graph``, so the traced ``call``
trains on the same forward/backward machinery as ``Dense`` or ``Conv2D``.

Weights created by ``Layer.add_weight`` are ``Variable`` objects. An op that
reads a variable keeps it as an argument of its node and, in backward, hands
the variable's gradient to the layer that owns it (``add_variable_grads``).
"""
import copy
import weakref

import numpy as np

from . import backend
from .layers.base import KerasTensor, Layer, shape_str


# --------------------------------------------------------------- functions
class Function:
    """One operation. Subclasses set ``name`` and write ``forward``/``backward``.

    ``run(*xs)`` keeps the inputs (``self.xs``) and the output (``self.y``)
    for ``backward``; op parameters (axis, shape, ...) are attributes.
    """
    name = None
    differentiable = True

    def __init__(self, **params):
        self.__dict__.update(params)

    def run(self, *xs):
        self.xs = xs
        self.y = self.forward(*xs)
        return self.y

    def forward(self, *xs):
        raise NotImplementedError

    def backward(self, gy):
        raise NotImplementedError

    def grads(self, gy):
        """Gradient per input, each shaped (and typed) like its input."""
        if not self.differentiable:
            return [_zeros_like(x) for x in self.xs]
        gs = self.backward(gy)
        return [_like(g, x) for g, x in zip(gs, self.xs)]


def _zeros_like(x):
    x = np.asarray(x)
    return np.zeros(x.shape, dtype=x.dtype if x.dtype.kind == "f" else backend.floatx())


def _like(g, x):
    """g summed down to x's shape (undoing broadcasting), in x's float dtype."""
    x = np.asarray(x)
    if g is None:
        return _zeros_like(x)
    g = sum_to(np.asarray(g), x.shape)
    if x.dtype.kind == "f" and g.dtype != x.dtype:
        g = g.astype(x.dtype)
    return g


def sum_to(g, shape):
    """Sum g over the axes that broadcasting added or stretched, to get ``shape``."""
    shape = tuple(shape)
    if g.shape == shape:
        return g
    lead = g.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(lead + i for i, s in enumerate(shape) if s == 1 and g.shape[lead + i] != 1)
    g = g.sum(axis=axes, keepdims=True)
    return g.reshape(shape)


# --------------------------------------------------------------- variables
class Variable:
    """A layer weight, as ``add_weight`` returns it: reads and writes go to ``layer.params[name]``.

    Works like an array (``np.asarray(v)``, ``v.shape``, ``v.numpy()``) and in
    ``keras.ops`` and Python operators; inside a traced ``call`` it is a leaf
    of the graph whose gradient goes to its layer.
    """
    __array_priority__ = 100

    def __init__(self, layer, name, trainable=True):
        self._layer = layer
        self.name = name
        self.trainable = bool(trainable)

    @property
    def value(self):
        return self._layer.params[self.name]

    @property
    def path(self):
        return f"{self._layer.name}/{self.name}"

    @property
    def owner(self):
        return self._layer

    shape = property(lambda self: self.value.shape)
    dtype = property(lambda self: self.value.dtype)
    ndim = property(lambda self: self.value.ndim)

    def numpy(self):
        return self.value.copy()

    def assign(self, value):
        self.value[...] = np.asarray(value)
        return self

    def assign_add(self, value):
        self.value[...] += np.asarray(value)
        return self

    def assign_sub(self, value):
        self.value[...] -= np.asarray(value)
        return self

    def __array__(self, dtype=None, copy=None):
        v = self.value
        return v.astype(dtype) if dtype is not None else v

    def __len__(self):
        return len(self.value)

    def __repr__(self):
        return f"<Variable path={self.path}, shape={self.shape}, dtype={self.dtype}>"


def _install_operators(cls):
    """Python operators (+ - * / @ ** unary-, comparisons, indexing) through keras.ops."""
    def binary(opname, reflected=False):
        def method(self, other):
            from . import ops
            fn = getattr(ops, opname)
            return fn(other, self) if reflected else fn(self, other)
        return method

    for dunder, opname in (("add", "add"), ("sub", "subtract"), ("mul", "multiply"), ("truediv", "divide"),
                           ("matmul", "matmul"), ("pow", "power")):
        setattr(cls, f"__{dunder}__", binary(opname))
        setattr(cls, f"__r{dunder}__", binary(opname, reflected=True))
    for dunder, opname in (("gt", "greater"), ("ge", "greater_equal"), ("lt", "less"), ("le", "less_equal")):
        setattr(cls, f"__{dunder}__", binary(opname))

    def unary(opname):
        def method(self):
            from . import ops
            return getattr(ops, opname)(self)
        return method

    cls.__neg__ = unary("negative")
    cls.__abs__ = unary("abs")
    cls.__pos__ = lambda self: self

    def getitem(self, key):
        from . import ops
        return ops.getitem(self, key)
    cls.__getitem__ = getitem


_install_operators(Variable)
_install_operators(KerasTensor)


# ------------------------------------------------------------- op layers
class OpLayer(Layer):
    """A graph node running one ``Function``: what an op on symbolic tensors records.

    ``slots`` says where each argument of the function comes from:
    ('t', i): the i-th inbound tensor; ('v', variable); ('c', constant).
    """

    def __init__(self, fn, slots):
        super().__init__(name=backend.unique_name(fn.name))
        self.fn = fn
        self.slots = slots
        self.built = True
        self.var_grads = []

    def _args(self, xs):
        args = []
        for kind, v in self.slots:
            args.append(xs[v] if kind == "t" else v.value if kind == "v" else v)
        return args

    def forward(self, xs, training=False):
        self.var_grads = []
        return self.fn.run(*self._args(xs))

    def backward(self, dout):
        gs = self.fn.grads(dout)
        out = [None] * sum(kind == "t" for kind, _ in self.slots)
        for (kind, v), g in zip(self.slots, gs):
            if kind == "t":
                out[v] = g
            elif kind == "v" and v.trainable:
                self.var_grads.append((v, g))
        return out

    def variables(self):
        return [v for kind, v in self.slots if kind == "v"]

    def get_config(self):
        raise NotImplementedError(
            f"'{self.name}' is keras.ops.{self.fn.name} applied to symbolic tensors; a model with such ops "
            f"saves its weights (save_weights) but not its architecture: put the op inside a custom Layer "
            f"that has get_config, or rebuild the model in Python and use load_weights"
        )


def add_variable_grads(graph):
    """After a backward pass: hand the gradient of every weight read by an op to where it belongs.

    In the graph of a layer's traced call() (``graph.grads_into`` is that layer),
    under the layer's own key for the weight ('kernel', or 'dense/kernel' for a
    weight of another layer it reads). In a model's graph, into the owning
    layer's grads, after that layer's own backward has run (a layer that is not
    called in the graph starts from zero).
    """
    into = getattr(graph, "grads_into", None)
    in_graph = {id(t.layer) for t in graph.nodes}
    reset = set()
    for t in graph.nodes:
        for var, g in getattr(t.layer, "var_grads", ()):
            if into is not None:
                key = into._var_keys[(id(var.owner), var.name)]
                current = into.grads.get(key)
                into.grads[key] = g if current is None else current + g
                continue
            owner = var.owner
            if id(owner) not in in_graph and id(owner) not in reset:
                sub = set(getattr(owner, "_sub_param_names", ()))
                owner.grads = {k: np.zeros_like(v) for k, v in owner.params.items() if k not in sub}
                reset.add(id(owner))
            current = owner.grads.get(var.name)
            owner.grads[var.name] = g if current is None else current + g


# ------------------------------------------------------------ weight arrays
_WEIGHTS = {}     # id(array) -> (weakref to the array, weakref to its layer, weight name)


def register_weight(layer, name):
    """Remember which layer owns the array ``layer.params[name]`` (see ``weight_of``)."""
    a = layer.params[name]
    _WEIGHTS[id(a)] = (weakref.ref(a), weakref.ref(layer), name)


def weight_of(a):
    """The Variable for a layer's weight array (``dense.kernel``, ``layer.weights[0]``), else None.

    So that reading a weight as an array inside a traced call() (tied weights)
    still gives it a gradient.
    """
    if not isinstance(a, np.ndarray):
        return None
    entry = _WEIGHTS.get(id(a))
    if entry is None or entry[0]() is not a:
        return None
    layer = entry[1]()
    if layer is None or layer.params.get(entry[2]) is not a:
        return None
    return Variable(layer, entry[2], trainable=entry[2] in layer._trainable_names)


# ----------------------------------------------------------------- apply
def is_symbolic(a):
    return isinstance(a, KerasTensor)


def apply(fn, *args):
    """Run ``fn`` on ``args``: eagerly on arrays, or as a graph node on symbolic tensors."""
    from . import _trace
    tracing = _trace.active()
    if any(isinstance(a, KerasTensor) for a in args) or (
            tracing and any(isinstance(a, Variable) or weight_of(a) is not None for a in args)):
        return _record(fn, args)
    return fn.run(*[_eager(a) for a in args])


def _eager(a):
    if isinstance(a, Variable):
        return a.value
    if isinstance(a, (bool, int, float, np.ndarray, np.generic)):
        return a          # Python scalars stay "weak" (float32 + 2.0 stays float32)
    return np.asarray(a)


def _record(fn, args):
    inbound, slots = [], []
    for a in args:
        if isinstance(a, KerasTensor):
            slots.append(("t", len(inbound)))
            inbound.append(a)
        elif isinstance(a, Variable):
            slots.append(("v", a))
        elif weight_of(a) is not None:
            slots.append(("v", weight_of(a)))
        else:
            slots.append(("c", _eager(a)))
    # Float constants take the float type of the tensors (a float64 array does not turn a float32 model to float64).
    ref = next((np.dtype(a.dtype) for a in args if isinstance(a, (KerasTensor, Variable))
                and np.dtype(a.dtype).kind == "f"), None)
    if ref is not None:
        slots = [("c", v.astype(ref)) if kind == "c" and isinstance(v, np.ndarray) and v.dtype.kind == "f"
                 and v.dtype != ref else (kind, v) for kind, v in slots]
    shape, dtype, batched = _infer(fn, slots, inbound)
    layer = OpLayer(fn, slots)
    layer.input_shape = [t.sample_shape for t in inbound]
    t = KerasTensor(shape, layer, tuple(inbound), layer_takes_list=True, batched=batched, dtype=dtype)
    layer.output_shape = t.sample_shape
    return t


def _dummy(t, n):
    """A stand-in array for a symbolic tensor, with n for the batch size and unknown sizes."""
    shape = tuple(n if s is None else s for s in t.shape)
    dtype = np.dtype(t.dtype)
    if dtype.kind == "f":
        return np.full(shape, 0.5, dtype=dtype)
    return np.zeros(shape, dtype=dtype)


def _infer(fn, slots, inbound):
    """Output shape of ``fn`` on symbolic inputs: run it on stand-ins for batch sizes 2 and 3.

    Sizes that differ between the two runs depend on the batch (None).
    """
    from . import _trace
    results = []
    for n in (2, 3):
        xs = [_dummy(t, n) for t in inbound]
        args = [xs[v] if kind == "t" else v.value if kind == "v" else v for kind, v in slots]
        try:
            with np.errstate(all="ignore"):
                y = np.asarray(copy.copy(fn).run(*args))
        except (ValueError, IndexError, TypeError) as exc:
            shapes = ", ".join(shape_str(a.shape) if isinstance(a, KerasTensor) else
                               f"array{tuple(np.shape(a.value if isinstance(a, Variable) else a))}"
                               for a in (inbound[v] if kind == "t" else v for kind, v in slots))
            raise ValueError(
                f"keras.ops.{fn.name} in {_trace.where()}: cannot be applied to operands of shapes "
                f"{shapes} (the batch size is None and can be any): {exc}"
            ) from None
        results.append(y)
    y2, y3 = results
    if y2.ndim != y3.ndim:
        raise ValueError(f"keras.ops.{fn.name} in {_trace.where()}: the rank of its result depends on the batch size")
    shape = tuple(a if a == b else None for a, b in zip(y2.shape, y3.shape))
    batched = bool(shape) and shape[0] is None and any(t.batched for t in inbound)
    return (shape[1:] if batched else shape), y2.dtype, batched
