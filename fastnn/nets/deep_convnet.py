"""DeepConvNet (chapter 8): six 3x3 convolutions, three poolings, two affine layers, dropout."""
import numpy as np

from ..gradient import numerical_gradient as _numerical_gradient
from ..layers import (
    Affine, Convolution, Dropout, Pooling, Relu, SoftmaxWithLoss, backward_layers, forward_layers,
)
from ._base import BookNet, check_dtype, gaussian, positive_size
from .simple_convnet import conv_output_hw, conv_param_values


class DeepConvNet(BookNet):
    """The book's deep CNN (about 99% on MNIST)::

        conv1 - relu - conv2 - relu - pool -
        conv3 - relu - conv4 - relu - pool -
        conv5 - relu - conv6 - relu - pool -
        affine - relu - dropout - affine - dropout - softmax with loss

    Pools are 2x2 with stride 2; dropouts have ratio 0.5. Weights use He
    initialisation, std sqrt(2 / fan_in) with fan_in the number of inputs of
    one output unit (C*3*3 for a convolution), biases start at zero.
    params: W1..W6 (FN, C, FS, FS) and b1..b6 for the convolutions,
    W7 (flattened size, hidden_size), W8 (hidden_size, output_size), b7, b8.
    ``predict(x, train_flg=False)``; ``loss`` uses training mode (dropout on).
    """

    def __init__(self, input_dim=(1, 28, 28),
                 conv_param_1={'filter_num': 16, 'filter_size': 3, 'pad': 1, 'stride': 1},
                 conv_param_2={'filter_num': 16, 'filter_size': 3, 'pad': 1, 'stride': 1},
                 conv_param_3={'filter_num': 32, 'filter_size': 3, 'pad': 1, 'stride': 1},
                 conv_param_4={'filter_num': 32, 'filter_size': 3, 'pad': 2, 'stride': 1},
                 conv_param_5={'filter_num': 64, 'filter_size': 3, 'pad': 1, 'stride': 1},
                 conv_param_6={'filter_num': 64, 'filter_size': 3, 'pad': 1, 'stride': 1},
                 hidden_size=50, output_size=10, dtype=np.float64, *, rng=None):
        where = "DeepConvNet"
        self.dtype = check_dtype(where, dtype)
        if len(input_dim) != 3:
            raise ValueError(f"{where}: input_dim must be (C, H, W), got {input_dim!r}")
        channels, H, W = (positive_size(where, "input_dim", d) for d in input_dim)
        hidden_size = positive_size(where, "hidden_size", hidden_size)
        output_size = positive_size(where, "output_size", output_size)
        conv_params = [conv_param_values(where, p) for p in
                       (conv_param_1, conv_param_2, conv_param_3, conv_param_4, conv_param_5, conv_param_6)]

        self.params = {}
        self.layers = []
        hw = (H, W)
        for idx, (filter_num, filter_size, pad, stride) in enumerate(conv_params, start=1):
            # He initialisation: each output sums channels * filter_size**2 inputs.
            scale = np.sqrt(2.0 / (channels * filter_size * filter_size))
            Wc = scale * gaussian(rng, (filter_num, channels, filter_size, filter_size))
            self.params["W" + str(idx)] = Wc.astype(self.dtype)
            self.params["b" + str(idx)] = np.zeros(filter_num, dtype=self.dtype)
            self.layers.append(Convolution(self.params["W" + str(idx)], self.params["b" + str(idx)],
                                           stride, pad))
            self.layers.append(Relu())
            hw = conv_output_hw(where, hw, filter_size, pad, stride)
            channels = filter_num
            if idx % 2 == 0:  # a pool after every second convolution
                if min(hw) < 2:
                    raise ValueError(
                        f"{where}: input_dim {tuple(input_dim)} is too small for three 2x2 poolings"
                    )
                self.layers.append(Pooling(pool_h=2, pool_w=2, stride=2))
                hw = (hw[0] // 2, hw[1] // 2)

        flat_size = channels * hw[0] * hw[1]
        for idx, (fan_in, fan_out) in ((7, (flat_size, hidden_size)), (8, (hidden_size, output_size))):
            scale = np.sqrt(2.0 / fan_in)
            self.params["W" + str(idx)] = (scale * gaussian(rng, (fan_in, fan_out))).astype(self.dtype)
            self.params["b" + str(idx)] = np.zeros(fan_out, dtype=self.dtype)
        self.layers += [
            Affine(self.params["W7"], self.params["b7"]),
            Relu(),
            Dropout(0.5),
            Affine(self.params["W8"], self.params["b8"]),
            Dropout(0.5),
        ]
        self.last_layer = SoftmaxWithLoss()
        # Positions of the layers holding W1..W8 (0, 2, 5, 7, 10, 12, 15, 18 as in the book).
        self.param_layer_indices = tuple(
            i for i, layer in enumerate(self.layers) if isinstance(layer, (Convolution, Affine))
        )

    def predict(self, x, train_flg=False):
        """Scores (N, output_size) of inputs (N, C, H, W); dropout acts only if train_flg."""
        # the book's loop over the layers (Convolution + Relu run as one kernel)
        return forward_layers(self.layers, self._as_input(x), train_flg)

    def loss(self, x, t):
        """Mean cross-entropy in training mode (a fresh dropout mask each call)."""
        y = self.predict(x, train_flg=True)
        return self.last_layer.forward(y, t)

    def accuracy(self, x, t, batch_size=100):
        """Fraction correct in test mode, ``batch_size`` samples at a time
        (a last partial batch is counted, which the book's loop skips)."""
        return self._count_correct(x, t, batch_size, train_flg=False) / x.shape[0]

    def numerical_gradient(self, x, t):
        """Gradients of ``loss`` by central differences (slow; for checking).

        Not in the book's DeepConvNet. The loss draws a new dropout mask per
        evaluation, so the result is meaningful only with the Dropout layers'
        ``dropout_ratio`` set to 0.
        """
        loss_w = lambda w: self.loss(x, t)  # noqa: E731
        return {key: _numerical_gradient(loss_w, value) for key, value in self.params.items()}

    def gradient(self, x, t):
        """Gradients of ``loss`` by backpropagation: a dict shaped like ``params``."""
        self.loss(x, t)
        dout = self.last_layer.backward(1)
        # the book's reversed loop over the layers (Convolution + Relu as one
        # kernel; the input's own gradient is not needed)
        backward_layers(self.layers, dout, need_input_grad=False)
        grads = {}
        for i, layer_idx in enumerate(self.param_layer_indices, start=1):
            grads["W" + str(i)] = self.layers[layer_idx].dW
            grads["b" + str(i)] = self.layers[layer_idx].db
        return grads
