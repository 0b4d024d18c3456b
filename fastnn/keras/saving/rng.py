"""Random generator states saved with a model, restored through an allow-list.

A saved state names its bit generator (``"bit_generator": "PCG64"``). The
name selects one of NumPy's bit generator classes from the table below and
nothing else: it is never looked up as an attribute of ``numpy.random``
(where ``test`` or ``seed`` would run NumPy's test suite or reseed the
global generator).
"""
import numpy as np

BIT_GENERATORS = {"PCG64": np.random.PCG64, "PCG64DXSM": np.random.PCG64DXSM, "MT19937": np.random.MT19937,
                  "Philox": np.random.Philox, "SFC64": np.random.SFC64}


def generator_from_state(state, where="random state"):
    """A ``np.random.Generator`` restored from ``Generator.bit_generator.state``."""
    if not isinstance(state, dict):
        raise ValueError(f"{where}: a generator state must be a dict, got {type(state).__name__}")
    name = state.get("bit_generator")
    cls = BIT_GENERATORS.get(name) if isinstance(name, str) else None
    if cls is None:
        raise ValueError(f"{where}: unknown bit generator {name!r}; allowed are {sorted(BIT_GENERATORS)}")
    bitgen = cls()
    try:
        bitgen.state = state
    except (TypeError, ValueError, KeyError, OverflowError) as exc:
        raise ValueError(f"{where}: malformed {name} state ({exc})") from None
    return np.random.Generator(bitgen)


def model_rng_state(model):
    """The generators of a model (shuffling) and of its layers (Dropout masks)."""
    return {"model": model._rng.bit_generator.state,
            "layers": {l.name: l._rng.bit_generator.state for l in model.layers
                       if isinstance(getattr(l, "_rng", None), np.random.Generator)}}


def restore_model_rng(model, rng, where):
    if not rng:
        return
    if not isinstance(rng, dict):
        raise ValueError(f"{where}: malformed random states")
    if "model" in rng:
        model._rng = generator_from_state(rng["model"], f"{where}, model generator")
    layers = rng.get("layers") or {}
    if not isinstance(layers, dict):
        raise ValueError(f"{where}: malformed layer random states")
    for layer in model.layers:
        if layer.name in layers and hasattr(layer, "_rng"):
            layer._rng = generator_from_state(layers[layer.name], f"{where}, layer '{layer.name}' generator")
