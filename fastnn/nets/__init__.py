"""The book's networks, built from ``fastnn.layers``.

* ``SampleNetwork``: chapter 3's pretrained 3-layer forward pass (sigmoid, softmax).
* ``TwoLayerNet``: chapter 5, one hidden ReLU layer, built from layers, backprop.
  Chapter 4's network of the same name (sigmoid hidden layer, softmax
  probabilities from ``predict``, a hand-written ``gradient``) is
  ``fastnn.nets.ch04.TwoLayerNet``.
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
import os  # noqa: F401  (exported through import *, as the book's network modules do)
import pickle  # noqa: F401
import sys  # noqa: F401
from collections import OrderedDict  # noqa: F401

import numpy as np  # noqa: F401

from ..gradient import numerical_gradient  # noqa: F401
from ..layers import *  # noqa: F401,F403
from ..layers import __all__ as _layer_names
from . import ch04  # noqa: F401
from .deep_convnet import DeepConvNet
from .multi_layer_net import MultiLayerNet
from .multi_layer_net_extend import MultiLayerNetExtend
from .sample_network import SampleNetwork
from .simple_convnet import SimpleConvNet
from .two_layer_net import TwoLayerNet

# ``from fastnn.nets import *`` gives the networks and what the book's network
# modules (common/multi_layer_net*.py, ch05/two_layer_net.py, ch07/simple_convnet.py,
# ch08/deep_convnet.py; none has __all__) hand over: sys, os, pickle, np,
# OrderedDict, numerical_gradient and everything of common/layers.py.
__all__ = [
    "SampleNetwork", "TwoLayerNet", "MultiLayerNet", "MultiLayerNetExtend",
    "SimpleConvNet", "DeepConvNet",
    "sys", "os", "pickle", "np", "OrderedDict", "numerical_gradient",
] + [name for name in _layer_names if name not in ("forward_layers", "backward_layers", "is_conv_relu_pair", "is_relu_pair")]
