"""``keras.wrappers``: fastnn.keras models as scikit-learn estimators.

* ``SKLearnClassifier`` / ``SKLearnRegressor`` / ``SKLearnTransformer`` (Keras 3):
  ``SKLearnRegressor(model=build, model_kwargs={...}, fit_kwargs={...})``, where
  ``model`` is a compiled model (cloned before each fit) or a function
  ``build(X, y, **model_kwargs)`` returning one;
* ``scikit_learn.KerasClassifier`` / ``scikit_learn.KerasRegressor`` (tf.keras 2,
  the API of Hands-On ML): ``KerasRegressor(build_fn, **sk_params)``.

Both kinds support ``fit``, ``predict``, ``predict_proba`` (classifiers),
``score``, ``get_params``/``set_params``, ``sklearn.base.clone``, and work inside
``RandomizedSearchCV``/``GridSearchCV``, ``cross_val_score`` and pipelines.
They need scikit-learn: ``pip install "fastnn[sklearn]"``. This package imports
without it; using a wrapper without it raises an ``ImportError`` naming the extra.
"""
import importlib

_KERAS3 = ("SKLearnClassifier", "SKLearnRegressor", "SKLearnTransformer")

__all__ = list(_KERAS3) + ["scikit_learn"]


def __getattr__(name):
    if name in _KERAS3:
        return getattr(importlib.import_module("._sklearn", __name__), name)
    if name == "scikit_learn":
        return importlib.import_module(".scikit_learn", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
