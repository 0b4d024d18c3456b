"""MultiLayerNetExtend (chapter 6): MultiLayerNet with optional BatchNorm and Dropout."""
import numpy as np

from ..gradient import numerical_gradient as _numerical_gradient
from ..layers import BatchNormalization, Dropout, SoftmaxWithLoss, backward_layers
from .multi_layer_net import ACTIVATIONS, MultiLayerNet


class MultiLayerNetExtend(MultiLayerNet):
    """Per hidden layer: Affine -> [BatchNorm] -> activation -> [Dropout]; then Affine -> softmax.

    Arguments as MultiLayerNet, plus use_dropout, dropout_ration (the book's
    spelling: the dropout ratio) and use_batchnorm. With batch normalisation,
    params also hold gamma{i} (ones) and beta{i} (zeros) of each hidden layer.
    ``predict``/``loss`` take ``train_flg``: True uses batch statistics and
    drops units; False (the default) uses running statistics and scales.
    """

    def __init__(self, input_size, hidden_size_list, output_size,
                 activation='relu', weight_init_std='relu', weight_decay_lambda=0,
                 use_dropout=False, dropout_ration=0.5, use_batchnorm=False,
                 dtype=np.float64, *, rng=None):
        self.use_dropout = use_dropout
        self.use_batchnorm = use_batchnorm
        self._setup(input_size, hidden_size_list, output_size, activation,
                    weight_init_std, weight_decay_lambda, dtype, rng)
        for idx in range(1, self.hidden_layer_num + 1):
            i = str(idx)
            self.layers["Affine" + i] = self._affine(idx)
            if use_batchnorm:
                size = self.hidden_size_list[idx - 1]
                self.params["gamma" + i] = np.ones(size, dtype=self.dtype)
                self.params["beta" + i] = np.zeros(size, dtype=self.dtype)
                self.layers["BatchNorm" + i] = BatchNormalization(self.params["gamma" + i],
                                                                  self.params["beta" + i])
            self.layers["Activation_function" + i] = ACTIVATIONS[self.activation]()
            if use_dropout:
                self.layers["Dropout" + i] = Dropout(dropout_ration)
        idx = self.hidden_layer_num + 1
        self.layers["Affine" + str(idx)] = self._affine(idx)
        self.last_layer = SoftmaxWithLoss()

    def predict(self, x, train_flg=False):
        """Scores (N, output_size); train_flg selects training or test behaviour."""
        x = self._as_input(x)
        for key, layer in self.layers.items():
            if "Dropout" in key or "BatchNorm" in key:
                x = layer.forward(x, train_flg)
            else:
                x = layer.forward(x)
        return x

    def loss(self, x, t, train_flg=False):
        """Cross-entropy plus weight decay; train_flg as in ``predict``."""
        y = self.predict(x, train_flg)
        return self.last_layer.forward(y, t) + self._weight_decay()

    def accuracy(self, X, T):
        """Accuracy in test mode (running statistics, no dropout)."""
        return super().accuracy(X, T)

    def _bn_keys(self):
        if not self.use_batchnorm:
            return []
        return [name + str(idx) for idx in range(1, self.hidden_layer_num + 1)
                for name in ("gamma", "beta")]

    def numerical_gradient(self, X, T):
        """Gradients of the training-mode loss by central differences.

        With dropout the loss is random (a new mask per evaluation), so the
        result is meaningful only for dropout_ration=0 or with dropout off.
        """
        loss_W = lambda W: self.loss(X, T, train_flg=True)  # noqa: E731
        keys = [name + str(idx) for idx in range(1, self.hidden_layer_num + 2) for name in ("W", "b")]
        return {key: _numerical_gradient(loss_W, self.params[key]) for key in keys + self._bn_keys()}

    def gradient(self, x, t):
        """Gradients of the training-mode loss by backpropagation."""
        self.loss(x, t, train_flg=True)
        dout = self.last_layer.backward(1)
        # the book's reversed loop over the layers (the input's own gradient is not needed)
        backward_layers(self.layers.values(), dout, need_input_grad=False)
        grads = {}
        for idx in range(1, self.hidden_layer_num + 2):
            self._affine_grads(grads, idx)
            if self.use_batchnorm and idx != self.hidden_layer_num + 1:
                bn = self.layers["BatchNorm" + str(idx)]
                grads["gamma" + str(idx)] = bn.dgamma
                grads["beta" + str(idx)] = bn.dbeta
        return grads
