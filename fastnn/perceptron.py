"""Chapter 2: logic gates built from one perceptron each, and a perceptron that learns.

A perceptron outputs 1 when w . x + b > 0 and 0 otherwise. AND, NAND and OR
differ only in their weights and bias; XOR is not linearly separable, so no
single perceptron computes it, but two layers do: XOR = AND(NAND, OR).
"""
import numbers

import numpy as np


def _gate(x1, x2, w, b):
    x = np.array([x1, x2], dtype=float)
    return 1 if np.sum(w * x) + b > 0 else 0


def AND(x1, x2):
    """1 only when both inputs are 1 (weights 0.5, 0.5, bias -0.7)."""
    return _gate(x1, x2, np.array([0.5, 0.5]), -0.7)


def NAND(x1, x2):
    """NOT AND: 0 only when both inputs are 1 (weights -0.5, -0.5, bias 0.7)."""
    return _gate(x1, x2, np.array([-0.5, -0.5]), 0.7)


def OR(x1, x2):
    """1 when at least one input is 1 (weights 0.5, 0.5, bias -0.2)."""
    return _gate(x1, x2, np.array([0.5, 0.5]), -0.2)


def XOR(x1, x2):
    """1 when exactly one input is 1: a two-layer perceptron, AND(NAND(x), OR(x))."""
    return AND(NAND(x1, x2), OR(x1, x2))


class Perceptron:
    """A single perceptron trained with Rosenblatt's rule.

    Perceptron(eta=0.1): eta is the learning rate. After ``fit``:
    ``w`` (D,) weights, ``b`` bias, ``errors_`` the number of misclassified
    samples in each epoch. Targets are 0 or 1.

    For each sample x with target y, in order::

        y_hat = 1 if w . x + b > 0 else 0
        w += eta * (y - y_hat) * x;   b += eta * (y - y_hat)

    Nothing changes for a correct prediction. On linearly separable data
    (AND, OR) this stops making mistakes after finitely many steps; on XOR
    it never does.
    """

    def __init__(self, eta=0.1):
        if isinstance(eta, bool) or not isinstance(eta, numbers.Real) or not eta > 0:
            raise ValueError(f"Perceptron: eta must be a number > 0, got {eta!r}")
        self.eta = float(eta)
        self.w = None
        self.b = 0.0
        self.errors_ = []

    def _check_X(self, where, X):
        X = np.asarray(X, dtype=float)
        if X.ndim != 2 or X.shape[0] == 0:
            raise ValueError(f"Perceptron.{where}: X must be a non-empty (N, D) array, got shape {X.shape}")
        return X

    def fit(self, X, y, epochs=10):
        """Train on X (N, D) with targets y (N,) in {0, 1}; start from zero weights. Returns self."""
        X = self._check_X("fit", X)
        y = np.asarray(y)
        if y.shape != (X.shape[0],):
            raise ValueError(f"Perceptron.fit: y must have shape ({X.shape[0]},), got {y.shape}")
        if not np.all((y == 0) | (y == 1)):
            raise ValueError("Perceptron.fit: targets must be 0 or 1")
        if isinstance(epochs, bool) or not isinstance(epochs, numbers.Integral) or epochs < 1:
            raise ValueError(f"Perceptron.fit: epochs must be an int >= 1, got {epochs!r}")
        self.w = np.zeros(X.shape[1])
        self.b = 0.0
        self.errors_ = []
        for _ in range(epochs):
            errors = 0
            for xi, target in zip(X, y):
                update = self.eta * (target - self._predict_one(xi))
                self.w += update * xi
                self.b += update
                errors += int(update != 0)
            self.errors_.append(errors)
        return self

    def _predict_one(self, x):
        return 1 if np.dot(self.w, x) + self.b > 0 else 0

    def predict(self, X):
        """0/1 predictions (N,) for X (N, D)."""
        if self.w is None:
            raise ValueError("Perceptron.predict: call fit first")
        X = self._check_X("predict", X)
        if X.shape[1] != self.w.size:
            raise ValueError(f"Perceptron.predict: X has {X.shape[1]} features, the perceptron {self.w.size}")
        return (X @ self.w + self.b > 0).astype(int)


__all__ = ["AND", "NAND", "OR", "XOR", "Perceptron"]
