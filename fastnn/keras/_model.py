"""``Model``: a graph of layers that can be compiled, trained, evaluated and saved.

    inputs = keras.Input(shape=(8,))
    hidden = keras.layers.Dense(30, activation="relu")(inputs)
    outputs = keras.layers.Dense(1)(hidden)
    model = keras.Model(inputs=inputs, outputs=outputs)
    model.compile(optimizer="sgd", loss="mse")
    history = model.fit(x, y, epochs=10, validation_split=0.1)

One training step: forward through the graph (``training=True``), the loss
and its gradient per output, backward through the graph in reverse order,
then the optimizer updates every trainable weight in place.
"""
import sys

import numpy as np

from . import _adapters, _data, _subclassing, backend
from . import callbacks as cbks
from . import losses as _losses
from . import metrics as _metrics
from . import optimizers as _optimizers
from ._graph import Graph
from ._progbar import Progbar
from .layers.base import ActivatedLayer

_COMPILE_IGNORED = ("run_eagerly", "jit_compile", "steps_per_execution", "auto_scale_loss")


class Model:
    """Functional model: ``Model(inputs=..., outputs=...)``; inputs/outputs may be lists.

    Or subclassed: ``class M(keras.Model)`` with layers made in ``__init__`` and a
    ``call(self, inputs, training=None)``, traced into the same graph (see _subclassing.py).
    """

    def __init__(self, inputs=None, outputs=None, name=None, **kwargs):
        trainable = kwargs.pop("trainable", True)
        kwargs.pop("dtype", None)
        if kwargs:
            raise ValueError(f"Model: unknown keyword argument(s) {sorted(kwargs)}")
        self.name = name or backend.unique_name(self._default_name())
        self.trainable = bool(trainable)
        self._train_graph = None         # subclassed models whose call takes `training`
        self._output_keys = None         # subclassed models whose call returns a dict
        self.stop_training = False
        self.optimizer = None
        self.compiled = False
        self.history = None
        self._graph = None
        self._rng = np.random.default_rng(backend.global_rng().integers(2**63))
        if (inputs is None) != (outputs is None):
            raise ValueError("Model: give both inputs= and outputs=")
        if inputs is not None:
            self._set_graph(inputs, outputs)

    def _default_name(self):
        return backend.snake_case(type(self).__name__) if _subclassing.is_subclassed(self) else "functional"

    # ------------------------------------------- subclassed models (see _subclassing.py)
    def __setattr__(self, name, value):
        if name != "_tracked":
            _subclassing.track(self, value)
        object.__setattr__(self, name, value)

    def build(self, input_shape):
        """Subclassed models: trace call() for inputs of ``input_shape`` (with the batch axis)."""
        if _subclassing.is_subclassed(self):
            _subclassing.build(self, _subclassing.inputs_from_shapes(input_shape))

    def _graph_for(self, training):
        return self._train_graph if training and self._train_graph is not None else self._graph

    def _pack_outputs(self, outs):
        if self._output_keys is not None:
            return dict(zip(self._output_keys, outs))
        return outs if self._outputs_nested else outs[0]

    def _set_graph(self, inputs, outputs):
        # A one-element list behaves like the tensor itself (Keras 2's convention).
        self._inputs_nested = isinstance(inputs, (list, tuple)) and len(inputs) > 1
        self._outputs_nested = isinstance(outputs, (list, tuple)) and len(outputs) > 1
        inputs = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
        outputs = list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]
        self._graph = Graph(inputs, outputs, where=f"Model '{self.name}'")
        self.dtype = backend.floatx()

    # ----------------------------------------------------------- structure
    @property
    def built(self):
        return self._graph is not None

    def _require_built(self, what):
        if not self.built:
            raise ValueError(
                f"Model '{self.name}' has not been built yet, so it cannot {what}: give the first layer "
                f"input_shape=..., call model.build((None, ...)), or fit/predict on data first"
            )

    @property
    def layers(self):
        if _subclassing.is_subclassed(self):
            return list(self.__dict__.get("_tracked", []))
        return self._graph.layers if self.built else []

    @property
    def inputs(self):
        return list(self._graph.inputs) if self.built else None

    @property
    def outputs(self):
        return list(self._graph.outputs) if self.built else None

    @property
    def input_names(self):
        return [t.layer.name for t in self._graph.inputs]

    @property
    def output_names(self):
        return list(self._output_keys or [t.layer.name for t in self._graph.outputs])

    @property
    def input_shape(self):
        shapes = [t.shape for t in self._graph.inputs]
        return shapes if self._inputs_nested else shapes[0]

    @property
    def output_shape(self):
        shapes = [t.shape for t in self._graph.outputs]
        return shapes if self._outputs_nested else shapes[0]

    def get_layer(self, name=None, index=None):
        if index is not None:
            return self.layers[index]
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise ValueError(f"Model '{self.name}': no layer named {name!r}; layers are {[l.name for l in self.layers]}")

    def _ensure_built_for(self, x):
        """Sequential models without an input shape, and subclassed models, build on the first data seen."""
        if not self.built and _subclassing.is_subclassed(self):
            inputs = _subclassing.inputs_from_data(x)
            if type(self).build is not Model.build:          # the subclass's own build(input_shape)
                self.build(_subclassing.shapes_of(inputs))
            if not self.built:
                _subclassing.build(self, inputs)

    # ------------------------------------------------------------- weights
    @property
    def weights(self):
        return [w for layer in self.layers for w in layer.weights]

    @property
    def trainable_weights(self):
        return [w for layer in self.layers for w in layer.trainable_weights]

    @property
    def non_trainable_weights(self):
        return [w for layer in self.layers for w in layer.non_trainable_weights]

    def get_weights(self):
        """Copies of every weight, layer by layer (Dense: kernel (in, out), bias; Conv2D: kernel (kh, kw, in, out), bias)."""
        return [w.copy() for w in self.weights]

    def set_weights(self, weights):
        weights = list(weights)
        expected = sum(len(layer.params) for layer in self.layers)
        if len(weights) != expected:
            raise ValueError(f"Model '{self.name}': set_weights expects {expected} arrays, got {len(weights)}")
        i = 0
        for layer in self.layers:
            n = len(layer.params)
            layer.set_weights(weights[i:i + n])
            i += n

    def count_params(self):
        self._require_built("count its parameters")
        unique = {id(w): w for w in self.weights}          # a tied weight counts once
        return int(sum(w.size for w in unique.values()))

    def _trainable(self):
        """(keys, params) of the weights the optimizer updates (each array once: tied weights)."""
        keys, params, seen = [], [], set()
        for layer in self.layers:
            for pname in layer.trainable_param_names():
                if id(layer.params[pname]) not in seen:
                    seen.add(id(layer.params[pname]))
                    keys.append(f"{layer.name}/{pname}")
                    params.append(layer.params[pname])
        return keys, params

    def _trainable_grads(self):
        """Gradients in the order of _trainable; a weight held by several layers gets their sum."""
        grads, index = [], {}
        for layer in self.layers:
            for p in layer.trainable_param_names():
                i = index.setdefault(id(layer.params[p]), len(grads))
                if i == len(grads):
                    grads.append(layer.grads[p])
                else:
                    grads[i] = grads[i] + layer.grads[p]
        return grads

    # -------------------------------------------------------------- compile
    def compile(self, optimizer="rmsprop", loss=None, metrics=None, loss_weights=None, **kwargs):
        """Choose the optimizer, the loss (per output) and the metrics reported by fit/evaluate."""
        unknown = sorted(set(kwargs) - set(_COMPILE_IGNORED) - {"weighted_metrics"})
        if unknown:
            raise ValueError(f"compile: unknown keyword argument(s) {unknown}")
        if kwargs.get("weighted_metrics"):
            raise ValueError("compile: weighted_metrics is not supported")
        if loss is None:
            raise ValueError("compile: a loss is required, e.g. loss='categorical_crossentropy'")
        optimizer = _optimizers.get(optimizer)
        _validate_specs(loss, metrics)           # fail before changing any state
        self.optimizer = optimizer
        self._compile_args = {"loss": loss, "metrics": metrics, "loss_weights": loss_weights}
        self._compile_config = _compile_config(optimizer, loss, metrics, loss_weights)
        self.compiled = True
        self._losses = None                  # resolved per output once the outputs are known
        self._metric_objs = None
        if self.built:
            self._resolve_losses()

    def _per_output(self, spec, what):
        names = self.output_names
        if isinstance(spec, dict):
            unknown = sorted(set(spec) - set(names))
            if unknown:
                raise ValueError(f"compile: {what} for unknown outputs {unknown}; outputs are {names}")
            return [spec.get(n) for n in names]
        if isinstance(spec, (list, tuple)) and len(names) == 1 and len(spec) == 1 and what != "metrics":
            return [spec[0]]
        if isinstance(spec, (list, tuple)) and len(names) > 1:
            if len(spec) != len(names):
                raise ValueError(f"compile: {len(spec)} {what} for {len(names)} outputs {names}")
            return list(spec)
        return [spec] * len(names)

    def _resolve_losses(self):
        args = self._compile_args
        self._losses = [_losses.get(s) for s in self._per_output(args["loss"], "losses")]
        lw = args["loss_weights"]
        self._loss_weights = [1.0 if w is None else float(w) for w in self._per_output(lw, "loss_weights")] \
            if lw is not None else [1.0] * len(self._losses)
        # Fuse the loss with the last activation when they pair (softmax + CE, sigmoid + BCE).
        self._fused = []
        for t, loss in zip(self._graph.outputs, self._losses):
            layer = t.layer
            self._fused.append(isinstance(layer, ActivatedLayer) and loss.fused_activation is not None
                               and layer.activation.name == loss.fused_activation)

    def _resolve_metrics(self, ys):
        """Metric objects per output; 'accuracy' depends on the target and output shapes."""
        specs = self._compile_args["metrics"]
        if specs is None:
            per_out = [[] for _ in self._losses]
        elif isinstance(specs, dict):
            per_out = [list(_as_list(s)) if s is not None else [] for s in self._per_output(specs, "metrics")]
        elif len(self._losses) > 1 and specs and all(isinstance(s, (list, tuple)) for s in specs):
            per_out = [list(s) for s in self._per_output(list(specs), "metrics")]
        else:
            per_out = [list(_as_list(specs))] * len(self._losses)
        multi = len(self._losses) > 1
        self._metric_objs = []
        for i, (t, loss, y, oname) in enumerate(zip(self._graph.outputs, self._losses, ys, self.output_names)):
            objs = []
            for spec in per_out[i]:
                m = _metrics.get(spec, loss, t.shape, y.shape)
                key = f"{oname}_{m.name}" if multi else m.name
                objs.append((key, m))
            self._metric_objs.append(objs)

    def _require_compiled(self, what):
        if not self.compiled:
            raise RuntimeError(f"Model '{self.name}' must be compiled before {what}: call model.compile(...)")

    # ---------------------------------------------------------- data prep
    def _inputs(self, x):
        self._ensure_built_for(x)
        self._require_built("run")
        return _data.standardize_inputs(self, x, self.dtype)

    def _targets(self, y, n):
        raw = _data.standardize_targets(self, y)
        ys = []
        for t, loss, a in zip(self._graph.outputs, self._losses, raw):
            if a.ndim == 0 or a.shape[0] != n:
                raise ValueError(
                    f"Model '{self.name}': {n} input samples but targets for output '{t.layer.name}' "
                    f"have shape {a.shape}"
                )
            ys.append(loss.prepare_targets(a, t.sample_shape, f"output '{t.layer.name}'"))
        if self._metric_objs is None:
            self._resolve_metrics(ys)
        return ys

    def _sample_weights(self, sample_weight, class_weight, y_raw, n):
        w = None
        if sample_weight is not None:
            w = _data.as_array(sample_weight, np.float64, "sample_weight").reshape(-1)
            if w.shape[0] != n:
                raise ValueError(f"sample_weight has {w.shape[0]} values for {n} samples")
        if class_weight is not None:
            if len(self._losses) > 1:
                raise ValueError("class_weight is only supported for models with one output")
            y = np.asarray(y_raw[0])
            labels = np.argmax(y, axis=-1) if (y.ndim > 1 and y.shape[-1] > 1) else y.reshape(n, -1)[:, 0]
            cw = np.array([class_weight.get(int(c), 1.0) for c in labels], dtype=np.float64)
            w = cw if w is None else w * cw
        return None if w is None else w.astype(self.dtype)

    # ------------------------------------------------------------ one step
    def _step(self, xs, ys, w, training):
        """Forward (and, in training, backward + update) on one batch.

        Returns the outputs and the batch sums to average: {'loss': sum of w*loss, ...}.
        """
        graph = self._graph_for(training)
        outs = graph.forward(xs, training)
        n = outs[0].shape[0]
        sums = {"loss": 0.0}
        douts = []
        multi = len(outs) > 1
        for oname, out, y, loss, lw, fused in zip(self.output_names, outs, ys, self._losses,
                                                  self._loss_weights, self._fused):
            value = loss.value(y, out, w)
            sums["loss"] += lw * value * n
            if multi:
                sums[f"{oname}_loss"] = value * n
            if training:
                g = loss.fused_grad(y, out, w) if fused else loss.grad(y, out, w)
                douts.append(g if lw == 1.0 else g * lw)
        for objs, out, y in zip(self._metric_objs, outs, ys):
            for key, m in objs:
                sums[key] = float(m.per_sample(y, out).sum())
        if training:
            graph.backward(douts, self._fused, need_input_grads=False)
            keys, params = self._trainable()
            self.optimizer.apply(keys, params, self._trainable_grads())
        return outs, sums

    # ------------------------------------------------------------------ fit
    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None,
            validation_split=0.0, validation_data=None, shuffle=True, class_weight=None,
            sample_weight=None, initial_epoch=0, steps_per_epoch=None, validation_steps=None,
            validation_batch_size=None, validation_freq=1, max_queue_size=None, workers=None,
            use_multiprocessing=False, **kwargs):
        """Train for ``epochs`` epochs; returns a ``History`` (``.history``: key -> list per epoch).

        ``x`` may be arrays (with ``y``), a ``keras.utils.Sequence``/``PyDataset``
        (e.g. ``ImageDataGenerator.flow_from_directory(...)``), a Python generator
        (with ``steps_per_epoch``) or a ``fastnn.data.Dataset``, yielding ``x``,
        ``(x, y)`` or ``(x, y, sample_weight)`` batches; ``validation_data`` likewise.
        """
        if kwargs:
            raise ValueError(f"fit: unknown keyword argument(s) {sorted(kwargs)}")
        self._require_compiled("fit")
        batch_size = _batch_size(batch_size)
        verbose = 1 if verbose == "auto" else int(verbose)
        feed = dict(workers=workers, use_multiprocessing=use_multiprocessing, max_queue_size=max_queue_size)
        data, val = self._fit_data(x, y, batch_size, validation_split, validation_data, shuffle, class_weight,
                                   sample_weight, steps_per_epoch, validation_steps,
                                   _batch_size(validation_batch_size or batch_size), feed)
        history = cbks.History()
        # User callbacks first, so that what they add to the logs (learning_rate)
        # reaches the history and the progress line.
        cb_list = list(callbacks or []) + [history]
        if verbose:
            cb_list.append(cbks.ProgbarLogger(verbose))
        params = {"verbose": verbose, "epochs": epochs, "steps": data.steps}
        cb = cbks.CallbackList(cb_list, self, params)
        self.stop_training = False
        try:
            self._initial_epoch = None       # BackupAndRestore sets it when it resumes a run
            cb.on_train_begin()
            initial_epoch = self._initial_epoch or initial_epoch
            for epoch in range(initial_epoch, epochs):
                cb.on_epoch_begin(epoch)
                totals, seen, logs, step = {}, 0, {}, -1
                for step, batch in enumerate(data.epoch()):
                    xs, ys, w = self._prepare_batch(data, batch, class_weight, "fit")
                    cb.on_train_batch_begin(step)
                    _, sums = self._step(xs, ys, w, training=True)
                    seen += xs[0].shape[0]
                    for k, v in sums.items():
                        totals[k] = totals.get(k, 0.0) + v
                    logs = _sorted_logs({k: v / seen for k, v in totals.items()})
                    cb.on_train_batch_end(step, logs)
                    if self.stop_training:
                        break
                if step < 0:
                    raise ValueError(f"fit: the training data gave no batches in epoch {epoch + 1}")
                if data.steps is None:                # learnt from the first pass
                    data.steps = params["steps"] = step + 1
                    cb.set_params(dict(cb.params, steps=data.steps))
                epoch_logs = dict(logs)
                if val is not None and _validate_now(epoch, validation_freq):
                    cb.on_test_begin()
                    val_logs = self._evaluate_data(val, "fit: validation_data", cb=cb)
                    cb.on_test_end(val_logs)
                    epoch_logs.update({"val_" + k: v for k, v in val_logs.items()})
                cb.on_epoch_end(epoch, epoch_logs)
                if self.stop_training or getattr(data, "exhausted", False):
                    break
            cb.on_train_end()
        finally:
            data.close()
            if val is not None:
                val.close()
        history.params = params
        history.model = self
        self.history = history
        return history

    def fit_generator(self, generator, steps_per_epoch=None, epochs=1, verbose=1, callbacks=None,
                      validation_data=None, validation_steps=None, validation_freq=1, class_weight=None,
                      max_queue_size=10, workers=1, use_multiprocessing=False, shuffle=True, initial_epoch=0):
        """Keras 2's name for ``fit`` on a generator or Sequence (deprecated: use ``fit``)."""
        _deprecated_alias("fit")
        return self.fit(generator, steps_per_epoch=steps_per_epoch, epochs=epochs, verbose=verbose,
                        callbacks=callbacks, validation_data=validation_data, validation_steps=validation_steps,
                        validation_freq=validation_freq, class_weight=class_weight, max_queue_size=max_queue_size,
                        workers=workers, use_multiprocessing=use_multiprocessing, shuffle=shuffle,
                        initial_epoch=initial_epoch)

    def _fit_data(self, x, y, batch_size, validation_split, validation_data, shuffle, class_weight, sample_weight,
                  steps_per_epoch, validation_steps, val_batch_size, feed):
        """(training adapter, validation adapter or None) for what fit received."""
        if _adapters.is_array_like(x):
            if steps_per_epoch not in (None, 1):
                raise ValueError("fit: steps_per_epoch is not supported with array data (use batch_size); "
                                 "it applies to generators, Sequences and Datasets")
            xs = self._inputs(x)
            if self._losses is None:
                self._resolve_losses()
            n = xs[0].shape[0]
            y_raw = _data.standardize_targets(self, y)
            ys = self._targets(y, n)
            w = self._sample_weights(sample_weight, class_weight, y_raw, n)
            val = None
            if validation_split and validation_data is None:
                if not 0 < validation_split < 1:
                    raise ValueError(f"fit: validation_split must be in (0, 1), got {validation_split}")
                cut = int(n * (1 - validation_split))
                if cut == 0 or cut == n:
                    raise ValueError(f"fit: validation_split={validation_split} leaves no training or "
                                     f"validation data")
                val = _adapters.ArrayAdapter(_data.take(xs, slice(cut, None)), _data.take(ys, slice(cut, None)),
                                             None if w is None else w[cut:], val_batch_size)
                xs, ys = _data.take(xs, slice(0, cut)), _data.take(ys, slice(0, cut))
                w = None if w is None else w[:cut]
            data = _adapters.ArrayAdapter(xs, ys, w, batch_size, shuffle, self._rng)
        else:
            if y is not None:
                raise ValueError(f"fit: y must not be given when x is a {type(x).__name__} (it yields the targets)")
            if sample_weight is not None:
                raise ValueError("fit: sample_weight must come from the data (x, y, sample_weight batches) "
                                 f"when x is a {type(x).__name__}")
            if validation_split:
                raise ValueError(f"fit: validation_split is only supported for array data, not a "
                                 f"{type(x).__name__}; pass validation_data=...")
            data = _adapters.adapter_for(x, steps_per_epoch, "fit", steps_name="steps_per_epoch", **feed)
            val = None
        if validation_data is not None:
            val = self._validation_data(validation_data, validation_steps, val_batch_size, feed)
        return data, val

    def _validation_data(self, validation_data, validation_steps, batch_size, feed):
        if isinstance(validation_data, (list, tuple)):
            if len(validation_data) not in (2, 3):
                raise ValueError("fit: validation_data must be a tuple (x_val, y_val) or "
                                 "(x_val, y_val, sample_weight), a Sequence, a generator or a Dataset")
            xv = self._inputs(validation_data[0])
            nv = xv[0].shape[0]
            yv = self._targets(validation_data[1], nv)
            wv = self._sample_weights(validation_data[2], None, None, nv) if len(validation_data) == 3 else None
            return _adapters.ArrayAdapter(xv, yv, wv, batch_size)
        return _adapters.adapter_for(validation_data, validation_steps, "fit: validation_data",
                                     steps_name="validation_steps", **feed)

    def _prepare_batch(self, data, batch, class_weight, where, targets=True):
        """One batch from an adapter -> (inputs, targets, sample weights) as the step takes them."""
        if data.prepared:
            return batch
        bx, by, bw = _adapters.unpack(batch, where)
        xs = self._inputs(bx)
        if self._losses is None and self.compiled:
            self._resolve_losses()
        if not targets:
            return xs, None, None
        if by is None:
            raise ValueError(f"{where}: the data must yield (x, y) batches with targets; got x only")
        n = xs[0].shape[0]
        y_raw = _data.standardize_targets(self, by)
        ys = self._targets(by, n)
        w = self._sample_weights(bw, class_weight, y_raw, n)
        return xs, ys, w

    def _evaluate_data(self, data, where, progbar=None, cb=None):
        totals, seen, logs, step = {}, 0, {}, -1
        for step, batch in enumerate(data.epoch()):
            xs, ys, w = self._prepare_batch(data, batch, None, where)
            if cb is not None:
                cb.on_test_batch_begin(step)
            _, sums = self._step(xs, ys, w, training=False)
            seen += xs[0].shape[0]
            for k, v in sums.items():
                totals[k] = totals.get(k, 0.0) + v
            logs = _sorted_logs({k: v / seen for k, v in totals.items()})
            if cb is not None:
                cb.on_test_batch_end(step, logs)
            if progbar is not None:
                progbar.update(step + 1, logs, finalize=step + 1 == data.steps)
        if step < 0:
            raise ValueError(f"{where}: the data gave no batches")
        if data.steps is None:
            data.steps = step + 1
            if progbar is not None:
                progbar.update(step + 1, logs, finalize=True)
        return logs

    def _evaluate_arrays(self, xs, ys, w, batch_size, progbar=None, cb=None):
        return self._evaluate_data(_adapters.ArrayAdapter(xs, ys, w, batch_size), "evaluate", progbar, cb)

    # ------------------------------------------------------------- evaluate
    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", sample_weight=None, steps=None,
                 callbacks=None, return_dict=False, max_queue_size=None, workers=None, use_multiprocessing=False):
        """Loss (and metrics) on (x, y): a float, or ``[loss, *metrics]``, or a dict with return_dict=True.

        ``x`` may also be a Sequence, generator (``steps`` batches, or until it ends) or Dataset.
        """
        self._require_compiled("evaluate")
        batch_size = _batch_size(batch_size)
        verbose = 1 if verbose == "auto" else int(verbose)
        if _adapters.is_array_like(x):
            xs = self._inputs(x)
            if self._losses is None:
                self._resolve_losses()
            n = xs[0].shape[0]
            ys = self._targets(y, n)
            w = self._sample_weights(sample_weight, None, None, n)
            data = _adapters.ArrayAdapter(xs, ys, w, batch_size)
        else:
            if y is not None or sample_weight is not None:
                raise ValueError(f"evaluate: y/sample_weight must not be given when x is a {type(x).__name__}")
            data = _adapters.adapter_for(x, steps, "evaluate", workers=workers,
                                         use_multiprocessing=use_multiprocessing, max_queue_size=max_queue_size)
        try:
            cb = cbks.CallbackList(list(callbacks or []), self, {"verbose": verbose, "steps": data.steps})
            cb.on_test_begin()
            bar = Progbar(data.steps, verbose) if verbose else None
            logs = self._evaluate_data(data, "evaluate", bar, cb)
            cb.on_test_end(logs)
        finally:
            data.close()
        if return_dict:
            return logs
        return self._logs_to_list(logs)

    def evaluate_generator(self, generator, steps=None, callbacks=None, max_queue_size=10, workers=1,
                           use_multiprocessing=False, verbose=0):
        """Keras 2's name for ``evaluate`` on a generator or Sequence (deprecated: use ``evaluate``)."""
        _deprecated_alias("evaluate")
        return self.evaluate(generator, steps=steps, callbacks=callbacks, max_queue_size=max_queue_size,
                             workers=workers, use_multiprocessing=use_multiprocessing, verbose=verbose)

    def _logs_to_list(self, logs):
        keys = ["loss"]
        if len(self._losses) > 1:
            keys += [f"{name}_loss" for name in self.output_names]
        keys += [key for objs in self._metric_objs for key, _ in objs]
        values = [logs[k] for k in keys]
        return values[0] if len(values) == 1 else values

    @property
    def metrics_names(self):
        if not self.compiled or self._metric_objs is None:
            return ["loss"]
        names = ["loss"]
        if len(self._losses) > 1:
            names += [f"{name}_loss" for name in self.output_names]
        return names + [key for objs in self._metric_objs for key, _ in objs]

    # -------------------------------------------------------------- predict
    def predict(self, x, batch_size=None, verbose="auto", steps=None, callbacks=None, max_queue_size=None,
                workers=None, use_multiprocessing=False):
        """Outputs for x in inference mode: one array, or a list for several outputs.

        ``x`` may also be a Sequence, generator or Dataset (targets in its batches are ignored).
        """
        batch_size = _batch_size(batch_size)
        verbose = 1 if verbose == "auto" else int(verbose)
        if _adapters.is_array_like(x):
            data = _adapters.ArrayAdapter(self._inputs(x), None, None, batch_size)
        else:
            data = _adapters.adapter_for(x, steps, "predict", workers=workers,
                                         use_multiprocessing=use_multiprocessing, max_queue_size=max_queue_size)
        try:
            bar = Progbar(data.steps, verbose) if verbose else None
            cb = cbks.CallbackList(list(callbacks or []), self, {"verbose": verbose, "steps": data.steps})
            cb.on_predict_begin()
            chunks, step = [], -1
            for step, batch in enumerate(data.epoch()):
                xs, _, _ = self._prepare_batch(data, batch, None, "predict", targets=False)
                cb.on_predict_batch_begin(step)
                chunks.append(self._graph.forward(xs, training=False))
                cb.on_predict_batch_end(step, {"outputs": chunks[-1]})
                if bar is not None:
                    bar.update(step + 1, finalize=step + 1 == data.steps)
            if step < 0:
                raise ValueError("predict: the data gave no batches")
            if bar is not None and data.steps is None:
                bar.update(step + 1, finalize=True)
            cb.on_predict_end()
        finally:
            data.close()
        outs = [np.concatenate([c[i] for c in chunks]) for i in range(len(self._graph.outputs))]
        return self._pack_outputs(outs)

    def predict_generator(self, generator, steps=None, callbacks=None, max_queue_size=10, workers=1,
                          use_multiprocessing=False, verbose=0):
        """Keras 2's name for ``predict`` on a generator or Sequence (deprecated: use ``predict``)."""
        _deprecated_alias("predict")
        return self.predict(generator, steps=steps, callbacks=callbacks, max_queue_size=max_queue_size,
                            workers=workers, use_multiprocessing=use_multiprocessing, verbose=verbose)

    def __call__(self, x, training=False):
        """model(x) on arrays: the outputs of one forward pass (no batching)."""
        from .layers.base import KerasTensor
        if isinstance(x, KerasTensor) or (isinstance(x, (list, tuple)) and any(isinstance(t, KerasTensor) for t in x)):
            raise TypeError(f"Model '{self.name}': calling a model on symbolic tensors (nesting models) "
                            f"is not supported; add its layers instead")
        xs = self._inputs(x)
        outs = self._graph_for(training).forward(xs, training)
        return self._pack_outputs(outs)

    def predict_on_batch(self, x):
        return self(x)

    # ---------------------------------------------------------- batch level
    def train_on_batch(self, x, y=None, sample_weight=None, class_weight=None, return_dict=False):
        """One update on one batch; returns that batch's loss (and metrics)."""
        self._require_compiled("train_on_batch")
        xs = self._inputs(x)
        if self._losses is None:
            self._resolve_losses()
        n = xs[0].shape[0]
        y_raw = _data.standardize_targets(self, y)
        ys = self._targets(y, n)
        w = self._sample_weights(sample_weight, class_weight, y_raw, n)
        _, sums = self._step(xs, ys, w, training=True)
        logs = _sorted_logs({k: v / n for k, v in sums.items()})
        return logs if return_dict else self._logs_to_list(logs)

    def test_on_batch(self, x, y=None, sample_weight=None, return_dict=False):
        self._require_compiled("test_on_batch")
        xs = self._inputs(x)
        if self._losses is None:
            self._resolve_losses()
        n = xs[0].shape[0]
        ys = self._targets(y, n)
        w = self._sample_weights(sample_weight, None, None, n)
        _, sums = self._step(xs, ys, w, training=False)
        logs = _sorted_logs({k: v / n for k, v in sums.items()})
        return logs if return_dict else self._logs_to_list(logs)

    # ------------------------------------------------------ summary, saving
    def summary(self, line_length=None, positions=None, print_fn=None, **kwargs):
        """Print the Keras table: Layer (type) | Output Shape | Param #, then the totals."""
        from ._summary import summary_text
        self._require_built("print a summary")
        text = summary_text(self, line_length)
        (print_fn or (lambda s: print(s, file=sys.stdout)))(text)

    def get_config(self):
        if _subclassing.is_subclassed(self):       # what a subclass's get_config() extends
            return {"name": self.name, "trainable": self.trainable}
        from . import saving
        return saving.model_config(self)["config"]

    @classmethod
    def from_config(cls, config, custom_objects=None):
        if _subclassing.is_subclassed(cls):
            return cls(**config)
        from . import saving
        return saving.model_from_config({"class_name": "Functional", "config": config}, custom_objects)

    def to_json(self, **kwargs):
        """The architecture as a JSON string (no weights); see models.model_from_json."""
        import json
        from . import saving
        return json.dumps(saving.model_config(self), **kwargs)

    def save_weights(self, filepath, overwrite=True):
        """All weights, atomically: ``*.weights.h5`` (Keras 3), ``*.h5`` (legacy HDF5) or ``*.npz`` (fastnn)."""
        from . import saving
        saving.save_weights(self, filepath, overwrite)

    def load_weights(self, filepath, skip_mismatch=False, by_name=False, **kwargs):
        """Weights from a file saved by fastnn or Keras ('.weights.h5', '.h5', '.keras', '.npz').

        ``by_name`` (legacy '.h5' only) matches layers by name; ``skip_mismatch``
        skips layers whose weight shapes differ instead of raising.
        """
        from . import saving
        if kwargs:
            raise ValueError(f"load_weights: unknown keyword argument(s) {sorted(kwargs)}")
        saving.load_weights(self, filepath, skip_mismatch=skip_mismatch, by_name=by_name)

    def save(self, filepath, overwrite=True, include_optimizer=True, **kwargs):
        """Architecture + weights + compile settings + optimizer state, atomically:
        ``*.keras`` (Keras 3's zip), ``*.h5`` (legacy HDF5) or ``*.npz`` (fastnn's checkpoint)."""
        from . import saving
        if _subclassing.is_subclassed(self):
            _subclassing.check_config(self)
        saving.save_model(self, filepath, overwrite, include_optimizer=include_optimizer, **kwargs)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}, built={self.built}>"


def _validate_specs(loss, metrics):
    """Raise the 'unknown loss/metric' errors at compile time rather than at fit time."""
    def leaves(spec):
        if isinstance(spec, dict):
            return [v for x in spec.values() for v in leaves(x)]
        if isinstance(spec, (list, tuple)):
            return [v for x in spec for v in leaves(x)]
        return [] if spec is None else [spec]

    for spec in leaves(loss):
        _losses.get(spec)
    for spec in leaves(metrics):
        if isinstance(spec, str) and spec.lower() not in _metrics.KNOWN:
            _metrics.get(spec, None, None, None)


def _validate_now(epoch, validation_freq):
    """Keras' validation_freq: every n-th epoch (an int) or the listed epochs (1-based)."""
    if isinstance(validation_freq, (list, tuple, set)):
        return epoch + 1 in validation_freq
    return (epoch + 1) % int(validation_freq) == 0


def _deprecated_alias(name):
    """Keras 2's ``{name}_generator`` still works, with the warning Keras gave."""
    import warnings
    warnings.warn(f"Model.{name}_generator is deprecated and will be removed in a future version; "
                  f"Model.{name} supports generators", DeprecationWarning, stacklevel=3)


def _as_list(x):
    return x if isinstance(x, (list, tuple)) else [x]


def _batch_size(batch_size):
    if batch_size is None:
        return 32
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    return int(batch_size)


def _sorted_logs(logs):
    """Keras' order: metrics and losses alphabetically (val_ entries are appended later)."""
    return {k: float(logs[k]) for k in sorted(logs)}


def _compile_config(optimizer, loss, metrics, loss_weights):
    """What compile() received, in JSON form when possible (None when not serialisable)."""
    def name_of(v):
        if isinstance(v, str):
            return v
        if isinstance(v, _losses.Loss):
            return v.name if type(v) in _losses._CLASSES.values() else None
        if callable(v) and v in _losses._FUNCTIONS:
            return _losses._FUNCTIONS[v]
        if isinstance(v, _metrics.Metric):
            return v.name if v.name == v.default_name else None
        return None

    def convert(spec):
        if spec is None:
            return None
        if isinstance(spec, dict):
            return {k: convert(v) for k, v in spec.items()}
        if isinstance(spec, (list, tuple)):
            return [convert(v) for v in spec]
        n = name_of(spec)
        if n is None:
            raise TypeError
        return n

    try:
        return {"optimizer": _optimizers.serialize(_optimizers.get(optimizer)) if isinstance(optimizer, str)
                else None, "loss": convert(loss), "metrics": convert(metrics), "loss_weights": loss_weights}
    except TypeError:
        return None
