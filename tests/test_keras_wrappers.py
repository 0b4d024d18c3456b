"""scikit-learn wrappers: tf.keras 2's KerasClassifier/KerasRegressor and Keras 3's SKLearn*."""
import sys

import numpy as np
import pytest

from fastnn import keras
from fastnn.keras import layers as L

sklearn = pytest.importorskip("sklearn")
from sklearn.base import clone  # noqa: E402
from sklearn.model_selection import RandomizedSearchCV, cross_val_score  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

from fastnn.keras.wrappers.scikit_learn import KerasClassifier, KerasRegressor  # noqa: E402


def regression(n=300, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 8)).astype(np.float32)
    y = (x @ rng.standard_normal(8) + 0.5 * x[:, 0] ** 2 + 0.1 * rng.standard_normal(n)).astype(np.float32)
    return x, y


def classification(n=300, seed=0, labels=("cat", "dog", "emu")):
    rng = np.random.default_rng(seed)
    k = rng.integers(0, len(labels), n)
    x = (np.eye(len(labels), 6)[k] * 2 + 0.5 * rng.standard_normal((n, 6))).astype(np.float32)
    return x, np.array(labels)[k]


# ---------------------------------------------------------------- tf.keras 2 API (Hands-On ML)
def build_model(n_hidden=1, n_neurons=30, learning_rate=3e-3, input_shape=[8]):
    model = keras.models.Sequential()
    model.add(keras.layers.InputLayer(input_shape=input_shape))
    for _ in range(n_hidden):
        model.add(keras.layers.Dense(n_neurons, activation="relu"))
    model.add(keras.layers.Dense(1))
    model.compile(loss="mse", optimizer=keras.optimizers.SGD(learning_rate=learning_rate))
    return model


def test_keras_regressor_fit_score_predict_like_the_notebook():
    keras.utils.set_random_seed(0)
    x, y = regression()
    reg = keras.wrappers.scikit_learn.KerasRegressor(build_model, learning_rate=1e-2)
    history = reg.fit(x[:200], y[:200], epochs=30, verbose=0, validation_data=(x[200:250], y[200:250]),
                      callbacks=[keras.callbacks.EarlyStopping(patience=5)])
    assert list(history.history)[:2] == ["loss", "val_loss"]
    mse = reg.model.evaluate(x[250:], y[250:], verbose=0)
    assert reg.score(x[250:], y[250:], verbose=0) == pytest.approx(-mse, rel=1e-6)
    pred = reg.predict(x[250:], verbose=0)
    assert pred.shape == (50,)
    np.testing.assert_allclose(np.mean((pred - y[250:]) ** 2), mse, rtol=1e-4)
    assert mse < np.var(y[250:])                               # it learned something
    assert reg.predict(x[:1], verbose=0).shape == (1,)


def test_keras_regressor_params_clone_and_bad_params():
    reg = KerasRegressor(build_model, n_hidden=2, epochs=3, callbacks=[keras.callbacks.EarlyStopping()])
    params = reg.get_params()
    assert params["build_fn"] is build_model and params["n_hidden"] == 2 and params["epochs"] == 3
    twin = clone(reg)
    assert twin is not reg and twin.get_params()["n_hidden"] == 2
    reg.set_params(n_neurons=7, batch_size=16)
    assert reg.get_params()["n_neurons"] == 7
    with pytest.raises(ValueError, match="'n_layers' is not a legal parameter"):
        KerasRegressor(build_model, n_layers=3)
    with pytest.raises(ValueError, match="'colour' is not a legal parameter"):
        reg.set_params(colour="red")
    with pytest.raises(AttributeError, match="call fit before predict"):
        KerasRegressor(build_model).predict(np.zeros((2, 8)))


def test_randomized_search_like_the_notebook():
    keras.utils.set_random_seed(1)
    x, y = regression(240)
    reg = KerasRegressor(build_model, verbose=0)
    search = RandomizedSearchCV(reg, {"n_hidden": [0, 1], "n_neurons": [4, 16], "learning_rate": [3e-3, 1e-2]},
                                n_iter=3, cv=3, random_state=0)
    search.fit(x[:180], y[:180], epochs=5, validation_data=(x[180:], y[180:]),
               callbacks=[keras.callbacks.EarlyStopping(patience=2)])
    assert set(search.best_params_) == {"n_hidden", "n_neurons", "learning_rate"}
    assert np.isfinite(search.best_score_) and search.best_score_ < 0
    model = search.best_estimator_.model
    assert isinstance(model, keras.Model)
    assert search.score(x[180:], y[180:]) == pytest.approx(-model.evaluate(x[180:], y[180:], verbose=0), rel=1e-6)


def build_classifier(hidden=16, loss="sparse_categorical_crossentropy", n_classes=3):
    model = keras.Sequential([L.Dense(hidden, activation="relu", input_shape=(6,)),
                              L.Dense(n_classes, activation="softmax")])
    model.compile(loss=loss, optimizer=keras.optimizers.Adam(1e-2), metrics=["accuracy"])
    return model


@pytest.mark.parametrize("loss", ["sparse_categorical_crossentropy", "categorical_crossentropy"])
def test_keras_classifier_labels_probabilities_and_score(loss):
    keras.utils.set_random_seed(2)
    x, y = classification()
    clf = KerasClassifier(build_classifier, loss=loss, epochs=15, verbose=0)
    clf.fit(x[:200], y[:200])
    np.testing.assert_array_equal(clf.classes_, ["cat", "dog", "emu"])
    proba = clf.predict_proba(x[200:])
    assert proba.shape == (100, 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-5)
    pred = clf.predict(x[200:])
    np.testing.assert_array_equal(pred, clf.classes_[np.argmax(proba, axis=1)])
    acc = np.mean(pred == y[200:])
    assert acc > 0.9
    assert clf.score(x[200:], y[200:]) == pytest.approx(acc, abs=1e-6)


def test_keras_classifier_binary_sigmoid_and_missing_accuracy():
    keras.utils.set_random_seed(3)
    x, y = classification(labels=("no", "yes"))

    def build():
        m = keras.Sequential([L.Dense(1, activation="sigmoid", input_shape=(6,))])
        m.compile("adam", "binary_crossentropy")
        return m

    clf = KerasClassifier(build, epochs=20, verbose=0)
    clf.fit(x, y)
    proba = clf.predict_proba(x)
    assert proba.shape == (300, 2)
    np.testing.assert_allclose(proba[:, 1], clf.model.predict(x, verbose=0)[:, 0])
    np.testing.assert_array_equal(clf.predict(x), np.where(proba[:, 1] > 0.5, "yes", "no"))
    with pytest.raises(ValueError, match="not configured to compute accuracy"):
        clf.score(x, y)


def test_keras_classifier_in_cross_val_score():
    keras.utils.set_random_seed(4)
    x, y = classification(240)
    scores = cross_val_score(KerasClassifier(build_classifier, epochs=10, verbose=0), x, y, cv=3)
    assert scores.shape == (3,) and np.all(scores > 0.8)


# ---------------------------------------------------------------- Keras 3 API
def dynamic_model(X, y, loss, layers=(10,)):
    inp = keras.Input(shape=(X.shape[1],))
    hidden = inp
    for size in layers:
        hidden = L.Dense(size, activation="relu")(hidden)
    n_out = y.shape[1] if y.ndim > 1 else 1
    out = L.Dense(n_out, activation="softmax" if loss == "categorical_crossentropy" else None)(hidden)
    model = keras.Model(inp, out)
    model.compile(loss=loss, optimizer=keras.optimizers.Adam(1e-2))
    return model


def test_sklearn_classifier_with_a_builder_in_a_pipeline_and_cv():
    keras.utils.set_random_seed(5)
    x, y = classification(240)
    est = keras.wrappers.SKLearnClassifier(model=dynamic_model,
                                           model_kwargs={"loss": "categorical_crossentropy", "layers": [16]},
                                           fit_kwargs={"epochs": 15, "verbose": 0})
    est.fit(x[:180], y[:180])
    assert est.n_features_in_ == 6 and list(est.classes_) == ["cat", "dog", "emu"]
    assert est.model_.output_shape == (None, 3)
    proba = est.predict_proba(x[180:])
    np.testing.assert_array_equal(est.predict(x[180:]), est.classes_[proba.argmax(1)])
    assert est.score(x[180:], y[180:]) == pytest.approx(np.mean(est.predict(x[180:]) == y[180:]))
    assert est.score(x[180:], y[180:]) > 0.85
    assert len(est.history_["loss"]) == 15
    scores = cross_val_score(make_pipeline(StandardScaler(), clone(est)), x, y, cv=3)
    assert np.all(scores > 0.8)
    with pytest.raises(ValueError, match="were not seen in fit"):
        est._process_target(np.array(["cat", "yak"]))


def test_sklearn_regressor_with_a_model_instance_is_cloned_and_searchable():
    keras.utils.set_random_seed(6)
    x, y = regression(240)
    template = keras.Sequential([L.Dense(16, activation="relu", input_shape=(8,)), L.Dense(1)])
    template.compile(keras.optimizers.Adam(1e-2), "mse")
    before = template.get_weights()
    reg = keras.wrappers.SKLearnRegressor(model=template, fit_kwargs={"epochs": 20, "verbose": 0})
    reg.fit(x[:180], y[:180])
    for a, b in zip(before, template.get_weights()):
        np.testing.assert_array_equal(a, b)                    # the template was not trained
    assert reg.model_ is not template and reg.model_.optimizer is not template.optimizer
    pred = reg.predict(x[180:])
    assert pred.shape == (60,)
    r2 = 1 - np.sum((y[180:] - pred) ** 2) / np.sum((y[180:] - y[180:].mean()) ** 2)
    assert reg.score(x[180:], y[180:]) == pytest.approx(r2, rel=1e-4)
    assert r2 > 0.5
    twin = clone(reg)
    assert twin.model is template and not hasattr(twin, "model_")
    search = RandomizedSearchCV(reg, {"fit_kwargs": [{"epochs": 2, "verbose": 0}, {"epochs": 8, "verbose": 0}]},
                                n_iter=2, cv=2, random_state=0).fit(x, y)
    assert search.best_params_["fit_kwargs"]["epochs"] == 8


def test_sklearn_warm_start_continues_training_and_errors():
    x, y = regression(100)
    reg = keras.wrappers.SKLearnRegressor(model=dynamic_model, model_kwargs={"loss": "mse"}, warm_start=True,
                                          fit_kwargs={"epochs": 1, "verbose": 0})
    reg.fit(x, y)
    first = reg.model_
    reg.fit(x, y)
    assert reg.model_ is first and first.optimizer.iterations == 2 * 4
    with pytest.raises(TypeError, match="compiled fastnn.keras Model or a callable"):
        keras.wrappers.SKLearnRegressor(model="mlp").fit(x, y)

    def uncompiled(X, y):
        return keras.Sequential([L.Dense(1, input_shape=(8,))])

    with pytest.raises(RuntimeError, match="must be compiled"):
        keras.wrappers.SKLearnRegressor(model=uncompiled).fit(x, y)
    with pytest.raises(ValueError, match="only binary and multiclass"):
        keras.wrappers.SKLearnClassifier(model=dynamic_model).fit(x, y)


def test_missing_scikit_learn_names_the_extra(monkeypatch):
    for name in [m for m in sys.modules if m.startswith("fastnn.keras.wrappers.")]:
        monkeypatch.delitem(sys.modules, name)
        monkeypatch.delattr(keras.wrappers, name.rsplit(".", 1)[1], raising=False)
    monkeypatch.setitem(sys.modules, "sklearn", None)
    with pytest.raises(ImportError, match=r"fastnn\[sklearn\]"):
        keras.wrappers.SKLearnClassifier
    with pytest.raises(ImportError, match=r"fastnn\[sklearn\]"):
        keras.wrappers.scikit_learn
