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
import numpy as np

from . import backend

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
        return np.asarray(self._draw(tuple(shape), backend.global_rng()), dtype=dtype)

    def get_config(self):
        return {}


class Zeros(Initializer):
    name = "zeros"

    def _draw(self, shape, rng):
        return np.zeros(shape)


class Ones(Initializer):
    name = "ones"

    def _draw(self, shape, rng):
        return np.ones(shape)


class RandomNormal(Initializer):
    name = "random_normal"

    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        self.mean, self.stddev, self.seed = mean, stddev, seed

    def _draw(self, shape, rng):
        rng = np.random.default_rng(self.seed) if self.seed is not None else rng
        return self.mean + self.stddev * rng.standard_normal(shape)

    def get_config(self):
        return {"mean": self.mean, "stddev": self.stddev, "seed": self.seed}


class RandomUniform(Initializer):
    name = "random_uniform"

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


class GlorotNormal(_FanScaled):
    name = "glorot_normal"
    law = "normal"


class HeNormal(_FanScaled):
    name = "he_normal"
    scale, fan, law = 2.0, "in", "normal"


class HeUniform(_FanScaled):
    name = "he_uniform"
    scale, fan = 2.0, "in"


_CLASSES = {cls.name: cls for cls in (Zeros, Ones, RandomNormal, RandomUniform, GlorotUniform,
                                      GlorotNormal, HeNormal, HeUniform)}
_ALIASES = {"normal": "random_normal", "uniform": "random_uniform"}


def get(identifier, where="initializer"):
    """An initializer from a name, a config dict, or an Initializer."""
    if isinstance(identifier, Initializer):
        return identifier
    if isinstance(identifier, dict):
        return _CLASSES[identifier["class_name"]](**identifier.get("config", {}))
    if isinstance(identifier, str):
        key = _ALIASES.get(identifier.lower(), identifier.lower())
        if key in _CLASSES:
            return _CLASSES[key]()
    raise ValueError(f"{where}: unknown initializer {identifier!r}; valid ones are {sorted(_CLASSES)}")


def serialize(init):
    return {"class_name": init.name, "config": init.get_config()}
