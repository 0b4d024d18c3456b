"""Subclassed models (class M(keras.Model) with call) against their functional twins,
Hands-On ML's WideAndDeepModel as written, training flags, build, saving, and the errors."""
import numpy as np
import pytest

from fastnn import keras
from fastnn.keras import layers as L
from fastnn.keras import ops


@pytest.fixture(autouse=True)
def _floatx():
    old = keras.backend.floatx()
    yield
    keras.backend.set_floatx(old)


def _copy_weights(src_layers, dst_layers):
    for s, d in zip(src_layers, dst_layers):
        d.set_weights(s.get_weights())


def _same_training(m1, m2, x, y, epochs=3, batch_size=16, **fit):
    h1 = m1.fit(x, y, epochs=epochs, batch_size=batch_size, shuffle=False, verbose=0, **fit).history
    h2 = m2.fit(x, y, epochs=epochs, batch_size=batch_size, shuffle=False, verbose=0, **fit).history
    assert sorted(h1) == sorted(h2)
    for k in h1:
        np.testing.assert_allclose(h1[k], h2[k], rtol=1e-6, err_msg=k)
    return h1


# ------------------------------------------------------------------ MLP
class MLP(keras.Model):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.flatten = L.Flatten()
        self.hidden = [L.Dense(30, activation="relu"), L.Dense(20, activation="relu")]
        self.out = L.Dense(10, activation="softmax")

    def call(self, inputs):
        x = self.flatten(inputs)
        for layer in self.hidden:
            x = layer(x)
        return self.out(x)


def test_subclassed_mlp_matches_its_functional_twin(rng):
    x = rng.random((96, 6, 6)).astype(np.float32)
    y = rng.integers(0, 10, 96)
    twin = keras.Sequential([L.Flatten(input_shape=(6, 6)), L.Dense(30, activation="relu"),
                             L.Dense(20, activation="relu"), L.Dense(10, activation="softmax")])
    model = MLP()
    assert not model.built and [type(l).__name__ for l in model.layers] == ["Flatten", "Dense", "Dense", "Dense"]
    model.build((None, 6, 6))
    model.set_weights(twin.get_weights())
    np.testing.assert_array_equal(model.predict(x, verbose=0), twin.predict(x, verbose=0))
    for m in (model, twin):
        m.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    h = _same_training(model, twin, x, y, validation_split=0.25)
    assert h["loss"][-1] < h["loss"][0]
    np.testing.assert_allclose(model.predict(x, verbose=0), twin.predict(x, verbose=0), rtol=1e-6)
    assert model.count_params() == twin.count_params()


# ------------------------------------------------------------------ CNN with BN + Dropout
class CNN(keras.Model):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.conv = L.Conv2D(4, (3, 3), activation="relu")
        self.bn = L.BatchNormalization()
        self.pool = L.MaxPooling2D((2, 2))
        self.flatten = L.Flatten()
        self.dropout = L.Dropout(0.5, seed=7)
        self.dense = L.Dense(3, activation="softmax")

    def call(self, inputs, training=None):
        x = self.conv(inputs)
        x = self.bn(x, training=training)
        x = self.flatten(self.pool(x))
        x = self.dropout(x, training=training)
        return self.dense(x)


class CNNWithIf(CNN):
    """The same network with the dropout chosen by Python control flow on `training`."""

    def call(self, inputs, training=None):
        x = self.flatten(self.pool(self.bn(self.conv(inputs))))
        if training:
            x = self.dropout(x)
        return self.dense(x)


def _cnn_twin():
    return keras.Sequential([L.Conv2D(4, (3, 3), activation="relu", input_shape=(8, 8, 1)),
                             L.BatchNormalization(), L.MaxPooling2D((2, 2)), L.Flatten(),
                             L.Dropout(0.5, seed=7), L.Dense(3, activation="softmax")])


@pytest.mark.parametrize("cls", [CNN, CNNWithIf])
def test_subclassed_cnn_with_batchnorm_and_dropout_matches_twin(cls, rng, backend):
    x = rng.random((40, 8, 8, 1)).astype(np.float32)
    y = keras.utils.to_categorical(rng.integers(0, 3, 40), 3)
    twin, model = _cnn_twin(), cls()
    model.build((None, 8, 8, 1))
    model.set_weights(twin.get_weights())
    for m in (model, twin):
        m.compile(optimizer="sgd", loss="categorical_crossentropy", metrics=["accuracy"])
    _same_training(model, twin, x, y, epochs=2, batch_size=8)
    # training=True reached Dropout and BatchNormalization: moving statistics moved the same way.
    np.testing.assert_allclose(model.bn.get_weights()[2], twin.layers[1].get_weights()[2], rtol=1e-6)
    assert not np.allclose(model.bn.get_weights()[2], 0)
    np.testing.assert_allclose(model.predict(x, verbose=0), twin.predict(x, verbose=0), rtol=1e-5)
    np.testing.assert_allclose(model.evaluate(x, y, verbose=0), twin.evaluate(x, y, verbose=0), rtol=1e-6)
    # Inference is deterministic; model(x, training=True) drops units.
    a, b = model(x[:4]), model(x[:4])
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(model(x[:4], training=True), a)


# ------------------------------------------------------------------ wide & deep
class WideAndDeepModel(keras.Model):
    """Hands-On ML (2nd ed.), chapter 10, as written."""

    def __init__(self, units=30, activation="relu", **kwargs):
        super().__init__(**kwargs)  # handles standard args (e.g., name)
        self.hidden1 = keras.layers.Dense(units, activation=activation)
        self.hidden2 = keras.layers.Dense(units, activation=activation)
        self.main_output = keras.layers.Dense(1)
        self.aux_output = keras.layers.Dense(1)

    def call(self, inputs):
        input_A, input_B = inputs
        hidden1 = self.hidden1(input_B)
        hidden2 = self.hidden2(hidden1)
        concat = keras.layers.concatenate([input_A, hidden2])
        main_output = self.main_output(concat)
        aux_output = self.aux_output(hidden2)
        return main_output, aux_output


def _housing_like(rng, n):
    X = rng.standard_normal((n, 8)).astype(np.float32)
    y = (X[:, :1] * 0.8 - X[:, 3:4] * 0.5 + 0.3 * X[:, 6:7] * X[:, 7:8] + 2).astype(np.float32)
    return X, y


def test_hands_on_ml_wide_and_deep_subclass_runs_as_written(rng):
    X_train, y_train = _housing_like(rng, 300)
    X_valid, y_valid = _housing_like(rng, 60)
    X_test, y_test = _housing_like(rng, 60)
    X_train_A, X_train_B = X_train[:, :5], X_train[:, 2:]
    X_valid_A, X_valid_B = X_valid[:, :5], X_valid[:, 2:]
    X_test_A, X_test_B = X_test[:, :5], X_test[:, 2:]
    X_new_A, X_new_B = X_test_A[:3], X_test_B[:3]

    model = WideAndDeepModel(30, activation="relu")
    model.compile(loss="mse", loss_weights=[0.9, 0.1], optimizer=keras.optimizers.SGD(lr=1e-3))
    history = model.fit((X_train_A, X_train_B), (y_train, y_train), epochs=10,
                        validation_data=((X_valid_A, X_valid_B), (y_valid, y_valid)), verbose=0)
    total_loss, main_loss, aux_loss = model.evaluate((X_test_A, X_test_B), (y_test, y_test), verbose=0)
    y_pred_main, y_pred_aux = model.predict((X_new_A, X_new_B), verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert total_loss == pytest.approx(0.9 * main_loss + 0.1 * aux_loss, rel=1e-5)
    assert y_pred_main.shape == (3, 1) and y_pred_aux.shape == (3, 1)
    np.testing.assert_allclose(np.mean((model.predict((X_test_A, X_test_B), verbose=0)[0] - y_test) ** 2),
                               main_loss, rtol=1e-4)


def test_wide_and_deep_matches_functional_twin(rng):
    X, y = _housing_like(rng, 128)
    xa, xb = X[:, :5], X[:, 2:]
    input_A = keras.Input(shape=[5], name="wide_input")
    input_B = keras.Input(shape=[6], name="deep_input")
    hidden1 = L.Dense(30, activation="relu")(input_B)
    hidden2 = L.Dense(30, activation="relu")(hidden1)
    concat = L.concatenate([input_A, hidden2])
    output = L.Dense(1, name="main_output")(concat)
    aux_output = L.Dense(1, name="aux_output")(hidden2)
    twin = keras.Model(inputs=[input_A, input_B], outputs=[output, aux_output])

    class Named(WideAndDeepModel):
        def __init__(self):
            super().__init__()
            self.main_output = L.Dense(1, name="main_output")
            self.aux_output = L.Dense(1, name="aux_output")

    model = Named()
    model.build([(None, 5), (None, 6)])
    assert model.output_names == ["main_output", "aux_output"]
    _copy_weights([twin.get_layer(index=i) for i in (2, 3)], [model.hidden1, model.hidden2])
    model.main_output.set_weights(twin.get_layer("main_output").get_weights())
    model.aux_output.set_weights(twin.get_layer("aux_output").get_weights())
    for m in (model, twin):
        m.compile(loss="mse", loss_weights=[0.9, 0.1], optimizer=keras.optimizers.SGD(learning_rate=1e-3))
    h = _same_training(model, twin, (xa, xb), (y, y), epochs=4)
    assert set(h) == {"loss", "main_output_loss", "aux_output_loss"}
    for a, b in zip(model.predict((xa, xb), verbose=0), twin.predict((xa, xb), verbose=0)):
        np.testing.assert_allclose(a, b, rtol=1e-6)


class DictModel(keras.Model):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.deep = L.Dense(8, activation="tanh")
        self.main = L.Dense(1)
        self.aux = L.Dense(1)

    def call(self, inputs):
        h = self.deep(inputs["deep"])
        return {"main": self.main(ops.concatenate([inputs["wide"], h], axis=-1)), "aux": self.aux(h)}


def test_dict_inputs_and_outputs(rng):
    X, y = _housing_like(rng, 64)
    x = {"wide": X[:, :5], "deep": X[:, 2:]}
    model = DictModel()
    model.compile(optimizer="sgd", loss={"main": "mse", "aux": "mae"}, loss_weights={"main": 0.9, "aux": 0.1})
    h = model.fit(x, {"main": y, "aux": y}, epochs=3, verbose=0).history
    assert set(h) == {"loss", "main_loss", "aux_loss"}
    assert h["loss"][-1] < h["loss"][0]
    pred = model.predict(x, verbose=0)
    assert set(pred) == {"main", "aux"} and pred["main"].shape == (64, 1)
    assert model.input_names == ["wide", "deep"]


# ------------------------------------------------------------------ build, weights, saving
def test_build_summary_and_weights_roundtrip(rng, tmp_path, capsys):
    keras.backend.clear_session()
    model = WideAndDeepModel(12, name="wd")
    with pytest.raises(ValueError, match="has not been built yet"):
        model.summary()
    model.build([(None, 5), (None, 6)])
    model.summary()
    out = capsys.readouterr().out
    assert 'Model: "wd"' in out and "Connected to" not in out
    assert "dense_2 (Dense)" in out and "(None, 12)" in out
    assert model.count_params() == (6 * 12 + 12) + (12 * 12 + 12) + (17 + 1) + (12 + 1)
    xa, xb = rng.random((5, 5)), rng.random((5, 6))
    model.save_weights(tmp_path / "wd.weights.h5")
    other = WideAndDeepModel(12)
    other.build([(None, 5), (None, 6)])
    other.load_weights(tmp_path / "wd.weights.h5")
    for a, b in zip(model.predict((xa, xb), verbose=0), other.predict((xa, xb), verbose=0)):
        np.testing.assert_array_equal(a, b)


def test_first_call_builds_the_model(rng):
    model = MLP()
    out = model(rng.random((2, 4, 4)))
    assert out.shape == (2, 10) and model.built
    np.testing.assert_allclose(out.sum(axis=1), 1, rtol=1e-5)


def test_save_needs_get_config(rng, tmp_path):
    model = WideAndDeepModel(4)
    model.build([(None, 5), (None, 6)])
    with pytest.raises(NotImplementedError, match=r"WideAndDeepModel.*get_config\(\).*save_weights"):
        model.save(tmp_path / "m.keras")
    with pytest.raises(NotImplementedError, match="get_config"):
        model.to_json()

    class Configurable(WideAndDeepModel):
        def __init__(self, units=30, activation="relu", **kwargs):
            super().__init__(units, activation, **kwargs)
            self.units, self.activation_name = units, activation

        def get_config(self):
            return {**super().get_config(), "units": self.units, "activation": self.activation_name}

    model = Configurable(5, activation="tanh")
    model.compile(optimizer="adam", loss="mse")
    xa, xb, y = rng.random((16, 5)), rng.random((16, 6)), rng.random((16, 1))
    model.fit((xa, xb), (y, y), epochs=1, verbose=0)
    model.save(tmp_path / "m.keras")
    with pytest.raises(ValueError, match="custom_objects"):
        keras.models.load_model(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras", custom_objects={"Configurable": Configurable})
    assert type(loaded) is Configurable and loaded.units == 5
    for a, b in zip(model.predict((xa, xb), verbose=0), loaded.predict((xa, xb), verbose=0)):
        np.testing.assert_array_equal(a, b)


# ------------------------------------------------------------------ errors
class DataDependent(keras.Model):
    def __init__(self):
        super().__init__(name="branchy")
        self.dense = L.Dense(2)

    def call(self, inputs):
        x = self.dense(inputs)
        if ops.sum(x) > 0:           # the line the error names
            x = -x
        return x


def test_data_dependent_python_control_flow_is_refused(rng):
    model = DataDependent()
    model.compile(optimizer="sgd", loss="mse")
    with pytest.raises(TypeError) as err:
        model.fit(rng.random((4, 3)), rng.random((4, 2)), verbose=0)
    msg = str(err.value)
    assert "call() of model 'branchy' (DataDependent)" in msg
    assert "test_keras_subclassing.py" in msg and "if ops.sum(x) > 0:" in msg
    assert "keras.ops.where" in msg


def test_layer_made_inside_call_is_refused(rng):
    class MakesLayer(keras.Model):
        def call(self, inputs):
            return L.Dense(2, name="made_in_call")(inputs)

    with pytest.raises(ValueError, match=r"'made_in_call'.*create layers in __init__"):
        MakesLayer().build((None, 3))



def test_call_must_return_tensors(rng):
    class ReturnsArray(keras.Model):
        def call(self, inputs):
            return np.zeros(3)

    with pytest.raises(TypeError, match=r"ReturnsArray.*must return tensors"):
        ReturnsArray()(rng.random((2, 3)))


# ------------------------------------------------------------------ every Sequential seed program
class Stack(keras.Model):
    """A subclassed model that calls its layers in turn, passing `training` on."""

    def __init__(self, layers, **kwargs):
        super().__init__(**kwargs)
        self.stack = layers

    def call(self, inputs, training=None):
        x = inputs
        for layer in self.stack:
            x = layer(x, training=training)
        return x


SEEDS = {
    "mnist_mlp": (lambda: [L.Dense(512, activation="relu", input_shape=(784,)), L.Dense(10, activation="softmax")],
                  ("rmsprop", "categorical_crossentropy", ["accuracy"]), (784,), "onehot10", 128),
    "regression_mlp": (lambda: [L.Dense(30, activation="relu", input_shape=(8,)), L.Dense(1)],
                       ("sgd", "mean_squared_error", None), (8,), "real", 32),
    "two_class_tabular": (lambda: [L.Dense(4, input_dim=3, kernel_initializer="random_normal", name="Dense1"),
                                   L.Activation("relu", name="hidden"), L.Dense(2), L.Activation("softmax")],
                          ("adam", "categorical_crossentropy", ["accuracy"]), (3,), "onehot2", 8),
    "cnn": (lambda: [L.Conv2D(8, (3, 3), activation="relu", input_shape=(12, 12, 1)), L.BatchNormalization(),
                     L.MaxPooling2D((2, 2)), L.Flatten(), L.Dense(16, activation="relu"),
                     L.Dropout(0.5, seed=11), L.Dense(10, activation="softmax")],
            ("adam", "sparse_categorical_crossentropy", ["accuracy"]), (12, 12, 1), "labels10", 16),
}


@pytest.mark.parametrize("seed", sorted(SEEDS))
def test_subclassed_seed_models_match_sequential(seed, rng):
    make, (opt, loss, metrics), shape, targets, batch = SEEDS[seed]
    x = rng.random((48,) + shape).astype(np.float32)
    labels = rng.integers(0, 10, 48)
    y = {"real": x.reshape(48, -1)[:, :1] * 3, "labels10": labels,
         "onehot10": keras.utils.to_categorical(labels, 10),
         "onehot2": keras.utils.to_categorical(labels % 2, 2)}[targets]
    twin = keras.Sequential(make())
    model = Stack([type(l).from_config(l.get_config()) for l in twin.layers])
    model.build((None,) + shape)
    model.set_weights(twin.get_weights())
    np.testing.assert_array_equal(model.predict(x, verbose=0), twin.predict(x, verbose=0))
    for m in (model, twin):
        m.compile(optimizer=opt, loss=loss, metrics=metrics)
    _same_training(model, twin, x, y, epochs=2, batch_size=batch)
    np.testing.assert_allclose(model.predict(x, verbose=0), twin.predict(x, verbose=0), rtol=1e-5, atol=1e-7)


def test_subclass_with_its_own_build(rng):
    class Built(keras.Model):
        def build(self, input_shape):
            self.dense = L.Dense(input_shape[-1] * 2)
            super().build(input_shape)

        def call(self, inputs):
            return ops.tanh(self.dense(inputs))

    model = Built()
    model.compile(optimizer="sgd", loss="mse")
    model.fit(rng.random((8, 3)), rng.random((8, 6)), verbose=0)
    assert model.built and model.layers == [model.dense] and model.dense.kernel.shape == (3, 6)


# ------------------------------------------------------------------ shared layers
class ResidualBlock(keras.layers.Layer):
    def __init__(self, n_layers, n_neurons, **kwargs):
        super().__init__(**kwargs)
        self.hidden = [L.Dense(n_neurons, activation="relu", kernel_initializer="he_normal")
                       for _ in range(n_layers)]

    def call(self, inputs):
        Z = inputs
        for layer in self.hidden:
            Z = layer(Z)
        return inputs + Z


class ResidualRegressor(keras.Model):
    """Hands-On ML (2nd ed.), chapter 12 (with relu for its elu): block1 is called four times."""

    def __init__(self, output_dim, **kwargs):
        super().__init__(**kwargs)
        self.hidden1 = L.Dense(30, activation="relu", kernel_initializer="he_normal")
        self.block1 = ResidualBlock(2, 30)
        self.block2 = ResidualBlock(2, 30)
        self.out = L.Dense(output_dim)

    def call(self, inputs):
        Z = self.hidden1(inputs)
        for _ in range(1 + 3):
            Z = self.block1(Z)
        Z = self.block2(Z)
        return self.out(Z)


def test_shared_layers_get_the_sum_of_their_gradients(rng):
    keras.backend.set_floatx("float64")
    from fastnn.gradient import numerical_gradient

    class Twice(keras.Model):
        def __init__(self):
            super().__init__()
            self.d = L.Dense(3, activation="tanh")
            self.bn = L.BatchNormalization()
            self.drop = L.Dropout(0.3, seed=1)
            self.out = L.Dense(1)

        def call(self, inputs):
            return self.out(self.drop(self.bn(self.d(self.d(self.bn(inputs))))))

    model = Twice()
    model.build((None, 3))
    model.compile(optimizer="sgd", loss="mse")
    model._resolve_losses()
    x, y = rng.standard_normal((5, 3)), rng.standard_normal((5, 1))
    loss = model._losses[0]
    graph = model._graph

    def value():
        model.drop._rng = np.random.default_rng(0)                 # the same mask every time
        mm, mv = model.bn.params["moving_mean"].copy(), model.bn.params["moving_variance"].copy()
        out = graph.forward([x], True)[0]
        model.bn.params["moving_mean"][...], model.bn.params["moving_variance"][...] = mm, mv
        return out, loss.value(y, out)

    out, _ = value()
    graph.backward([loss.grad(y, out)], [False])
    keys, params = model._trainable()
    grads = [g.copy() for g in model._trainable_grads()]
    assert len(keys) == 2 + 2 + 2
    for key, p, g in zip(keys, params, grads):
        num = numerical_gradient(lambda _: value()[1], p)
        np.testing.assert_allclose(g, num, rtol=1e-5, atol=1e-8, err_msg=key)


def test_hands_on_ml_residual_regressor_trains(rng, tmp_path):
    keras.backend.set_random_seed(5)
    X = rng.standard_normal((256, 8)).astype(np.float32)
    y = (X[:, :1] * X[:, 1:2] + X[:, 2:3]).astype(np.float32)
    model = ResidualRegressor(1)
    model.compile(loss="mse", optimizer="adam")
    history = model.fit(X, y, epochs=5, verbose=0)
    assert history.history["loss"][-1] < 0.5 * history.history["loss"][0]
    assert [type(l).__name__ for l in model.layers] == ["Dense", "ResidualBlock", "ResidualBlock", "Dense"]
    assert model.count_params() == (8 * 30 + 30) + 2 * 2 * (30 * 30 + 30) + 31
    assert list(model.block2.params) == ["dense/kernel", "dense/bias", "dense_1/kernel", "dense_1/bias"]
    model.save_weights(tmp_path / "residual.weights.h5")
    other = ResidualRegressor(1)
    other.build((None, 8))
    other.load_weights(tmp_path / "residual.weights.h5")
    np.testing.assert_array_equal(other.predict(X, verbose=0), model.predict(X, verbose=0))
