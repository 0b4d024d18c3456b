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


# ------------------------------------------------- get_value / set_value
class LiveScalar(float):
    """A number read from a live setting, such as ``optimizer.learning_rate``, that can be set back.

    It is a ``float`` (arithmetic, comparisons, formatting and JSON see the value
    at the moment it was read), and it remembers where it came from, so that
    ``keras.backend.set_value(optimizer.learning_rate, 0.01)`` and
    ``optimizer.learning_rate.assign(0.01)`` change the setting itself (Keras
    keeps the learning rate in a variable for the same purpose).
    ``numpy()``/``get_value`` read the current value of the setting.
    """

    def __new__(cls, value, getter, setter):
        obj = super().__new__(cls, value)
        obj._getter = getter
        obj._setter = setter
        return obj

    def assign(self, value):
        self._setter(value)
        return self

    def numpy(self):
        return np.float32(self._getter()) if floatx() == "float32" else np.float64(self._getter())

    @property
    def value(self):
        return float(self._getter())

    def __reduce__(self):                 # copies and pickles are plain floats
        return (float, (float(self),))

    def __deepcopy__(self, memo):
        return float(self)

    def __copy__(self):
        return float(self)


def get_value(x):
    """The value of ``x`` as NumPy: a variable such as ``optimizer.learning_rate``, an array or a number."""
    if isinstance(x, LiveScalar):
        return x.numpy()
    if hasattr(x, "numpy") and callable(x.numpy):
        return x.numpy()
    if isinstance(x, np.ndarray):
        return x.copy()
    if isinstance(x, (int, float, np.number, bool)):
        return np.asarray(x)[()]
    raise TypeError(f"keras.backend.get_value: expected a variable, an array or a number, got {type(x).__name__}")


def set_value(x, value):
    """Set ``x`` to ``value`` in place: ``optimizer.learning_rate`` (takes effect at the next step) or a weight array."""
    if isinstance(x, LiveScalar) or (hasattr(x, "assign") and callable(x.assign)):
        x.assign(float(np.asarray(value)) if np.ndim(value) == 0 else value)
        return
    if isinstance(x, np.ndarray):
        value = np.asarray(value)
        if value.shape != x.shape and value.size != 1:
            raise ValueError(f"keras.backend.set_value: the variable has shape {x.shape}, the value {value.shape}")
        if not x.flags.writeable:
            raise ValueError("keras.backend.set_value: the array is read-only")
        x[...] = value
        return
    raise TypeError(
        f"keras.backend.set_value: expected a variable (e.g. model.optimizer.learning_rate) or a weight array, "
        f"got {type(x).__name__}; a plain number cannot be changed in place"
    )
