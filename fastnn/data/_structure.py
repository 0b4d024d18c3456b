"""Nested elements (array, tuple, dict) as tf.data handles them."""
import numpy as np


def map_structure(fn, *elements):
    """Apply ``fn`` leaf by leaf to elements of the same nesting (tuples and dicts)."""
    first = elements[0]
    if isinstance(first, dict):
        return {k: map_structure(fn, *(e[k] for e in elements)) for k in first}
    if isinstance(first, tuple):
        return tuple(map_structure(fn, *parts) for parts in zip(*elements))
    return fn(*elements)


def leaves(element):
    if isinstance(element, dict):
        return [v for k in element for v in leaves(element[k])]
    if isinstance(element, tuple):
        return [v for e in element for v in leaves(e)]
    return [element]


def as_arrays(structure, where):
    """Slice-able components: lists become arrays (tf.data stacks a list), tuples/dicts nest."""
    if isinstance(structure, dict):
        return {k: as_arrays(v, where) for k, v in structure.items()}
    if isinstance(structure, tuple):
        return tuple(as_arrays(v, where) for v in structure)
    if hasattr(structure, "to_numpy"):
        structure = structure.to_numpy()
    a = np.asarray(structure)
    if a.dtype == object:
        raise TypeError(f"{where}: components must be numeric or string arrays, got a ragged or object array")
    return a


def stack(elements, where):
    """Elements -> one batch element (each leaf stacked on a new first axis)."""
    def st(*parts):
        try:
            return np.stack([np.asarray(p) for p in parts])
        except ValueError as exc:
            shapes = sorted({np.shape(p) for p in parts})
            raise ValueError(
                f"{where}: cannot batch elements of different shapes {shapes}; "
                f"resize them first (e.g. in map) or batch(1)"
            ) from exc
    return map_structure(st, *elements)
