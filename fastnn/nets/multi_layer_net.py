"""MultiLayerNet (chapter 6): a fully connected net of any depth, with weight decay."""
import numpy as np

from ..gradient import numerical_gradient as _numerical_gradient
from ..layers import Affine, Relu, Sigmoid, SoftmaxWithLoss, backward_layers, forward_layers
from ._base import BookNet, check_dtype, dense_products, gaussian, init_scale, labels_of, positive_size

ACTIVATIONS = {"relu": Relu, "sigmoid": Sigmoid}


class MultiLayerNet(BookNet):
    """Affine -> activation, repeated per hidden layer, then Affine -> softmax with loss.

    input_size: inputs per sample; hidden_size_list: e.g. [100, 100, 100];
    output_size: classes. activation: 'relu' or 'sigmoid'.
    weight_init_std: 'relu'/'he' (sqrt(2/n)), 'sigmoid'/'xavier' (sqrt(1/n)),
    with n the previous layer's size, or a number used as the std.
    weight_decay_lambda: L2 weight decay; the loss gains
    0.5 * lambda * sum(W**2) over every W, and each W's gradient lambda * W.
    params: W1, b1, ..., W{L}, b{L} with L = len(hidden_size_list) + 1.
    """

    def __init__(self, input_size, hidden_size_list, output_size,
                 activation='relu', weight_init_std='relu', weight_decay_lambda=0,
                 dtype=np.float64, *, rng=None):
        self._setup(input_size, hidden_size_list, output_size, activation,
                    weight_init_std, weight_decay_lambda, dtype, rng)
        for idx in range(1, self.hidden_layer_num + 1):
            self.layers["Affine" + str(idx)] = self._affine(idx)
            self.layers["Activation_function" + str(idx)] = ACTIVATIONS[self.activation]()
        idx = self.hidden_layer_num + 1
        self.layers["Affine" + str(idx)] = self._affine(idx)
        self.last_layer = SoftmaxWithLoss()

    # -- construction shared with MultiLayerNetExtend ------------------------
    def _setup(self, input_size, hidden_size_list, output_size, activation,
               weight_init_std, weight_decay_lambda, dtype, rng):
        where = type(self).__name__
        self.dtype = check_dtype(where, dtype)
        self.input_size = positive_size(where, "input_size", input_size)
        self.hidden_size_list = [positive_size(where, "hidden size", h) for h in hidden_size_list]
        self.output_size = positive_size(where, "output_size", output_size)
        if activation not in ACTIVATIONS:
            raise ValueError(f"{where}: activation must be 'relu' or 'sigmoid', got {activation!r}")
        self.activation = activation
        self.hidden_layer_num = len(self.hidden_size_list)
        self.weight_decay_lambda = weight_decay_lambda
        self.params = {}
        self.layers = {}
        self._init_weight(weight_init_std, rng)

    def _init_weight(self, weight_init_std, rng):
        sizes = [self.input_size] + self.hidden_size_list + [self.output_size]
        for idx in range(1, len(sizes)):
            scale = init_scale(type(self).__name__, weight_init_std, sizes[idx - 1])
            W = scale * gaussian(rng, (sizes[idx - 1], sizes[idx]))
            self.params["W" + str(idx)] = W.astype(self.dtype)
            self.params["b" + str(idx)] = np.zeros(sizes[idx], dtype=self.dtype)

    def _affine(self, idx):
        return Affine(self.params["W" + str(idx)], self.params["b" + str(idx)])

    def _weight_decay(self):
        """0.5 * lambda * sum of W**2 over every Affine layer."""
        decay = 0.0
        for idx in range(1, self.hidden_layer_num + 2):
            W = self.params["W" + str(idx)]
            decay += 0.5 * self.weight_decay_lambda * np.sum(W ** 2)
        return decay

    def _affine_grads(self, grads, idx):
        layer = self.layers["Affine" + str(idx)]
        grads["W" + str(idx)] = layer.dW + self.weight_decay_lambda * layer.W
        grads["b" + str(idx)] = layer.db

    # -- the book's API -----------------------------------------------------
    @dense_products
    def predict(self, x):
        """Scores (N, output_size) before the softmax."""
        x = self._as_input(x)
        # the book's loop over the layers (Affine + Relu as one kernel)
        return forward_layers(self.layers.values(), x)

    def loss(self, x, t):
        """Cross-entropy plus the weight-decay term."""
        y = self.predict(x)
        return self.last_layer.forward(y, t) + self._weight_decay()

    def accuracy(self, x, t):
        """Fraction of samples whose highest score is the right class."""
        y = np.argmax(self.predict(x), axis=1)
        return np.sum(y == labels_of(t)) / float(len(y))

    def numerical_gradient(self, x, t):
        """Gradients of ``loss`` by central differences (slow; for checking)."""
        loss_W = lambda W: self.loss(x, t)  # noqa: E731
        grads = {}
        for idx in range(1, self.hidden_layer_num + 2):
            for name in ("W", "b"):
                key = name + str(idx)
                grads[key] = _numerical_gradient(loss_W, self.params[key])
        return grads

    @dense_products
    def gradient(self, x, t):
        """Gradients of ``loss`` by backpropagation (weight decay included)."""
        self.loss(x, t)
        dout = self.last_layer.backward(1)
        # the book's reversed loop over the layers (the input's own gradient is not needed)
        backward_layers(self.layers.values(), dout, need_input_grad=False)
        grads = {}
        for idx in range(1, self.hidden_layer_num + 2):
            self._affine_grads(grads, idx)
        return grads
