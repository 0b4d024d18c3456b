"""Weights in Keras' two HDF5 layouts, read and written through h5py.

Keras 3 (``model.weights.h5`` inside a ``.keras`` zip, and ``*.weights.h5``)::

    layers/<key>/vars/0, 1, ...      key = snake_case(class name), numbered per class
                                     in Keras' layer order (dense, dense_1, ...);
                                     the vars group's attribute 'name' is the layer name
    optimizer/vars/0                 iteration (int)
    optimizer/vars/1                 learning_rate (float32; absent with a schedule)
    optimizer/vars/2, ...            per-weight slots, in the optimizer's Keras order
    vars                             the model's own variables (none)

Legacy (Keras 2 / ``.h5``): one group per layer named after it, attribute
``weight_names`` listing its datasets in order; the root (or ``model_weights``)
lists ``layer_names``; ``optimizer_weights`` holds ``weight_names`` in the
order iteration, learning_rate, slots.

Every dataset is checked (numeric dtype, expected shape) before it is read.
"""
import warnings

import numpy as np

from .config import keras_layer_order, snake_case


def _path_keys(model):
    """[(layer, 'layers/<key>')] in Keras' order and naming."""
    from .._sequential import Sequential
    layers = keras_layer_order(model)
    if isinstance(model, Sequential):
        layers = [l for l in layers if type(l).__name__ != "InputLayer"]
    used, out = {}, []
    for layer in layers:
        base = snake_case(type(layer).__name__)
        if base in used:
            used[base] += 1
            key = f"{base}_{used[base]}"
        else:
            used[base] = 0
            key = base
        out.append((layer, f"layers/{key}"))
    return out


def _trainable_in_keras_order(model):
    """[(slot key 'layer/weight', param array)] in the order of Keras' ``model.trainable_variables``."""
    out = []
    for layer in keras_layer_order(model):
        for pname in layer.trainable_param_names():
            out.append((f"{layer.name}/{pname}", layer.params[pname]))
    return out


def _read(ds, expected_shape, where, what):
    """The data of one dataset, after checking its dtype and shape."""
    import h5py
    if not isinstance(ds, h5py.Dataset):
        raise ValueError(f"{where}: {what} is not a dataset")
    if ds.dtype.kind not in "biuf":
        raise ValueError(f"{where}: {what} holds {ds.dtype} data, expected numbers")
    if expected_shape is not None and tuple(ds.shape) != tuple(expected_shape):
        raise ValueError(f"{where}: {what} has shape {tuple(ds.shape)}, the model expects {tuple(expected_shape)}")
    return ds[()]


def read_attr(obj, name, where="attribute"):
    """An HDF5 attribute that must hold text (or be an empty list), type-checked before
    it is read: reading a damaged non-string type can crash the HDF5 library itself."""
    import h5py
    if name not in obj.attrs:
        return None
    aid = h5py.h5a.open(obj.id, name.encode())
    kind = aid.get_type()
    if not isinstance(kind, h5py.h5t.TypeStringID):
        if isinstance(kind, (h5py.h5t.TypeFloatID, h5py.h5t.TypeIntegerID)) and aid.get_space().get_simple_extent_npoints() == 0:
            return []                      # Keras writes an empty list of names as an empty float array
        raise ValueError(f"{where}: attribute {name!r} must hold text, the file has HDF5 type class "
                         f"{kind.get_class()}")
    if aid.get_space().get_simple_extent_npoints() > 1 << 20:
        raise ValueError(f"{where}: attribute {name!r} lists more than 2**20 names")
    return obj.attrs[name]


# ------------------------------------------------------------- optimizer
def optimizer_arrays(model):
    """[(keras name, array)] of the optimizer's variables in Keras' order."""
    opt = model.optimizer
    out = [("iteration", np.array(opt.iterations, dtype=np.int64 if opt.iterations >= 2**31 else np.int32))]
    if not opt.decay:
        out.append(("learning_rate", np.array(opt.learning_rate, dtype=np.float32)))
    trainable = _trainable_in_keras_order(model)
    for group in opt.slot_layout():
        for key, param in trainable:
            for slot in group:
                value = opt.slots.get(key, {}).get(slot)
                if value is None:
                    value = np.full_like(param, opt.slot_initial(slot))
                out.append((f"{key.replace('/', '_')}_{opt.keras_slot_names[slot]}", value))
    return out


def set_optimizer_arrays(model, values, where):
    """Restore the optimizer's state from Keras-ordered values; warn (as Keras does)
    and keep a fresh state when they do not fit this optimizer."""
    opt = model.optimizer
    trainable = _trainable_in_keras_order(model)
    layout = opt.slot_layout()
    n_head = 1 if opt.decay else 2
    expected = n_head + sum(len(g) for g in layout) * len(trainable)
    if len(values) != expected:
        warnings.warn(f"{where}: the file holds {len(values)} optimizer variables, {type(opt).__name__} here needs "
                      f"{expected}; the optimizer starts fresh", stacklevel=4)
        return False
    shapes = [()] * n_head + [p.shape for g in layout for _, p in trainable for _ in g]
    arrays = [v(shape) for v, shape in zip(values, shapes)]
    it = arrays[0]
    if it.dtype.kind not in "iu" and not (it.dtype.kind == "f" and float(it) == int(it)):
        raise ValueError(f"{where}: the optimizer's iteration count is not an integer")
    if not 0 <= int(it) < 2**62:
        raise ValueError(f"{where}: the optimizer's iteration count {int(it)} is out of range")
    slots, i = {}, n_head
    for group in layout:
        for key, param in trainable:
            for slot in group:
                slots.setdefault(key, {})[slot] = np.array(arrays[i], dtype=param.dtype)
                i += 1
    opt.iterations = int(it)
    if n_head == 2:
        lr = float(arrays[1])
        if not np.isfinite(lr) or lr < 0:
            raise ValueError(f"{where}: the saved learning rate {lr} is not a finite number >= 0")
        if np.float32(opt.learning_rate) != np.float32(lr):    # keep the config's exact float64 otherwise
            opt.learning_rate = lr
    for key, s in slots.items():
        opt.slots[key] = s
    return True


# ------------------------------------------------------- Keras 3 layout
def write_keras3(f, model, include_optimizer=True):
    layers_group = f.create_group("layers")
    for layer, path in _path_keys(model):
        g = f.create_group(path + "/vars")
        g.attrs["name"] = layer.name
        for i, value in enumerate(layer.params.values()):
            g.create_dataset(str(i), data=value)
    if include_optimizer and getattr(model, "compiled", False):
        g = f.create_group("optimizer/vars")
        g.attrs["name"] = model.optimizer.name
        for i, (_, value) in enumerate(optimizer_arrays(model)):
            g.create_dataset(str(i), data=value)
    f.create_group("vars").attrs["name"] = model.name
    return layers_group


def read_keras3(f, model, where, skip_mismatch=False, load_optimizer=True):
    import h5py
    if not isinstance(f.get("layers"), h5py.Group):
        raise ValueError(f"{where}: no 'layers' group; this is not a Keras 3 weights file")
    groups = f["layers"]
    by_name = {}
    for key in groups:
        vars_ = groups[key].get("vars") if isinstance(groups[key], h5py.Group) else None
        if isinstance(vars_, h5py.Group):
            name = read_attr(vars_, "name", where)
            if isinstance(name, bytes):
                name = name.decode("utf-8", "replace")
            if isinstance(name, str):
                by_name[name] = vars_
    for layer, path in _path_keys(model):
        g = by_name.get(layer.name)
        if g is None:
            g = f.get(path + "/vars")
        if not isinstance(g, h5py.Group):
            if layer.params:
                raise ValueError(f"{where}: no weights for layer '{layer.name}' ({path})")
            continue
        names = list(layer.params)
        if len(g) != len(names):
            raise ValueError(f"{where}: layer '{layer.name}' ({type(layer).__name__}) has {len(names)} weights "
                             f"{names}, the file has {len(g)}")
        _assign(layer, [(g.get(str(i)), f"{path}/vars/{i}") for i in range(len(names))], where, skip_mismatch)
    if load_optimizer and getattr(model, "compiled", False) and isinstance(f.get("optimizer/vars"), h5py.Group):
        g = f["optimizer/vars"]
        values = [_lazy(g.get(str(i)), where, f"optimizer/vars/{i}") for i in range(len(g))]
        set_optimizer_arrays(model, values, where)


def _lazy(ds, where, what):
    return lambda shape: _read(ds, shape, where, what)


def _assign(layer, datasets, where, skip_mismatch):
    """Check every dataset against the layer's weights, then set them all."""
    values = []
    for (pname, current), (ds, what) in zip(layer.params.items(), datasets):
        if ds is None:
            raise ValueError(f"{where}: {what} (weight '{pname}' of layer '{layer.name}') is missing")
        shape = tuple(getattr(ds, "shape", ()))
        if shape != current.shape:
            msg = (f"{where}: layer '{layer.name}' ({type(layer).__name__}) weight '{pname}' has shape "
                   f"{current.shape} in the model but {shape} in the file")
            if skip_mismatch:
                warnings.warn(msg + "; skipped (skip_mismatch=True)", stacklevel=4)
                return
            raise ValueError(msg)
        values.append(_read(ds, current.shape, where, what))
    for current, value in zip(layer.params.values(), values):
        current[...] = value


# -------------------------------------------------------- legacy layout
def _str_list(obj, name):
    """A list-of-strings attribute, also in Keras' chunked form (name0, name1, ...)."""
    def values(key):
        v = read_attr(obj, key)
        return [v] if isinstance(v, (str, bytes)) else list(v)

    if name in obj.attrs:
        raw = values(name)
    else:
        raw, i = [], 0
        while f"{name}{i}" in obj.attrs:
            raw.extend(values(f"{name}{i}"))
            i += 1
    out = []
    for v in raw:
        if isinstance(v, bytes):
            v = v.decode("utf-8", "replace")
        if not isinstance(v, str):
            raise ValueError(f"attribute {name!r} must list names, got {v!r:.100}")
        out.append(v)
    return out


def write_legacy(g, model, keras_version):
    """A legacy weights group (the root of a legacy weights file, or 'model_weights')."""
    layers = keras_layer_order(model)
    from .._sequential import Sequential
    if isinstance(model, Sequential):
        layers = [l for l in layers if type(l).__name__ != "InputLayer"]
    g.attrs["layer_names"] = np.array([l.name.encode("utf8") for l in layers])
    g.attrs["backend"] = "numpy"
    g.attrs["keras_version"] = keras_version
    for layer in layers:
        lg = g.create_group(layer.name)
        names = [f"{layer.name}/{p}" for p in layer.params]
        lg.attrs["weight_names"] = (np.array([n.encode("utf8") for n in names]) if names
                                    else np.array([], dtype=np.float64))
        for n, value in zip(names, layer.params.values()):
            lg.create_dataset(n, data=value)
    g.create_group("top_level_model_weights").attrs["weight_names"] = np.array([], dtype=np.float64)


def read_legacy(g, model, where, by_name=False, skip_mismatch=False):
    import h5py
    try:
        names = _str_list(g, "layer_names")
    except ValueError as exc:
        raise ValueError(f"{where}: {exc}") from None
    saved = []
    for name in names:
        lg = g.get(name)
        if not isinstance(lg, h5py.Group):
            raise ValueError(f"{where}: layer group '{name}' listed in layer_names is missing")
        try:
            wnames = _str_list(lg, "weight_names")
        except ValueError as exc:
            raise ValueError(f"{where}: layer '{name}': {exc}") from None
        if wnames:
            saved.append((name, [(lg.get(w), f"{name}/{w}") for w in wnames]))
    layers = [l for l in keras_layer_order(model) if l.params]
    if by_name:
        index = {l.name: l for l in layers}
        for name, datasets in saved:
            layer = index.get(name)
            if layer is None:
                continue
            _check_count(layer, datasets, where, skip_mismatch) and _assign(layer, datasets, where, skip_mismatch)
        return
    if len(saved) != len(layers):
        raise ValueError(f"{where}: the file has weights for {len(saved)} layers "
                         f"{[n for n, _ in saved]}, the model has {len(layers)} layers with weights "
                         f"{[l.name for l in layers]}")
    for (name, datasets), layer in zip(saved, layers):
        if _check_count(layer, datasets, where, skip_mismatch, name):
            _assign(layer, datasets, where, skip_mismatch)


def _check_count(layer, datasets, where, skip_mismatch, saved_name=None):
    if len(datasets) == len(layer.params):
        return True
    msg = (f"{where}: layer '{layer.name}' ({type(layer).__name__}) has {len(layer.params)} weights "
           f"{list(layer.params)}, the file has {len(datasets)}"
           + (f" (saved as layer '{saved_name}')" if saved_name and saved_name != layer.name else ""))
    if skip_mismatch:
        warnings.warn(msg + "; skipped (skip_mismatch=True)", stacklevel=4)
        return False
    raise ValueError(msg)


def write_legacy_optimizer(f, model):
    g = f.create_group("optimizer_weights")
    prefix = model.optimizer.name
    items = optimizer_arrays(model)
    names = [f"{prefix}/{n}" for n, _ in items]
    g.attrs["weight_names"] = np.array([n.encode("utf8") for n in names])
    for n, (_, value) in zip(names, items):
        g.create_dataset(n, data=value)


def read_legacy_optimizer(f, model, where):
    import h5py
    g = f.get("optimizer_weights")
    if not isinstance(g, h5py.Group):
        return
    try:
        names = _str_list(g, "weight_names")
    except ValueError as exc:
        raise ValueError(f"{where}: optimizer_weights: {exc}") from None
    values = [_lazy(g.get(n), where, f"optimizer_weights/{n}") for n in names]
    set_optimizer_arrays(model, values, where)
