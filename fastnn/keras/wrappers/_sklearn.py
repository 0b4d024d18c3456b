"""Keras 3's scikit-learn wrappers: ``SKLearnClassifier``, ``SKLearnRegressor``, ``SKLearnTransformer``.

    def build(X, y, hidden=20):                 # model(X=..., y=..., **model_kwargs)
        model = keras.Sequential([keras.Input((X.shape[1],)), keras.layers.Dense(hidden, activation="relu"),
                                  keras.layers.Dense(y.shape[1], activation="softmax")])
        model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
        return model

    clf = keras.wrappers.SKLearnClassifier(model=build, model_kwargs={"hidden": 32}, fit_kwargs={"epochs": 20})

``model`` is a compiled model (cloned with its compile settings before each
fit, so the one given stays untouched) or a callable taking ``X`` and ``y``
(already encoded: the classifier passes one-hot targets, the regressor a 2-D
``y``) plus ``model_kwargs``. ``fit_kwargs`` go to ``Model.fit``; keyword
arguments of ``fit`` override them. With ``warm_start=True`` a second ``fit``
continues training the fitted model. After fit: ``model_`` (the trained model),
``history_`` (its ``history.history``), ``n_features_in_``, and for the
classifier ``classes_``. ``score`` is scikit-learn's: accuracy for the
classifier, R^2 for the regressor.
"""
import numpy as np

from ._sklearn_support import check_compiled, clone_compiled, require_sklearn

require_sklearn("keras.wrappers.SKLearnClassifier/SKLearnRegressor")
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, TransformerMixin  # noqa: E402
from sklearn.utils.multiclass import type_of_target  # noqa: E402
from sklearn.utils.validation import check_is_fitted  # noqa: E402

try:                                         # scikit-learn >= 1.6
    from sklearn.utils.validation import validate_data as _validate_data
except ImportError:                          # older: the estimator's own method
    def _validate_data(estimator, *args, **kwargs):
        return estimator._validate_data(*args, **kwargs)


class SKLBase(BaseEstimator):
    """Shared fit/predict logic; subclasses encode and decode the targets."""

    def __init__(self, model, warm_start=False, model_kwargs=None, fit_kwargs=None):
        self.model = model
        self.warm_start = warm_start
        self.model_kwargs = model_kwargs
        self.fit_kwargs = fit_kwargs

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = True
        return tags

    def __sklearn_clone__(self):
        # The model (or builder) is a template that fit never changes: share it, as Keras does.
        return type(self)(model=self.model, warm_start=self.warm_start, model_kwargs=self.model_kwargs,
                          fit_kwargs=self.fit_kwargs)

    def _get_model(self, X, y):
        from .._model import Model
        where = f"{type(self).__name__}.fit"
        if self.warm_start and hasattr(self, "model_"):
            return self.model_
        if isinstance(self.model, Model):
            return clone_compiled(check_compiled(self.model, where))
        if not callable(self.model):
            raise TypeError(f"{where}: model must be a compiled fastnn.keras Model or a callable returning one, "
                            f"got {type(self.model).__name__}")
        return check_compiled(self.model(X=X, y=y, **(self.model_kwargs or {})), where)

    def fit(self, X, y, **kwargs):
        """Train on (X, y); keyword arguments go to ``Model.fit`` (over ``fit_kwargs``)."""
        X, y = _validate_data(self, X, y, reset=not (self.warm_start and hasattr(self, "model_")),
                              multi_output=True)
        y = self._process_target(y, reset=not (self.warm_start and hasattr(self, "model_")))
        model = self._get_model(X, y)
        fit_kwargs = dict(self.fit_kwargs or {})
        fit_kwargs.update(kwargs)
        self.history_ = model.fit(X, y, **fit_kwargs).history
        self.model_ = model
        return self

    def _raw_predict(self, X):
        check_is_fitted(self)
        X = _validate_data(self, X, reset=False)
        return np.asarray(self.model_.predict(X, verbose=0))

    def predict(self, X):
        """Predictions in the form of the targets given to fit."""
        return self._reverse_process_target(self._raw_predict(X))

    def _process_target(self, y, reset=False):
        y = np.asarray(y)
        if reset:
            self.target_ndim_ = y.ndim
        return y.reshape(-1, 1) if y.ndim == 1 else y

    def _reverse_process_target(self, y):
        return y[:, 0] if self.target_ndim_ == 1 and y.ndim == 2 and y.shape[1] == 1 else y


class SKLearnClassifier(ClassifierMixin, SKLBase):
    """Classifier: labels of any kind -> one-hot targets for the model; predict gives labels back."""

    def _process_target(self, y, reset=False):
        y = np.asarray(y)
        kind = type_of_target(y)
        if kind not in ("binary", "multiclass"):
            raise ValueError(f"SKLearnClassifier: only binary and multiclass targets are supported, got {kind} "
                             f"targets of shape {y.shape}")
        y = y.reshape(-1)
        if reset:
            self.classes_ = np.unique(y)
            if len(self.classes_) < 2:
                raise ValueError("SKLearnClassifier: fit needs at least two classes in y")
        index = np.searchsorted(self.classes_, y)
        bad = (index >= len(self.classes_)) | (self.classes_[np.minimum(index, len(self.classes_) - 1)] != y)
        if np.any(bad):
            raise ValueError(f"SKLearnClassifier: labels {np.unique(y[bad])[:5].tolist()} were not seen in fit")
        onehot = np.zeros((len(y), len(self.classes_)), dtype=np.float32)
        onehot[np.arange(len(y)), index] = 1
        return onehot

    def _reverse_process_target(self, y):
        if y.ndim == 2 and y.shape[1] == 1:
            return self.classes_[(y[:, 0] > 0.5).astype(np.int64)]
        return self.classes_[np.argmax(y, axis=-1)]

    def predict_proba(self, X):
        """Class probabilities, one column per entry of ``classes_``."""
        probs = self._raw_predict(X)
        return np.hstack([1 - probs, probs]) if probs.ndim == 2 and probs.shape[1] == 1 else probs

    def decision_function(self, X):
        """The model's raw outputs."""
        return self._raw_predict(X)


class SKLearnRegressor(RegressorMixin, SKLBase):
    """Regressor: y of shape (n,) is fed as (n, 1) and predictions come back as (n,)."""


class SKLearnTransformer(TransformerMixin, SKLBase):
    """Transformer: ``transform(X)`` is the fitted model's output (e.g. an embedding)."""

    def transform(self, X):
        return self._raw_predict(X)
