"""Callbacks: hooks that fit/evaluate/predict call at the start and end of
training, epochs and batches (Keras' names, arguments and ``logs``).

``History`` is added to every fit and returned by it; ``ProgbarLogger`` prints
the progress line. ``logs`` dicts hold the running means of the epoch so far
(batch hooks) or the epoch's results (epoch hooks, with ``val_`` entries when
there is validation data). Here: ``Callback``, ``CallbackList``, ``History``,
``ProgbarLogger``, ``TerminateOnNaN``, ``LambdaCallback``, ``EarlyStopping``,
``ModelCheckpoint``, ``LearningRateScheduler``, ``ReduceLROnPlateau``,
``CSVLogger``; ``BackupAndRestore`` (``_backup.py``) and ``TensorBoard``
(``_tensorboard.py``) live in their own modules and are exported here.
"""
import csv
import io
import os
import sys
import warnings

import numpy as np

from . import _atomic
from ._progbar import Progbar


class Callback:
    """Base class: override the hooks you need; ``self.model`` and ``self.params`` are set by fit.

    Hooks and the ``logs`` they receive (always a dict, possibly empty):

    * ``on_train_begin/end``: ``{}`` / the last epoch's logs;
    * ``on_epoch_begin(epoch)``: ``{}``; ``on_epoch_end(epoch)``: the epoch's
      results, with ``val_`` entries when there is validation data;
    * ``on_train_batch_begin/end(batch)``: ``{}`` / the running means of the
      epoch so far (``loss``, metrics); ``on_batch_begin/end`` are Keras 2's
      names for them and are called by the default ``on_train_batch_*``;
    * ``on_test_begin/end``, ``on_test_batch_begin/end``: the same for
      evaluate and for fit's validation pass;
    * ``on_predict_begin/end``, ``on_predict_batch_begin/end``:
      ``{'outputs': batch outputs}`` at batch end.

    Subclasses need not call ``super().__init__()`` (many tutorials do not).
    """

    model = None
    params = {}

    def __init__(self):
        self.model = None
        self.params = {}

    def set_model(self, model):
        self.model = model

    def set_params(self, params):
        self.params = params

    def on_batch_begin(self, batch, logs=None): pass
    def on_batch_end(self, batch, logs=None): pass
    def on_train_begin(self, logs=None): pass
    def on_train_end(self, logs=None): pass
    def on_epoch_begin(self, epoch, logs=None): pass
    def on_epoch_end(self, epoch, logs=None): pass

    def on_train_batch_begin(self, batch, logs=None):
        self.on_batch_begin(batch, logs=logs)

    def on_train_batch_end(self, batch, logs=None):
        self.on_batch_end(batch, logs=logs)

    def on_test_begin(self, logs=None): pass
    def on_test_end(self, logs=None): pass
    def on_test_batch_begin(self, batch, logs=None): pass
    def on_test_batch_end(self, batch, logs=None): pass
    def on_predict_begin(self, logs=None): pass
    def on_predict_end(self, logs=None): pass
    def on_predict_batch_begin(self, batch, logs=None): pass
    def on_predict_batch_end(self, batch, logs=None): pass


_HOOKS_WITH_INDEX = ("on_epoch_begin", "on_epoch_end", "on_train_batch_begin", "on_train_batch_end",
                     "on_test_batch_begin", "on_test_batch_end", "on_predict_batch_begin",
                     "on_predict_batch_end")
_HOOKS_LOGS_ONLY = ("on_train_begin", "on_train_end", "on_test_begin", "on_test_end",
                    "on_predict_begin", "on_predict_end")


class CallbackList:
    """Calls every hook on every callback in order, as Keras does.

    ``logs`` is always a dict (``{}`` when the caller gave none) and the same
    dict goes to every callback, so what one adds (e.g. ``learning_rate``)
    reaches the next ones. ``on_train_end`` receives the last epoch's logs.
    Only one ``ProgbarLogger`` runs: a user's own one wins over the one fit adds.
    ``on_batch_begin/end`` on the list are Keras 2's names for the train-batch hooks.
    Keras' ``CallbackList(callbacks, add_history=..., add_progbar=..., model=..., **params)``
    keywords work; a CallbackList passed as fit's ``callbacks`` is unpacked.
    """

    def __init__(self, callbacks=None, model=None, params=None, add_history=False, add_progbar=False, **kwparams):
        callbacks = list(callbacks or [])
        for cb in callbacks:
            if not isinstance(cb, Callback):
                raise TypeError(f"callbacks must be keras.callbacks.Callback instances, got {type(cb).__name__}")
        if add_history and not any(isinstance(cb, History) for cb in callbacks):
            callbacks.append(History())
        if add_progbar and not any(isinstance(cb, ProgbarLogger) for cb in callbacks):
            callbacks.append(ProgbarLogger())
        progbars = [cb for cb in callbacks if isinstance(cb, ProgbarLogger)]
        self.callbacks = [cb for cb in callbacks if not isinstance(cb, ProgbarLogger) or cb is progbars[0]]
        self.model = model
        self.params = dict(params or {}, **kwparams)
        self._last_epoch_logs = {}
        for cb in self.callbacks:
            if model is not None:
                cb.set_model(model)
            cb.set_params(self.params)

    def set_model(self, model):
        self.model = model
        for cb in self.callbacks:
            cb.set_model(model)

    def set_params(self, params):
        self.params = params
        for cb in self.callbacks:
            cb.set_params(params)

    def append(self, callback):
        if not isinstance(callback, Callback):
            raise TypeError(f"callbacks must be keras.callbacks.Callback instances, got {type(callback).__name__}")
        callback.set_model(self.model)
        callback.set_params(self.params)
        self.callbacks.append(callback)

    def _call(self, hook, *args, logs=None):
        logs = {} if logs is None else logs
        for cb in self.callbacks:
            getattr(cb, hook)(*args, logs)
        return logs

    def on_train_begin(self, logs=None):
        self._last_epoch_logs = {}
        self._call("on_train_begin", logs=logs)

    def on_train_end(self, logs=None):
        self._call("on_train_end", logs=dict(self._last_epoch_logs) if logs is None else logs)

    def on_epoch_begin(self, epoch, logs=None):
        self._call("on_epoch_begin", epoch, logs=logs)

    def on_epoch_end(self, epoch, logs=None):
        self._last_epoch_logs = self._call("on_epoch_end", epoch, logs=logs)

    def on_batch_begin(self, batch, logs=None):
        self.on_train_batch_begin(batch, logs)

    def on_batch_end(self, batch, logs=None):
        self.on_train_batch_end(batch, logs)

    def __getattr__(self, hook):
        if hook in _HOOKS_WITH_INDEX:
            return lambda index, logs=None: self._call(hook, index, logs=logs)
        if hook in _HOOKS_LOGS_ONLY:
            return lambda logs=None: self._call(hook, logs=logs)
        raise AttributeError(f"CallbackList has no hook {hook!r}")

    def __iter__(self):
        return iter(self.callbacks)


def _order_like_keras(logs, model):
    """Keys as tf.keras' History lists them: loss, the other losses and metrics in compile
    order, then their ``val_`` versions, then anything else (e.g. ``learning_rate``)."""
    names = list(getattr(model, "metrics_names", None) or ["loss"]) if model is not None else ["loss"]
    train = [k for k in names if k in logs] + sorted(k for k in logs if not k.startswith("val_") and k not in names
                                                     and "val_" + k in logs)
    val = ["val_" + k for k in train if "val_" + k in logs]
    head = train + val
    return head + [k for k in logs if k not in head]


class History(Callback):
    """Records the epoch logs: ``history`` (key -> list of values), ``epoch`` (indices).

    Keys are in tf.keras' order: ``loss``, the metrics, then the ``val_`` ones.
    """

    def __init__(self):
        super().__init__()
        self.history = {}
        self.epoch = []

    def on_train_begin(self, logs=None):
        self.epoch = []
        self.history = {}

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        self.epoch.append(epoch)
        for k in _order_like_keras(logs, self.model):
            self.history.setdefault(k, [])
        for k, v in logs.items():
            self.history[k].append(v)
        if self.model is not None:
            self.model.history = self


class ProgbarLogger(Callback):
    """Prints ``Epoch i/n`` and fit's progress line (verbose 1) or one line per epoch (verbose 2).

    ``fit`` adds one when ``verbose`` is not 0; pass your own to control it.
    ``verbose`` defaults to fit's. (evaluate and predict print their own line.)
    ``count_mode``/``stateful_metrics`` are Keras 2's arguments and are accepted.
    """

    def __init__(self, count_mode="steps", stateful_metrics=None, verbose=None, stream=None):
        super().__init__()
        if isinstance(count_mode, int) and not isinstance(count_mode, bool) and verbose is None:
            count_mode, verbose = "steps", count_mode       # fastnn's older ProgbarLogger(verbose)
        if count_mode not in ("steps", "samples"):
            raise ValueError(f"ProgbarLogger: count_mode must be 'steps' or 'samples', got {count_mode!r}")
        self.verbose = verbose
        self.stream = stream
        self._bar = None

    def _verbose(self):
        v = self.verbose if self.verbose is not None else self.params.get("verbose", 1)
        return 1 if v == "auto" else int(v)

    def on_epoch_begin(self, epoch, logs=None):
        verbose = self._verbose()
        if not verbose:
            return
        out = self.stream or sys.stdout
        out.write(f"Epoch {epoch + 1}/{self.params['epochs']}\n")
        out.flush()
        self._bar = Progbar(self.params["steps"], verbose, self.stream)

    def on_train_batch_end(self, batch, logs=None):
        if self._bar is None:
            return
        self._seen = batch + 1
        steps = self.params["steps"]
        if steps is None or batch + 1 < steps:       # steps None: a running count (length unknown)
            self._bar.update(batch + 1, logs)

    def on_epoch_end(self, epoch, logs=None):
        if self._bar is not None:
            self._bar.update(getattr(self, "_seen", None) or self.params["steps"] or 0, logs, finalize=True)
            self._bar = None
        self._seen = 0


class TerminateOnNaN(Callback):
    """Stop training as soon as the loss is NaN or infinite.

    Prints ``Batch N: Invalid loss, terminating training`` and sets
    ``model.stop_training``; the epoch then ends as usual (its logs show the
    bad loss). With ``raise_error=True`` a ``RuntimeError`` is raised instead,
    so the code after ``fit`` does not run on a diverged model.
    """

    def __init__(self, raise_error=False):
        super().__init__()
        self.raise_error = bool(raise_error)

    def on_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is None or np.isfinite(loss):
            return
        if self.raise_error:
            raise RuntimeError(f"TerminateOnNaN: NaN or Inf loss at batch {batch} (loss {loss}); training stopped")
        print(f"Batch {batch}: Invalid loss, terminating training")
        self.model.stop_training = True


class LambdaCallback(Callback):
    """A callback made of functions: ``LambdaCallback(on_epoch_end=lambda epoch, logs: ...)``.

    Accepts every hook name (``on_epoch_begin/end(epoch, logs)``,
    ``on_train_begin/end(logs)``, ``on_batch_begin/end(batch, logs)``,
    ``on_train_batch_*``, ``on_test_*``, ``on_predict_*``); other keyword
    arguments become attributes, as in Keras.
    """

    def __init__(self, on_epoch_begin=None, on_epoch_end=None, on_train_begin=None, on_train_end=None,
                 on_train_batch_begin=None, on_train_batch_end=None, **kwargs):
        super().__init__()
        hooks = dict(on_epoch_begin=on_epoch_begin, on_epoch_end=on_epoch_end, on_train_begin=on_train_begin,
                     on_train_end=on_train_end, on_train_batch_begin=on_train_batch_begin,
                     on_train_batch_end=on_train_batch_end)
        for name in list(kwargs):
            if name.startswith("on_") and hasattr(Callback, name):
                hooks[name] = kwargs.pop(name)
        for name, fn in hooks.items():
            if fn is None:
                continue
            if not callable(fn):
                raise TypeError(f"LambdaCallback: {name} must be callable, got {type(fn).__name__}")
            setattr(self, name, fn)
        self.__dict__.update(kwargs)


def weights_finite(model):
    """True when every weight of ``model`` is finite (checkpoints never save a diverged model)."""
    return all(np.all(np.isfinite(w)) for w in model.weights if np.asarray(w).dtype.kind in "fc")


def _monitor_mode(where, monitor, mode):
    if mode not in ("auto", "min", "max"):
        raise ValueError(f"{where}: mode must be 'auto', 'min' or 'max', got {mode!r}")
    if mode == "auto":
        mode = "max" if ("acc" in monitor or monitor.startswith("auc")) else "min"
    return mode


class _Monitor(Callback):
    """Shared logic: watch ``monitor`` and decide whether a value improves on the best."""

    def __init__(self, monitor, mode, min_delta):
        super().__init__()
        self.monitor = monitor
        self.mode = _monitor_mode(type(self).__name__, monitor, mode)
        self.min_delta = abs(float(min_delta))
        self.best = np.inf if self.mode == "min" else -np.inf

    def _improved(self, current, best=None):
        best = self.best if best is None else best
        if self.mode == "min":
            return current < best - self.min_delta
        return current > best + self.min_delta

    def _current(self, logs):
        value = (logs or {}).get(self.monitor)
        if value is None:
            warnings.warn(
                f"{type(self).__name__}: metric '{self.monitor}' is not in the logs "
                f"(available: {sorted(logs or {})}); skipping",
                RuntimeWarning, stacklevel=3,
            )
        return value


class EarlyStopping(_Monitor):
    """Stop when ``monitor`` has not improved by ``min_delta`` for ``patience`` epochs.

    With ``restore_best_weights=True`` the weights of the best epoch are put
    back when training ends.
    """

    def __init__(self, monitor="val_loss", min_delta=0, patience=0, verbose=0, mode="auto",
                 baseline=None, restore_best_weights=False, start_from_epoch=0):
        super().__init__(monitor, mode, min_delta)
        self.patience = int(patience)
        self.verbose = verbose
        self.baseline = baseline
        self.restore_best_weights = bool(restore_best_weights)
        self.start_from_epoch = int(start_from_epoch)

    def on_train_begin(self, logs=None):
        self.wait = 0
        self.stopped_epoch = 0
        self.best = np.inf if self.mode == "min" else -np.inf
        self.best_weights = None
        self.best_epoch = 0

    def on_epoch_end(self, epoch, logs=None):
        current = self._current(logs)
        if current is None or epoch < self.start_from_epoch:
            return
        if self.restore_best_weights and self.best_weights is None:
            self.best_weights = self.model.get_weights()
        self.wait += 1
        if self._improved(current):
            self.best = current
            self.best_epoch = epoch
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            if self.baseline is None or self._improved(current, self.baseline):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.stopped_epoch > 0 and self.verbose > 0:
            print(f"Epoch {self.stopped_epoch + 1}: early stopping")
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose > 0:
                print(f"Restoring model weights from the end of the best epoch: {self.best_epoch + 1}.")
            self.model.set_weights(self.best_weights)


class ModelCheckpoint(_Monitor):
    """Save the model (or only its weights) after each epoch, or only when ``monitor`` improves.

    Weights that are not finite (a diverged run) are never written: the
    previous checkpoint stays, and a ``RuntimeWarning`` says so.

    ``filepath`` may contain ``{epoch:02d}`` and log keys such as ``{val_loss:.2f}``.
    """

    def __init__(self, filepath, monitor="val_loss", verbose=0, save_best_only=False,
                 save_weights_only=False, mode="auto", save_freq="epoch", initial_value_threshold=None):
        super().__init__(monitor, mode, 0)
        if save_freq != "epoch":
            raise ValueError("ModelCheckpoint: only save_freq='epoch' is supported")
        self.filepath = os.fspath(filepath)
        self.verbose = verbose
        self.save_best_only = bool(save_best_only)
        self.save_weights_only = bool(save_weights_only)
        if initial_value_threshold is not None:
            self.best = float(initial_value_threshold)

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        path = self.filepath.format(epoch=epoch + 1, **logs)
        if self.save_best_only:
            current = self._current(logs)
            if current is None or not self._improved(current):
                return
            if self.verbose > 0:
                print(f"\nEpoch {epoch + 1}: {self.monitor} improved from {self.best:.5f} to {current:.5f}, "
                      f"saving model to {path}")
            self.best = current
        if not weights_finite(self.model):
            warnings.warn(f"ModelCheckpoint: the model's weights are not finite (NaN or Inf) at epoch {epoch + 1}; "
                          f"{path} was not written", RuntimeWarning, stacklevel=2)
            return
        if self.save_weights_only:
            self.model.save_weights(path)
        else:
            self.model.save(path)


class LearningRateScheduler(Callback):
    """Set the learning rate at each epoch start to ``schedule(epoch, lr)`` (or ``schedule(epoch)``)."""

    def __init__(self, schedule, verbose=0):
        super().__init__()
        self.schedule = schedule
        self.verbose = verbose

    def on_epoch_begin(self, epoch, logs=None):
        lr = self.model.optimizer.learning_rate
        try:
            new = self.schedule(epoch, lr)
        except TypeError:
            new = self.schedule(epoch)
        if not isinstance(new, (float, int, np.floating, np.integer)):
            raise ValueError(f"LearningRateScheduler: schedule must return a number, got {new!r}")
        self.model.optimizer.learning_rate = float(new)
        if self.verbose > 0:
            print(f"\nEpoch {epoch + 1}: LearningRateScheduler setting learning rate to {float(new)}.")

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = float(self.model.optimizer.learning_rate)


class ReduceLROnPlateau(_Monitor):
    """Multiply the learning rate by ``factor`` when ``monitor`` has stalled for ``patience`` epochs."""

    def __init__(self, monitor="val_loss", factor=0.1, patience=10, verbose=0, mode="auto",
                 min_delta=1e-4, cooldown=0, min_lr=0.0):
        super().__init__(monitor, mode, min_delta)
        if factor >= 1.0:
            raise ValueError(f"ReduceLROnPlateau: factor must be < 1, got {factor}")
        self.factor, self.patience, self.verbose = float(factor), int(patience), verbose
        self.cooldown, self.min_lr = int(cooldown), float(min_lr)

    def on_train_begin(self, logs=None):
        self.wait = 0
        self.cooldown_counter = 0
        self.best = np.inf if self.mode == "min" else -np.inf

    def on_epoch_end(self, epoch, logs=None):
        logs = logs if logs is not None else {}
        logs["learning_rate"] = float(self.model.optimizer.learning_rate)
        current = self._current(logs)
        if current is None:
            return
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.wait = 0
        if self._improved(current):
            self.best = current
            self.wait = 0
        elif self.cooldown_counter <= 0:
            self.wait += 1
            if self.wait >= self.patience:
                old = self.model.optimizer.learning_rate
                if old > self.min_lr:
                    new = max(old * self.factor, self.min_lr)
                    self.model.optimizer.learning_rate = new
                    if self.verbose > 0:
                        print(f"\nEpoch {epoch + 1}: ReduceLROnPlateau reducing learning rate to {new}.")
                    self.cooldown_counter = self.cooldown
                    self.wait = 0


class CSVLogger(Callback):
    """Write one CSV row per epoch: ``epoch`` then the log keys in sorted order.

    The whole file is rewritten atomically after each epoch, so a crash never
    leaves a half-written row. With ``append=True`` earlier rows are kept.
    """

    def __init__(self, filename, separator=",", append=False):
        super().__init__()
        self.filename = os.fspath(filename)
        self.sep = separator
        self.append = bool(append)

    def on_train_begin(self, logs=None):
        self._prefix = ""
        self.keys = None
        if self.append and os.path.exists(self.filename):
            with open(self.filename, newline="") as fh:
                self._prefix = fh.read()
            first = self._prefix.splitlines()[:1]
            if first:
                self.keys = first[0].split(self.sep)[1:]
        self._rows = []

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.keys is None:
            self.keys = sorted(logs)
        self._rows.append([epoch] + [logs.get(k, "NA") for k in self.keys])
        buf = io.StringIO()
        buf.write(self._prefix)
        writer = csv.writer(buf, delimiter=self.sep, lineterminator="\n")
        if not self._prefix:
            writer.writerow(["epoch"] + self.keys)
        writer.writerows(self._rows)
        _atomic.write_bytes(self.filename, buf.getvalue().encode())


# Defined in their own modules (one concern per file), exported here as in Keras.
from ._backup import BackupAndRestore  # noqa: E402,F401
from ._tensorboard import TensorBoard  # noqa: E402,F401
