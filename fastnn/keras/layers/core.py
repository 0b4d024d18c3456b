"""Dense, Activation, Flatten, Reshape, Dropout.

Dense runs on the affine kernels (``fastnn.kernels.affine_forward/backward``,
the same ones ``fastnn.layers.Affine`` uses); ReLU on the relu kernels.
Shapes are given for one batch of N samples.
"""
import numpy as np

from ... import kernels
from .. import backend
from .. import initializers as _init
from .base import ActivatedLayer, Layer, _as_shape


class Dense(ActivatedLayer):
    """out = activation(x @ kernel + bias).

    x: (N, ..., in) -> (N, ..., units); kernel (in, units), bias (units,).
    A Dense on more than 2-D input acts on the last axis, like Keras.
    """

    def __init__(self, units, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", **kwargs):
        super().__init__(**kwargs)
        if isinstance(units, bool) or not isinstance(units, (int, np.integer)) or units < 1:
            raise ValueError(f"Dense '{self.name}': units must be a positive int, got {units!r}")
        self.units = int(units)
        self._set_activation(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = _init.get(kernel_initializer, where=f"Dense '{self.name}' kernel_initializer")
        self.bias_initializer = _init.get(bias_initializer, where=f"Dense '{self.name}' bias_initializer")

    def build(self, input_shape):
        if len(input_shape) < 1 or input_shape[-1] is None:
            raise ValueError(f"Dense '{self.name}': the last axis of the input must be known, got {input_shape}")
        self.add_weight("kernel", (input_shape[-1], self.units), self.kernel_initializer)
        if self.use_bias:
            self.add_weight("bias", (self.units,), self.bias_initializer)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.units,)

    @property
    def kernel(self):
        return self.params["kernel"]

    @property
    def bias(self):
        return self.params.get("bias")

    def _bias_or_zeros(self):
        b = self.params.get("bias")
        return b if b is not None else np.zeros(self.units, dtype=self.params["kernel"].dtype)

    def forward(self, x, training=False):
        self._in_shape = x.shape
        x2 = x.reshape(-1, x.shape[-1])
        self._x2 = x2
        relu = self.activation.name == "relu"
        z = kernels.affine_forward(x2, self.params["kernel"], self._bias_or_zeros(), relu=relu)
        z = z.reshape(x.shape[:-1] + (self.units,))
        if relu:                         # the ReLU ran in the kernel's pass over the output
            self._z, self._a = None, z
            return z
        return self._activate(z)

    def backward(self, dout, skip_activation=False):
        relu_out = None
        if self.activation.name == "relu" and not skip_activation:
            dz, relu_out = dout, self._a.reshape(-1, self.units)     # the kernel applies the ReLU's gradient
        else:
            dz = self._activation_grad(dout, skip_activation)
        dz = dz.reshape(-1, self.units)
        # need_input_grad is False when nothing before this layer needs a gradient
        need_dx = getattr(self, "need_input_grad", True)
        dx, dW, db = kernels.affine_backward(dz, self._x2, self.params["kernel"], need_dx=need_dx,
                                             relu_out=relu_out)
        self.grads = {"kernel": dW}
        if self.use_bias:
            self.grads["bias"] = db
        return dx.reshape(self._in_shape) if need_dx else None

    def get_config(self):
        config = super().get_config()
        config.update(units=self.units, activation=self.activation.name, use_bias=self.use_bias,
                      kernel_initializer=_init.serialize(self.kernel_initializer),
                      bias_initializer=_init.serialize(self.bias_initializer))
        return config


class Activation(ActivatedLayer):
    """Applies an activation by name: relu, sigmoid, softmax, tanh, softplus, linear."""
    weightless = True

    def __init__(self, activation, **kwargs):
        super().__init__(**kwargs)
        self._set_activation(activation)

    def forward(self, x, training=False):
        return self._activate(x)

    def backward(self, dout, skip_activation=False):
        return self._activation_grad(dout, skip_activation)

    def get_config(self):
        config = super().get_config()
        config["activation"] = self.activation.name
        return config


class Flatten(Layer):
    """(N, d1, d2, ...) -> (N, d1*d2*...), in C order (channels_last)."""
    weightless = True

    def compute_output_shape(self, input_shape):
        if any(s is None for s in input_shape):
            raise ValueError(f"Flatten '{self.name}': all input sizes must be known, got {input_shape}")
        return (int(np.prod(input_shape)),)

    def forward(self, x, training=False):
        self._in_shape = x.shape
        return x.reshape(x.shape[0], -1)

    def backward(self, dout):
        return dout.reshape(self._in_shape)


class Reshape(Layer):
    """``(N, *input_shape) -> (N, *target_shape)``; one entry of target_shape may be -1."""
    weightless = True

    def __init__(self, target_shape, **kwargs):
        super().__init__(**kwargs)
        self.target_shape = tuple(int(s) for s in target_shape)
        if sum(s == -1 for s in self.target_shape) > 1:
            raise ValueError(f"Reshape '{self.name}': at most one -1 in target_shape, got {self.target_shape}")

    def compute_output_shape(self, input_shape):
        size = int(np.prod(input_shape))
        known = int(np.prod([s for s in self.target_shape if s != -1]))
        if -1 in self.target_shape:
            if known == 0 or size % known:
                raise ValueError(f"Reshape '{self.name}': cannot reshape {tuple(input_shape)} to {self.target_shape}")
            return tuple(size // known if s == -1 else s for s in self.target_shape)
        if known != size:
            raise ValueError(
                f"Reshape '{self.name}': input {tuple(input_shape)} has {size} values per sample, "
                f"target_shape {self.target_shape} has {known}"
            )
        return self.target_shape

    def forward(self, x, training=False):
        self._in_shape = x.shape
        return x.reshape((x.shape[0],) + self.output_shape)

    def backward(self, dout):
        return dout.reshape(self._in_shape)

    def get_config(self):
        config = super().get_config()
        config["target_shape"] = list(self.target_shape)
        return config


class Dropout(Layer):
    """Inverted dropout: in training, zero each value with probability ``rate``
    and scale the others by 1/(1 - rate); at inference, the identity.

    The masks come from the kernels ``fastnn.kernels.dropout_forward/backward``:
    a counter-based generator keyed by one 64-bit key per call (drawn from the
    layer's seeded generator), so a given seed draws the same masks on both
    backends, and the mask is regenerated in the backward pass, not stored."""
    weightless = True

    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        if not 0 <= float(rate) < 1:
            raise ValueError(f"Dropout '{self.name}': rate must be in [0, 1), got {rate!r}")
        if noise_shape is not None:
            raise ValueError(f"Dropout '{self.name}': noise_shape is not supported")
        self.rate = float(rate)
        self.seed = seed
        seed = seed if seed is not None else backend.global_rng().integers(2**63)
        # draws one 64-bit key per training call (saved and restored with the model)
        self._rng = np.random.default_rng(seed)

    def _next_key(self):
        return int(self._rng.integers(0, 2**64, dtype=np.uint64))

    def forward(self, x, training=False):
        if not training or self.rate == 0:
            self._key = None
            return x
        self._key = self._next_key()
        return kernels.dropout_forward(x, self.rate, self._key)

    def backward(self, dout):
        return dout if self._key is None else kernels.dropout_backward(dout, self.rate, self._key)

    def get_config(self):
        config = super().get_config()
        config.update(rate=self.rate, seed=self.seed, noise_shape=None)
        return config


class InputLayer(Layer):
    """The source of a functional model's input; holds no weights."""
    weightless = True

    def __init__(self, shape=None, **kwargs):
        if shape is None:
            shape = kwargs.pop("input_shape", None)
        super().__init__(**kwargs)
        if shape is None:
            raise ValueError(f"InputLayer '{self.name}': a shape is required")
        self.shape = _as_shape("Input", "shape", shape)
        self._ensure_built(self.shape)

    def forward(self, x, training=False):
        return x

    def backward(self, dout):
        return dout

    def get_config(self):
        return {"batch_shape": [None] + list(self.shape), "dtype": self.dtype, "sparse": False,
                "ragged": False, "name": self.name}

    @classmethod
    def from_config(cls, config):
        """Keras 3 (``batch_shape``), Keras 2 (``batch_input_shape``) or fastnn (``shape``) configs."""
        config = dict(config)
        for key in ("batch_shape", "batch_input_shape"):
            if key in config:
                batch_shape = config.pop(key)
                if not isinstance(batch_shape, (list, tuple)) or len(batch_shape) < 2:
                    raise ValueError(f"InputLayer: {key} must list the batch axis and the sample axes, "
                                     f"got {batch_shape!r}")
                config["shape"] = list(batch_shape[1:])
        for key in ("sparse", "ragged", "optional"):
            if config.get(key):
                raise ValueError(f"InputLayer: {key}=True inputs are not supported")
            config.pop(key, None)
        dtype = config.get("dtype")
        if isinstance(dtype, dict):
            config["dtype"] = (dtype.get("config") or {}).get("name")
        return cls(**config)


def Input(shape=None, batch_size=None, name=None, dtype=None, **kwargs):
    """A symbolic input batch of samples of ``shape`` (without the batch axis)."""
    from .base import KerasTensor
    if kwargs:
        raise ValueError(f"Input: unknown keyword argument(s) {sorted(kwargs)}")
    if shape is None:
        raise ValueError("Input: shape is required, e.g. Input(shape=(784,))")
    if isinstance(shape, (int, np.integer)):
        shape = (int(shape),)
    layer = InputLayer(shape=shape, name=name or backend.unique_name("input_layer"), dtype=dtype)
    return KerasTensor(layer.shape, layer)
