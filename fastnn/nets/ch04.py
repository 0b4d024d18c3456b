"""Chapter 4's TwoLayerNet: the network trained with numerical gradients, before layers exist.

    from fastnn.nets.ch04 import TwoLayerNet      # the book's ch04/two_layer_net.py
    from fastnn.nets import TwoLayerNet           # the book's ch05/two_layer_net.py

The two classes of the book share a name and a constructor but not a network:
chapter 4's has a **sigmoid** hidden layer, ``predict`` returns the softmax
**probabilities**, and ``gradient`` is written out by hand (two matrix
products and the sigmoid's derivative); chapter 5's is built from layers
(Affine - ReLU - Affine - SoftmaxWithLoss) and ``predict`` returns scores.
"""
import numpy as np

from ..functions import cross_entropy_error, sigmoid, sigmoid_grad, softmax
from ..gradient import numerical_gradient as _numerical_gradient
from ._base import BookNet, check_dtype, gaussian, labels_of, positive_size


class TwoLayerNet(BookNet):
    """x -> sigmoid(x @ W1 + b1) -> softmax(. @ W2 + b2), as in the book's chapter 4.

    params: W1 (input_size, hidden_size), b1 (hidden_size,),
    W2 (hidden_size, output_size), b2 (output_size,); weights start as
    ``weight_init_std * randn`` (drawn from ``np.random`` like the book unless
    ``rng=`` is given), biases at zero.
    x: (N, input_size). t: (N, output_size) one-hot, as the book's chapter 4
    uses, or (N,) integer labels.
    """

    def __init__(self, input_size, hidden_size, output_size, weight_init_std=0.01,
                 dtype=np.float64, *, rng=None):
        where = "ch04.TwoLayerNet"
        self.dtype = check_dtype(where, dtype)
        self.input_size = positive_size(where, "input_size", input_size)
        hidden_size = positive_size(where, "hidden_size", hidden_size)
        self.output_size = positive_size(where, "output_size", output_size)
        self.params = {
            "W1": (weight_init_std * gaussian(rng, (self.input_size, hidden_size))).astype(self.dtype),
            "b1": np.zeros(hidden_size, dtype=self.dtype),
            "W2": (weight_init_std * gaussian(rng, (hidden_size, self.output_size))).astype(self.dtype),
            "b2": np.zeros(self.output_size, dtype=self.dtype),
        }

    def _input(self, where, x):
        x = self._as_input(x)
        if x.ndim != 2 or x.shape[1] != self.input_size:
            raise ValueError(
                f"ch04.TwoLayerNet.{where}: x must have shape (N, {self.input_size}), got {x.shape}"
            )
        return x

    def _one_hot(self, where, t, n):
        """t as (n, output_size) targets of the network's dtype (labels are one-hot encoded)."""
        t = np.asarray(t)
        if t.shape == (n, self.output_size):
            return t.astype(self.dtype, copy=False)
        if t.shape == (n,) and t.dtype.kind in "iu":
            if n and (t.min() < 0 or t.max() >= self.output_size):
                raise ValueError(f"ch04.TwoLayerNet.{where}: labels must lie in [0, {self.output_size})")
            return np.eye(self.output_size, dtype=self.dtype)[t]
        raise ValueError(
            f"ch04.TwoLayerNet.{where}: t must be ({n}, {self.output_size}) one-hot or ({n},) integer "
            f"labels, got shape {t.shape} and dtype {t.dtype}"
        )

    def predict(self, x):
        """Class probabilities (N, output_size): the softmax of the output layer."""
        x = self._input("predict", x)
        p = self.params
        z1 = sigmoid(np.dot(x, p["W1"]) + p["b1"])
        return softmax(np.dot(z1, p["W2"]) + p["b2"])

    def loss(self, x, t):
        """Mean cross-entropy of predict(x) against t."""
        return cross_entropy_error(self.predict(x), t)

    def accuracy(self, x, t):
        """Fraction of samples whose most probable class is the right one."""
        y = np.argmax(self.predict(x), axis=1)
        t = labels_of(t)
        if t.shape != y.shape:
            raise ValueError(f"ch04.TwoLayerNet.accuracy: {len(y)} inputs but targets of shape {t.shape}")
        return np.sum(y == t) / float(x.shape[0])

    def numerical_gradient(self, x, t):
        """Gradients of the loss by central differences, the way chapter 4 trains (slow)."""
        loss_W = lambda W: self.loss(x, t)  # noqa: E731  (reads params, which are nudged in place)
        return {key: _numerical_gradient(loss_W, self.params[key]) for key in ("W1", "b1", "W2", "b2")}

    def gradient(self, x, t):
        """The same gradients by the chain rule written out (chapter 5 explains it):

        dy = (y - t) / N;  dW2 = z1^T dy;  db2 = sum(dy);
        dz1 = sigmoid_grad(a1) * (dy W2^T);  dW1 = x^T dz1;  db1 = sum(dz1).
        """
        x = self._input("gradient", x)
        p = self.params
        a1 = np.dot(x, p["W1"]) + p["b1"]
        z1 = sigmoid(a1)
        y = softmax(np.dot(z1, p["W2"]) + p["b2"])
        dy = (y - self._one_hot("gradient", t, x.shape[0])) / x.shape[0]
        dz1 = sigmoid_grad(a1) * np.dot(dy, p["W2"].T)
        return {
            "W1": np.dot(x.T, dz1), "b1": np.sum(dz1, axis=0),
            "W2": np.dot(z1.T, dy), "b2": np.sum(dy, axis=0),
        }


__all__ = ["TwoLayerNet"]
