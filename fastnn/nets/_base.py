"""What every book-style network shares: dtype, weight init, accuracy, parameter files.

A network keeps its parameters in ``self.params`` (``'W1'``, ``'b1'``, ...)
and builds its layers on those very arrays, so an optimizer that updates
``params`` in place updates the layers as well.
"""
import functools
import numbers

import numpy as np

from .. import io as _io
from .._blas import threaded_blas
from ..kernels._checks import FLOAT_DTYPE_SET


def check_dtype(where, dtype):
    """Return ``dtype`` as a NumPy dtype if it is float32 or float64, else raise TypeError."""
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"{where}: dtype must be np.float32 or np.float64, got {dtype!r}") from None
    if dt not in FLOAT_DTYPE_SET:
        raise TypeError(f"{where}: dtype must be np.float32 or np.float64, got {dt}")
    return dt


def init_scale(where, weight_init_std, fan_in):
    """Standard deviation of a layer's initial weights.

    'relu'/'he' -> sqrt(2 / fan_in) (He), 'sigmoid'/'xavier' -> sqrt(1 / fan_in)
    (Xavier), a number -> that number; fan_in is the layer's number of inputs.
    """
    if isinstance(weight_init_std, str):
        name = weight_init_std.lower()
        if name in ("relu", "he"):
            return np.sqrt(2.0 / fan_in)
        if name in ("sigmoid", "xavier"):
            return np.sqrt(1.0 / fan_in)
        raise ValueError(
            f"{where}: weight_init_std must be 'relu', 'he', 'sigmoid', 'xavier' or a number, "
            f"got {weight_init_std!r}"
        )
    if isinstance(weight_init_std, numbers.Real) and not isinstance(weight_init_std, bool):
        return weight_init_std
    raise TypeError(f"{where}: weight_init_std must be a string or a number, got {weight_init_std!r}")


def positive_size(where, name, value):
    """Check a layer size (an int >= 1) and return it as an int."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{where}: {name} must be an int >= 1, got {value!r}")
    return int(value)


def gaussian(rng, shape):
    """Standard normal draws of ``shape``.

    ``rng=None`` draws from ``np.random.randn`` like the book, so
    ``np.random.seed`` reproduces the book's initial weights; otherwise
    ``rng`` is a ``numpy.random.Generator`` (or ``RandomState``).
    """
    if rng is None:
        return np.random.randn(*shape)
    if hasattr(rng, "standard_normal"):
        return rng.standard_normal(shape)
    raise TypeError(f"rng must be a numpy.random.Generator or RandomState, got {type(rng).__name__}")


def labels_of(t):
    """Class labels from labels (N,) or one-hot targets (N, K)."""
    t = np.asarray(t)
    return t if t.ndim == 1 else np.argmax(t, axis=1)


def dense_products(method):
    """Decorate ``predict``/``gradient`` of a network made only of Affine layers:
    BLAS threads its products (``fastnn._blas.threaded_blas``)."""
    @functools.wraps(method)
    def run(self, *args, **kwargs):
        with threaded_blas():
            return method(self, *args, **kwargs)
    return run


class BookNet:
    """Base of the book-style networks: input casting, accuracy, save/load.

    Subclasses set ``self.dtype`` and ``self.params`` and define ``predict``.
    """

    dtype = np.dtype(np.float64)
    params = None

    def _as_input(self, x):
        """The input as an array of the network's dtype (float64 inputs of a float32 net are cast)."""
        return np.asarray(x, dtype=self.dtype)

    def _count_correct(self, x, t, batch_size, **predict_kwargs):
        """Number of samples whose arg-max prediction equals the label, in batches."""
        t = labels_of(t)
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise ValueError(
                f"{type(self).__name__}.accuracy: batch_size must be an int >= 1, got {batch_size!r}"
            )
        if len(x) == 0:
            raise ValueError(f"{type(self).__name__}.accuracy: empty input")
        if len(t) != len(x):
            raise ValueError(
                f"{type(self).__name__}.accuracy: {len(x)} inputs but {len(t)} labels"
            )
        correct = 0
        for start in range(0, len(x), batch_size):
            y = self.predict(x[start:start + batch_size], **predict_kwargs)
            correct += int(np.sum(np.argmax(y, axis=1) == t[start:start + batch_size]))
        return correct

    def save_params(self, file_name="params.pkl"):
        """Write ``params`` to ``file_name`` (.pkl like the book, or .npz), atomically."""
        _io.save_params({key: value for key, value in self.params.items()}, file_name)

    def load_params(self, file_name="params.pkl"):
        """Read parameters written by ``save_params`` or by the book's code.

        The loaded arrays are copied into the network's own arrays (which its
        layers share), cast to the network's dtype. Every parameter of the
        network must be in the file, with the same shape (checked before any
        data is read), floating point and finite; otherwise ValueError
        naming the file and the parameter, and the network is left as it was.
        """
        where = f"{type(self).__name__}.load_params"
        # Names and shapes are checked before any data is read; only finite floats are taken.
        expect = {key: value.shape for key, value in self.params.items()}
        loaded = _io.load_params(file_name, expect, where=where)
        for key, value in self.params.items():
            np.copyto(value, loaded[key], casting="unsafe")
