"""SimpleConvNet (chapter 7): conv -> ReLU -> pool -> affine -> ReLU -> affine -> softmax."""
import numbers

import numpy as np

from ..gradient import numerical_gradient as _numerical_gradient
from ..layers import (
    Affine, Convolution, Pooling, Relu, SoftmaxWithLoss, backward_layers, forward_layers,
)
from ._base import BookNet, check_dtype, gaussian, positive_size

_CONV_KEYS = ("filter_num", "filter_size", "pad", "stride")


def conv_param_values(where, conv_param):
    """(filter_num, filter_size, pad, stride) from a conv_param dict, checked."""
    if not isinstance(conv_param, dict):
        raise TypeError(f"{where}: conv_param must be a dict with keys {_CONV_KEYS}, got {conv_param!r}")
    missing = [k for k in _CONV_KEYS if k not in conv_param]
    if missing:
        raise ValueError(f"{where}: conv_param lacks {missing}")
    values = [conv_param[k] for k in _CONV_KEYS]
    for key, value in zip(_CONV_KEYS, values):
        low = 0 if key == "pad" else 1
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
            raise ValueError(f"{where}: conv_param[{key!r}] must be an int >= {low}, got {value!r}")
    return tuple(int(v) for v in values)


def conv_output_hw(where, hw, filter_size, pad, stride):
    """Output height/width of a convolution; the filter must fit the padded input."""
    out = []
    for size in hw:
        if filter_size > size + 2 * pad:
            raise ValueError(
                f"{where}: a {filter_size}x{filter_size} filter does not fit input {hw} with pad {pad}"
            )
        out.append((size + 2 * pad - filter_size) // stride + 1)
    return tuple(out)


class SimpleConvNet(BookNet):
    """Conv(filter_num, filter_size) -> ReLU -> 2x2 max-pool (stride 2) ->
    Affine(hidden_size) -> ReLU -> Affine(output_size) -> softmax with loss.

    input_dim: (C, H, W) of one sample; inputs x: (N, C, H, W).
    params: W1 (FN, C, FS, FS), b1 (FN,), W2 (FN*PH*PW, hidden_size), b2,
    W3 (hidden_size, output_size), b3; weights ``weight_init_std * randn``.
    (PH, PW is the pooled size: half the convolution's output, rounded down.)
    """

    def __init__(self, input_dim=(1, 28, 28),
                 conv_param={'filter_num': 30, 'filter_size': 5, 'pad': 0, 'stride': 1},
                 hidden_size=100, output_size=10, weight_init_std=0.01,
                 dtype=np.float64, *, rng=None):
        where = "SimpleConvNet"
        self.dtype = check_dtype(where, dtype)
        if len(input_dim) != 3:
            raise ValueError(f"{where}: input_dim must be (C, H, W), got {input_dim!r}")
        C, H, W = (positive_size(where, "input_dim", d) for d in input_dim)
        filter_num, filter_size, pad, stride = conv_param_values(where, conv_param)
        hidden_size = positive_size(where, "hidden_size", hidden_size)
        output_size = positive_size(where, "output_size", output_size)
        conv_h, conv_w = conv_output_hw(where, (H, W), filter_size, pad, stride)
        if conv_h < 2 or conv_w < 2:
            raise ValueError(
                f"{where}: the convolution output {conv_h}x{conv_w} is too small for 2x2 pooling"
            )
        pool_output_size = filter_num * (conv_h // 2) * (conv_w // 2)

        std = weight_init_std
        self.params = {
            "W1": (std * gaussian(rng, (filter_num, C, filter_size, filter_size))).astype(self.dtype),
            "b1": np.zeros(filter_num, dtype=self.dtype),
            "W2": (std * gaussian(rng, (pool_output_size, hidden_size))).astype(self.dtype),
            "b2": np.zeros(hidden_size, dtype=self.dtype),
            "W3": (std * gaussian(rng, (hidden_size, output_size))).astype(self.dtype),
            "b3": np.zeros(output_size, dtype=self.dtype),
        }
        p = self.params
        self.layers = {
            "Conv1": Convolution(p["W1"], p["b1"], stride, pad),
            "Relu1": Relu(),
            "Pool1": Pooling(pool_h=2, pool_w=2, stride=2),
            "Affine1": Affine(p["W2"], p["b2"]),
            "Relu2": Relu(),
            "Affine2": Affine(p["W3"], p["b3"]),
        }
        self.last_layer = SoftmaxWithLoss()

    def predict(self, x):
        """Scores (N, output_size) of inputs (N, C, H, W)."""
        # the book's loop over the layers (Convolution + Relu run as one kernel)
        return forward_layers(self.layers.values(), self._as_input(x))

    def loss(self, x, t):
        """Mean cross-entropy; t: (N,) labels or (N, K) one-hot."""
        return self.last_layer.forward(self.predict(x), t)

    def accuracy(self, x, t, batch_size=100):
        """Fraction correct, predicted ``batch_size`` samples at a time.

        Unlike the book's loop, a last partial batch is counted too (the book
        skips it, which only matters when N is not a multiple of batch_size).
        """
        return self._count_correct(x, t, batch_size) / x.shape[0]

    def numerical_gradient(self, x, t):
        """Gradients of the loss by central differences (slow; for checking)."""
        loss_w = lambda w: self.loss(x, t)  # noqa: E731
        return {key: _numerical_gradient(loss_w, self.params[key])
                for key in ("W1", "b1", "W2", "b2", "W3", "b3")}

    def gradient(self, x, t):
        """Gradients of the loss by backpropagation: a dict shaped like ``params``."""
        self.loss(x, t)
        dout = self.last_layer.backward(1)
        # the book's reversed loop over the layers (Convolution + Relu as one
        # kernel; the input's own gradient is not needed)
        backward_layers(self.layers.values(), dout, need_input_grad=False)
        grads = {}
        for idx, name in enumerate(("Conv1", "Affine1", "Affine2"), start=1):
            grads["W" + str(idx)] = self.layers[name].dW
            grads["b" + str(idx)] = self.layers[name].db
        return grads
