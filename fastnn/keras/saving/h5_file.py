"""HDF5 files through h5py: Keras 3's ``*.weights.h5`` and the legacy ``.h5``
(model: ``model_config``/``training_config`` attributes, ``model_weights``,
``optimizer_weights``; weights: the root lists ``layer_names``)."""
import io
import json
import os

from .. import _atomic
from . import _budget, config as _config, rng as _rng, weights as _weights
from ._errors import damaged_file
from .keras_file import keras_version


def _write_h5(filepath, fill):
    import h5py
    buf = io.BytesIO()
    with h5py.File(buf, "w") as f:
        fill(f)
    _atomic.write_bytes(filepath, buf.getvalue())


def _open(filepath, what):
    import h5py
    path = os.fspath(filepath)
    if not os.path.exists(path):
        raise FileNotFoundError(f"{what}: no file at {path}")
    try:
        return path, h5py.File(path, "r")
    except OSError as exc:
        raise ValueError(f"{what}: {path} is not an HDF5 file ({exc})") from None


def _json_attr(f, name, where):
    raw = _weights.read_attr(f, name, where)
    if raw is None:
        return None
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8", "replace")
    if not isinstance(raw, str) or len(raw) > (64 << 20):
        raise ValueError(f"{where}: attribute {name!r} is not a JSON string")
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise ValueError(f"{where}: attribute {name!r} is not valid JSON ({exc})") from None


# ------------------------------------------------------------ Keras 3 weights
def save_weights_keras3(model, filepath):
    _write_h5(filepath, lambda f: _weights.write_keras3(f, model))


def load_weights_keras3(model, filepath, skip_mismatch=False):
    path, f = _open(filepath, "load_weights")
    with damaged_file("load_weights", path), f:
        _weights.read_keras3(f, model, f"load_weights({path!r})", skip_mismatch)


# ---------------------------------------------------------------- legacy
def save_weights_legacy(model, filepath):
    _write_h5(filepath, lambda f: _weights.write_legacy(f, model, keras_version()))


def load_weights_legacy(model, filepath, by_name=False, skip_mismatch=False):
    path, f = _open(filepath, "load_weights")
    where = f"load_weights({path!r})"
    with damaged_file("load_weights", path), f:
        g = f
        if "layer_names" not in f.attrs and "model_weights" in f:
            g = f["model_weights"]
        if "layer_names" not in g.attrs and "layer_names0" not in g.attrs:
            if "layers" in f:          # a Keras 3 weights file under an .h5 name
                return _weights.read_keras3(f, model, where, skip_mismatch)
            raise ValueError(f"{where}: no 'layer_names' attribute; not a Keras weights file")
        _weights.read_legacy(g, model, where, by_name=by_name, skip_mismatch=skip_mismatch)


def save_model_legacy(model, filepath, include_optimizer=True):
    def fill(f):
        f.attrs["backend"] = "numpy"
        f.attrs["keras_version"] = keras_version()
        f.attrs["model_config"] = json.dumps(_config.legacy_config(_config.model_config(model)))
        f.attrs["fastnn_state"] = json.dumps({"rng": _rng.model_rng_state(model)})
        _weights.write_legacy(f.create_group("model_weights"), model, keras_version())
        cc = _config.compile_config(model) if include_optimizer else None
        if cc is not None:
            # Keras' legacy loader cannot resolve the aliases 'mse'/'mae' as losses in a list.
            tc = {k: v for k, v in cc.items() if k != "optimizer"}
            tc["loss"] = _full_loss_names(tc["loss"])
            opt = cc["optimizer"]
            tc["optimizer_config"] = {"class_name": opt["class_name"], "config": opt["config"]}
            f.attrs["training_config"] = json.dumps(tc)
            _weights.write_legacy_optimizer(f, model)
    _write_h5(filepath, fill)


def load_model_legacy(filepath, custom_objects=None, compile=True, safe_mode=True):
    path, f = _open(filepath, "load_model")
    where = f"load_model({path!r})"
    with damaged_file("load_model", path), f:
        config = _json_attr(f, "model_config", where)
        if config is None:
            raise ValueError(f"{where}: no 'model_config' attribute; this .h5 file holds weights only "
                             f"(build the model and call load_weights)")
        g = f.get("model_weights")
        if g is None:
            raise ValueError(f"{where}: no 'model_weights' group")
        budget = _budget.Budget(_budget.h5_values(g), where, "the file's weights hold")
        with budget.active():
            model = _config.model_from_config(config, custom_objects, safe_mode, where, budget.on_layer)
        _weights.read_legacy(g, model, where)
        tc = _json_attr(f, "training_config", where) if compile else None
        if tc is not None:
            if _config.compile_from_config(model, tc, custom_objects, where, optimizer_key="optimizer_config"):
                _weights.read_legacy_optimizer(f, model, where)
        state = _json_attr(f, "fastnn_state", where)
    if isinstance(state, dict):
        _rng.restore_model_rng(model, state.get("rng"), where)
    return model


def _full_loss_names(spec):
    from ..losses import ALIASES
    if isinstance(spec, str):
        return ALIASES.get(spec.lower(), spec)
    if isinstance(spec, list):
        return [_full_loss_names(v) for v in spec]
    if isinstance(spec, dict) and "class_name" not in spec:
        return {k: _full_loss_names(v) for k, v in spec.items()}
    return spec
