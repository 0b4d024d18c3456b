"""Process-wide settings of fastnn.keras: the float type, random seeds, layer names.

Keras keeps the same three pieces of global state:

* ``floatx()`` / ``set_floatx('float64')``: dtype of new weights and of the
  data fed to models (float32 by default; float64 is handy for gradient checks);
* ``set_random_seed(seed)``: reseeds the generator that initializers, dropout
  and shuffling draw from, so a run can be repeated;
* automatic layer names ``dense``, ``dense_1``, ...; ``clear_session()``
  restarts the counters.
"""
import re

import numpy as np

_FLOATX = {"value": "float32"}
_name_counts = {}
_rng = {"gen": np.random.default_rng()}


def floatx():
    """Name of the default float type: 'float32' or 'float64'."""
    return _FLOATX["value"]


def set_floatx(value):
    """Set the default float type of new layers and of input data."""
    if value not in ("float32", "float64"):
        raise ValueError(f"set_floatx: expected 'float32' or 'float64', got {value!r}")
    _FLOATX["value"] = value


def epsilon():
    """The fuzz factor Keras uses in losses (clip probabilities to [eps, 1 - eps])."""
    return 1e-7


def global_rng():
    """The generator that draws initial weights and seeds per-layer generators."""
    return _rng["gen"]


def set_random_seed(seed):
    """Make initial weights, dropout masks and shuffling repeatable."""
    _rng["gen"] = np.random.default_rng(seed)
    np.random.seed(seed)


def snake_case(class_name):
    """'MaxPooling2D' -> 'max_pooling2d', the way Keras names layers."""
    s = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", class_name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", s).lower()


def unique_name(prefix):
    """``prefix`` the first time, then ``prefix_1``, ``prefix_2``, ..."""
    n = _name_counts.get(prefix, 0)
    _name_counts[prefix] = n + 1
    return prefix if n == 0 else f"{prefix}_{n}"


def clear_session():
    """Restart automatic layer and model names from ``dense``, ``sequential``, ..."""
    _name_counts.clear()


def rng_state(gen):
    """JSON-friendly state of a NumPy Generator (to save with a model)."""
    return gen.bit_generator.state


def rng_from_state(state):
    """A Generator restored from ``rng_state``; the bit generator's name goes
    through an allow-list, never ``getattr(np.random, name)``."""
    from .saving.rng import generator_from_state
    return generator_from_state(state)
