"""Saving and loading, in NumPy's .npz format only (never pickle).

* ``save_weights(path)`` / ``load_weights(path)``: every weight, in layer order.
* ``model.save(path)`` / ``load_model(path)``: one .npz holding the architecture
  (JSON), the weights, the compile settings, the optimizer's state and the
  random generators of the model (shuffling) and of its Dropout layers, so
  that ``fit`` after ``load_model`` continues exactly as without the break.
* ``to_json()`` / ``model_from_json()``: the architecture alone.

Whatever the file name (``.keras``, ``.weights.h5``, ``.npz``, none), the file
is an .npz archive written atomically; it is read with ``allow_pickle=False``,
and JSON is rebuilt only from known layer classes, so loading never runs code
from the file.
"""
import io
import json
import os

import numpy as np

from . import _atomic, backend
from . import optimizers as _optimizers
from .layers import LAYER_CLASSES
from .layers.base import KerasTensor

FORMAT = "fastnn.keras"
VERSION = 1
META_KEY = "__fastnn_keras__"


# ---------------------------------------------------------------- config
def model_config(model):
    """{'class_name': 'Sequential'|'Functional', 'config': {...}} describing the architecture."""
    from . import _subclassing
    from ._sequential import Sequential
    if _subclassing.is_subclassed(model):
        return _subclassing.model_config(model)
    if isinstance(model, Sequential):
        return {"class_name": "Sequential", "config": {
            "name": model.name,
            "input_shape": None if model._input_shape is None else list(model._input_shape),
            "input_name": model._input_name,
            "layers": [_layer_entry(layer) for layer in model.layers],
        }}
    model._require_built("be serialised")
    g = model._graph
    layers = [dict(_layer_entry(t.layer), inbound=[], takes_list=False) for t in g.inputs]
    for t in g.nodes:
        layers.append(dict(_layer_entry(t.layer), inbound=[s.layer.name for s in t.inbound],
                           takes_list=t.layer_takes_list))
    return {"class_name": "Functional", "config": {
        "name": model.name, "layers": layers,
        "input_layers": model.input_names, "output_layers": model.output_names,
        "inputs_nested": model._inputs_nested, "outputs_nested": model._outputs_nested,
    }}


def _layer_entry(layer):
    return {"class_name": type(layer).__name__, "config": layer.get_config()}


def _make_layer(entry, custom_objects):
    classes = dict(LAYER_CLASSES, **(custom_objects or {}))
    cls = classes.get(entry.get("class_name"))
    if cls is None:
        raise ValueError(
            f"model config: unknown layer class {entry.get('class_name')!r}; "
            f"known classes are {sorted(classes)} (pass custom_objects for others)"
        )
    return cls.from_config(dict(entry["config"]))


def model_from_config(config, custom_objects=None):
    from ._model import Model
    from ._sequential import Sequential
    from .layers.core import Input
    if not isinstance(config, dict) or "class_name" not in config or "config" not in config:
        raise ValueError("model config: expected a dict with 'class_name' and 'config'")
    c = config["config"]
    if config["class_name"] not in ("Sequential", "Functional"):
        from . import _subclassing
        return _subclassing.model_from_config(config, custom_objects)
    if config["class_name"] == "Sequential":
        model = Sequential(name=c["name"])
        if c.get("input_shape") is not None:
            model.add(Input(shape=tuple(c["input_shape"]), name=c.get("input_name")))
        for entry in c["layers"]:
            model.add(_make_layer(entry, custom_objects))
        return model
    if config["class_name"] != "Functional":
        raise ValueError(f"model config: unknown model class {config['class_name']!r}")
    tensors = {}
    for entry in c["layers"]:
        layer = _make_layer(entry, custom_objects)
        if entry["class_name"] == "InputLayer":
            tensors[layer.name] = KerasTensor(layer.shape, layer)
            continue
        srcs = [tensors[n] for n in entry["inbound"]]
        tensors[layer.name] = layer(srcs if entry["takes_list"] else srcs[0])
    inputs = [tensors[n] for n in c["input_layers"]]
    outputs = [tensors[n] for n in c["output_layers"]]
    return Model(inputs=inputs if c["inputs_nested"] else inputs[0],
                 outputs=outputs if c["outputs_nested"] else outputs[0], name=c["name"])


def model_from_json(json_string, custom_objects=None):
    return model_from_config(json.loads(json_string), custom_objects)


# ---------------------------------------------------------------- files
def _write_npz(path, arrays, overwrite):
    path = os.fspath(path)
    if not overwrite and os.path.exists(path):
        raise FileExistsError(f"{path} exists and overwrite=False")
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    _atomic.write_bytes(path, buf.getvalue())


def _read_npz(path, what):
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"{what}: no file at {path}")
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except (ValueError, OSError) as exc:
        raise ValueError(f"{what}: {path} is not a fastnn.keras .npz file ({exc})") from None
    if META_KEY not in arrays:
        raise ValueError(f"{what}: {path} has no fastnn.keras metadata")
    meta = json.loads(str(arrays.pop(META_KEY)))
    if meta.get("format") != FORMAT:
        raise ValueError(f"{what}: {path} is not a fastnn.keras file")
    return meta, arrays


def _weight_arrays(model):
    arrays, manifest = {}, []
    for i, layer in enumerate(model.layers):
        manifest.append([layer.name, list(layer.params)])
        for pname, value in layer.params.items():
            arrays[f"w:{i}:{pname}"] = value
    return arrays, manifest


def _set_weight_arrays(model, manifest, arrays, where):
    layers = [l for l in model.layers]
    if len(manifest) != len(layers):
        raise ValueError(f"{where}: the file has weights for {len(manifest)} layers, the model has {len(layers)}")
    for i, ((saved_name, pnames), layer) in enumerate(zip(manifest, layers)):
        if list(pnames) != list(layer.params):
            raise ValueError(
                f"{where}: layer {i} ('{layer.name}') has weights {list(layer.params)}, "
                f"the file has {pnames} (saved from layer '{saved_name}')"
            )
        layer.set_weights([arrays[f"w:{i}:{p}"] for p in pnames])


def save_weights(model, filepath, overwrite=True):
    model._require_built("save its weights")
    arrays, manifest = _weight_arrays(model)
    meta = {"format": FORMAT, "version": VERSION, "kind": "weights", "layers": manifest}
    arrays[META_KEY] = np.array(json.dumps(meta))
    _write_npz(filepath, arrays, overwrite)


def load_weights(model, filepath):
    model._require_built("load weights")
    meta, arrays = _read_npz(filepath, "load_weights")
    _set_weight_arrays(model, meta["layers"], arrays, f"load_weights({os.fspath(filepath)!r})")


def save_model(model, filepath, overwrite=True):
    model._require_built("be saved")
    arrays, manifest = _weight_arrays(model)
    meta = {"format": FORMAT, "version": VERSION, "kind": "model", "model": model_config(model),
            "layers": manifest, "compile": None, "optimizer": None,
            "rng": {"model": backend.rng_state(model._rng),
                    "layers": {l.name: backend.rng_state(l._rng) for l in model.layers if hasattr(l, "_rng")}}}
    if model.compiled:
        meta["compile"] = model._compile_config
        opt = model.optimizer
        meta["optimizer"] = dict(_optimizers.serialize(opt), iterations=opt.iterations,
                                 slots={k: list(v) for k, v in opt.slots.items()})
        for key, slots in opt.slots.items():
            for sname, value in slots.items():
                arrays[f"opt:{key}:{sname}"] = value
    arrays[META_KEY] = np.array(json.dumps(meta))
    _write_npz(filepath, arrays, overwrite)


def load_model(filepath, custom_objects=None, compile=True, safe_mode=True):
    """Rebuild a model saved with ``model.save``: architecture, weights, compile state, optimizer state."""
    meta, arrays = _read_npz(filepath, "load_model")
    if meta.get("kind") != "model":
        raise ValueError(f"load_model: {os.fspath(filepath)} holds only weights; build the model and use load_weights")
    model = model_from_config(meta["model"], custom_objects)
    _set_weight_arrays(model, meta["layers"], arrays, f"load_model({os.fspath(filepath)!r})")
    rng = meta.get("rng") or {}
    if "model" in rng:
        model._rng = backend.rng_from_state(rng["model"])
    for layer in model.layers:
        if layer.name in rng.get("layers", {}):
            layer._rng = backend.rng_from_state(rng["layers"][layer.name])
    if compile and meta.get("compile") is not None and meta.get("optimizer") is not None:
        c, o = meta["compile"], meta["optimizer"]
        optimizer = _optimizers.deserialize(o)
        model.compile(optimizer=optimizer, loss=c["loss"], metrics=c["metrics"], loss_weights=c["loss_weights"])
        optimizer.iterations = int(o["iterations"])
        for key, snames in o["slots"].items():
            optimizer.slots[key] = {s: np.array(arrays[f"opt:{key}:{s}"]) for s in snames}
    return model
