"""The allow-list of user classes and functions a saved model may name.

A file names classes (``"class_name": "MyLayer"``); loading turns a name into
a class only when fastnn knows it: its own layers, optimizers, losses, ...,
or a user object given explicitly, by one of three ways as in Keras 3:

* ``@keras.saving.register_keras_serializable(package="Custom")`` on the
  class or function (registered as ``"Custom>MyLayer"``);
* ``load_model(path, custom_objects={"MyLayer": MyLayer})``;
* ``with keras.saving.custom_object_scope({"MyLayer": MyLayer}): ...``.

Nothing is ever imported or looked up by a name read from a file.
"""
import contextvars

_REGISTERED = {}          # "package>name" -> object
_NAMES = {}               # id(object) -> "package>name"
_SCOPE = contextvars.ContextVar("fastnn_custom_object_scope", default=())


def register_keras_serializable(package="Custom", name=None):
    """Decorator: allow ``load_model`` to rebuild this class or function from a file.

    The object is registered as ``f"{package}>{name or obj.__name__}"``; a class
    must define ``get_config`` (its ``from_config`` defaults to ``cls(**config)``).
    """
    if not isinstance(package, str) or ">" in package:
        raise ValueError(f"register_keras_serializable: package must be a string without '>', got {package!r}")

    def decorator(obj):
        own = name if name is not None else getattr(obj, "__name__", None)
        if not isinstance(own, str) or not own:
            raise ValueError(f"register_keras_serializable: cannot name {obj!r}; pass name=...")
        key = f"{package}>{own}"
        if isinstance(obj, type) and not hasattr(obj, "get_config"):
            raise ValueError(f"register_keras_serializable: class {obj.__name__} must define get_config()")
        _REGISTERED[key] = obj
        _NAMES[id(obj)] = key
        return obj

    return decorator


def get_registered_name(obj):
    """``"package>name"`` of a registered object, else its ``__name__``."""
    return _NAMES.get(id(obj), getattr(obj, "__name__", type(obj).__name__))


def get_registered_object(name, custom_objects=None, module_objects=None):
    """The object registered (or given) under ``name``, else None.

    Looks in the active ``custom_object_scope``s, then the registry, then
    ``custom_objects``, then ``module_objects``, as Keras does.
    """
    for scope in reversed(_SCOPE.get()):
        if name in scope:
            return scope[name]
    if name in _REGISTERED:
        return _REGISTERED[name]
    if custom_objects and name in custom_objects:
        return custom_objects[name]
    if module_objects and name in module_objects:
        return module_objects[name]
    return None


def get_custom_objects():
    """The registry itself: {"package>name": object} (Keras' global custom objects dict)."""
    return _REGISTERED


class custom_object_scope:
    """``with custom_object_scope({"MyLayer": MyLayer}):`` — names visible to loading inside the block."""

    def __init__(self, *custom_objects):
        self._objects = {}
        for objs in custom_objects:
            if objs is None:
                continue
            if not isinstance(objs, dict):
                raise TypeError(f"custom_object_scope expects dicts, got {type(objs).__name__}")
            self._objects.update(objs)

    def __enter__(self):
        self._token = _SCOPE.set(_SCOPE.get() + (self._objects,))
        return self

    def __exit__(self, *exc):
        _SCOPE.reset(self._token)
        return False


CustomObjectScope = custom_object_scope


def lookup(class_name, registered_name, custom_objects):
    """A user object for a (class_name, registered_name) pair read from a file, else None."""
    for key in (registered_name, class_name):
        if isinstance(key, str) and key:
            obj = get_registered_object(key, custom_objects)
            if obj is not None:
                return obj
    return None
