"""tf.keras 2's scikit-learn wrappers: ``KerasClassifier(build_fn, **sk_params)`` and ``KerasRegressor``.

    def build_model(n_hidden=1, n_neurons=30, learning_rate=3e-3):
        model = keras.models.Sequential(...)
        model.compile(loss="mse", optimizer=keras.optimizers.SGD(learning_rate=learning_rate))
        return model

    keras_reg = keras.wrappers.scikit_learn.KerasRegressor(build_model, epochs=20)
    search = RandomizedSearchCV(keras_reg, {"n_hidden": [0, 1, 2], "learning_rate": [...]}, cv=3)
    search.fit(X, y, validation_data=(X_valid, y_valid), callbacks=[keras.callbacks.EarlyStopping()])
    search.best_estimator_.model                # the fitted fastnn.keras model

``sk_params`` are routed by name: those ``build_fn`` takes go to it, those of
``Model.fit``/``predict``/``evaluate`` (``epochs``, ``batch_size``, ``verbose``,
...) to those calls; anything else is a ``ValueError``. Keyword arguments given
to ``fit``/``predict``/``score`` override them. ``build_fn`` may be a function, an
object with ``__call__``, or ``None`` with a subclass defining ``__call__``.
Each ``fit`` builds a new model. Classifiers map any labels to ``0..n-1``
(``classes_``) and back, and one-hot encode them when the loss is
``categorical_crossentropy``. ``KerasRegressor.score`` is the negated loss
(higher is better, as scikit-learn wants); ``KerasClassifier.score`` is the
model's accuracy metric.
"""
import inspect

import numpy as np

from ._sklearn_support import check_compiled, require_sklearn, trains_on_one_hot

require_sklearn("keras.wrappers.scikit_learn")
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin  # noqa: E402

from ..utils import to_categorical  # noqa: E402

_FIT_EXTRA = ("steps_per_epoch", "validation_steps", "validation_batch_size", "validation_freq")


def _arg_names(fn):
    """Names ``fn`` takes by keyword (no *args/**kwargs)."""
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return set()
    return {p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}


def _model_method_args(name):
    from .._model import Model
    names = _arg_names(getattr(Model, name)) - {"self", "x", "y"}
    return names | set(_FIT_EXTRA) if name == "fit" else names


class BaseWrapper(BaseEstimator):
    """Common logic of KerasClassifier and KerasRegressor (tf.keras 2's ``BaseWrapper``)."""

    def __init__(self, build_fn=None, **sk_params):
        self.build_fn = build_fn
        self.sk_params = sk_params
        self.check_params(sk_params)

    # ------------------------------------------------------------ params
    def _build_target(self):
        if self.build_fn is None:
            if type(self).__call__ is object.__call__:
                raise ValueError(f"{type(self).__name__}: give build_fn, or subclass and define __call__")
            return self.__call__
        if not callable(self.build_fn):
            raise TypeError(f"{type(self).__name__}: build_fn must be callable, got {type(self.build_fn).__name__}")
        if inspect.isfunction(self.build_fn) or inspect.ismethod(self.build_fn):
            return self.build_fn
        return self.build_fn.__call__

    def check_params(self, params):
        """Raise ValueError for a parameter that neither build_fn nor fit/predict/evaluate takes."""
        legal = set().union(*(_model_method_args(m) for m in ("fit", "predict", "evaluate")))
        legal |= _arg_names(self._build_target())
        for name in params:
            if name not in legal:
                raise ValueError(f"{type(self).__name__}: {name!r} is not a legal parameter: it is not an "
                                 f"argument of build_fn nor of Model.fit/predict/evaluate")

    def get_params(self, deep=True, **params):
        """``build_fn`` and the sk_params (the objects themselves, so scikit-learn's clone can check them)."""
        res = dict(self.sk_params)
        res["build_fn"] = self.build_fn
        return res

    def set_params(self, **params):
        self.check_params({k: v for k, v in params.items() if k != "build_fn"})
        if "build_fn" in params:
            self.build_fn = params.pop("build_fn")
        self.sk_params.update(params)
        return self

    def filter_sk_params(self, fn_or_names, override=None):
        """The sk_params that ``fn_or_names`` (a function or a set of names) takes, updated with ``override``."""
        names = fn_or_names if isinstance(fn_or_names, (set, frozenset)) else _arg_names(fn_or_names)
        res = {k: v for k, v in self.sk_params.items() if k in names}
        res.update(override or {})
        return res

    # --------------------------------------------------------------- fit
    def fit(self, x, y, **kwargs):
        """Build a new model with build_fn and train it; returns the History."""
        target = self._build_target()
        self.model = check_compiled(target(**self.filter_sk_params(target)), f"{type(self).__name__}.fit")
        y = np.asarray(y)
        if trains_on_one_hot(self.model) and y.ndim != 2:
            y = to_categorical(y, num_classes=getattr(self, "n_classes_", None))
        fit_args = self.filter_sk_params(_model_method_args("fit"), kwargs)
        history = self.model.fit(x, y, **fit_args)
        self.history_ = history.history
        return history

    def _check_fitted(self, what):
        if not hasattr(self, "model"):
            raise AttributeError(f"{type(self).__name__}.{what}: call fit before {what}")


class KerasClassifier(ClassifierMixin, BaseWrapper):
    """scikit-learn classifier around a fastnn.keras model built by ``build_fn``."""

    def fit(self, x, y, sample_weight=None, **kwargs):
        y = np.asarray(y)
        if y.ndim == 2 and y.shape[1] > 1:
            self.classes_ = np.arange(y.shape[1])
        elif y.ndim == 1 or (y.ndim == 2 and y.shape[1] == 1):
            y = y.reshape(-1)
            self.classes_ = np.unique(y)
            y = np.searchsorted(self.classes_, y)
        else:
            raise ValueError(f"KerasClassifier.fit: y must be labels (n,) or one-hot (n, classes), got {y.shape}")
        self.n_classes_ = len(self.classes_)
        if sample_weight is not None:
            kwargs["sample_weight"] = sample_weight
        return super().fit(x, y, **kwargs)

    def predict_proba(self, x, **kwargs):
        """Class probabilities (n, n_classes); a single sigmoid output p gives columns [1 - p, p]."""
        self._check_fitted("predict_proba")
        probs = np.asarray(self.model.predict(x, **self.filter_sk_params(_model_method_args("predict"), kwargs)))
        if probs.ndim == 2 and probs.shape[1] == 1:
            probs = np.hstack([1 - probs, probs])
        return probs

    def predict(self, x, **kwargs):
        """Class labels (as given to fit): the most probable class of each sample."""
        self._check_fitted("predict")
        probs = np.asarray(self.model.predict(x, **self.filter_sk_params(_model_method_args("predict"), kwargs)))
        if probs.ndim == 2 and probs.shape[1] > 1:
            index = np.argmax(probs, axis=-1)
        else:
            index = (probs.reshape(len(probs), -1)[:, 0] > 0.5).astype(np.int64)
        return self.classes_[index]

    def score(self, x, y, sample_weight=None, **kwargs):
        """The model's accuracy on (x, y); the model must be compiled with metrics=['accuracy']."""
        self._check_fitted("score")
        y = np.asarray(y)
        if y.ndim == 1 or (y.ndim == 2 and y.shape[1] == 1):
            y = np.searchsorted(self.classes_, y.reshape(-1))
            if trains_on_one_hot(self.model):
                y = to_categorical(y, num_classes=self.n_classes_)
        args = self.filter_sk_params(_model_method_args("evaluate"), kwargs)
        if sample_weight is not None:
            args["sample_weight"] = sample_weight
        outputs = self.model.evaluate(x, y, return_dict=True, **args)
        for name in ("accuracy", "acc"):
            if name in outputs:
                return float(outputs[name])
        raise ValueError("KerasClassifier.score: the model is not configured to compute accuracy; pass "
                         "metrics=['accuracy'] to model.compile()")


class KerasRegressor(RegressorMixin, BaseWrapper):
    """scikit-learn regressor around a fastnn.keras model built by ``build_fn``."""

    def fit(self, x, y, sample_weight=None, **kwargs):
        if sample_weight is not None:
            kwargs["sample_weight"] = sample_weight
        return super().fit(x, y, **kwargs)

    def predict(self, x, **kwargs):
        """Predictions; a single output column is returned as shape (n,)."""
        self._check_fitted("predict")
        pred = np.asarray(self.model.predict(x, **self.filter_sk_params(_model_method_args("predict"), kwargs)))
        return pred[:, 0] if pred.ndim == 2 and pred.shape[1] == 1 else pred

    def score(self, x, y, sample_weight=None, **kwargs):
        """Minus the model's loss on (x, y) (scikit-learn maximises scores)."""
        self._check_fitted("score")
        args = self.filter_sk_params(_model_method_args("evaluate"), kwargs)
        if sample_weight is not None:
            args["sample_weight"] = sample_weight
        return -float(self.model.evaluate(x, y, return_dict=True, **args)["loss"])
