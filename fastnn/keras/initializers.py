"""Weight initializers by name, with Keras' formulas.

For a Dense kernel (in, out): fan_in = in, fan_out = out. For a Conv2D kernel
(kh, kw, in, out) both fans are multiplied by the receptive field kh*kw.

==============  ===========================================================
glorot_uniform  U(-l, l), l = sqrt(6 / (fan_in + fan_out))   (the default)
glorot_normal   truncated normal, std sqrt(2 / (fan_in + fan_out))
he_normal       truncated normal, std sqrt(2 / fan_in)
he_uniform      U(-l, l), l = sqrt(6 / fan_in)
random_normal   normal, mean 0, std 0.05
random_uniform  U(-0.05, 0.05)
zeros, ones     constants
==============  ===========================================================

"Truncated normal" redraws values beyond two standard deviations; Keras
divides the std by 0.87962566 so that the truncated law keeps the std asked for.
"""
import contextvars

import numpy as np

from . import backend

#: Set by the model loaders: a callable ``guard(shape)`` run before every weight is
#: drawn, which refuses sizes a file asks for beyond what it can hold.
ALLOCATION_GUARD = contextvars.ContextVar("fastnn_allocation_guard", default=None)

_TRUNC_STD_FIX = 0.87962566103423978   # std of N(0,1) truncated to [-2, 2]


def compute_fans(shape):
    """(fan_in, fan_out) of a weight shape, as Keras computes them."""
    shape = tuple(shape)
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    if len(shape) == 2:
        return shape[0], shape[1]
    receptive = int(np.prod(shape[:-2]))
    return shape[-2] * receptive, shape[-1] * receptive


def _truncated_normal(rng, shape, std):
    out = rng.standard_normal(shape)
    bad = np.abs(out) > 2
    while bad.any():
        out[bad] = rng.standard_normal(int(bad.sum()))
        bad = np.abs(out) > 2
    return out * (std / _TRUNC_STD_FIX)


class Initializer:
    """Callable: ``init(shape, dtype=None) -> array``."""
    name = None

    def __call__(self, shape, dtype=None):
        dtype = dtype or backend.floatx()
        guard = ALLOCATION_GUARD.get()
        if guard is not None:
            guard(tuple(shape))
        return np.asarray(self._draw(tuple(shape), backend.global_rng()), dtype=dtype)

    def get_config(self):
        return {}


class Zeros(Initializer):
    name = "zeros"
    keras_name = "Zeros"

    def _draw(self, shape, rng):
        return np.zeros(shape)


class Ones(Initializer):
    name = "ones"
    keras_name = "Ones"

    def _draw(self, shape, rng):
        return np.ones(shape)


class RandomNormal(Initializer):
    name = "random_normal"
    keras_name = "RandomNormal"

    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        self.mean, self.stddev, self.seed = mean, stddev, seed

    def _draw(self, shape, rng):
        rng = np.random.default_rng(self.seed) if self.seed is not None else rng
        return self.mean + self.stddev * rng.standard_normal(shape)

    def get_config(self):
        return {"mean": self.mean, "stddev": self.stddev, "seed": self.seed}


class RandomUniform(Initializer):
    name = "random_uniform"
    keras_name = "RandomUniform"

    def __init__(self, minval=-0.05, maxval=0.05, seed=None):
        self.minval, self.maxval, self.seed = minval, maxval, seed

    def _draw(self, shape, rng):
        rng = np.random.default_rng(self.seed) if self.seed is not None else rng
        return rng.uniform(self.minval, self.maxval, shape)

    def get_config(self):
        return {"minval": self.minval, "maxval": self.maxval, "seed": self.seed}


class _FanScaled(Initializer):
    """Variance-scaling family: scale / fan with a uniform or truncated normal law."""
    scale = 1.0
    fan = "avg"
    law = "uniform"

    def __init__(self, seed=None):
        self.seed = seed

    def _draw(self, shape, rng):
        rng = np.random.default_rng(self.seed) if self.seed is not None else rng
        fan_in, fan_out = compute_fans(shape)
        n = {"in": fan_in, "avg": (fan_in + fan_out) / 2}[self.fan]
        variance = self.scale / max(1.0, n)
        if self.law == "uniform":
            limit = np.sqrt(3.0 * variance)
            return rng.uniform(-limit, limit, shape)
        return _truncated_normal(rng, shape, np.sqrt(variance))

    def get_config(self):
        return {"seed": self.seed}


class GlorotUniform(_FanScaled):
    name = "glorot_uniform"          # limit sqrt(6 / (fan_in + fan_out))
    keras_name = "GlorotUniform"


class GlorotNormal(_FanScaled):
    name = "glorot_normal"
    keras_name = "GlorotNormal"
    law = "normal"


class HeNormal(_FanScaled):
    name = "he_normal"
    keras_name = "HeNormal"
    scale, fan, law = 2.0, "in", "normal"


class HeUniform(_FanScaled):
    name = "he_uniform"
    keras_name = "HeUniform"
    scale, fan = 2.0, "in"


_CLASSES = {cls.name: cls for cls in (Zeros, Ones, RandomNormal, RandomUniform, GlorotUniform,
                                      GlorotNormal, HeNormal, HeUniform)}
_BY_KERAS_NAME = {cls.keras_name: cls for cls in _CLASSES.values()}
_ALIASES = {"normal": "random_normal", "uniform": "random_uniform"}
#: Keys Keras writes in an initializer config that fastnn accepts only with these values.
_IGNORED = {"input_axes": None, "output_axes": None, "dtype": None}


def get(identifier, where="initializer"):
    """An initializer from a name, a config dict (Keras' form), or an Initializer.

    Names in a config dict resolve only through fastnn's own table (by Keras'
    class name ``GlorotUniform`` or its snake name ``glorot_uniform``).
    """
    if isinstance(identifier, Initializer):
        return identifier
    if isinstance(identifier, dict):
        name = identifier.get("class_name")
        cls = _BY_KERAS_NAME.get(name) or _CLASSES.get(_ALIASES.get(name, name) if isinstance(name, str) else None)
        if cls is None:
            raise ValueError(f"{where}: unknown initializer {name!r}; valid ones are {sorted(_BY_KERAS_NAME)}")
        config = identifier.get("config") or {}
        if not isinstance(config, dict):
            raise ValueError(f"{where}: the config of initializer {name!r} must be a dict, got {config!r}")
        config = dict(config)
        for key, value in _IGNORED.items():
            if key in config and config[key] in (value, "float32", "float64"):
                del config[key]
        try:
            return cls(**config)
        except TypeError:
            raise ValueError(f"{where}: initializer {name!r} does not take the options {sorted(config)}") from None
    if isinstance(identifier, str):
        key = _ALIASES.get(identifier.lower(), identifier.lower())
        if key in _CLASSES:
            return _CLASSES[key]()
        if identifier in _BY_KERAS_NAME:
            return _BY_KERAS_NAME[identifier]()
    raise ValueError(f"{where}: unknown initializer {identifier!r}; valid ones are {sorted(_CLASSES)}")


def serialize(init):
    """Keras 3's form: {'module': 'keras.initializers', 'class_name': 'GlorotUniform', 'config': {...}}."""
    return {"module": "keras.initializers", "class_name": init.keras_name, "config": init.get_config(),
            "registered_name": None}
