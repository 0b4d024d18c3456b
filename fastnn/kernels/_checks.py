"""Argument checks shared by every kernel.

Compiled code runs with bounds checking off, so everything it relies on
(rank, shapes, dtype, contiguity, sizes > 0) is checked here first, with an
error that names the kernel, what it expected and what it got.
"""
import numbers

import numpy as np

FLOAT_DTYPES = (np.float32, np.float64)
#: The same, as a set of dtypes: a set lookup is the cheapest test (these
#: checks run several times per layer per step), and like ``==`` it refuses
#: non-native byte orders.
FLOAT_DTYPE_SET = frozenset(np.dtype(t) for t in FLOAT_DTYPES)


def float_array(where, name, a, ndim=None):
    """Return ``a`` as a float32/float64 ndarray, or raise TypeError/ValueError.

    Lists of numbers become float64 arrays; integer, bool, complex and object
    arrays are refused rather than silently converted.
    """
    if not isinstance(a, np.ndarray):
        if isinstance(a, np.floating):
            a = np.asarray(a)  # a NumPy float scalar keeps its dtype (float32 stays float32)
        elif isinstance(a, (list, tuple, numbers.Real)):
            a = np.asarray(a, dtype=np.float64)
        else:
            raise TypeError(f"{where}: {name} must be a NumPy array, got {type(a).__name__}")
    if a.dtype not in FLOAT_DTYPE_SET:
        raise TypeError(f"{where}: {name} must be float32 or float64, got dtype {a.dtype}")
    if ndim is not None and a.ndim != ndim:
        raise ValueError(f"{where}: {name} must be {ndim}-D, got shape {a.shape}")
    return a


def common_dtype(*arrays):
    """The dtype NumPy would compute in: float64 if any array is float64."""
    return np.result_type(*arrays)


def positive_int(where, name, value):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{where}: {name} must be an int, got {value!r}")
    if value < 1:
        raise ValueError(f"{where}: {name} must be >= 1, got {value}")
    return int(value)


def non_negative_int(where, name, value):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{where}: {name} must be an int, got {value!r}")
    if value < 0:
        raise ValueError(f"{where}: {name} must be >= 0, got {value}")
    return int(value)


def flag(where, name, value):
    """Return value as a bool if it is one (Python or NumPy), else raise TypeError."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{where}: {name} must be True or False, got {value!r}")
    return bool(value)


def non_empty_batch(where, name, a):
    if a.shape[0] == 0:
        raise ValueError(f"{where}: {name} has an empty batch (shape {a.shape})")


#: Largest window size, stride, pad and padded image side: what a C int holds
#: (BLAS takes int sizes). Both backends refuse more with the same ValueError.
MAX_WINDOW = 2**31 - 1


def window_geometry(where, input_shape, filter_h, filter_w, stride, pad):
    """Check a sliding window and return (OH, OW).

    input_shape is (N, C, H, W); the window must fit in the padded input,
    and sizes, stride, pad and the padded sides are at most ``MAX_WINDOW``.
    """
    filter_h = positive_int(where, "filter height", filter_h)
    filter_w = positive_int(where, "filter width", filter_w)
    stride = positive_int(where, "stride", stride)
    pad = non_negative_int(where, "pad", pad)
    for name, value in (("filter height", filter_h), ("filter width", filter_w),
                        ("stride", stride), ("pad", pad)):
        if value > MAX_WINDOW:
            raise ValueError(f"{where}: {name} must be at most 2**31 - 1, got {value}")
    N, C, H, W = input_shape
    if max(H, W) + 2 * pad > MAX_WINDOW:
        raise ValueError(
            f"{where}: pad {pad} makes the padded input {H + 2 * pad}x{W + 2 * pad}; "
            f"each side must be at most 2**31 - 1"
        )
    if N == 0:
        raise ValueError(f"{where}: empty batch (input shape {tuple(input_shape)})")
    if C == 0 or H == 0 or W == 0:
        raise ValueError(f"{where}: input has a zero dimension (shape {tuple(input_shape)})")
    if filter_h > H + 2 * pad or filter_w > W + 2 * pad:
        raise ValueError(
            f"{where}: window {filter_h}x{filter_w} is larger than the padded input "
            f"{H + 2 * pad}x{W + 2 * pad} (input {H}x{W}, pad {pad})"
        )
    OH = (H + 2 * pad - filter_h) // stride + 1
    OW = (W + 2 * pad - filter_w) // stride + 1
    return OH, OW


def shape_is(where, name, a, expected):
    if tuple(a.shape) != tuple(expected):
        raise ValueError(f"{where}: {name} must have shape {tuple(expected)}, got {tuple(a.shape)}")


def input_shape_4d(where, input_shape):
    try:
        shape = tuple(int(s) for s in input_shape)
    except TypeError:
        raise TypeError(f"{where}: input_shape must be a tuple (N, C, H, W), got {input_shape!r}") from None
    if len(shape) != 4 or min(shape) < 0:
        raise ValueError(f"{where}: input_shape must be (N, C, H, W), got {input_shape!r}")
    return shape


def labels_or_targets(where, t, n, k, check_range=True):
    """Check targets for a (n, k) score matrix: (n,) int labels in [0, k) or (n, k) floats.

    Integer labels shaped (n, 1) or (1, n) count as (n,) labels, as in the
    book (a target of the scores' size is one-hot, else labels).

    Labels come back as int64. check_range=False leaves out the range check
    (the compiled softmax kernels make it in their own loop, where it costs
    nothing; ``fastnn.kernels`` then calls labels_in_range for the message).
    """
    if not isinstance(t, np.ndarray):
        t = np.asarray(t)
    if t.ndim == 2 and t.shape != (n, k) and t.shape in ((n, 1), (1, n)):
        # The book's cross_entropy_error takes a target whose size is the
        # batch size as labels (ch07/gradient_check.py passes shape (1, 1)).
        t = t.reshape(n)
    if t.ndim == 1:
        if t.dtype.kind not in "iu":
            raise TypeError(f"{where}: labels must be integers, got dtype {t.dtype}")
        if t.shape[0] != n:
            raise ValueError(f"{where}: {t.shape[0]} labels for a batch of {n}")
        if check_range:
            labels_in_range(where, t, k)
        return t.astype(np.int64, copy=False)
    if t.ndim == 2:
        if t.shape != (n, k):
            raise ValueError(
                f"{where}: targets must be one-hot of the scores' shape {(n, k)}, or integer labels "
                f"shaped ({n},), ({n}, 1) or (1, {n}); got shape {t.shape}"
            )
        if t.dtype.kind not in "iufb":
            raise TypeError(f"{where}: targets must be numeric, got dtype {t.dtype}")
        return t
    raise ValueError(f"{where}: targets must be (N,) labels or (N, K) one-hot, got shape {t.shape}")


def labels_in_range(where, labels, k):
    """Raise ValueError unless every integer label lies in [0, k)."""
    labels = np.asarray(labels)
    if labels.size and (labels.min() < 0 or labels.max() >= k):
        raise ValueError(
            f"{where}: labels must lie in [0, {k}), got values in [{labels.min()}, {labels.max()}]"
        )


def run_argmax_checked(where, fn, compiled, argmax, window, *args):
    """Run a max-pool backward kernel ``fn(*args)`` whose argmax must lie in [0, window).

    The NumPy kernel gets the check here first (two passes over argmax); a
    compiled kernel checks the range in its own loop and raises ValueError,
    which becomes the same message.
    """
    message = f"{where}: argmax values must lie in [0, {window})"
    if not compiled:
        if argmax.size and (argmax.min() < 0 or argmax.max() >= window):
            raise ValueError(message)
        return fn(*args)
    try:
        return fn(*args)
    except ValueError as exc:
        if "argmax values must lie in" not in str(exc):
            raise
        raise ValueError(message) from None
