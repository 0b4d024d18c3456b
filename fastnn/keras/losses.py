"""Losses by name, computed the way Keras computes them.

Every loss maps targets ``t`` and predictions ``y`` of one output, shape
(N, ..., K), to one value per sample (the mean over the last axis and any
axes between), and reduces a batch to ``sum(w_i * loss_i) / N`` with sample
weights ``w`` (1 by default): Keras' "sum over batch size".

Cross-entropies clip probabilities to [1e-7, 1 - 1e-7] (Keras' epsilon)
before the log. When the model's last activation is softmax (for the
categorical losses) or sigmoid (binary), the model asks for ``fused_grad``,
the gradient w.r.t. the activation's input, w * (y - t) / N: for softmax it
comes from ``fastnn.kernels.softmax_cross_entropy_backward``.
"""
import numpy as np

from .. import kernels
from . import backend

EPS = 1e-7


def _rows(a):
    """(N, ..., K) -> (N * ..., K)."""
    return a.reshape(-1, a.shape[-1])


def _clip(p):
    """Probabilities clipped to [EPS, 1 - EPS] (NaN stays NaN), as np.clip but without its
    argument handling, which costs more than the arithmetic on a batch's outputs."""
    return np.minimum(np.maximum(p, EPS), 1 - EPS)


def _weights_per_value(w, shape):
    """Sample weights (N,) broadcast to an array of ``shape`` (N, ...)."""
    return w.reshape((-1,) + (1,) * (len(shape) - 1))


class Loss:
    """Base class: subclasses give ``name``, ``elementwise`` and its gradient.

    A Keras-style subclass instead defines ``call(self, y_true, y_pred)`` with
    keras.ops; its gradient then comes from the ops (see ``LossFunctionWrapper``).
    """
    name = None
    fused_activation = None

    def __init__(self, name=None, reduction="sum_over_batch_size", dtype=None):
        if reduction not in ("sum_over_batch_size", "auto", None):
            raise ValueError(f"{type(self).__name__}: only reduction='sum_over_batch_size' is supported, "
                             f"got {reduction!r}")
        self.name = name or type(self).name or backend.snake_case(type(self).__name__)
        if callable(getattr(type(self), "call", None)):
            self._wrapped = LossFunctionWrapper(self.call, name=self.name)

    def __call__(self, y_true, y_pred, sample_weight=None):
        """Keras-style call: the reduced loss of a batch, as a float."""
        if getattr(self, "_wrapped", None) is not None:
            return self._wrapped(y_true, y_pred, sample_weight)
        y_pred = np.asarray(y_pred)
        t = self.prepare_targets(y_true, y_pred.shape[1:], "loss")
        return self.value(t, y_pred, None if sample_weight is None else np.asarray(sample_weight, y_pred.dtype))

    # -- targets ---------------------------------------------------------
    def prepare_targets(self, y, output_shape, where):
        """Check targets against an output of sample shape ``output_shape``; return them as used."""
        y = _numeric(y, self.name, where)
        shape = (y.shape[0],) + tuple(output_shape)
        if y.shape != shape and y.shape + (1,) == shape:
            y = y.reshape(shape)            # (N,) targets for a (N, 1) output
        if y.shape[1:] != shape[1:]:
            raise ValueError(
                f"{self.name}: targets of {where} must have shape (N, {', '.join(map(str, output_shape))}) "
                f"like the model output, got {y.shape}"
            )
        return y.astype(backend.floatx(), copy=False)

    # -- values and gradients ---------------------------------------------
    def per_sample(self, t, y):
        """One loss value per sample, shape (N,)."""
        e = self.elementwise(t, y)
        if e.size == e.shape[0]:             # one value per sample already (a cross-entropy of 2-D outputs)
            return e.reshape(-1)
        return e.reshape(e.shape[0], -1).mean(axis=1)

    def value(self, t, y, w=None):
        per = self.per_sample(t, y)
        if w is not None:
            per = per * w
        return float(per.sum() / per.shape[0])

    def grad(self, t, y, w=None):
        """d value / d y, same shape as y."""
        g = self.elementwise_grad(t, y)
        n_per_sample = y.size // y.shape[0]
        g = g * (1.0 / (y.shape[0] * n_per_sample))
        if w is not None:
            g = g * _weights_per_value(w, g.shape)
        return g.astype(y.dtype, copy=False)

    def get_config(self):
        return {"name": self.name}


class LossFunctionWrapper(Loss):
    """A loss from ``fn(y_true, y_pred)`` written with keras.ops (or Python operators).

    ``fn`` returns one value per sample (N,) (or per value, (N, ...), averaged
    per sample), or one number for the batch. It is traced once per pair of
    target/prediction sample shapes; its gradient w.r.t. y_pred comes from
    the ops' backward passes. Batch reduction as for every loss:
    sum(w_i * loss_i) / N.
    """

    def __init__(self, fn, name=None):
        self.fn = fn
        self.name = name or getattr(fn, "__name__", None) or backend.snake_case(type(fn).__name__)
        self._graphs = {}
        self._last = None

    def prepare_targets(self, y, output_shape, where):
        y = _numeric(y, self.name, where)
        shape = (y.shape[0],) + tuple(output_shape)
        if y.shape != shape and y.shape + (1,) == shape:
            y = y.reshape(shape)            # (N,) targets for a (N, 1) output
        return y.astype(backend.floatx(), copy=False)

    def _graph(self, t, y):
        key = (t.shape[1:], t.dtype.str, y.shape[1:], y.dtype.str)
        if key not in self._graphs:
            from . import _trace
            from ._graph import Graph
            from .layers.base import KerasTensor
            from .layers.core import Input
            yt, yp = Input(shape=t.shape[1:], dtype=t.dtype.name), Input(shape=y.shape[1:], dtype=y.dtype.name)
            with _trace.frame(self.fn, "loss"):
                out = self.fn(yt, yp)
            if not isinstance(out, KerasTensor):
                raise TypeError(f"loss '{self.name}': the function must return a tensor computed from y_true "
                                f"and y_pred with keras.ops, got {type(out).__name__}")
            if not out.batched and out.shape != ():
                raise ValueError(f"loss '{self.name}': returned {out!r}; return one value per sample "
                                 f"(batch axis first) or one number")
            used = _reaches(out)
            ins = [i for i in (yt, yp) if id(i) in used]          # a loss may ignore y_true
            self._graphs[key] = (Graph(ins, [out], where=f"loss '{self.name}'"), [id(i) in used for i in (yt, yp)])
        return self._graphs[key]

    def _run(self, t, y):
        last = self._last
        if last is not None and last[0] is t and last[1] is y:
            return last[2], last[3]
        g, used = self._graph(t, y)
        v = np.asarray(g.forward([a for a, u in zip((t, y), used) if u], training=False)[0])
        self._used = used
        self._last = (t, y, g, v)
        return g, v

    def per_sample(self, t, y):
        _, v = self._run(t, y)
        if v.ndim == 0:
            return np.full(y.shape[0], float(v))
        return v.reshape(v.shape[0], -1).mean(axis=1)

    def value(self, t, y, w=None):
        _, v = self._run(t, y)
        if v.ndim == 0:
            if w is not None:
                raise ValueError(f"loss '{self.name}': sample weights need one loss value per sample")
            return float(v)
        return super().value(t, y, w)

    def grad(self, t, y, w=None):
        g, v = self._run(t, y)
        if v.ndim == 0:
            dv = np.ones_like(v)
        else:
            n = v.shape[0]
            dv = np.full(v.shape, 1.0 / (n * (v.size // n)), dtype=v.dtype)
            if w is not None:
                dv = dv * _weights_per_value(w, dv.shape)
        self._last = None
        if not self._used[1]:
            raise ValueError(f"loss '{self.name}': the loss does not depend on y_pred, so it cannot train the model")
        gy = g.backward([dv.astype(v.dtype, copy=False)], [False])[-1]
        return np.asarray(gy).astype(y.dtype, copy=False)

    def get_config(self):
        return {"name": self.name}


def _reaches(out):
    """ids of every tensor ``out`` is computed from."""
    seen, todo = set(), [out]
    while todo:
        t = todo.pop()
        if id(t) not in seen:
            seen.add(id(t))
            todo.extend(t.inbound)
    return seen


class MeanSquaredError(Loss):
    name = "mean_squared_error"

    def elementwise(self, t, y):
        return (y - t) ** 2

    def elementwise_grad(self, t, y):
        return 2 * (y - t)


class MeanAbsoluteError(Loss):
    name = "mean_absolute_error"

    def elementwise(self, t, y):
        return np.abs(y - t)

    def elementwise_grad(self, t, y):
        return np.sign(y - t)


class BinaryCrossentropy(Loss):
    """-(t log y + (1 - t) log(1 - y)), y clipped to [eps, 1 - eps], mean over the last axis."""
    name = "binary_crossentropy"
    fused_activation = "sigmoid"

    def prepare_targets(self, y, output_shape, where):
        t = super().prepare_targets(y, output_shape, where)
        if t.size and (t.min() < 0 or t.max() > 1):
            raise ValueError(
                f"binary_crossentropy: targets of {where} must lie in [0, 1], "
                f"got values in [{t.min()}, {t.max()}]"
            )
        return t

    def elementwise(self, t, y):
        p = _clip(y)
        return -(t * np.log(p) + (1 - t) * np.log(1 - p))

    def elementwise_grad(self, t, y):
        inside = (y > EPS) & (y < 1 - EPS)
        p = _clip(y)
        return np.where(inside, (p - t) / (p * (1 - p)), 0)

    def fused_grad(self, t, y, w=None):
        """Gradient w.r.t. the sigmoid's input: w * (y - t) / (N * values per sample)."""
        g = (y - t) * (1.0 / y.size)
        if w is not None:
            g = g * _weights_per_value(w, g.shape)
        return g.astype(y.dtype, copy=False)


class CategoricalCrossentropy(Loss):
    """-sum_k t_k log p_k with p = y / sum(y), clipped to [eps, 1 - eps]; t one-hot (or soft)."""
    name = "categorical_crossentropy"
    fused_activation = "softmax"

    def prepare_targets(self, y, output_shape, where):
        y = _numeric(y, self.name, where)
        k = output_shape[-1]
        if y.ndim == len(output_shape) or (y.ndim == len(output_shape) + 1 and y.shape[-1] == 1 and k > 1):
            raise ValueError(
                f"categorical_crossentropy: {where} expects one-hot targets of shape "
                f"(N, {', '.join(map(str, output_shape))}), got integer-like labels of shape {y.shape}; "
                f"use loss='sparse_categorical_crossentropy' or keras.utils.to_categorical(y, {k})"
            )
        return super().prepare_targets(y, output_shape, where)

    def elementwise(self, t, y):
        p = _clip(y / np.sum(y, axis=-1, keepdims=True))
        return -np.sum(t * np.log(p), axis=-1, keepdims=True)

    def elementwise_grad(self, t, y):
        # L = -sum_k t_k log p_k, p = y / S: dL/dy_j = (sum_k t_k g_k - t_j g_j / p_j) / S,
        # where g_k = 0 where p_k was clipped.
        s = np.sum(y, axis=-1, keepdims=True)
        p = y / s
        inside = (p > EPS) & (p < 1 - EPS)
        tg = np.where(inside, t, 0)
        return (np.sum(tg, axis=-1, keepdims=True) - tg / _clip(p)) / s

    def grad(self, t, y, w=None):
        # elementwise() keeps one value per row, so only the rows count here.
        g = self.elementwise_grad(t, y) * (1.0 / (y.size // y.shape[-1]))
        if w is not None:
            g = g * _weights_per_value(w, g.shape)
        return g.astype(y.dtype, copy=False)

    def fused_grad(self, t, y, w=None):
        """Gradient w.r.t. the softmax input: w * (y - t) / rows, via the kernel."""
        g = kernels.softmax_cross_entropy_backward(_rows(y), _rows(t)).reshape(y.shape)
        if w is not None:
            g = g * _weights_per_value(w, g.shape)
        return g.astype(y.dtype, copy=False)


class SparseCategoricalCrossentropy(CategoricalCrossentropy):
    """Categorical cross-entropy with integer class labels (N,) instead of one-hot rows."""
    name = "sparse_categorical_crossentropy"

    def prepare_targets(self, y, output_shape, where):
        y = _numeric(y, self.name, where)
        k = output_shape[-1]
        label_shape = (y.shape[0],) + tuple(output_shape[:-1])
        if y.shape == label_shape + (1,):
            y = y.reshape(label_shape)
        if y.shape != label_shape:
            hint = " (they look one-hot: use loss='categorical_crossentropy')" if y.shape[-1] == k else ""
            raise ValueError(
                f"sparse_categorical_crossentropy: {where} expects integer class labels of shape "
                f"{('N',) + tuple(output_shape[:-1])}, got shape {y.shape}{hint}"
            )
        if y.dtype.kind == "f":
            if not np.all(np.isfinite(y)) or np.any(y != np.round(y)):
                raise ValueError(f"sparse_categorical_crossentropy: {where} labels must be whole numbers")
        if y.size and (y.min() < 0 or y.max() >= k):
            raise ValueError(
                f"sparse_categorical_crossentropy: {where} labels must lie in [0, {k}) for an output "
                f"of {k} classes, got values in [{y.min()}, {y.max()}]"
            )
        return y.astype(np.int64)

    def elementwise(self, t, y):
        # only the labelled probability of each row is normalised, clipped and logged
        rows = _rows(y)
        picked = rows[np.arange(rows.shape[0]), t.reshape(-1)]
        p = _clip(picked / rows.sum(axis=-1))
        return -np.log(p).reshape(t.shape + (1,))

    def elementwise_grad(self, t, y):
        onehot = np.zeros_like(y)
        np.put_along_axis(onehot, t[..., None], 1, axis=-1)
        return super().elementwise_grad(onehot, y)

    def fused_grad(self, t, y, w=None):
        g = kernels.softmax_cross_entropy_backward(_rows(y), t.reshape(-1)).reshape(y.shape)
        if w is not None:
            g = g * _weights_per_value(w, g.shape)
        return g.astype(y.dtype, copy=False)


def _numeric(y, loss_name, where):
    if y is None:
        raise ValueError(f"{loss_name}: no targets given for {where}")
    y = np.asarray(y)
    if y.dtype.kind not in "iufb":
        raise TypeError(f"{loss_name}: targets of {where} must be numeric, got dtype {y.dtype}")
    if y.ndim == 0:
        raise ValueError(f"{loss_name}: targets of {where} must have a batch axis, got a scalar")
    return y


_CLASSES = {cls.name: cls for cls in (MeanSquaredError, MeanAbsoluteError, BinaryCrossentropy,
                                      CategoricalCrossentropy, SparseCategoricalCrossentropy)}
ALIASES = {"mse": "mean_squared_error", "mae": "mean_absolute_error"}


# Function forms (keras.losses.mean_squared_error(y_true, y_pred) -> per-sample values).
def _function(name):
    def fn(y_true, y_pred):
        loss = _CLASSES[name]()
        y_pred = np.asarray(y_pred)
        return loss.per_sample(loss.prepare_targets(y_true, y_pred.shape[1:], "loss"), y_pred)
    fn.__name__ = name
    fn.__doc__ = f"Per-sample {name}, shape (N,)."
    return fn


mean_squared_error = mse = _function("mean_squared_error")
mean_absolute_error = mae = _function("mean_absolute_error")
binary_crossentropy = _function("binary_crossentropy")
categorical_crossentropy = _function("categorical_crossentropy")
sparse_categorical_crossentropy = _function("sparse_categorical_crossentropy")
_FUNCTIONS = {f: f.__name__ for f in (mean_squared_error, mean_absolute_error, binary_crossentropy,
                                      categorical_crossentropy, sparse_categorical_crossentropy)}


def get(identifier):
    """A Loss from a name ('mse', 'categorical_crossentropy', ...), a Loss, or a function above."""
    if isinstance(identifier, Loss):
        return getattr(identifier, "_wrapped", identifier)      # Loss subclasses with call()
    if callable(identifier) and identifier in _FUNCTIONS:
        return _CLASSES[_FUNCTIONS[identifier]]()
    if isinstance(identifier, str):
        key = ALIASES.get(identifier.lower(), identifier.lower())
        if key in _CLASSES:
            return _CLASSES[key]()
    elif callable(identifier) and not isinstance(identifier, type):
        return LossFunctionWrapper(identifier)          # fn(y_true, y_pred) written with keras.ops
    valid = sorted(_CLASSES) + sorted(ALIASES)
    raise ValueError(f"compile: unknown loss {identifier!r}; valid losses are {valid}")
