"""Turn what the user passes to fit/evaluate/predict into lists of arrays.

Inputs may be one array, a list/tuple (one array per model input, in the
order of ``Model(inputs=[...])``) or a dict keyed by Input name; targets
likewise per output (dict keyed by output layer name).
"""
import numpy as np


def _layer_for_input(model, i):
    """The layer that reads input i (named in shape errors)."""
    t_in = model._graph.inputs[i]
    for t in model._graph.nodes:
        if any(src is t_in for src in t.inbound):
            return t.layer.name
    return t_in.layer.name


def as_array(a, dtype, what):
    if hasattr(a, "to_numpy"):               # pandas objects
        a = a.to_numpy()
    a = np.asarray(a)
    if a.dtype.kind not in "iufb":
        raise TypeError(f"{what} must be numeric, got dtype {a.dtype}")
    if a.ndim == 0:
        raise ValueError(f"{what} must have a batch axis, got a scalar")
    return np.ascontiguousarray(a, dtype=dtype)


def split_per_input(model, x):
    """x as given -> list with one (unconverted) entry per model input."""
    names = model.input_names
    if isinstance(x, dict):
        missing = [n for n in names if n not in x]
        extra = sorted(set(x) - set(names))
        if missing or extra:
            raise ValueError(
                f"Model '{model.name}': the input dict must have the keys {names}; "
                f"missing {missing}, unexpected {extra}"
            )
        return [x[n] for n in names]
    if isinstance(x, (list, tuple)) and len(names) > 1:
        if len(x) != len(names):
            raise ValueError(f"Model '{model.name}' has {len(names)} inputs {names}, got {len(x)} arrays")
        return list(x)
    if isinstance(x, (list, tuple)) and len(x) == 1 and hasattr(x[0], "shape"):
        return [x[0]]
    if len(names) > 1:
        raise ValueError(f"Model '{model.name}' has {len(names)} inputs {names}; pass a list, tuple or dict")
    return [x]


def standardize_inputs(model, x, dtype):
    """-> list of float arrays, one per input, with shapes checked against the model."""
    if x is None:
        raise ValueError(f"Model '{model.name}': no input data (x is None)")
    raw = split_per_input(model, x)
    xs = [as_array(a, dtype, f"input '{n}'") for a, n in zip(raw, model.input_names)]
    for i, (a, t) in enumerate(zip(xs, model._graph.inputs)):
        expected = t.sample_shape
        got = a.shape[1:]
        if len(got) != len(expected) or any(e is not None and e != g for e, g in zip(expected, got)):
            raise ValueError(
                f"Input {i} of layer '{_layer_for_input(model, i)}' is incompatible with the layer: "
                f"expected shape (None, {', '.join(map(str, expected))}), got input with shape {a.shape}"
            )
    n = check_same_length([a.shape[0] for a in xs], "inputs")
    if n == 0:
        raise ValueError(f"Model '{model.name}': the input has no samples")
    return xs


def standardize_targets(model, y):
    """-> list of raw target arrays, one per output."""
    names = model.output_names
    if y is None:
        raise ValueError(f"Model '{model.name}': fit/evaluate need targets y")
    if isinstance(y, dict):
        missing = [n for n in names if n not in y]
        if missing:
            raise ValueError(f"Model '{model.name}': the target dict must have the keys {names}; missing {missing}")
        return [np.asarray(y[n]) for n in names]
    if isinstance(y, (list, tuple)) and len(names) > 1:
        if len(y) != len(names):
            raise ValueError(f"Model '{model.name}' has {len(names)} outputs {names}, got {len(y)} target arrays")
        return [np.asarray(a) for a in y]
    if len(names) > 1:
        raise ValueError(f"Model '{model.name}' has {len(names)} outputs {names}; pass targets as a list or dict")
    if hasattr(y, "to_numpy"):
        y = y.to_numpy()
    return [np.asarray(y)]


def check_same_length(lengths, what):
    if len(set(lengths)) > 1:
        raise ValueError(f"all {what} must have the same number of samples, got {lengths}")
    return lengths[0]


def take(arrays, idx):
    return [None if a is None else a[idx] for a in arrays]
