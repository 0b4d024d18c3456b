"""Model configs in Keras 3's JSON form, and models rebuilt from them.

``model_config(model)`` gives what Keras 3 writes in ``config.json`` (and,
without the ``module``/``registered_name`` keys, in a legacy ``.h5`` file's
``model_config`` attribute): ``Sequential`` with an ``InputLayer`` first, or
``Functional`` with each layer's ``inbound_nodes``, layers listed in the order
Keras computes for the graph (so that weight paths line up with Keras').

``model_from_config(config)`` rebuilds a model from a Keras 3, Keras 2 or
fastnn config. Every name in it resolves through an allow-list: layer classes
through ``LAYER_CLASSES`` plus the user's registered / custom objects;
activations, initializers, optimizers, losses and metrics through their
modules' own tables. Anything else is a ``ValueError``. With ``safe_mode``
(the default) a ``Lambda`` layer, which carries Python bytecode, is refused.
Weights are drawn only within the budget the caller allows (see ``_budget``).
"""
import inspect
import re

from .. import _subclassing
from .. import losses as _losses
from .. import metrics as _metrics
from .. import optimizers as _optimizers
from ..layers import LAYER_CLASSES
from ..layers.base import BASE_KWARGS, KerasTensor, Layer
from . import registry
from ._budget import SizeError

#: Keys Keras writes into layer configs for features fastnn does not have, with
#: the values at which they change nothing. Other values are refused.
_NEUTRAL_LAYER_KEYS = {
    "kernel_regularizer": (None,), "bias_regularizer": (None,), "activity_regularizer": (None,),
    "kernel_constraint": (None,), "bias_constraint": (None,), "beta_regularizer": (None,),
    "gamma_regularizer": (None,), "beta_constraint": (None,), "gamma_constraint": (None,),
    "depthwise_regularizer": (None,), "depthwise_constraint": (None,), "pointwise_regularizer": (None,),
    "pointwise_constraint": (None,), "quantization_config": (None,), "lora_rank": (None,),
    "lora_alpha": (None,), "synchronized": (False,), "renorm": (False,), "renorm_clipping": (None,),
    "renorm_momentum": None, "groups": (1,), "data_format": ("channels_last", None),
    "noise_shape": (None,), "sparse": (False,), "ragged": (False,), "optional": (False,),
    "autocast": (True, False), "seed": None, "dilation_rate": ((1, 1), [1, 1], 1),
    "input_dtype": None,
}
_FLOAT_DTYPES = ("float32", "float64")


def snake_case(name):
    """Keras' ``to_snake_case``: 'MaxPooling2D' -> 'max_pooling2d' (names weight groups)."""
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def dtype_policy(dtype):
    return {"module": "keras", "class_name": "DTypePolicy", "config": {"name": dtype or "float32"},
            "registered_name": None}


# ====================================================================== writing
def keras_layer_order(model):
    """The layers in the order Keras 3 lists them (``model.layers``).

    Sequential: the stack. Functional: Keras' ``map_graph`` order, by depth
    from the inputs, ties broken by first visit in a depth-first walk from the
    outputs. Weight groups, optimizer variables and the config follow it.
    """
    from .._sequential import Sequential
    if isinstance(model, Sequential):
        return list(model.layers)
    graph = getattr(model, "_graph", None)
    if graph is None:
        return list(model.layers)
    finished, postorder, first_visit = set(), [], {}

    def walk(t):
        if id(t) in finished:
            return
        first_visit.setdefault(id(t.layer), len(first_visit))
        for src in t.inbound:
            walk(src)
        finished.add(id(t))
        postorder.append(t)

    for t in graph.outputs:
        walk(t)
    depth = {}
    for t in reversed(postorder):
        d = depth.setdefault(id(t), 0)
        for src in t.inbound:
            depth[id(src)] = max(d + 1, depth.get(id(src), 0))
    ordered = sorted(postorder, key=lambda t: (-depth[id(t)], first_visit[id(t.layer)]))
    return [t.layer for t in ordered]


def _class_entry(obj_cls, builtin_module):
    builtin = LAYER_CLASSES.get(obj_cls.__name__) is obj_cls
    return {"module": builtin_module if builtin else obj_cls.__module__, "class_name": obj_cls.__name__,
            "registered_name": None if builtin else registry.get_registered_name(obj_cls)}


def layer_entry(layer):
    """{'module', 'class_name', 'config', 'registered_name', 'build_config'} of one layer."""
    entry = _class_entry(type(layer), "keras.layers")
    config = dict(layer.get_config())
    if type(layer).__name__ != "InputLayer" and not isinstance(config.get("dtype"), dict):
        config["dtype"] = dtype_policy(config.get("dtype"))
    entry["config"] = config
    if type(layer).__name__ != "InputLayer" and layer.built and layer.input_shape is not None:
        shape = layer.input_shape
        entry["build_config"] = {"input_shape": [[None] + list(s) for s in shape] if isinstance(shape, list)
                                 else [None] + list(shape)}
    return entry


def _tensor_ref(t):
    return {"class_name": "__keras_tensor__",
            "config": {"shape": [None] + list(t.sample_shape), "dtype": t.layer.dtype or "float32",
                       "keras_history": [t.layer.name, 0, 0]}}


def model_config(model):
    """Keras 3's ``{'module', 'class_name', 'config', 'registered_name', 'build_config'}`` of a model."""
    from .._sequential import Sequential
    model._require_built("be serialised")
    if isinstance(model, Sequential):
        input_layer = model._graph.inputs[0].layer
        layers = [layer_entry(input_layer)] + [layer_entry(l) for l in model.layers]
        shape = [None] + list(model._input_shape)
        return {"module": "keras", "class_name": "Sequential",
                "config": {"name": model.name, "trainable": True, "dtype": dtype_policy(model.dtype),
                           "layers": layers, "build_input_shape": shape},
                "registered_name": None, "build_config": {"input_shape": shape}}
    if _subclassing.is_subclassed(model):
        _subclassing.check_config(model)
        entry = _class_entry(type(model), "keras")
        entry["config"] = model.get_config()
        entry["build_config"] = _subclassing.build_config(model)
        return entry
    if type(model).__name__ not in ("Model", "Functional") and not _is_plain_functional(model):
        entry = _class_entry(type(model), "keras")
        entry["config"] = model.get_config()
        return entry
    tensors = {id(t.layer): t for t in list(model._graph.inputs) + list(model._graph.nodes)}
    layers = []
    for layer in keras_layer_order(model):
        entry = layer_entry(layer)
        entry["name"] = layer.name
        t = tensors[id(layer)]
        if t.inbound:
            refs = [_tensor_ref(s) for s in t.inbound]
            entry["inbound_nodes"] = [{"args": [refs if t.layer_takes_list else refs[0]], "kwargs": {}}]
        else:
            entry["inbound_nodes"] = []
        layers.append(entry)
    return {"module": "keras.src.models.functional", "class_name": "Functional",
            "config": {"name": model.name, "trainable": True, "layers": layers,
                       "input_layers": [[n, 0, 0] for n in model.input_names],
                       "output_layers": [[n, 0, 0] for n in model.output_names]},
            "registered_name": "Functional", "build_config": {"input_shape": None}}


def _is_plain_functional(model):
    from .._model import Model
    return type(model).get_config is Model.get_config


def legacy_config(config):
    """The form of a legacy .h5 ``model_config`` attribute: no module/registered_name/build_config."""
    if isinstance(config, dict):
        return {k: legacy_config(v) for k, v in config.items()
                if k not in ("module", "registered_name", "build_config", "compile_config")}
    if isinstance(config, list):
        return [legacy_config(v) for v in config]
    return config


# --------------------------------------------------------------- compile
def compile_config(model):
    """Keras 3's ``compile_config`` of a compiled model (None when not compiled)."""
    if not getattr(model, "compiled", False):
        return None
    args = model._compile_args
    return {"optimizer": _optimizers.serialize(model.optimizer), "loss": _serialize_spec(args["loss"], "loss"),
            "loss_weights": args["loss_weights"], "metrics": _serialize_spec(args["metrics"], "metric"),
            "weighted_metrics": None, "run_eagerly": False, "steps_per_execution": 1, "jit_compile": False}


def _serialize_spec(spec, kind):
    if spec is None or isinstance(spec, str):
        return spec
    if isinstance(spec, dict):
        return {k: _serialize_spec(v, kind) for k, v in spec.items()}
    if isinstance(spec, (list, tuple)):
        return [_serialize_spec(v, kind) for v in spec]
    if isinstance(spec, _losses.Loss):
        return spec.name
    if callable(spec) and spec in getattr(_losses, "_FUNCTIONS", {}):
        return _losses._FUNCTIONS[spec]
    if isinstance(spec, _metrics.Metric):
        if spec.name == getattr(spec, "default_name", None) and type(spec).__name__ in _METRIC_CLASSES:
            return spec.name
        config = {"name": spec.name, "dtype": "float32"}
        if hasattr(spec, "threshold"):
            config["threshold"] = spec.threshold
        return {"module": "keras.metrics", "class_name": type(spec).__name__, "config": config,
                "registered_name": None}
    # A user's function or object: named so that load_model finds it through
    # register_keras_serializable / custom_objects.
    name = getattr(spec, "__name__", type(spec).__name__)
    return {"module": getattr(spec, "__module__", None), "class_name": "function" if inspect.isfunction(spec)
            else type(spec).__name__, "config": name if inspect.isfunction(spec) else
            (spec.get_config() if hasattr(spec, "get_config") else {}),
            "registered_name": registry.get_registered_name(spec if inspect.isfunction(spec) else type(spec))}


# ====================================================================== reading
class ConfigError(ValueError):
    pass


def _fail(where, msg):
    raise ConfigError(f"{where}: {msg}")


def resolve_layer_class(entry, custom_objects, safe_mode, where):
    class_name = entry.get("class_name")
    if not isinstance(class_name, str):
        _fail(where, f"a layer entry has no class name: {entry!r:.200}")
    if class_name == "Lambda" and safe_mode:
        _fail(where, "the model holds a Lambda layer, whose function is Python code stored in the file; "
                     "fastnn does not run code from files. If you trust the file, load it with safe_mode=False")
    user = registry.lookup(class_name, entry.get("registered_name"), custom_objects)
    if user is not None:
        if not (isinstance(user, type) and issubclass(user, Layer)):
            _fail(where, f"custom object {class_name!r} is not a keras Layer class")
        return user, False
    cls = LAYER_CLASSES.get(class_name)
    if cls is None:
        _fail(where, f"unknown layer class {class_name!r}; fastnn knows {sorted(LAYER_CLASSES)}. "
                     f"For your own layers pass custom_objects={{{class_name!r}: {class_name}}} or decorate the "
                     f"class with @keras.saving.register_keras_serializable()")
    return cls, True


def _accepted_kwargs(cls):
    """Argument names the class's constructor chain accepts."""
    names = set(BASE_KWARGS)
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None:
            continue
        params = inspect.signature(init).parameters.values()
        names.update(p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY))
        if not any(p.kind == p.VAR_KEYWORD for p in params):
            break
    names.discard("self")
    return names


def clean_layer_config(cls, config, where):
    """A Keras/fastnn layer config made fit for a fastnn built-in class's ``from_config``."""
    if not isinstance(config, dict):
        _fail(where, f"layer config must be a dict, got {type(config).__name__}")
    config = dict(config)
    dtype = config.get("dtype")
    if isinstance(dtype, dict):
        dtype = (dtype.get("config") or {}).get("name")
    if dtype not in (None,) + _FLOAT_DTYPES:
        _fail(where, f"dtype {dtype!r} is not supported (fastnn computes in float32 or float64)")
    config["dtype"] = dtype
    if cls.__name__ == "InputLayer":
        return config
    accepted = _accepted_kwargs(cls)
    for key in list(config):
        if key in accepted:
            continue
        neutral = _NEUTRAL_LAYER_KEYS.get(key, ())
        if key in _NEUTRAL_LAYER_KEYS and (neutral is None or config[key] in neutral):
            del config[key]
            continue
        _fail(where, f"option {key}={config[key]!r} is not supported by fastnn's {cls.__name__}")
    return config


def deserialize_layer(entry, custom_objects, safe_mode, where):
    if not isinstance(entry, dict):
        _fail(where, f"a layer entry must be a dict, got {type(entry).__name__}")
    cls, builtin = resolve_layer_class(entry, custom_objects, safe_mode, where)
    config = entry.get("config", {})
    name = config.get("name") if isinstance(config, dict) else None
    here = f"{where}, layer {name!r} ({cls.__name__})"
    if builtin:
        config = clean_layer_config(cls, config, here)
    try:
        return cls.from_config(config)
    except (ConfigError, SizeError):
        raise
    except (TypeError, ValueError, KeyError) as exc:
        raise ConfigError(f"{here}: {exc}") from None


def model_from_config(config, custom_objects=None, safe_mode=True, where="model config", on_layer=None):
    """A model (weights freshly initialised) from a Keras 3 / Keras 2 / fastnn config dict.

    ``on_layer(name)`` is told which layer is being built (the loaders use it to
    name the layer in size errors).
    """
    from .._model import Model
    from .._sequential import Sequential
    if not isinstance(config, dict) or "class_name" not in config:
        _fail(where, "expected a dict with 'class_name' and 'config'")
    class_name = config["class_name"]
    inner = config.get("config")
    tell = on_layer or (lambda name: None)
    try:
        if class_name == "Sequential":
            return _sequential_from_config(Sequential, inner, custom_objects, safe_mode, where, tell)
        if class_name in ("Functional", "Model"):
            return _functional_from_config(Model, inner, custom_objects, safe_mode, where, tell)
    except (ConfigError, SizeError):
        raise
    except (KeyError, TypeError, IndexError, AttributeError, ValueError) as exc:
        raise ConfigError(f"{where}: malformed model config ({type(exc).__name__}: {exc})") from None
    user = registry.lookup(class_name, config.get("registered_name"), custom_objects)
    if user is None or not (isinstance(user, type) and issubclass(user, Model)):
        _fail(where, f"unknown model class {class_name!r}; fastnn rebuilds Sequential and Functional models, "
                     f"and your own Model subclasses given through custom_objects or "
                     f"@keras.saving.register_keras_serializable()")
    model = user.from_config(inner)
    if _subclassing.is_subclassed(model):
        _subclassing.build_from_config(model, config.get("build_config"))
    return model


def _sequential_from_config(Sequential, c, custom_objects, safe_mode, where, tell):
    from ..layers.core import InputLayer
    if isinstance(c, list):                      # very old Keras 2: the layer list itself
        c = {"layers": c}
    entries = c["layers"]
    if not isinstance(entries, list):
        _fail(where, "Sequential 'layers' must be a list")
    model = Sequential(name=c.get("name"))
    if c.get("input_shape") is not None:         # fastnn's first .npz format
        tell(c.get("input_name"))
        model.add(InputLayer(shape=tuple(c["input_shape"]), name=c.get("input_name")))
    for i, entry in enumerate(entries):
        if isinstance(entry, dict) and isinstance(entry.get("config"), dict):
            tell(entry["config"].get("name"))
        layer = deserialize_layer(entry, custom_objects, safe_mode, where)
        if isinstance(layer, InputLayer) and i > 0:
            _fail(where, "an InputLayer can only come first in a Sequential model")
        model.add(layer)
    first_build = (entries[0].get("build_config") or {}) if entries and isinstance(entries[0], dict) else {}
    if not model.built and (c.get("build_input_shape") or first_build.get("input_shape")):
        shape = c.get("build_input_shape") or first_build.get("input_shape")
        if isinstance(shape, list) and shape and all(s is None or isinstance(s, int) for s in shape):
            model.build(shape)
    return model


def _node_sources(entry, where):
    """The (layer name, takes_list) a functional layer entry is called on."""
    if "inbound" in entry:                       # fastnn's first .npz format
        names = entry["inbound"]
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            _fail(where, f"malformed inbound list {names!r:.200}")
        return (list(names), bool(entry.get("takes_list"))) if names else (None, False)
    nodes = entry.get("inbound_nodes") or []
    if not nodes:
        return None, False
    if len(nodes) > 1:
        _fail(where, f"layer {entry.get('name')!r} is called {len(nodes)} times; shared layers are not supported")
    node = nodes[0]
    if isinstance(node, dict):                   # Keras 3: {"args": [...], "kwargs": {...}}
        args, kwargs = node.get("args", []), node.get("kwargs") or {}
        if any(v not in (None, False, {}, []) for v in kwargs.values()):
            _fail(where, f"layer {entry.get('name')!r} is called with arguments {sorted(kwargs)}, not supported")
        if len(args) != 1:
            _fail(where, f"layer {entry.get('name')!r} is called with {len(args)} positional inputs")
        arg = args[0]
        if isinstance(arg, list):
            return [_history(t, where) for t in arg], True
        return [_history(arg, where)], False
    if isinstance(node, list):                   # Keras 2: [[name, node_index, tensor_index, kwargs], ...]
        names = []
        for ref in node:
            if not isinstance(ref, list) or not ref or not isinstance(ref[0], str):
                _fail(where, f"malformed inbound node {node!r:.200}")
            if len(ref) > 1 and ref[1] != 0:
                _fail(where, f"layer {ref[0]!r} is shared (node {ref[1]}); shared layers are not supported")
            names.append(ref[0])
        return names, len(names) > 1
    _fail(where, f"malformed inbound node {node!r:.200}")


def _history(t, where):
    if not isinstance(t, dict) or t.get("class_name") != "__keras_tensor__":
        _fail(where, f"expected a __keras_tensor__ reference, got {t!r:.200}")
    hist = (t.get("config") or {}).get("keras_history")
    if not isinstance(hist, list) or not hist or not isinstance(hist[0], str):
        _fail(where, f"malformed keras_history {hist!r:.200}")
    if len(hist) > 1 and hist[1] != 0:
        _fail(where, f"layer {hist[0]!r} is shared (node {hist[1]}); shared layers are not supported")
    return hist[0]


def _io_names(spec, where, what):
    if isinstance(spec, list) and spec and isinstance(spec[0], str):
        spec = [spec]                            # a single [name, 0, 0]
    if not isinstance(spec, list) or not all(isinstance(s, list) and s and isinstance(s[0], str) for s in spec):
        _fail(where, f"{what} must be a list of [layer_name, node_index, tensor_index], got {spec!r:.200}")
    return [s[0] for s in spec]


def _functional_from_config(Model, c, custom_objects, safe_mode, where, tell):
    from ..layers.core import InputLayer
    entries = c["layers"]
    if not isinstance(entries, list):
        _fail(where, "Functional 'layers' must be a list")
    pending = []
    for entry in entries:
        if not isinstance(entry, dict):
            _fail(where, "a layer entry must be a dict")
        name = entry.get("name") or (entry.get("config") or {}).get("name")
        srcs, takes_list = _node_sources(entry, where)
        pending.append((name, entry, srcs, takes_list))
    names = [p[0] for p in pending]
    if len(set(names)) != len(names):
        _fail(where, f"layer names must be unique, got {names}")
    tensors = {}
    while pending:
        progress = False
        rest = []
        for name, entry, srcs, takes_list in pending:
            if srcs is not None and not all(s in tensors for s in srcs):
                rest.append((name, entry, srcs, takes_list))
                continue
            tell(name)
            layer = deserialize_layer(entry, custom_objects, safe_mode, where)
            if srcs is None:
                if not isinstance(layer, InputLayer):
                    _fail(where, f"layer {name!r} has no inputs and is not an InputLayer")
                tensors[name] = KerasTensor(layer.shape, layer)
            else:
                inputs = [tensors[s] for s in srcs]
                tensors[name] = layer(inputs if takes_list else inputs[0])
            progress = True
        if not progress:
            missing = sorted({s for _, _, srcs, _ in rest for s in srcs if s not in tensors and s not in names})
            _fail(where, f"the layer graph cannot be built (unknown or cyclic inputs {missing or [r[0] for r in rest]})")
        pending = rest
    ins = _io_names(c["input_layers"], where, "input_layers")
    outs = _io_names(c["output_layers"], where, "output_layers")
    for n in ins + outs:
        if n not in tensors:
            _fail(where, f"input/output layer {n!r} is not in the model's layers")
    inputs, outputs = [tensors[n] for n in ins], [tensors[n] for n in outs]
    return Model(inputs=inputs if len(inputs) > 1 else inputs[0],
                 outputs=outputs if len(outputs) > 1 else outputs[0], name=c.get("name"))


# --------------------------------------------------------------- compile
_LOSS_CLASSES = {"MeanSquaredError": "mean_squared_error", "MeanAbsoluteError": "mean_absolute_error",
                 "BinaryCrossentropy": "binary_crossentropy", "CategoricalCrossentropy": "categorical_crossentropy",
                 "SparseCategoricalCrossentropy": "sparse_categorical_crossentropy"}
_LOSS_NEUTRAL = {"from_logits": (False,), "label_smoothing": (0, 0.0), "reduction": ("sum_over_batch_size", "auto",
                 None), "axis": (-1,), "ignore_class": (None,), "dtype": None, "name": None}
_METRIC_CLASSES = {"BinaryAccuracy", "CategoricalAccuracy", "SparseCategoricalAccuracy", "MeanSquaredError",
                   "MeanAbsoluteError"}


def _deserialize_spec(spec, kind, custom_objects, where):
    if spec is None or isinstance(spec, (str, int, float)):
        if isinstance(spec, str):
            _check_name(spec, kind, where)
        return spec
    if isinstance(spec, list):
        return [_deserialize_spec(v, kind, custom_objects, where) for v in spec]
    if not isinstance(spec, dict):
        _fail(where, f"malformed {kind} entry {spec!r:.200}")
    if "class_name" not in spec:                 # per-output dict {"output_name": spec}
        return {k: _deserialize_spec(v, kind, custom_objects, where) for k, v in spec.items()}
    name, config = spec.get("class_name"), spec.get("config")
    user = registry.lookup(config if name == "function" and isinstance(config, str) else name,
                           spec.get("registered_name"), custom_objects)
    if user is not None:
        if isinstance(user, type):
            return user.from_config(config) if hasattr(user, "from_config") else user(**(config or {}))
        return user
    if name == "function" and isinstance(config, str):
        _check_name(config, kind, where)
        return config
    if kind == "loss" and name in _LOSS_CLASSES:
        for key, value in (config or {}).items():
            neutral = _LOSS_NEUTRAL.get(key, ())
            if neutral is not None and value not in neutral:
                _fail(where, f"loss {name} with {key}={value!r} is not supported by fastnn")
        return _LOSS_CLASSES[name]
    if kind == "metric" and name in _METRIC_CLASSES:
        cls = getattr(_metrics, name)
        config = dict(config or {})
        config.pop("dtype", None)
        try:
            return cls(**config)
        except TypeError:
            _fail(where, f"metric {name} does not take the options {sorted(config)}")
    _fail(where, f"unknown {kind} {name!r}; for your own, pass custom_objects or register it with "
                 f"@keras.saving.register_keras_serializable()")


def _check_name(name, kind, where):
    if kind == "loss":
        try:
            _losses.get(name)
        except ValueError as exc:
            raise ConfigError(f"{where}: {exc}") from None
    elif name.lower() not in _metrics.KNOWN:
        _fail(where, f"unknown metric {name!r}; valid metrics are {sorted(_metrics.KNOWN)}")


def compile_from_config(model, cc, custom_objects, where, optimizer_key="optimizer"):
    """Compile ``model`` as a saved compile/training config says; returns the optimizer."""
    if not isinstance(cc, dict):
        _fail(where, "the compile config must be a dict")
    try:
        optimizer = _optimizers.deserialize(cc.get(optimizer_key, "rmsprop"), where=f"{where}, optimizer")
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    loss = _deserialize_spec(cc.get("loss"), "loss", custom_objects, where)
    metrics = _deserialize_spec(cc.get("metrics"), "metric", custom_objects, where)
    lw = cc.get("loss_weights")
    if lw is not None and not isinstance(lw, (list, dict, int, float)):
        _fail(where, f"malformed loss_weights {lw!r:.200}")
    if cc.get("weighted_metrics"):
        _fail(where, "weighted_metrics are not supported")
    if loss is None:
        return None
    try:
        model.compile(optimizer=optimizer, loss=loss, metrics=metrics, loss_weights=lw)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"{where}: cannot compile as saved: {exc}") from None
    return optimizer


# ------------------------------------------------- single objects (Keras API)
def serialize_keras_object(obj):
    """Keras' config dict of one object: a layer, initializer, optimizer, loss,
    metric, or a registered function; plain values pass through."""
    from .. import initializers as _init
    if obj is None or isinstance(obj, (str, int, float, bool)):
        return obj
    if isinstance(obj, (list, tuple)):
        return [serialize_keras_object(v) for v in obj]
    if isinstance(obj, dict):
        return {k: serialize_keras_object(v) for k, v in obj.items()}
    if isinstance(obj, Layer):
        return layer_entry(obj)
    if isinstance(obj, _init.Initializer):
        return _init.serialize(obj)
    if isinstance(obj, _optimizers.Optimizer):
        return _optimizers.serialize(obj)
    if isinstance(obj, (_losses.Loss, _metrics.Metric)) or callable(obj):
        return _serialize_spec(obj, "loss")
    raise TypeError(f"serialize_keras_object: cannot serialise {type(obj).__name__}")


def deserialize_keras_object(config, custom_objects=None, safe_mode=True, module_objects=None):
    """The object a Keras config names, resolved only through fastnn's allow-lists and
    the user's registered / custom objects (and ``module_objects`` when given)."""
    from .. import initializers as _init
    if config is None or isinstance(config, (int, float, bool)):
        return config
    if isinstance(config, str):
        obj = registry.get_registered_object(config, custom_objects, module_objects)
        if obj is None:
            raise ValueError(f"deserialize_keras_object: unknown object {config!r}")
        return obj
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(f"deserialize_keras_object: expected a dict with 'class_name', got {config!r:.200}")
    name, inner = config["class_name"], config.get("config")
    key = inner if name == "function" and isinstance(inner, str) else name
    user = registry.lookup(key, config.get("registered_name"), dict(module_objects or {}, **(custom_objects or {})))
    if user is not None:
        if isinstance(user, type):
            return user.from_config(inner or {}) if hasattr(user, "from_config") else user(**(inner or {}))
        return user
    module = config.get("module") or ""
    if name in LAYER_CLASSES or module.startswith("keras.layers") or name == "Lambda":
        return deserialize_layer(config, custom_objects, safe_mode, "deserialize_keras_object")
    if module.startswith("keras.initializers") or name in _init._BY_KERAS_NAME:
        return _init.get(config, where="deserialize_keras_object")
    if module.startswith("keras.optimizers") or name in ("SGD", "RMSprop", "Adam", "Adagrad"):
        return _optimizers.deserialize(config, where="deserialize_keras_object")
    if module.startswith("keras.losses") or name in _LOSS_CLASSES:
        return _losses.get(_deserialize_spec(config, "loss", custom_objects, "deserialize_keras_object"))
    if module.startswith("keras.metrics") or name in _METRIC_CLASSES:
        return _deserialize_spec(config, "metric", custom_objects, "deserialize_keras_object")
    raise ValueError(f"deserialize_keras_object: unknown class {name!r}; pass custom_objects or register it "
                     f"with @keras.saving.register_keras_serializable()")
