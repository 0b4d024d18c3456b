"""SampleNetwork (chapter 3): the forward pass of a 3-layer net with given weights.

Chapter 3 of the book runs MNIST through a pretrained network stored in
``sample_weight.pkl`` (W1 (784, 50), W2 (50, 100), W3 (100, 10), b1..b3,
float32), with sigmoid hidden layers and a softmax output; no training.
This class is that network, for any layer sizes:

    net = SampleNetwork("ch03_sample_weight.pkl")
    y = net.predict(x)            # (N, 10) probabilities
    net.accuracy(x, t)            # 0.9352 on the 10,000 MNIST test images
"""
import numpy as np

from .. import io as _io
from .. import kernels
from ..functions import sigmoid, softmax
from ._base import BookNet, check_dtype, gaussian, positive_size


class SampleNetwork(BookNet):
    """x -> sigmoid(x W1 + b1) -> sigmoid(. W2 + b2) -> softmax(. W3 + b3).

    ``SampleNetwork(file_name)`` loads the weights from a ``.pkl`` (the
    book's) or ``.npz`` file and takes their layer sizes and dtype (float32
    for the book's file, unless ``dtype`` is given). ``SampleNetwork()``
    gives random weights (std ``weight_init_std``) of sizes ``sizes``.
    """

    def __init__(self, file_name=None, dtype=None, sizes=(784, 50, 100, 10),
                 weight_init_std=0.01, *, rng=None):
        where = "SampleNetwork"
        if file_name is not None:
            keys = ("W1", "b1", "W2", "b2", "W3", "b3")
            info = _io.param_info(file_name, where=where)  # .npz: the headers only
            missing = [k for k in keys if k not in info]
            if missing:
                raise ValueError(f"{where}: {file_name} lacks parameters {missing}")
            shapes = {k: info[k].shape for k in keys}
            self._check_layer_shapes(where, shapes)  # before any data is read
            params = _io.load_params(file_name, shapes, where=where)  # finite floats only
            self.dtype = check_dtype(where, params["W1"].dtype if dtype is None else dtype)
            self.params = {k: np.array(params[k], dtype=self.dtype) for k in
                           ("W1", "b1", "W2", "b2", "W3", "b3")}
            self._check_shapes(where)
        else:
            self.dtype = check_dtype(where, np.float32 if dtype is None else dtype)
            if len(sizes) != 4:
                raise ValueError(f"{where}: sizes must be 4 layer sizes, got {sizes!r}")
            sizes = [positive_size(where, "sizes", s) for s in sizes]
            self.params = {}
            for i in range(1, 4):
                W = weight_init_std * gaussian(rng, (sizes[i - 1], sizes[i]))
                self.params["W" + str(i)] = W.astype(self.dtype)
                self.params["b" + str(i)] = np.zeros(sizes[i], dtype=self.dtype)

    def _check_shapes(self, where):
        self._check_layer_shapes(where, {k: v.shape for k, v in self.params.items()})

    @staticmethod
    def _check_layer_shapes(where, shapes):
        """W1..W3, b1..b3 of ``shapes`` (name -> shape) must form three chained layers."""
        for i in range(1, 4):
            W, b = tuple(shapes["W" + str(i)]), tuple(shapes["b" + str(i)])
            if len(W) != 2 or b != (W[1],) or 0 in W:
                raise ValueError(f"{where}: W{i} {W} and b{i} {b} do not form a layer")
            if i > 1 and tuple(shapes["W" + str(i - 1)])[1] != W[0]:
                previous = tuple(shapes["W" + str(i - 1)])
                raise ValueError(f"{where}: W{i - 1} {previous} does not feed W{i} {W}")

    def predict(self, x):
        """Class probabilities (N, 10) for inputs (N, 784), or (10,) for one input (784,)."""
        p = self.params
        x = self._as_input(x)
        if x.ndim not in (1, 2) or x.shape[-1] != p["W1"].shape[0]:
            raise ValueError(
                f"SampleNetwork.predict: expected input (N, {p['W1'].shape[0]}), got shape {x.shape}"
            )
        one_sample = x.ndim == 1
        x = x.reshape(-1, x.shape[-1])
        # a = x @ W + b through the kernel interface (compiled or NumPy GEMM)
        z1 = sigmoid(kernels.affine_forward(x, p["W1"], p["b1"]))
        z2 = sigmoid(kernels.affine_forward(z1, p["W2"], p["b2"]))
        y = softmax(kernels.affine_forward(z2, p["W3"], p["b3"]))
        return y[0] if one_sample else y

    def accuracy(self, x, t, batch_size=100):
        """Fraction of inputs whose most probable class is the label (t: labels or one-hot)."""
        return self._count_correct(x, t, batch_size) / len(x)
