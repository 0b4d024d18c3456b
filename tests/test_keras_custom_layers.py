"""Custom layers (build / add_weight / call with keras.ops), Lambda, custom losses and metrics:
trained with automatic gradients, checked against built-in twins and numerical gradients."""
import numpy as np
import pytest

from fastnn import keras
from fastnn.gradient import numerical_gradient
from fastnn.keras import layers as L
from fastnn.keras import ops


@pytest.fixture
def float64():
    old = keras.backend.floatx()
    keras.backend.set_floatx("float64")
    yield
    keras.backend.set_floatx(old)


class MyDense(keras.layers.Layer):
    """Hands-On ML (2nd ed.), chapter 12, with keras.ops."""

    def __init__(self, units, activation=None, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.activation = keras.activations.get(activation)

    def build(self, batch_input_shape):
        self.kernel = self.add_weight(name="kernel", shape=[batch_input_shape[-1], self.units],
                                      initializer="glorot_normal")
        self.bias = self.add_weight(name="bias", shape=[self.units], initializer="zeros")
        super().build(batch_input_shape)

    def call(self, X):
        return self.activation(ops.matmul(X, self.kernel) + self.bias)

    def get_config(self):
        base_config = super().get_config()
        return {**base_config, "units": self.units, "activation": keras.activations.serialize(self.activation)}


class ResidualBlock(keras.layers.Layer):
    """Layers inside a layer (Hands-On ML chapter 12), plus a weight of its own."""

    def __init__(self, n_layers, n_neurons, **kwargs):
        super().__init__(**kwargs)
        self.hidden = [L.Dense(n_neurons, activation="tanh") for _ in range(n_layers)]

    def build(self, input_shape):
        self.scale = self.add_weight(name="scale", shape=(), initializer="ones")

    def call(self, inputs):
        Z = inputs
        for layer in self.hidden:
            Z = layer(Z)
        return inputs + self.scale * Z


def test_custom_dense_trains_like_dense(float64, rng, backend):
    keras.backend.set_random_seed(0)
    X = rng.standard_normal((64, 8))
    y = X[:, :1] * 2 - X[:, 1:2]
    custom = keras.Sequential([MyDense(16, activation="relu", input_shape=(8,)), MyDense(1)])
    builtin = keras.Sequential([L.Dense(16, activation="relu", input_shape=(8,)), L.Dense(1)])
    assert [w.shape for w in custom.get_weights()] == [(8, 16), (16,), (16, 1), (1,)]
    builtin.set_weights(custom.get_weights())
    histories = []
    for m in (custom, builtin):
        m.compile(optimizer=keras.optimizers.SGD(learning_rate=0.05, momentum=0.9), loss="mse")
        histories.append(m.fit(X, y, epochs=8, batch_size=16, shuffle=False, verbose=0).history["loss"])
    np.testing.assert_allclose(histories[0], histories[1], rtol=1e-10)
    assert histories[0][-1] < 0.6 * histories[0][0]
    for a, b in zip(custom.get_weights(), builtin.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)


def _loss_and_grads(model, x, y):
    """The training step's loss and weight gradients, without the update."""
    loss = model._losses[0]
    out = model._graph.forward([x], True)[0]
    model._graph.backward([loss.grad(y, out)], [False])
    return loss.value(y, out), model._trainable_grads()


def test_custom_layer_gradients_match_numerical(float64, rng):
    model = keras.Sequential([MyDense(5, activation="tanh", input_shape=(4,)), ResidualBlock(2, 5),
                              L.Lambda(lambda z: ops.softplus(z) * ops.sigmoid(z[:, :1])), L.Dense(2)])
    model.compile(optimizer="sgd", loss="mse")
    x, y = rng.standard_normal((6, 4)), rng.standard_normal((6, 2))
    model._resolve_losses()
    _, grads = _loss_and_grads(model, x, y)
    keys, params = model._trainable()
    # MyDense kernel, bias; the block's scale and its two Dense layers; the last Dense.
    assert len(keys) == 2 + 1 + 4 + 2
    for key, p, g in zip(keys, params, grads):
        num = numerical_gradient(lambda _: _loss_and_grads(model, x, y)[0], p)
        np.testing.assert_allclose(g, num, rtol=1e-5, atol=1e-8, err_msg=key)


class DenseTranspose(keras.layers.Layer):
    """Hands-On ML (2nd ed.), chapter 17: a decoder layer tied to an encoder's Dense kernel."""

    def __init__(self, dense, activation=None, **kwargs):
        self.dense = dense
        self.activation = keras.activations.get(activation)
        super().__init__(**kwargs)

    def build(self, batch_input_shape):
        self.biases = self.add_weight(name="bias", shape=[self.dense.input_shape[-1]], initializer="zeros")
        super().build(batch_input_shape)

    def call(self, inputs):
        z = ops.matmul(inputs, ops.transpose(self.dense.weights[0]))
        return self.activation(z + self.biases)


def test_tied_weights_get_both_gradients(float64, rng):
    dense_1 = L.Dense(5, activation="tanh")
    dense_2 = L.Dense(3, activation="tanh")
    model = keras.Sequential([keras.Input(shape=(6,)), dense_1, dense_2,
                              DenseTranspose(dense_2, activation="tanh"), DenseTranspose(dense_1)])
    model.compile(optimizer="sgd", loss="mse")
    model._resolve_losses()
    keys, params = model._trainable()
    assert len(keys) == 2 + 2 + 1 + 1            # the tied kernels are updated once
    assert model.count_params() == (6 * 5 + 5) + (5 * 3 + 3) + 5 + 6
    x = rng.standard_normal((7, 6))
    _, grads = _loss_and_grads(model, x, x)
    for key, p, g in zip(keys, params, grads):
        num = numerical_gradient(lambda _: _loss_and_grads(model, x, x)[0], p)
        np.testing.assert_allclose(g, num, rtol=1e-5, atol=1e-8, err_msg=key)
    h = model.fit(x, x, epochs=30, verbose=0).history["loss"]
    assert h[-1] < h[0]


def test_residual_block_exposes_its_sublayers_weights(rng):
    block = ResidualBlock(2, 3, name="block")
    model = keras.Sequential([keras.Input(shape=(3,)), block])
    names = list(block.params)
    assert names == ["scale", "dense/kernel", "dense/bias", "dense_1/kernel", "dense_1/bias"]
    assert block.count_params() == 1 + 2 * (3 * 3 + 3)
    model.compile(optimizer="adam", loss="mse")
    x = rng.standard_normal((32, 3)).astype(np.float32)
    h = model.fit(x, np.tanh(x), epochs=20, verbose=0).history["loss"]
    assert h[-1] < h[0]
    assert block.get_weights()[0] != 1.0      # its own weight was trained too


def test_get_config_from_config_and_saving_with_custom_objects(rng, tmp_path):
    layer = MyDense(3, activation="relu", name="mine")
    clone = MyDense.from_config(layer.get_config())
    assert (clone.name, clone.units, clone.activation.name) == ("mine", 3, "relu")
    inputs = keras.Input(shape=(4,))
    outputs = L.Dense(2)(MyDense(3, activation="relu")(inputs))
    model = keras.Model(inputs, outputs)
    model.compile(optimizer="sgd", loss="mse")
    x = rng.random((8, 4)).astype(np.float32)
    model.save(tmp_path / "m.keras")
    with pytest.raises(ValueError, match="MyDense"):
        keras.models.load_model(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras", custom_objects={"MyDense": MyDense})
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


def test_eager_call_and_add_weight_forms(rng):
    layer = MyDense(2)
    out = layer(rng.random((3, 4)))
    assert out.shape == (3, 2) and layer.built
    x = rng.random((3, 4)).astype(np.float32)
    np.testing.assert_allclose(layer(x), x @ layer.kernel.numpy() + layer.bias.numpy(), rtol=1e-6)
    assert layer.kernel.shape == (4, 2) and layer.kernel.path == f"{layer.name}/kernel"
    layer.bias.assign(np.ones(2))
    np.testing.assert_array_equal(layer.get_weights()[1], [1, 1])

    class KerasThreeStyle(keras.layers.Layer):
        def build(self, input_shape):
            self.w = self.add_weight((input_shape[-1],), initializer=lambda shape, dtype=None: np.full(shape, 2.0))
            self.counter = self.add_weight(shape=(), initializer="zeros", trainable=False, name="counter")

        def call(self, x):
            return x * self.w

    k = KerasThreeStyle()
    np.testing.assert_allclose(k(np.ones((1, 3))), [[2, 2, 2]])
    assert list(k.params) == ["variable", "counter"] and k.trainable_param_names() == ["variable"]


def test_lambda_layer(rng):
    double = L.Lambda(lambda x: x * 2.0)
    np.testing.assert_array_equal(double(np.ones((2, 3))), 2 * np.ones((2, 3)))
    inputs = keras.Input(shape=(4,))
    x = L.Lambda(lambda t, k: ops.square(t) * k, arguments={"k": 0.5})(inputs)
    model = keras.Model(inputs, L.Dense(1)(x))
    model.compile(optimizer="sgd", loss="mse")
    xs = rng.random((32, 4)).astype(np.float32)
    h = model.fit(xs, (xs ** 2).sum(axis=1, keepdims=True), epochs=5, verbose=0).history["loss"]
    assert h[-1] < h[0]
    with pytest.raises(NotImplementedError, match="Lambda .* holds Python code"):
        model.to_json()
    with pytest.raises(ValueError, match=r"output_shape=\(3,\)"):
        L.Lambda(lambda t: t, output_shape=(3,))(inputs)


def test_custom_loss_and_metric_callables(float64, rng):
    def my_mse(y_true, y_pred):
        return ops.mean(ops.square(y_pred - y_true), axis=-1)

    def my_mae(y_true, y_pred):
        return ops.mean(ops.abs(y_pred - y_true), axis=-1)

    X = rng.standard_normal((48, 5))
    y = X[:, :2] * 3
    hists = []
    for loss in ("mse", my_mse):
        keras.backend.set_random_seed(3)
        m = keras.Sequential([L.Dense(8, activation="relu", input_shape=(5,)), L.Dense(2)])
        m.compile(optimizer="adam", loss=loss, metrics=[my_mae, "mae"])
        hists.append(m.fit(X, y, epochs=3, batch_size=16, shuffle=False, verbose=0,
                           sample_weight=np.linspace(0.5, 1.5, 48)).history)
    np.testing.assert_allclose(hists[0]["loss"], hists[1]["loss"], rtol=1e-10)
    np.testing.assert_allclose(hists[1]["my_mae"], hists[1]["mae"], rtol=1e-10)


def test_loss_subclass_with_call(float64, rng):
    class HuberLoss(keras.losses.Loss):
        def __init__(self, threshold=1.0, **kwargs):
            self.threshold = threshold
            super().__init__(**kwargs)

        def call(self, y_true, y_pred):
            error = y_true - y_pred
            is_small_error = ops.abs(error) < self.threshold
            squared_loss = ops.square(error) / 2
            linear_loss = self.threshold * ops.abs(error) - self.threshold ** 2 / 2
            return ops.where(is_small_error, squared_loss, linear_loss)

    t, p = rng.standard_normal((10, 1)) * 3, rng.standard_normal((10, 1))
    e = np.abs(t - p)
    expected = np.mean(np.where(e < 2.0, e ** 2 / 2, 2.0 * e - 2.0))
    huber = HuberLoss(2.0)
    assert huber(t, p) == pytest.approx(expected, rel=1e-12)
    model = keras.Sequential([L.Dense(1, input_shape=(3,))])
    model.compile(optimizer="sgd", loss=HuberLoss(2.0))
    x = rng.standard_normal((40, 3))
    h = model.fit(x, x @ np.array([[3.0], [-2.0], [1.0]]), epochs=5, verbose=0).history["loss"]
    assert h[-1] < h[0]


# ------------------------------------------------------------------ errors
def test_misuse_errors_name_the_layer(rng):
    class BadShapes(keras.layers.Layer):
        def call(self, x):
            return x + np.ones(5)

    with pytest.raises(ValueError, match=r"keras.ops.add in call\(\) of layer 'bad' \(BadShapes\).*\(None, 3\)"):
        keras.Sequential([keras.Input(shape=(3,)), BadShapes(name="bad")])

    class Branchy(keras.layers.Layer):
        def call(self, x):
            if ops.max(x) > 1:
                return x
            return -x

    with pytest.raises(TypeError, match=r"call\(\) of layer 'branchy' \(Branchy\).*if ops.max\(x\) > 1:"):
        keras.Sequential([keras.Input(shape=(3,)), Branchy()])
    np.testing.assert_array_equal(Branchy(name="eager")(np.full((1, 2), 2.0)), [[2, 2]])   # eager is fine

    class NoCall(keras.layers.Layer):
        pass

    with pytest.raises(NotImplementedError, match=r"NoCall 'no_call'.*must define call"):
        NoCall()(keras.Input(shape=(2,)))

    class BadWeight(keras.layers.Layer):
        def build(self, input_shape):
            self.add_weight(name="w", shape=("a", 2))

        def call(self, x):
            return x

    with pytest.raises(TypeError, match="BadWeight 'bad_weight': add_weight shape"):
        BadWeight()(np.ones((1, 2)))


def test_example_script_runs():
    import os
    import re
    import subprocess
    import sys
    from pathlib import Path
    root = Path(__file__).resolve().parents[1]
    env = dict(os.environ, PYTHONPATH=str(root) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run([sys.executable, str(root / "examples" / "keras_custom_layer.py"), "--quick"],
                          capture_output=True, text=True, env=env, timeout=300, cwd=root)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout
    assert "d price / d (apple, apple_num, orange, orange_num, tax): 2.2 110.0 3.3 165.0 650.0" in out
    assert "my_dense (MyDense)" in out and "main_output (Dense)" in out
    assert "call() traced into: my_dense -> my_dense_1 -> dropout -> concatenate" in out
    total, first = map(float, re.search(r"test loss: ([0-9.]+) .*first epoch loss ([0-9.]+)", out).groups())
    assert total < first
    for diff in re.findall(r"max \|backprop - numerical\| = ([0-9.e+-]+)", out):
        assert float(diff) < 1e-6
