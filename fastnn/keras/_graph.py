"""The layer graph of a model: which layer feeds which, in what order.

``Graph(inputs, outputs)`` walks back from the output tensors to the inputs
and orders the layer calls so that each comes after the calls it reads from
(a topological order). ``forward`` runs them; ``backward`` runs them in
reverse, adding up the gradients of tensors that feed several layers.
Both run inside ``threaded_blas`` when no layer runs OpenMP kernels (an MLP),
so that BLAS threads the dense products.
"""
import numpy as np

from .._blas import threaded_blas
from ._autodiff import add_variable_grads
from .layers.base import ActivatedLayer, KerasTensor
from .layers.core import InputLayer


class Graph:
    """allow_shared: a layer may be called more than once (traced call() methods);
    each call keeps its own forward state for backward, and the weight gradients add up."""

    def __init__(self, inputs, outputs, where="Model", allow_shared=False):
        self.inputs = list(inputs)
        self.outputs = list(outputs)
        for t in self.inputs:
            if not isinstance(t, KerasTensor) or not isinstance(t.layer, InputLayer):
                raise TypeError(f"{where}: inputs must be tensors made by keras.Input(...), got {t!r}")
        for t in self.outputs:
            if not isinstance(t, KerasTensor):
                raise TypeError(f"{where}: outputs must be tensors made by calling layers, got {t!r}")
        input_ids = {id(t) for t in self.inputs}
        order, seen = [], set()

        def visit(t):
            if id(t) in seen:
                return
            seen.add(id(t))
            if not t.inbound and id(t) not in input_ids and isinstance(t.layer, InputLayer):
                raise ValueError(
                    f"{where}: graph disconnected: the outputs depend on input '{t.layer.name}', "
                    f"which is not in inputs={[i.name for i in self.inputs]}"
                )
            for src in t.inbound:
                visit(src)
            order.append(t)

        for t in self.outputs:
            visit(t)
        # Tensors made by layer calls (an op reading only weights has no inbound tensor).
        self.nodes = [t for t in order if id(t) not in input_ids]
        self.grads_into = None     # set for the graph of a layer's traced call() (see add_variable_grads)
        layers_seen = {}
        self._shared = set()
        for t in self.nodes:
            if id(t.layer) in layers_seen:
                if not allow_shared:
                    raise ValueError(
                        f"{where}: layer '{t.layer.name}' is called more than once; shared layers are not supported"
                    )
                self._shared.add(id(t.layer))
            layers_seen[id(t.layer)] = t.layer
        unused = [t.name for t in self.inputs if id(t) not in seen]
        if unused:
            raise ValueError(f"{where}: inputs {unused} are not used to compute the outputs")
        names = [l.name for l in self.layers]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"{where}: layer names must be unique, got duplicates {dup}")

    @property
    def layers(self):
        """InputLayers first, then the other layers in call order (as Keras lists them)."""
        out, seen = [], set()
        for layer in [t.layer for t in self.inputs] + [t.layer for t in self.nodes]:
            if id(layer) not in seen:
                seen.add(id(layer))
                out.append(layer)
        return out

    @property
    def dense_only(self):
        """No layer runs OpenMP kernels: BLAS may thread the dense products (``threaded_blas``)."""
        if getattr(self, "_dense_only", None) is None:
            self._dense_only = not any(layer.openmp_kernels for layer in self.layers)
        return self._dense_only

    def forward(self, xs, training):
        with threaded_blas(self.dense_only):
            return self._forward(xs, training)

    def _forward(self, xs, training):
        values = {id(t): x for t, x in zip(self.inputs, xs)}
        self._states = {}
        self._input_like = [(np.shape(x), np.asarray(x).dtype) for x in xs]
        for t in self.nodes:
            args = [values[id(src)] for src in t.inbound]
            flag = training if t.training is None else t.training      # layer(x, training=...) fixes it
            values[id(t)] = t.layer.forward(args if t.layer_takes_list else args[0], flag)
            if id(t.layer) in self._shared:
                self._states[id(t)] = t.layer._snapshot()      # what this call's backward needs
        return [values[id(t)] for t in self.outputs]

    def backward(self, douts, fused, need_input_grads=True):
        """douts: gradient per output; fused[i]: douts[i] is w.r.t. the output's pre-activation.

        Leaves the weight gradients in each layer's ``grads``; returns the gradient w.r.t. each input,
        or None with ``need_input_grads=False`` (a model's own training step, which lets the first
        layers skip computing them).
        """
        with threaded_blas(self.dense_only):
            return self._backward(douts, fused, need_input_grads)

    def _wants_grad(self, need_input_grads):
        """id(tensor) -> whether its gradient is used: a model input's if need_input_grads
        (a model's own training step does not use it), any other tensor's if a layer at or
        before it may have weights (one that is not ``weightless`` or has params)."""
        cache = self.__dict__.setdefault("_wants_cache", {})
        if need_input_grads not in cache:
            wants = {id(t): need_input_grads for t in self.inputs}
            for t in self.nodes:                         # in call order
                layer = t.layer
                wants[id(t)] = (not layer.weightless or bool(layer.params)
                                or any(wants[id(src)] for src in t.inbound))
            cache[need_input_grads] = wants
        return cache[need_input_grads]

    def _relu_absorbed(self):
        """ids of the tensors whose ReLU gradient their only consumer takes instead:
        the output of a layer ending in a ReLU (``ActivatedLayer``), called once, that
        feeds nothing but one layer with ``absorbs_relu`` (MaxPooling2D) and is not a
        model output. That consumer's backward then runs with ``through_relu=True``
        and returns the gradient w.r.t. the ReLU's input."""
        if getattr(self, "_absorbed", None) is None:
            readers = {}
            for t in self.nodes:
                for src in t.inbound:
                    readers.setdefault(id(src), []).append(t)
            outputs = {id(t) for t in self.outputs}
            self._absorbed = set()
            for t in self.nodes:
                layer, consumers = t.layer, readers.get(id(t), [])
                if (isinstance(layer, ActivatedLayer) and layer.activation.name == "relu"
                        and id(layer) not in self._shared and id(t) not in outputs and len(consumers) == 1
                        and getattr(consumers[0].layer, "absorbs_relu", False)
                        and id(consumers[0].layer) not in self._shared and len(consumers[0].inbound) == 1):
                    self._absorbed.add(id(t))
        return self._absorbed

    def _backward(self, douts, fused, need_input_grads):
        wants = self._wants_grad(need_input_grads)
        absorbed = self._relu_absorbed()
        grads = {}
        skip = set(absorbed)             # gradients that arrive w.r.t. the activation's input
        shared_grads = {}
        for t, d, f in zip(self.outputs, douts, fused):
            if f:
                if id(t) in grads:
                    raise ValueError("an output fused with its loss cannot also feed another output")
                skip.add(id(t))
            grads[id(t)] = grads[id(t)] + d if id(t) in grads else d
        for t in reversed(self.nodes):
            g = grads.pop(id(t), None)
            layer = t.layer
            if g is None:                    # nothing downstream depends on this tensor
                layer.grads = {k: 0 * v for k, v in layer.params.items()}
                continue
            if id(layer) in self._shared:
                layer._restore(self._states[id(t)])
            # layers may skip the gradient w.r.t. inputs that nobody uses (see _wants_grad)
            layer.need_input_grad = any(wants[id(src)] for src in t.inbound)
            if id(t) in skip:
                dx = layer.backward(g, skip_activation=True)
            elif t.inbound and id(t.inbound[0]) in absorbed:
                dx = layer.backward(g, through_relu=True)
            else:
                dx = layer.backward(g)
            layer.need_input_grad = True
            if id(layer) in self._shared:
                acc = shared_grads.setdefault(id(layer), (layer, {}))[1]
                for k, v in layer.grads.items():
                    acc[k] = acc[k] + v if k in acc else v
            dxs = dx if t.layer_takes_list else [dx]
            for src, d in zip(t.inbound, dxs):
                if d is None:                # skipped: src is a model input (need_input_grads=False)
                    continue
                grads[id(src)] = grads[id(src)] + d if id(src) in grads else d
        for layer, acc in shared_grads.values():
            layer.grads = acc
        add_variable_grads(self)
        if not need_input_grads:
            return None
        return [grads[id(t)] if id(t) in grads else np.zeros(shape, dtype)
                for t, (shape, dtype) in zip(self.inputs, self._input_like)]
