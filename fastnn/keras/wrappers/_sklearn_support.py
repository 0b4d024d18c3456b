"""What both wrapper flavours share: importing scikit-learn with a clear error, cloning a
compiled model, telling whether a model trains on one-hot targets."""
from .. import losses as _losses
from .. import models as _models

_EXTRA = 'pip install "fastnn[sklearn]"'


def require_sklearn(what):
    """Import scikit-learn, or raise an ImportError that names the extra to install."""
    try:
        import sklearn  # noqa: F401
        import sklearn.base  # noqa: F401
    except ImportError as exc:
        raise ImportError(f"{what} needs scikit-learn, which is not installed ({exc}); "
                          f"install fastnn's optional extra 'sklearn': {_EXTRA}") from exc
    return sklearn


def check_compiled(model, where):
    from .._model import Model
    if not isinstance(model, Model):
        raise TypeError(f"{where}: expected a fastnn.keras Model, got {type(model).__name__}")
    if not model.compiled:
        raise RuntimeError(f"{where}: the model must be compiled with a loss and an optimizer "
                           f"(call model.compile(...) before returning it)")
    return model


def clone_compiled(model):
    """A new model with the same architecture, fresh weights, and the same compile settings."""
    clone = _models.clone_model(model)
    opt = model.optimizer
    args = model._compile_args
    clone.compile(optimizer=type(opt).from_config(opt.get_config()), loss=args["loss"],
                  metrics=args["metrics"], loss_weights=args["loss_weights"])
    return clone


def trains_on_one_hot(model):
    """True when the (single) loss is categorical cross-entropy, which wants one-hot targets."""
    spec = model._compile_args["loss"]
    if isinstance(spec, dict) and len(spec) == 1:
        spec = next(iter(spec.values()))
    if isinstance(spec, (list, tuple)) and len(spec) == 1:
        spec = spec[0]
    try:
        return _losses.get(spec).name == "categorical_crossentropy"
    except (ValueError, TypeError):
        return False
