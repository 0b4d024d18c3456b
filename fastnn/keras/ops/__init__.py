"""``keras.ops``: NumPy-style operations with gradients, for ``call`` methods, losses and metrics.

On arrays they compute at once (eager). On the symbolic tensors a model's or
layer's ``call`` receives while it is traced, they record graph nodes, and
``fit`` gets their gradients from each operation's own backward (see
``fastnn/keras/_autodiff.py``). Python operators on tensors and weights
(``+ - * / @ **``, unary ``-``, ``abs``, comparisons, ``x[1:, 0]``) use them too.

    def call(self, inputs):
        return keras.ops.relu(keras.ops.matmul(inputs, self.kernel) + self.bias)
"""
from .math import (  # noqa: F401
    abs, absolute, add, cast, clip, divide, dot, equal, exp, greater, greater_equal, less, less_equal, log,
    matmul, maximum, minimum, multiply, negative, not_equal, power, sqrt, square, subtract, true_divide, where,
)
from .nn import log_softmax, relu, sigmoid, softmax, softplus, tanh  # noqa: F401
from .reduction import amax, amin, argmax, argmin, max, mean, min, sum  # noqa: F401
from .shape import (  # noqa: F401
    concatenate, convert_to_tensor, expand_dims, getitem, reshape, shape, split, squeeze, stack, transpose,
)

#: NumPy ufuncs that, applied to a symbolic tensor, run as these ops (np.exp(x) -> ops.exp(x)).
UFUNCS = {
    "add": add, "subtract": subtract, "multiply": multiply, "true_divide": divide, "divide": divide,
    "power": power, "matmul": matmul, "negative": negative, "square": square, "sqrt": sqrt, "exp": exp,
    "log": log, "absolute": abs, "maximum": maximum, "minimum": minimum, "tanh": tanh,
    "greater": greater, "greater_equal": greater_equal, "less": less, "less_equal": less_equal,
}

