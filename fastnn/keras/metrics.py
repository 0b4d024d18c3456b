"""Metrics for compile(metrics=[...]): accuracies and regression errors.

A metric maps prepared targets and predictions of one batch to one value per
sample; fit/evaluate report the mean over the samples seen. ``'accuracy'``
(or ``'acc'``) becomes binary, sparse-categorical or categorical accuracy
depending on the loss and the shapes, as in Keras, and keeps the name the user
wrote as its key in the history.
"""
import numpy as np


class Metric:
    def __init__(self, name=None):
        self.name = name or self.default_name

    def per_sample(self, t, y):
        raise NotImplementedError

    def __repr__(self):
        return f"<metric {self.name}: {type(self).__name__}>"


class BinaryAccuracy(Metric):
    """Share of values where (y > threshold) equals the target."""
    default_name = "binary_accuracy"

    def __init__(self, name=None, threshold=0.5):
        super().__init__(name)
        self.threshold = threshold

    def per_sample(self, t, y):
        hits = ((y > self.threshold) == (t > 0.5)).reshape(y.shape[0], -1)
        return hits.mean(axis=1)


class CategoricalAccuracy(Metric):
    """argmax(y) == argmax(t) (one-hot targets)."""
    default_name = "categorical_accuracy"

    def per_sample(self, t, y):
        hits = np.argmax(y, axis=-1) == np.argmax(t, axis=-1)
        return hits.reshape(y.shape[0], -1).mean(axis=1)


class SparseCategoricalAccuracy(Metric):
    """argmax(y) == t (integer labels)."""
    default_name = "sparse_categorical_accuracy"

    def per_sample(self, t, y):
        t = t.reshape(y.shape[:-1])
        hits = np.argmax(y, axis=-1) == t
        if hits.ndim == 1:                   # one label per sample: its hit is the sample's value
            return hits.astype(np.float64)
        return hits.reshape(y.shape[0], -1).mean(axis=1)


class MeanSquaredError(Metric):
    default_name = "mean_squared_error"

    def per_sample(self, t, y):
        return ((y - t) ** 2).reshape(y.shape[0], -1).mean(axis=1)


class MeanAbsoluteError(Metric):
    default_name = "mean_absolute_error"

    def per_sample(self, t, y):
        return np.abs(y - t).reshape(y.shape[0], -1).mean(axis=1)


class MeanMetricWrapper(Metric):
    """A metric from ``fn(y_true, y_pred)`` (keras.ops or NumPy), run on arrays: its mean over the samples.

    fn returns one value per sample (N,), per value (N, ...: averaged per
    sample), or one number per batch (counted once per sample of the batch).
    """

    def __init__(self, fn, name=None):
        self.fn = fn
        super().__init__(name or getattr(fn, "__name__", None) or type(fn).__name__)

    def per_sample(self, t, y):
        v = np.asarray(self.fn(t, y), dtype=np.float64)
        n = y.shape[0]
        if v.ndim == 0:
            return np.full(n, float(v))
        if v.shape[0] != n:
            raise ValueError(f"metric '{self.name}': returned shape {v.shape} for a batch of {n} samples")
        return v.reshape(n, -1).mean(axis=1)


_BY_NAME = {
    "binary_accuracy": BinaryAccuracy, "categorical_accuracy": CategoricalAccuracy,
    "sparse_categorical_accuracy": SparseCategoricalAccuracy,
    "mean_squared_error": MeanSquaredError, "mse": MeanSquaredError,
    "mean_absolute_error": MeanAbsoluteError, "mae": MeanAbsoluteError,
}
_ACCURACY = ("accuracy", "acc")
KNOWN = set(_BY_NAME) | set(_ACCURACY)


def get(identifier, loss, output_shape, target_shape):
    """The Metric for ``identifier`` on one output.

    loss: the output's Loss; output_shape / target_shape: shapes of one batch of
    predictions and of prepared targets (used to resolve 'accuracy').
    """
    if isinstance(identifier, Metric):
        return identifier
    if isinstance(identifier, str):
        key = identifier.lower()
        if key in _ACCURACY:
            return _resolve_accuracy(loss, output_shape, target_shape)(name=identifier)
        if key in _BY_NAME:
            return _BY_NAME[key](name=identifier)
    elif callable(identifier) and not isinstance(identifier, type):
        return MeanMetricWrapper(identifier)            # fn(y_true, y_pred)
    raise ValueError(
        f"compile: unknown metric {identifier!r}; valid metrics are {sorted(set(_BY_NAME) | set(_ACCURACY))}"
    )


def _resolve_accuracy(loss, output_shape, target_shape):
    if loss.name == "binary_crossentropy" or output_shape[-1] == 1:
        return BinaryAccuracy
    if len(target_shape) == len(output_shape) - 1 or loss.name == "sparse_categorical_crossentropy":
        return SparseCategoricalAccuracy
    return CategoricalAccuracy
