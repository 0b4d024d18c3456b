"""``keras.models``: Sequential, Model, load_model, model_from_json, clone_model."""
from ._model import Model
from ._sequential import Sequential
from .saving import load_model, model_from_config, model_from_json  # noqa: F401


def clone_model(model):
    """A new model with the same architecture and freshly initialised weights."""
    from .saving import model_config
    return model_from_config(model_config(model))


def save_model(model, filepath, overwrite=True, **kwargs):
    """``keras.models.save_model(model, path)`` = ``model.save(path)``."""
    model.save(filepath, overwrite=overwrite, **kwargs)


__all__ = ["Model", "Sequential", "load_model", "save_model", "model_from_json", "model_from_config", "clone_model"]
