"""Wide & deep: a functional model with two named inputs, as in *Hands-On
Machine Learning* (ch. 10). Features 0-4 go through the wide path, features
2-7 through the deep path; the two meet in a Concatenate layer.

The data is the housing-like synthetic table of keras_regression_mlp.py
(scikit-learn is not a dependency). Only the import line differs from the tutorial.

    python examples/keras_wide_and_deep.py
    python examples/keras_wide_and_deep.py --quick
"""
import argparse

import numpy as np

from fastnn import keras                         # was: from tensorflow import keras

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--quick", action="store_true", help="tiny data and 2 epochs (for tests)")
args = parser.parse_args()

rng = np.random.default_rng(42)
n = 2000 if args.quick else 20640
X = rng.standard_normal((n, 8))
y = (2.0 + 0.8 * X[:, 0] + 0.4 * np.tanh(X[:, 1] * X[:, 2]) - 0.3 * X[:, 3] ** 2
     + 0.2 * np.sin(2 * X[:, 4]) + 0.1 * rng.standard_normal(n)).reshape(-1, 1)
X_test, X_valid, X_train = X[:n // 5], X[n // 5:2 * n // 5], X[2 * n // 5:]
y_test, y_valid, y_train = y[:n // 5], y[n // 5:2 * n // 5], y[2 * n // 5:]
epochs = 2 if args.quick else 20

input_A = keras.layers.Input(shape=[5], name="wide_input")
input_B = keras.layers.Input(shape=[6], name="deep_input")
hidden1 = keras.layers.Dense(30, activation="relu")(input_B)
hidden2 = keras.layers.Dense(30, activation="relu")(hidden1)
concat = keras.layers.Concatenate()([input_A, hidden2])
output = keras.layers.Dense(1, name="output")(concat)
model = keras.models.Model(inputs=[input_A, input_B], outputs=[output])
model.summary()

model.compile(loss="mse", optimizer=keras.optimizers.SGD(learning_rate=1e-3))

X_train_A, X_train_B = X_train[:, :5], X_train[:, 2:]
X_valid_A, X_valid_B = X_valid[:, :5], X_valid[:, 2:]
X_test_A, X_test_B = X_test[:, :5], X_test[:, 2:]
X_new_A, X_new_B = X_test_A[:3], X_test_B[:3]

history = model.fit((X_train_A, X_train_B), y_train, epochs=epochs,
                    validation_data=((X_valid_A, X_valid_B), y_valid))
mse_test = model.evaluate((X_test_A, X_test_B), y_test)
y_pred = model.predict((X_new_A, X_new_B))
print("test MSE:", mse_test)
print(np.c_[y_pred, y_test[:3]])

# The same inputs fed by name.
y_pred_by_name = model.predict({"wide_input": X_new_A, "deep_input": X_new_B})
print("same predictions by input name:", bool(np.allclose(y_pred, y_pred_by_name)))
