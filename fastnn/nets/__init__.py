"""The book's networks, built from ``fastnn.layers``.

* ``SampleNetwork``: chapter 3's pretrained 3-layer forward pass (sigmoid, softmax).
* ``TwoLayerNet``: chapter 5, one hidden ReLU layer, backprop.
* ``MultiLayerNet``, ``MultiLayerNetExtend``: chapter 6, any depth, weight
  decay, BatchNorm and Dropout.
* ``SimpleConvNet``, ``DeepConvNet``: chapters 7 and 8.

Each has ``params`` (``'W1'``, ``'b1'``, ...), ``predict``, ``loss``,
``accuracy``, ``gradient`` (backprop), ``numerical_gradient`` (for checking),
``save_params``/``load_params`` (.pkl like the book, or .npz; see
``fastnn.io``), and ``dtype=np.float64`` (default, like the book) or
``np.float32``. ``rng=`` (keyword) draws the initial weights from a NumPy
Generator instead of ``np.random``.
"""
from .deep_convnet import DeepConvNet
from .multi_layer_net import MultiLayerNet
from .multi_layer_net_extend import MultiLayerNetExtend
from .sample_network import SampleNetwork
from .simple_convnet import SimpleConvNet
from .two_layer_net import TwoLayerNet

__all__ = [
    "SampleNetwork", "TwoLayerNet", "MultiLayerNet", "MultiLayerNetExtend",
    "SimpleConvNet", "DeepConvNet",
]
