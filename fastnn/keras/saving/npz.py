"""fastnn's own checkpoint: one NumPy ``.npz`` (for ``.npz`` file names).

Besides what a ``.keras`` file holds (architecture, weights, compile settings,
optimizer state) it keeps the random generators of the model (shuffling) and
of its Dropout layers, so that ``fit`` after ``load_model`` continues exactly
as without the break. Used by ``fastnn train``.

Reading never unpickles: every member's ``.npy`` header is checked first
(numeric dtype, size within what the member stores) and the data are read
with ``allow_pickle=False``.
"""
import io
import json
import os
import zipfile

import numpy as np

from .. import _atomic
from . import _budget, config as _config, rng as _rng, weights as _weights
from ._errors import damaged_file

FORMAT = "fastnn.keras"
VERSION = 2
META_KEY = "__fastnn_keras__"
_MAX_META = 64 << 20


def _write(path, arrays, overwrite):
    path = os.fspath(path)
    if not overwrite and os.path.exists(path):
        raise FileExistsError(f"{path} exists and overwrite=False")
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    _atomic.write_bytes(path, buf.getvalue())


def _read(path, what):
    """(meta, {name: array}) of a fastnn .npz, every member checked before it is read."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"{what}: no file at {path}")
    bad = f"{what}: {path} is not a fastnn.keras .npz file"
    readers = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}
    arrays = {}
    try:
        with damaged_file(what, path), zipfile.ZipFile(path) as zf:
            for info in zf.infolist():
                if not info.filename.endswith(".npy"):
                    raise ValueError(f"{bad} (member {info.filename!r} is not an array)")
                key = info.filename[:-4]
                with zf.open(info) as fh:
                    version = np.lib.format.read_magic(fh)
                    if version not in readers:
                        raise ValueError(f"{bad} (member {key!r}: .npy format {version})")
                    shape, fortran, dtype = readers[version](fh)
                    text = key == META_KEY and dtype.kind == "U"
                    if dtype.kind not in "biuf" and not text:
                        raise ValueError(f"{bad} (member {key!r} holds {dtype} data; only numbers are read)")
                    nbytes = int(np.prod(shape, dtype=np.float64)) * dtype.itemsize
                    if nbytes > info.file_size or (text and nbytes > _MAX_META):
                        raise ValueError(f"{bad} (member {key!r} claims {shape} {dtype}, more than it stores)")
                    if info.file_size > max(info.compress_size, 1 << 16) * 1100:
                        raise ValueError(f"{bad} (member {key!r} expands {info.file_size} bytes from "
                                         f"{info.compress_size}: refused)")
                with zf.open(info) as fh:
                    arrays[key] = np.lib.format.read_array(fh, allow_pickle=False)
    except zipfile.BadZipFile as exc:
        raise ValueError(f"{bad} ({exc})") from None
    except (OSError, EOFError, zipfile.LargeZipFile) as exc:
        raise ValueError(f"{bad} ({type(exc).__name__}: {exc})") from None
    if META_KEY not in arrays:
        raise ValueError(f"{what}: {path} has no fastnn.keras metadata")
    try:
        meta = json.loads(str(arrays.pop(META_KEY)))
    except ValueError:
        raise ValueError(f"{what}: {path} has unreadable fastnn.keras metadata") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
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
    layers = list(model.layers)
    if not isinstance(manifest, list) or len(manifest) != len(layers):
        n = len(manifest) if isinstance(manifest, list) else "?"
        raise ValueError(f"{where}: the file has weights for {n} layers, the model has {len(layers)}")
    for i, (entry, layer) in enumerate(zip(manifest, layers)):
        saved_name, pnames = entry
        if list(pnames) != list(layer.params):
            raise ValueError(
                f"{where}: layer {i} ('{layer.name}') has weights {list(layer.params)}, "
                f"the file has {pnames} (saved from layer '{saved_name}')"
            )
        for p in pnames:
            a, current = arrays.get(f"w:{i}:{p}"), layer.params[p]
            if a is None:
                raise ValueError(f"{where}: weight '{p}' of layer '{layer.name}' is missing")
            if a.shape != current.shape:
                raise ValueError(f"{where}: layer '{layer.name}' weight '{p}' has shape {current.shape} in the "
                                 f"model but {a.shape} in the file")
        layer.set_weights([arrays[f"w:{i}:{p}"] for p in pnames])


def save_weights(model, filepath, overwrite=True):
    arrays, manifest = _weight_arrays(model)
    meta = {"format": FORMAT, "version": VERSION, "kind": "weights", "layers": manifest}
    arrays[META_KEY] = np.array(json.dumps(meta))
    _write(filepath, arrays, overwrite)


def load_weights(model, filepath):
    meta, arrays = _read(filepath, "load_weights")
    _set_weight_arrays(model, meta.get("layers"), arrays, f"load_weights({os.fspath(filepath)!r})")


def save_model(model, filepath, overwrite=True, include_optimizer=True):
    arrays, manifest = _weight_arrays(model)
    meta = {"format": FORMAT, "version": VERSION, "kind": "model", "model": _config.model_config(model),
            "layers": manifest, "compile": _config.compile_config(model) if include_optimizer else None,
            "rng": _rng.model_rng_state(model)}
    if meta["compile"] is not None:
        for i, (_, value) in enumerate(_weights.optimizer_arrays(model)):
            arrays[f"opt:{i}"] = value
    arrays[META_KEY] = np.array(json.dumps(meta))
    _write(filepath, arrays, overwrite)


def load_model(filepath, custom_objects=None, compile=True, safe_mode=True):
    where = f"load_model({os.fspath(filepath)!r})"
    meta, arrays = _read(filepath, "load_model")
    if meta.get("kind") != "model":
        raise ValueError(f"load_model: {os.fspath(filepath)} holds only weights; build the model and use load_weights")
    held = sum(a.size for k, a in arrays.items() if k.startswith("w:"))
    budget = _budget.Budget(held, where, "the file's weights hold")
    with budget.active():
        model = _config.model_from_config(meta.get("model"), custom_objects, safe_mode, where, budget.on_layer)
    _set_weight_arrays(model, meta.get("layers"), arrays, where)
    _rng.restore_model_rng(model, meta.get("rng"), where)
    cc = meta.get("compile")
    if compile and meta.get("version") == 1:
        _compile_v1(model, meta, arrays, custom_objects, where)
    elif compile and cc is not None:
        if _config.compile_from_config(model, cc, custom_objects, where) is not None:
            n = len([k for k in arrays if k.startswith("opt:")])
            values = [(lambda shape, a=arrays[f"opt:{i}"]: _checked(a, shape, where)) for i in range(n)]
            _weights.set_optimizer_arrays(model, values, where)
    return model


def _checked(a, shape, where):
    if a.shape != tuple(shape):
        raise ValueError(f"{where}: an optimizer variable has shape {a.shape}, expected {tuple(shape)}")
    return a


def _compile_v1(model, meta, arrays, custom_objects, where):
    """Files of fastnn's first .npz version: optimizer state keyed 'opt:<layer/weight>:<slot>'."""
    cc, o = meta.get("compile"), meta.get("optimizer")
    if not isinstance(cc, dict) or not isinstance(o, dict):
        return
    cc = dict(cc, optimizer={"class_name": o.get("class_name"), "config": o.get("config")})
    optimizer = _config.compile_from_config(model, cc, custom_objects, where)
    if optimizer is None:
        return
    params = {f"{l.name}/{p}": v for l in model.layers for p, v in l.params.items()}
    slots = o.get("slots") or {}
    if not isinstance(slots, dict):
        raise ValueError(f"{where}: malformed optimizer slots")
    for key, names in slots.items():
        if key not in params or not isinstance(names, list):
            raise ValueError(f"{where}: optimizer state for unknown weight {key!r}")
        optimizer.slots[key] = {s: np.array(_checked(arrays[f"opt:{key}:{s}"], params[key].shape, where),
                                            dtype=params[key].dtype) for s in names}
    it = o.get("iterations", 0)
    if isinstance(it, bool) or not isinstance(it, int) or it < 0:
        raise ValueError(f"{where}: malformed optimizer iteration count {it!r}")
    optimizer.iterations = it
