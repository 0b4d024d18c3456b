"""Keras 3's ``.keras`` file: a zip of ``metadata.json``, ``config.json`` and
``model.weights.h5`` (the weights and the optimizer's variables).

fastnn adds one key of its own to ``metadata.json`` (Keras ignores it): the
random generators of the model and its Dropout layers, so that training
resumed from a ``.keras`` file in fastnn repeats the uninterrupted run exactly.
"""
import datetime
import io
import json
import os
import zipfile

from .. import _atomic
from . import _budget, config as _config, rng as _rng, weights as _weights
from ._errors import damaged_file

_MAX_JSON = 64 << 20
_MAX_EXPANSION = 1100


def keras_version():
    """The Keras API version fastnn.keras follows (what Keras writes as keras_version)."""
    import sys
    return getattr(sys.modules.get("fastnn.keras"), "__version__", "3.15.1")


def save_model(model, filepath, include_optimizer=True):
    import h5py
    config = _config.model_config(model)
    cc = _config.compile_config(model) if include_optimizer else None
    if cc is not None:
        config["compile_config"] = cc
    metadata = {"keras_version": keras_version(),
                "date_saved": datetime.datetime.now().strftime("%Y-%m-%d@%H:%M:%S"),
                "fastnn": {"rng": _rng.model_rng_state(model)}}
    weights = io.BytesIO()
    with h5py.File(weights, "w") as f:
        _weights.write_keras3(f, model, include_optimizer=cc is not None)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        zf.writestr("metadata.json", json.dumps(metadata))
        zf.writestr("config.json", json.dumps(config))
        zf.writestr("model.weights.h5", weights.getvalue())
    _atomic.write_bytes(filepath, out.getvalue())


def _member(zf, name, path, what, limit=None):
    try:
        info = zf.getinfo(name)
    except KeyError:
        raise ValueError(f"{what}: {path} has no {name}; not a Keras 3 .keras file") from None
    if limit is not None and info.file_size > limit:
        raise ValueError(f"{what}: {path}: {name} is {info.file_size} bytes, more than the {limit} allowed")
    if info.file_size > max(info.compress_size, 1 << 16) * _MAX_EXPANSION:
        raise ValueError(f"{what}: {path}: {name} expands from {info.compress_size} to {info.file_size} bytes; "
                         f"refusing a decompression bomb")
    return zf.read(name)


def _open(filepath, what):
    path = os.fspath(filepath)
    if not os.path.exists(path):
        raise FileNotFoundError(f"{what}: no file at {path}")
    try:
        with damaged_file(what, path), zipfile.ZipFile(path) as zf:
            raw_config = _member(zf, "config.json", path, what, _MAX_JSON)
            weights = _member(zf, "model.weights.h5", path, what) if "model.weights.h5" in zf.namelist() else None
            meta = _member(zf, "metadata.json", path, what, _MAX_JSON) if "metadata.json" in zf.namelist() else b"{}"
    except (zipfile.BadZipFile, EOFError, OSError, zipfile.LargeZipFile) as exc:
        raise ValueError(f"{what}: {path} is not a .keras file (a zip archive): {type(exc).__name__}: {exc}") from None
    try:
        config, meta = json.loads(raw_config), json.loads(meta)
    except ValueError as exc:
        raise ValueError(f"{what}: {path}: config.json or metadata.json is not valid JSON ({exc})") from None
    if weights is None:
        raise ValueError(f"{what}: {path} has no model.weights.h5 (fastnn reads Keras' HDF5 weights store)")
    return path, config, meta if isinstance(meta, dict) else {}, weights


def _h5(data, path, what):
    import h5py
    try:
        return h5py.File(io.BytesIO(data), "r")
    except OSError as exc:
        raise ValueError(f"{what}: {path}: model.weights.h5 is not an HDF5 file ({exc})") from None


def load_model(filepath, custom_objects=None, compile=True, safe_mode=True):
    path, config, meta, weights = _open(filepath, "load_model")
    where = f"load_model({path!r})"
    if not isinstance(config, dict):
        raise ValueError(f"{where}: config.json must hold an object")
    with damaged_file("load_model", path), _h5(weights, path, "load_model") as f:
        budget = _budget.Budget(_budget.h5_values(f["layers"]) if "layers" in f else 0, where,
                                "the file's weights hold")
        with budget.active():
            model = _config.model_from_config(config, custom_objects, safe_mode, where, budget.on_layer)
        if compile and config.get("compile_config"):
            _config.compile_from_config(model, config["compile_config"], custom_objects, where)
        _weights.read_keras3(f, model, where)
    fastnn_meta = meta.get("fastnn")
    if isinstance(fastnn_meta, dict):
        _rng.restore_model_rng(model, fastnn_meta.get("rng"), where)
    return model


def load_weights(model, filepath, skip_mismatch=False):
    path, _, _, weights = _open(filepath, "load_weights")
    with damaged_file("load_weights", path), _h5(weights, path, "load_weights") as f:
        _weights.read_keras3(f, model, f"load_weights({path!r})", skip_mismatch)
