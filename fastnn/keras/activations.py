"""Activation functions by name: relu, sigmoid, softmax, tanh, softplus, linear.

Each is a small object with ``forward(z) -> a`` and ``backward(da, a, z) -> dz``
(the gradient through the activation, given the forward output ``a`` and input
``z``). ReLU runs on the kernels ``relu_forward``/``relu_backward``. The plain
functions ``relu(x)``, ``softmax(x)``, ... compute the forward pass, and may be
given as ``activation=keras.activations.relu`` like in Keras.
"""
import numpy as np

from .. import kernels


class _Activation:
    name = None

    def forward(self, z):
        raise NotImplementedError

    def backward(self, da, a, z):
        raise NotImplementedError

    def __call__(self, x):
        """activations.get('relu')(x): on arrays or, inside a traced call(), on tensors (as keras.ops)."""
        from . import ops
        return x if self.name == "linear" else getattr(ops, self.name)(x)

    def __repr__(self):
        return f"<activation {self.name}>"


class _Linear(_Activation):
    name = "linear"

    def forward(self, z):
        return z

    def backward(self, da, a, z):
        return da


class _Relu(_Activation):
    name = "relu"

    def forward(self, z):
        return kernels.relu_forward(z)

    def backward(self, da, a, z):
        return kernels.relu_backward(da, a)


class _Sigmoid(_Activation):
    name = "sigmoid"

    def forward(self, z):
        # Written with exp(-|z|) so that neither branch overflows.
        e = np.exp(-np.abs(z))
        return np.where(z >= 0, 1 / (1 + e), e / (1 + e)).astype(z.dtype, copy=False)

    def backward(self, da, a, z):
        return da * a * (1 - a)


class _Tanh(_Activation):
    name = "tanh"

    def forward(self, z):
        return np.tanh(z)

    def backward(self, da, a, z):
        return da * (1 - a * a)


class _Softplus(_Activation):
    name = "softplus"

    def forward(self, z):
        return np.logaddexp(0, z).astype(z.dtype, copy=False)

    def backward(self, da, a, z):
        return da * _SIGMOID.forward(z)


class _Softmax(_Activation):
    """Softmax over the last axis."""
    name = "softmax"

    def forward(self, z):
        if z.ndim >= 2 and z.size and z.dtype in (np.float32, np.float64):   # the compiled rows kernel
            return kernels.softmax(z.reshape(-1, z.shape[-1])).reshape(z.shape)
        e = np.exp(z - np.max(z, axis=-1, keepdims=True))
        return e / np.sum(e, axis=-1, keepdims=True)

    def backward(self, da, a, z):
        # Jacobian-vector product: dz_i = a_i * (da_i - sum_j da_j a_j).
        return a * (da - np.sum(da * a, axis=-1, keepdims=True))


_SIGMOID = _Sigmoid()
_ALL = {cls.name: cls() for cls in (_Linear, _Relu, _Sigmoid, _Tanh, _Softplus, _Softmax)}


# Plain functions, as keras.activations.relu etc.
def linear(x):
    return np.asarray(x)


def relu(x):
    return _ALL["relu"].forward(np.asarray(x))


def sigmoid(x):
    return _ALL["sigmoid"].forward(np.asarray(x))


def tanh(x):
    return _ALL["tanh"].forward(np.asarray(x))


def softplus(x):
    return _ALL["softplus"].forward(np.asarray(x))


def softmax(x):
    return _ALL["softmax"].forward(np.asarray(x))


_FUNCTIONS = {linear: "linear", relu: "relu", sigmoid: "sigmoid", tanh: "tanh",
              softplus: "softplus", softmax: "softmax"}


def get(identifier, where="activation"):
    """The activation object for a name (None means linear) or one of the functions above."""
    if identifier is None:
        return _ALL["linear"]
    if isinstance(identifier, _Activation):
        return identifier
    if callable(identifier) and identifier in _FUNCTIONS:
        return _ALL[_FUNCTIONS[identifier]]
    if isinstance(identifier, str) and identifier.lower() in _ALL:
        return _ALL[identifier.lower()]
    raise ValueError(
        f"{where}: unknown activation {identifier!r}; valid ones are {sorted(_ALL)}"
    )


def serialize(activation):
    return activation.name
