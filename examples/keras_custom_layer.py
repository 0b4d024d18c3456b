"""Your own layers and models: a custom layer written with keras.ops and a
subclassed model, trained with gradients nobody wrote by hand.

1. The book's chapter 5 apple example again, written with keras.ops on
   symbolic tensors: the operations become a computational graph, and its
   backward pass gives the same derivatives as the MulLayer/AddLayer nodes
   (2.2, 110, 3.3, 165, 650).
2. A custom layer (``MyDense``: ``build`` with ``add_weight``, ``call`` with
   ``keras.ops.matmul``) and a subclassed ``WideAndDeepModel`` (Hands-On ML,
   chapter 10) that uses it: ``call`` is traced once into that kind of graph,
   then fit/evaluate/predict run on it.
3. Gradient check, as in chapter 5: the gradients of the traced graph
   against the numerical gradients of chapter 4.

    python examples/keras_custom_layer.py [--quick]
"""
import argparse

import numpy as np

from fastnn import keras
from fastnn.gradient import numerical_gradient
from fastnn.keras import ops
from fastnn.keras._graph import Graph    # the graph a traced call() becomes (not needed in user code)

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--quick", action="store_true", help="small data and 3 epochs (for tests)")
args = parser.parse_args()


# ------------------------------------------------------------------ 1. the apple graph
def apple_graph():
    apple, apple_num, orange, orange_num, tax = (keras.Input(shape=(), name=n) for n in
                                                 ("apple", "apple_num", "orange", "orange_num", "tax"))
    price = (apple * apple_num + orange * orange_num) * tax      # five nodes: multiply, multiply, add, multiply
    graph = Graph([apple, apple_num, orange, orange_num, tax], [price])
    print("nodes:", ", ".join(f"{t.layer.name}" for t in graph.nodes))
    values = [np.array([v], dtype=np.float32) for v in (100, 2, 150, 3, 1.1)]
    (total,) = graph.forward(values, training=False)
    grads = graph.backward([np.ones(1, dtype=np.float32)], [False])
    print(f"price: {total[0]:.1f}")
    print("d price / d (apple, apple_num, orange, orange_num, tax):",
          " ".join(f"{g[0]:.1f}" for g in grads))


# ------------------------------------------------------------------ 2. a layer and a model
class MyDense(keras.layers.Layer):
    """x @ kernel + bias, then an activation; x (N, in) -> (N, units)."""

    def __init__(self, units, activation=None, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.activation = keras.activations.get(activation)

    def build(self, batch_input_shape):
        self.kernel = self.add_weight(name="kernel", shape=(batch_input_shape[-1], self.units),
                                      initializer="glorot_normal")
        self.bias = self.add_weight(name="bias", shape=(self.units,), initializer="zeros")

    def call(self, x):
        return self.activation(ops.matmul(x, self.kernel) + self.bias)

    def get_config(self):
        return {**super().get_config(), "units": self.units,
                "activation": keras.activations.serialize(self.activation)}


class WideAndDeepModel(keras.Model):
    def __init__(self, units=30, activation="relu", **kwargs):
        super().__init__(**kwargs)
        self.hidden1 = MyDense(units, activation=activation)
        self.hidden2 = MyDense(units, activation=activation)
        self.dropout = keras.layers.Dropout(0.1)
        self.main_output = keras.layers.Dense(1, name="main_output")
        self.aux_output = keras.layers.Dense(1, name="aux_output")

    def call(self, inputs, training=None):
        input_A, input_B = inputs
        hidden1 = self.hidden1(input_B)
        hidden2 = self.dropout(self.hidden2(hidden1), training=training)
        concat = ops.concatenate([input_A, hidden2], axis=-1)
        return self.main_output(concat), self.aux_output(hidden2)


def housing_like(rng, n):
    X = rng.standard_normal((n, 8)).astype(np.float32)
    y = (2.0 + 0.8 * X[:, 0] + 0.4 * np.tanh(X[:, 1] * X[:, 2]) - 0.3 * X[:, 3] ** 2
         + 0.2 * np.sin(2 * X[:, 4])).reshape(-1, 1).astype(np.float32)
    return X, y


def train_wide_and_deep():
    rng = np.random.default_rng(42)
    keras.backend.set_random_seed(42)
    n = 1000 if args.quick else 10000
    X, y = housing_like(rng, n)
    X_test, X_train, y_test, y_train = X[:n // 5], X[n // 5:], y[:n // 5], y[n // 5:]
    model = WideAndDeepModel(30, activation="relu")
    model.compile(loss="mse", loss_weights=[0.9, 0.1], optimizer=keras.optimizers.Adam(learning_rate=3e-3))
    history = model.fit((X_train[:, :5], X_train[:, 2:]), (y_train, y_train), epochs=3 if args.quick else 20,
                        validation_split=0.1, verbose=2)
    model.summary()
    print("call() traced into:", " -> ".join(t.layer.name for t in model._graph.nodes))
    total, main, aux = model.evaluate((X_test[:, :5], X_test[:, 2:]), (y_test, y_test), verbose=0)
    print(f"test loss: {total:.4f} (main {main:.4f}, aux {aux:.4f}); first epoch loss "
          f"{history.history['loss'][0]:.4f}")
    y_main, y_aux = model.predict((X_test[:3, :5], X_test[:3, 2:]), verbose=0)
    print("predictions:", y_main.ravel().round(2), "targets:", y_test[:3].ravel().round(2))


# ------------------------------------------------------------------ 3. gradient check
def gradient_check():
    keras.backend.set_floatx("float64")
    rng = np.random.default_rng(0)
    x, t = rng.standard_normal((4, 3)), rng.standard_normal((4, 2))
    inputs = keras.Input(shape=(3,))
    layer = MyDense(2, activation="tanh")
    out = layer(inputs)
    graph = Graph([inputs], [out])

    def loss():
        y = graph.forward([x], training=False)[0]
        return 0.5 * np.sum((y - t) ** 2)

    y = graph.forward([x], training=False)[0]
    graph.backward([y - t], [False])
    for name in ("kernel", "bias"):
        num = numerical_gradient(lambda _: loss(), layer.params[name])
        print(f"gradient check {name}: max |backprop - numerical| = {np.max(np.abs(layer.grads[name] - num)):.2e}")
    keras.backend.set_floatx("float32")


if __name__ == "__main__":
    print("== 1. chapter 5's apple graph, with keras.ops")
    apple_graph()
    print("\n== 2. a custom layer in a subclassed model")
    train_wide_and_deep()
    print("\n== 3. gradient check")
    gradient_check()
