"""``keras.saving``: model and weight files, chosen by extension as in Keras 3.

==================  ==========================================================
``m.keras``         Keras 3's format: a zip of ``metadata.json``, ``config.json``
                    and ``model.weights.h5`` (weights + optimizer state).
                    ``model.save``/``load_model``; real Keras 3 opens it.
``m.h5``/``.hdf5``  Keras' legacy HDF5: ``model.save`` writes ``model_config``,
                    ``training_config``, ``model_weights``, ``optimizer_weights``;
                    ``save_weights`` writes the legacy weights layout
                    (``layer_names``/``weight_names``); ``load_weights(by_name=)``.
``w.weights.h5``    Keras 3's weights file (``save_weights``/``load_weights``).
``m.npz``           fastnn's own checkpoint (NumPy), also keeping the random
                    generators so that training resumes exactly.
==================  ==========================================================

Loading never runs code from a file: ``safe_mode=True`` (the default) refuses
a ``Lambda`` layer; every class, function and generator name resolves through
fastnn's allow-lists, widened only by ``custom_objects``,
``custom_object_scope`` or ``register_keras_serializable``; weights are checked
(dtype, shape) before they are read, and a model is built only within the
number of values its file holds. Writes are atomic.
"""
import json
import os

from . import _budget, config as _config, h5_file, keras_file, npz, registry
from .config import deserialize_keras_object, keras_layer_order, model_config, serialize_keras_object  # noqa: F401
from .registry import (  # noqa: F401
    CustomObjectScope,
    custom_object_scope,
    get_custom_objects,
    get_registered_name,
    get_registered_object,
    register_keras_serializable,
)

_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"


def _kind(filepath):
    name = os.fspath(filepath).lower()
    if name.endswith(".weights.h5"):
        return "weights.h5"
    for ext, kind in ((".keras", "keras"), (".h5", "h5"), (".hdf5", "h5"), (".npz", "npz")):
        if name.endswith(ext):
            return kind
    return None


def _sniff(path, what):
    """The format of a file without a known extension, from its first bytes."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"{what}: no file at {path}")
    with open(path, "rb") as fh:
        head = fh.read(8)
    if head.startswith(_HDF5_MAGIC):
        return "h5"
    if head.startswith(b"PK"):
        import zipfile
        try:
            with zipfile.ZipFile(path) as zf:
                return "keras" if "config.json" in zf.namelist() else "npz"
        except zipfile.BadZipFile:
            pass
    raise ValueError(f"{what}: {path} is neither a Keras file (.keras zip or HDF5) nor a fastnn .npz")


def _check_target(filepath, overwrite):
    if not overwrite and os.path.exists(os.fspath(filepath)):
        raise FileExistsError(f"{os.fspath(filepath)} exists and overwrite=False")


def save_model(model, filepath, overwrite=True, include_optimizer=True, **kwargs):
    """``model.save(filepath)``: ``.keras`` (Keras 3), ``.h5``/``.hdf5`` (legacy HDF5) or ``.npz`` (fastnn)."""
    if kwargs:
        raise ValueError(f"save_model: unknown keyword argument(s) {sorted(kwargs)}")
    model._require_built("be saved")
    kind = _kind(filepath)
    if kind in (None, "weights.h5"):
        raise ValueError(f"save_model: cannot tell the format of {os.fspath(filepath)!r}; name the file "
                         f"'*.keras' (Keras 3, recommended), '*.h5' (legacy HDF5) or '*.npz' (fastnn)"
                         + ("; for weights alone use model.save_weights" if kind else ""))
    _check_target(filepath, overwrite)
    if kind == "keras":
        keras_file.save_model(model, filepath, include_optimizer)
    elif kind == "h5":
        h5_file.save_model_legacy(model, filepath, include_optimizer)
    else:
        npz.save_model(model, filepath, include_optimizer=include_optimizer)


def load_model(filepath, custom_objects=None, compile=True, safe_mode=True):
    """A model saved by fastnn or by Keras (``.keras``, ``.h5``/``.hdf5``, fastnn ``.npz``).

    ``custom_objects``: {name: class or function} for your own layers/losses
    (or register them with ``register_keras_serializable``). ``safe_mode=False``
    is needed for files holding code (a Lambda layer); use it only for files you trust.
    """
    if custom_objects is not None and not isinstance(custom_objects, dict):
        raise TypeError(f"load_model: custom_objects must be a dict, got {type(custom_objects).__name__}")
    kind = _kind(filepath) or _sniff(filepath, "load_model")
    if kind == "weights.h5":
        raise ValueError(f"load_model: {os.fspath(filepath)} is a weights file; build the model and call "
                         f"model.load_weights")
    load = {"keras": keras_file.load_model, "h5": h5_file.load_model_legacy, "npz": npz.load_model}[kind]
    return load(filepath, custom_objects=custom_objects, compile=compile, safe_mode=safe_mode)


def save_weights(model, filepath, overwrite=True):
    """``*.weights.h5`` (Keras 3), ``*.h5``/``*.hdf5`` (legacy layout) or ``*.npz`` (fastnn)."""
    model._require_built("save its weights")
    kind = _kind(filepath)
    if kind not in ("weights.h5", "h5", "npz"):
        raise ValueError(f"save_weights: cannot tell the format of {os.fspath(filepath)!r}; name the file "
                         f"'*.weights.h5' (Keras 3), '*.h5' (legacy HDF5) or '*.npz' (fastnn)"
                         + ("; for a whole model use model.save" if kind == "keras" else ""))
    _check_target(filepath, overwrite)
    if kind == "weights.h5":
        h5_file.save_weights_keras3(model, filepath)
    elif kind == "h5":
        h5_file.save_weights_legacy(model, filepath)
    else:
        npz.save_weights(model, filepath)


def load_weights(model, filepath, skip_mismatch=False, by_name=False):
    """Weights from any of the files above (and from a ``.keras`` model file).

    ``by_name=True`` (legacy ``.h5`` only, as in Keras) matches layers by name and
    ignores the others; ``skip_mismatch=True`` skips layers whose shapes differ,
    with a warning. Otherwise a mismatch names the layer and both shapes.
    """
    model._require_built("load weights")
    kind = _kind(filepath) or _sniff(filepath, "load_weights")
    if by_name and kind != "h5":
        raise ValueError(f"load_weights: by_name=True is only supported for legacy '.h5' weight files, "
                         f"got {os.fspath(filepath)!r}")
    if kind == "weights.h5":
        h5_file.load_weights_keras3(model, filepath, skip_mismatch)
    elif kind == "h5":
        h5_file.load_weights_legacy(model, filepath, by_name=by_name, skip_mismatch=skip_mismatch)
    elif kind == "keras":
        keras_file.load_weights(model, filepath, skip_mismatch)
    else:
        npz.load_weights(model, filepath)


def model_from_config(config, custom_objects=None, safe_mode=True):
    """A model (fresh weights) from a config dict: Keras 3's, Keras 2's or fastnn's."""
    budget = _budget.Budget(_budget.MAX_CONFIG_VALUES, "model_from_config", "fastnn builds from a config alone")
    with budget.active():
        return _config.model_from_config(config, custom_objects, safe_mode, "model_from_config", budget.on_layer)


def model_from_json(json_string, custom_objects=None, safe_mode=True):
    """A model (fresh weights) from ``model.to_json()`` or Keras' JSON."""
    try:
        config = json.loads(json_string)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"model_from_json: not a JSON model config ({exc})") from None
    return model_from_config(config, custom_objects, safe_mode)


__all__ = ["save_model", "load_model", "save_weights", "load_weights", "model_from_config", "model_from_json",
           "model_config", "register_keras_serializable", "get_registered_object", "get_registered_name",
           "get_custom_objects", "custom_object_scope", "CustomObjectScope", "registry",
           "serialize_keras_object", "deserialize_keras_object"]
