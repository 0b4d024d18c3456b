"""A regression MLP, as in *Hands-On Machine Learning* (ch. 10).

The tutorial fits the California housing data from scikit-learn; fastnn does
not depend on scikit-learn, so this script makes a housing-like synthetic
table (8 features, a smooth nonlinear target plus noise) and standardises it
with NumPy. From ``model = ...`` on, the code is the tutorial's with only the
import line changed.

    python examples/keras_regression_mlp.py
    python examples/keras_regression_mlp.py --quick
"""
import argparse

import numpy as np

from fastnn import keras                         # was: from tensorflow import keras

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--quick", action="store_true", help="tiny data and 2 epochs (for tests)")
args = parser.parse_args()


def make_housing_like(n, seed=42):
    """X (n, 8) features and a target y = f(X) + noise, like median house values."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 8))
    y = (2.0 + 0.8 * X[:, 0] + 0.4 * np.tanh(X[:, 1] * X[:, 2]) - 0.3 * X[:, 3] ** 2
         + 0.2 * np.sin(2 * X[:, 4]) + 0.1 * rng.standard_normal(n))
    return X, y


X, y = make_housing_like(2000 if args.quick else 20640)
n_test, n_valid = len(X) // 5, len(X) // 5
X_test, y_test = X[:n_test], y[:n_test]
X_valid, y_valid = X[n_test:n_test + n_valid], y[n_test:n_test + n_valid]
X_train, y_train = X[n_test + n_valid:], y[n_test + n_valid:]
mean, std = X_train.mean(axis=0), X_train.std(axis=0)        # StandardScaler, fit on the training set
X_train, X_valid, X_test = [(a - mean) / std for a in (X_train, X_valid, X_test)]
epochs = 2 if args.quick else 20

model = keras.models.Sequential([
    keras.layers.Dense(30, activation="relu", input_shape=X_train.shape[1:]),
    keras.layers.Dense(1)
])
model.compile(loss="mean_squared_error", optimizer="sgd")
history = model.fit(X_train, y_train, epochs=epochs,
                    validation_data=(X_valid, y_valid))
mse_test = model.evaluate(X_test, y_test)
X_new = X_test[:3]
y_pred = model.predict(X_new)
print("test MSE:", mse_test, "(target variance:", float(np.var(y_test)), ")")
print(np.c_[y_pred, y_test[:3]])
