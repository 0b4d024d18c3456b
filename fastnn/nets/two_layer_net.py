"""TwoLayerNet (chapter 5): Affine -> ReLU -> Affine -> softmax with loss."""
import numpy as np

from ..gradient import numerical_gradient as _numerical_gradient
from ..layers import Affine, Relu, SoftmaxWithLoss, backward_layers, forward_layers
from ._base import BookNet, check_dtype, dense_products, gaussian, labels_of, positive_size


class TwoLayerNet(BookNet):
    """A fully connected net with one hidden ReLU layer.

    params: W1 (input_size, hidden_size), b1 (hidden_size,),
    W2 (hidden_size, output_size), b2 (output_size,). Weights start as
    ``weight_init_std * randn``, biases at zero.
    Inputs x: (N, input_size); targets t: (N,) labels or (N, output_size) one-hot.
    """

    def __init__(self, input_size, hidden_size, output_size, weight_init_std=0.01,
                 dtype=np.float64, *, rng=None):
        where = "TwoLayerNet"
        self.dtype = check_dtype(where, dtype)
        input_size = positive_size(where, "input_size", input_size)
        hidden_size = positive_size(where, "hidden_size", hidden_size)
        output_size = positive_size(where, "output_size", output_size)

        self.params = {
            "W1": (weight_init_std * gaussian(rng, (input_size, hidden_size))).astype(self.dtype),
            "b1": np.zeros(hidden_size, dtype=self.dtype),
            "W2": (weight_init_std * gaussian(rng, (hidden_size, output_size))).astype(self.dtype),
            "b2": np.zeros(output_size, dtype=self.dtype),
        }
        self.layers = {
            "Affine1": Affine(self.params["W1"], self.params["b1"]),
            "Relu1": Relu(),
            "Affine2": Affine(self.params["W2"], self.params["b2"]),
        }
        self.lastLayer = SoftmaxWithLoss()

    @dense_products
    def predict(self, x):
        """Scores (N, output_size) before the softmax."""
        x = self._as_input(x)
        # the book's loop over the layers (Affine + Relu as one kernel)
        return forward_layers(self.layers.values(), x)

    def loss(self, x, t):
        """Mean cross-entropy of softmax(predict(x)) against t."""
        return self.lastLayer.forward(self.predict(x), t)

    def accuracy(self, x, t):
        """Fraction of samples whose highest score is the right class."""
        y = np.argmax(self.predict(x), axis=1)
        t = labels_of(t)
        return np.sum(y == t) / float(len(y))

    def numerical_gradient(self, x, t):
        """Gradients of the loss by central differences (slow; for checking ``gradient``)."""
        loss_W = lambda W: self.loss(x, t)  # noqa: E731  (reads params, which are nudged in place)
        return {key: _numerical_gradient(loss_W, self.params[key]) for key in ("W1", "b1", "W2", "b2")}

    @dense_products
    def gradient(self, x, t):
        """Gradients of the loss by backpropagation: a dict shaped like ``params``."""
        self.loss(x, t)
        dout = self.lastLayer.backward(1)
        # the book's reversed loop over the layers (the input's own gradient is not needed)
        backward_layers(self.layers.values(), dout, need_input_grad=False)
        return {
            "W1": self.layers["Affine1"].dW, "b1": self.layers["Affine1"].db,
            "W2": self.layers["Affine2"].dW, "b2": self.layers["Affine2"].db,
        }
