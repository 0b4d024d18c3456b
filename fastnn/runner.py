"""The networks ``fastnn train`` / ``fastnn evaluate`` know by name, and the epoch loop.

Two kinds of model, one small interface (:class:`BookModel`, :class:`KerasModel`):
``set_optimizer``, ``set_lr``, ``predict_labels``, ``accuracy``, ``save``,
plus ``title`` and ``config`` (the constructor arguments, saved beside the
parameters so that ``fastnn evaluate`` can rebuild the network). A book
model trains by ``train_step`` (one mini-batch), a Keras-style one by
``fit_epoch`` (its own ``fit``); :class:`Run` drives either, epoch by epoch.

    model = build("simple_convnet", dtype=np.float32, seed=0, input_shape=(1, 28, 28))
    run = Run(model, x_train, t_train, x_test, t_test, optimizer="adam", lr=0.003,
              batch_size=100, seed=0, schedule="cosine", epochs=5)
    for epoch in range(5):
        record = run.train_epoch()     # {'epoch', 'loss', 'train_acc', 'test_acc', ...}

The book-style loop is the one of the book's ``Trainer`` (``fastnn.trainer``,
whose optimizer table it uses): gradient by backprop, ``optimizer.update``
on ``network.params``. Two differences, both so that an epoch means one pass
over the data: mini-batches are drawn *without* replacement from a fresh
permutation each epoch (the book draws with replacement), and the accuracies
are measured at the end of each epoch (the book measures them after the
first step of each epoch). The loss reported for a step is the one the
gradient's forward pass computed, before the update (the book's Trainer runs
one more forward pass after the update to get it).
"""
import inspect
import json
import math
import numbers
import os
import time

import numpy as np

from .trainer import OPTIMIZERS, _make_optimizer

__all__ = [
    "NET_NAMES", "EVAL_NET_NAMES", "OPTIMIZER_NAMES", "DEFAULT_EPOCHS", "HISTORY_FIELDS", "SCHEDULES",
    "build", "from_params", "infer_net", "wants_flat_input", "default_lr",
    "param_shapes", "read_sidecar", "load_model",
    "BookModel", "KerasModel", "Run", "TrainingDiverged",
]

#: Networks ``fastnn train`` can train.
NET_NAMES = ("two_layer", "multi_layer", "simple_convnet", "deep_convnet", "keras_mlp", "keras_cnn")
#: ... and ``fastnn evaluate`` can also evaluate chapter 3's sample network.
EVAL_NET_NAMES = NET_NAMES + ("sample_network",)
#: Optimizer names (all in the Trainer's table, which also admits the book's misspelling 'rmsprpo').
OPTIMIZER_NAMES = tuple(name for name in ("sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam")
                        if name in OPTIMIZERS)
#: Epochs of ``fastnn train`` when --epochs is not given.
DEFAULT_EPOCHS = 10
#: Columns of the history CSV, one row per epoch.
HISTORY_FIELDS = ("epoch", "steps", "loss", "train_acc", "test_acc", "lr", "seconds", "images_per_s")
#: Learning-rate schedules of :class:`Run`.
SCHEDULES = ("constant", "cosine")

_FLAT_INPUT = {"two_layer", "multi_layer", "keras_mlp", "sample_network"}
_TITLES = {
    "two_layer": "TwoLayerNet", "multi_layer": "MultiLayerNet", "simple_convnet": "SimpleConvNet",
    "deep_convnet": "DeepConvNet", "sample_network": "SampleNetwork (chapter 3)",
    "keras_mlp": "Keras-style MLP", "keras_cnn": "Keras-style CNN",
}


class TrainingDiverged(ArithmeticError):
    """The training loss became NaN or infinite: the parameters are no longer usable.

    Raised by :meth:`Run.train_epoch` at the first step whose loss is not
    finite (``step``: the step count, ``loss``: the value). The parameters
    then hold non-finite values, or are about to; they are not to be saved.
    """

    def __init__(self, step, loss, lr):
        self.step, self.loss, self.lr = step, loss, lr
        super().__init__(f"training diverged: the loss is {loss} at step {step} "
                         f"(the learning rate {lr:g} is probably too large)")


def wants_flat_input(name):
    """True if network ``name`` takes images flattened to (N, 784), False for (N, 1, 28, 28)."""
    return name in _FLAT_INPUT


def default_lr(optimizer):
    """A learning rate that works for ``optimizer`` on MNIST.

    Adam: 0.003, three times the book's 0.001, because with the cosine
    schedule it reaches a better network in few epochs (SimpleConvNet on the
    5,000-image sample: test accuracy 0.966 after 10 epochs, against 0.95 at
    0.001); RMSprop 0.001; the others 0.01 like the book.
    """
    if optimizer == "adam":
        return 0.003
    return 0.001 if optimizer == "rmsprop" else 0.01


# --------------------------------------------------------------------------
# Building networks by name
# --------------------------------------------------------------------------
def _default_config(name, input_shape):
    """Constructor arguments (JSON-friendly) of network ``name`` for inputs of ``input_shape``."""
    n_in = int(np.prod(input_shape))
    if name == "two_layer":
        return {"input_size": n_in, "hidden_size": 100, "output_size": 10}
    if name == "multi_layer":
        return {"input_size": n_in, "hidden_size_list": [100, 100, 100], "output_size": 10}
    if name == "simple_convnet":
        return {"input_dim": list(input_shape),
                "conv_param": {"filter_num": 30, "filter_size": 5, "pad": 0, "stride": 1},
                "hidden_size": 100, "output_size": 10, "weight_init_std": 0.01}
    if name == "deep_convnet":
        return {"input_dim": list(input_shape)}
    if name == "sample_network":
        return {"sizes": [n_in, 50, 100, 10]}
    if name == "keras_mlp":
        return {"input_size": n_in, "hidden_size": 512, "output_size": 10}
    if name == "keras_cnn":
        return {"input_shape": list(input_shape), "filters": 32, "hidden_size": 128, "output_size": 10}
    raise ValueError(f"unknown network {name!r}; choose one of {', '.join(EVAL_NET_NAMES)}")


def build(name, *, dtype=np.float32, seed=0, input_shape=(1, 28, 28), config=None):
    """A freshly initialised model ``name`` (one of :data:`EVAL_NET_NAMES`).

    ``input_shape``: one sample's shape, (784,) or (1, 28, 28) (book layout,
    NCHW; the Keras CNN gets NHWC internally). ``config`` overrides the
    default constructor arguments. Initial weights come from ``seed``.
    """
    config = dict(_default_config(name, input_shape) if config is None else config)
    rng = np.random.default_rng(seed)
    if name.startswith("keras_"):
        return KerasModel(name, config, dtype=dtype, seed=seed)
    from . import nets
    kwargs = dict(config)
    if name == "two_layer":
        net = nets.TwoLayerNet(**kwargs, dtype=dtype, rng=rng)
    elif name == "multi_layer":
        net = nets.MultiLayerNet(**kwargs, dtype=dtype, rng=rng)
    elif name == "simple_convnet":
        kwargs["input_dim"] = tuple(kwargs["input_dim"])
        net = nets.SimpleConvNet(**kwargs, dtype=dtype, rng=rng)
    elif name == "deep_convnet":
        kwargs["input_dim"] = tuple(kwargs["input_dim"])
        net = nets.DeepConvNet(**kwargs, dtype=dtype, rng=rng)
    elif name == "sample_network":
        net = nets.SampleNetwork(sizes=tuple(kwargs["sizes"]), dtype=dtype, rng=rng)
    else:
        raise ValueError(f"unknown network {name!r}; choose one of {', '.join(EVAL_NET_NAMES)}")
    return BookModel(name, net, config)


# --------------------------------------------------------------------------
# Shapes a config gives, computed before anything is allocated
# --------------------------------------------------------------------------
#: Constructor arguments each network's config may hold.
_CONFIG_KEYS = {
    "two_layer": {"input_size", "hidden_size", "output_size", "weight_init_std"},
    "multi_layer": {"input_size", "hidden_size_list", "output_size", "activation",
                    "weight_init_std", "weight_decay_lambda"},
    "simple_convnet": {"input_dim", "conv_param", "hidden_size", "output_size", "weight_init_std"},
    "deep_convnet": {"input_dim", "hidden_size", "output_size"} | {f"conv_param_{i}" for i in range(1, 7)},
    "sample_network": {"sizes"},
    "keras_mlp": {"input_size", "hidden_size", "output_size"},
    "keras_cnn": {"input_shape", "filters", "hidden_size", "output_size"},
}
_MAX_LAYERS = 1000


def _size(where, key, value):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{where}: {key} must be an int >= 1, got {_short(value)}")
    return int(value)


def _sizes(where, key, value, count=None):
    if not isinstance(value, (list, tuple)) or (count is not None and len(value) != count) \
            or len(value) > _MAX_LAYERS:
        want = f"a list of {count} ints" if count else f"a list of at most {_MAX_LAYERS} ints"
        raise ValueError(f"{where}: {key} must be {want}, got {_short(value)}")
    return [_size(where, key, v) for v in value]


def _short(value):
    """A value from a file, for a message: its repr cut short (never a deep or huge repr)."""
    if isinstance(value, (dict, list, tuple)):
        return f"a {type(value).__name__} of {len(value)} items"
    text = repr(value) if isinstance(value, (str, int, float, bool, type(None))) else type(value).__name__
    return text if len(text) <= 60 else text[:57] + "..."


def _default(cls, key):
    return inspect.signature(cls).parameters[key].default


def param_shapes(name, config, where="config"):
    """{parameter: shape} of network ``name`` built from ``config``, computed without building it.

    Checks the config's keys and the types of its sizes first (ValueError
    naming ``where``), so a config read from a file is vetted before any
    memory is allocated for it. The shapes are those the constructors make
    (tests compare them with built networks).
    """
    from .nets.simple_convnet import conv_output_hw, conv_param_values

    if name not in _CONFIG_KEYS:
        raise ValueError(f"{where}: unknown network {_short(name)}; choose one of {', '.join(EVAL_NET_NAMES)}")
    if not isinstance(config, dict):
        raise ValueError(f"{where}: the config of {name} must be a JSON object, got {_short(config)}")
    unknown = sorted(str(k)[:40] for k in config if k not in _CONFIG_KEYS[name])
    if unknown:
        raise ValueError(f"{where}: unknown keys {unknown} in the config of {name}")
    c = config

    def need(key):
        if key not in c:
            raise ValueError(f"{where}: the config of {name} lacks {key!r}")
        return c[key]

    def dense(sizes, prefix="W", bias="b", first=1):
        shapes = {}
        for i in range(1, len(sizes)):
            shapes[f"{prefix}{first + i - 1}"] = (sizes[i - 1], sizes[i])
            shapes[f"{bias}{first + i - 1}"] = (sizes[i],)
        return shapes

    def conv_params(key, default):
        try:
            return conv_param_values(where, c.get(key, default))
        except TypeError as exc:
            raise ValueError(str(exc)) from None

    if name == "two_layer":
        return dense([_size(where, k, need(k)) for k in ("input_size", "hidden_size", "output_size")])
    if name == "multi_layer":
        sizes = ([_size(where, "input_size", need("input_size"))]
                 + _sizes(where, "hidden_size_list", need("hidden_size_list"))
                 + [_size(where, "output_size", need("output_size"))])
        return dense(sizes)
    if name == "sample_network":
        return dense(_sizes(where, "sizes", need("sizes"), count=4))
    if name == "keras_mlp":
        sizes = [_size(where, k, need(k)) for k in ("input_size", "hidden_size", "output_size")]
        return {"w0": (sizes[0], sizes[1]), "w1": (sizes[1],), "w2": (sizes[1], sizes[2]), "w3": (sizes[2],)}
    if name == "keras_cnn":
        C, H, W = _sizes(where, "input_shape", need("input_shape"), count=3)
        filters, hidden, out = (_size(where, k, need(k)) for k in ("filters", "hidden_size", "output_size"))
        if H < 4 or W < 4:
            raise ValueError(f"{where}: input_shape {[C, H, W]} is too small for a 3x3 convolution and 2x2 pooling")
        flat = filters * ((H - 2) // 2) * ((W - 2) // 2)
        return {"w0": (3, 3, C, filters), "w1": (filters,), "w2": (flat, hidden), "w3": (hidden,),
                "w4": (hidden, out), "w5": (out,)}
    from . import nets
    if name == "simple_convnet":
        C, H, W = _sizes(where, "input_dim", need("input_dim"), count=3)
        FN, FS, pad, stride = conv_params("conv_param", _default(nets.SimpleConvNet, "conv_param"))
        hidden = _size(where, "hidden_size", c.get("hidden_size", _default(nets.SimpleConvNet, "hidden_size")))
        out = _size(where, "output_size", c.get("output_size", _default(nets.SimpleConvNet, "output_size")))
        conv_h, conv_w = conv_output_hw(where, (H, W), FS, pad, stride)
        if conv_h < 2 or conv_w < 2:
            raise ValueError(f"{where}: the convolution output {conv_h}x{conv_w} is too small for 2x2 pooling")
        shapes = {"W1": (FN, C, FS, FS), "b1": (FN,)}
        shapes.update(dense([FN * (conv_h // 2) * (conv_w // 2), hidden, out], first=2))
        return shapes
    # deep_convnet: six convolutions, a 2x2 pooling after every second one, two affine layers
    input_dim = _sizes(where, "input_dim", need("input_dim"), count=3)
    channels, H, W = input_dim
    hw, shapes = (H, W), {}
    for i in range(1, 7):
        key = f"conv_param_{i}"
        FN, FS, pad, stride = conv_params(key, _default(nets.DeepConvNet, key))
        shapes[f"W{i}"], shapes[f"b{i}"] = (FN, channels, FS, FS), (FN,)
        hw = conv_output_hw(where, hw, FS, pad, stride)
        channels = FN
        if i % 2 == 0:
            if min(hw) < 2:
                raise ValueError(f"{where}: input_dim {input_dim} is too small "
                                 "for three 2x2 poolings")
            hw = (hw[0] // 2, hw[1] // 2)
    hidden = _size(where, "hidden_size", c.get("hidden_size", _default(nets.DeepConvNet, "hidden_size")))
    out = _size(where, "output_size", c.get("output_size", _default(nets.DeepConvNet, "output_size")))
    shapes.update(dense([channels * hw[0] * hw[1], hidden, out], first=7))
    return shapes


def _check_against(where, expected, found, found_where):
    """ValueError unless ``found`` (name -> object with .shape) has every ``expected`` shape."""
    missing = [key for key in expected if key not in found]
    if missing:
        raise ValueError(f"{found_where} lacks parameters {missing} that {where} needs")
    for key, shape in expected.items():
        if tuple(found[key].shape) != tuple(shape):
            raise ValueError(f"{where} gives parameter {key!r} shape {tuple(shape)}, "
                             f"but {found_where} holds {tuple(found[key].shape)}")


def _layer_count(params, prefix="W"):
    n = 0
    while f"{prefix}{n + 1}" in params:
        n += 1
    return n


def infer_net(params):
    """Guess which book network a parameter dict belongs to from its names and shapes.

    6 keys W1..b3 with a 4-D W1: SimpleConvNet; W1..W8 with six 4-D: DeepConvNet;
    W1, b1, W2, b2 all 2-D: TwoLayerNet; three 2-D layers 784-50-100-10:
    chapter 3's sample network; other all-2-D stacks: MultiLayerNet.
    """
    n = _layer_count(params)
    if n == 0 or any(f"b{i}" not in params for i in range(1, n + 1)):
        raise ValueError("cannot tell the network from the parameters (expected W1, b1, W2, b2, ...); "
                         "name it with --net")
    ndims = [params[f"W{i}"].ndim for i in range(1, n + 1)]
    if ndims == [4, 2, 2]:
        return "simple_convnet"
    if ndims == [4] * 6 + [2, 2]:
        return "deep_convnet"
    if all(d == 2 for d in ndims) and not any(k.startswith(("gamma", "beta")) for k in params):
        if n == 2:
            return "two_layer"
        shapes = [params[f"W{i}"].shape for i in range(1, n + 1)]
        if n == 3 and [s[1] for s in shapes] == [50, 100, 10]:
            return "sample_network"
        return "multi_layer"
    raise ValueError(f"cannot tell the network from parameters shaped "
                     f"{[params[f'W{i}'].shape for i in range(1, n + 1)]}; name it with --net")


_WEIGHT_NDIMS = {"two_layer": [2, 2], "sample_network": [2, 2, 2], "simple_convnet": [4, 2, 2],
                 "deep_convnet": [4] * 6 + [2, 2]}


def _config_from_params(name, params, source="the parameters"):
    """Constructor arguments that give parameters of the shapes in ``params``."""
    W = [params[f"W{i}"] for i in range(1, _layer_count(params) + 1)]
    ndims = [w.ndim for w in W]
    want = _WEIGHT_NDIMS.get(name)
    if (ndims != want) if want else (name == "multi_layer" and (len(W) < 2 or set(ndims) != {2})):
        shapes = [tuple(w.shape) for w in W][:10]
        if want:
            raise ValueError(f"{source}: weights shaped {shapes} are not {_TITLES.get(name, name)}'s ({len(want)} weights "
                             f"of ranks {want}); name the right network with --net")
        raise ValueError(f"{source}: weights shaped {shapes} are not {_TITLES.get(name, name)}'s (two or more "
                         "2-D matrices); name the right network with --net")
    if any(0 in w.shape for w in W):
        raise ValueError(f"{source}: cannot rebuild {name!r} from parameters with a zero-size weight")
    if name == "two_layer":
        return {"input_size": W[0].shape[0], "hidden_size": W[0].shape[1], "output_size": W[1].shape[1]}
    if name == "multi_layer":
        return {"input_size": W[0].shape[0], "hidden_size_list": [w.shape[1] for w in W[:-1]],
                "output_size": W[-1].shape[1]}
    if name == "sample_network":
        return {"sizes": [W[0].shape[0]] + [w.shape[1] for w in W]}
    if name == "simple_convnet":
        FN, C, FS, _ = W[0].shape
        # The flattened size after conv + 2x2 pooling tells the input size (square, pad 0, stride 1).
        pooled = W[1].shape[0] // FN
        side = int(round(np.sqrt(pooled))) * 2 + FS - 1
        return {"input_dim": [C, side, side],
                "conv_param": {"filter_num": FN, "filter_size": FS, "pad": 0, "stride": 1},
                "hidden_size": W[1].shape[1], "output_size": W[2].shape[1]}
    if name == "deep_convnet":
        return {"input_dim": [W[0].shape[1], 28, 28]}
    raise ValueError(f"cannot rebuild {name!r} from its parameters alone; name it with --net")


def from_params(name, params, *, dtype=np.float64, config=None, source="the parameters"):
    """A model ``name`` holding ``params`` (a dict of arrays, as loaded from a file).

    The shapes the config gives are compared with those of ``params``
    before the network is built (``source`` names them in messages).
    """
    if name.startswith("keras_") and config is None:
        raise ValueError(f"{name}: the .json file written beside the parameters by "
                         "'fastnn train' is needed to rebuild a Keras-style model")
    if config is None:
        config = _config_from_params(name, params)
    expected = param_shapes(name, config, where=f"the config of {_TITLES.get(name, name)}")
    _check_against(f"the config of {_TITLES[name]}", expected, params, source)
    if name.startswith("keras_"):
        model = KerasModel(name, config, dtype=dtype, seed=0)
        model.set_params(params)
        return model
    model = build(name, dtype=dtype, config=config)
    for key, value in model.net.params.items():
        np.copyto(value, params[key], casting="unsafe")
    return model


#: Largest sidecar .json read (the ones 'fastnn train' writes are under 1 KB).
MAX_SIDECAR_BYTES = 1 << 20


def read_sidecar(path):
    """{'net', 'config', 'dataset'} from the .json file 'fastnn train' writes beside the parameters.

    Every value is checked: ``net`` one of :data:`EVAL_NET_NAMES`,
    ``config`` an object (or absent), ``dataset`` a string (or absent).
    ValueError naming the file otherwise.
    """
    path = os.fspath(path)
    size = os.path.getsize(path)
    if size > MAX_SIDECAR_BYTES:
        raise ValueError(f"{path}: {size:,} bytes, too large for the description of a run "
                         f"(at most {MAX_SIDECAR_BYTES:,})")
    try:
        with open(path, encoding="utf-8") as f:
            meta = json.load(f)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError, bad UTF-8, nesting
        raise ValueError(f"{path}: not a valid JSON file ({str(exc)[:200]})") from None
    if not isinstance(meta, dict):
        raise ValueError(f"{path}: expected a JSON object describing the run, got {_short(meta)}")
    net, config, dataset = meta.get("net"), meta.get("config"), meta.get("dataset")
    if net is not None and (not isinstance(net, str) or net not in EVAL_NET_NAMES):
        raise ValueError(f"{path}: 'net' must be one of {', '.join(EVAL_NET_NAMES)}, got {_short(net)}")
    if config is not None and not isinstance(config, dict):
        raise ValueError(f"{path}: 'config' must be a JSON object, got {_short(config)}")
    if dataset is not None and not isinstance(dataset, str):
        raise ValueError(f"{path}: 'dataset' must be a string, got {_short(dataset)}")
    return {"net": net, "config": config, "dataset": dataset}


def load_model(path, name=None, *, config=None, dtype=None, config_source=None):
    """The model for parameter file ``path``, vetted before anything large is allocated.

    1. The file's array names, shapes and dtypes are read (for ``.npz`` from
       the headers only); ``name`` is inferred from them if not given, and
       ``config`` too (else it comes from a sidecar, named ``config_source``).
    2. The shapes ``config`` gives are computed (:func:`param_shapes`) and
       compared with the file's; any difference is a ValueError naming both.
    3. Only then is the data read (finite floats only) and the network built.

    ``dtype``: compute type (None: float32 if every float array of the file
    is float32, else float64). Returns ``(model, dtype)``.
    """
    from . import io

    path = os.fspath(path)
    info = io.param_info(path, where="fastnn evaluate")
    for key, item in info.items():
        if 0 in item.shape:
            raise ValueError(f"{path}: parameter {key!r} has a zero-size shape {tuple(item.shape)}")
    if name is None:
        name = infer_net(info)
    if config is None:
        if name.startswith("keras_"):
            raise ValueError(f"{name}: the .json file written beside the parameters by "
                             "'fastnn train' is needed to rebuild a Keras-style model")
        config, config_where = _config_from_params(name, info, path), f"the {_TITLES[name]} for {path}"
    else:
        config_where = f"{config_source or 'the config'} ({_TITLES.get(name, name)})"
    expected = param_shapes(name, config, where=config_where)
    _check_against(config_where, expected, info, path)
    params = io.load_params(path, expected, where="fastnn evaluate")
    if dtype is None:
        kinds = {v.dtype for v in params.values()}
        dtype = np.dtype(np.float32) if kinds == {np.dtype(np.float32)} else np.dtype(np.float64)
    return from_params(name, params, dtype=dtype, config=config, source=path), np.dtype(dtype)


# --------------------------------------------------------------------------
# The two kinds of model
# --------------------------------------------------------------------------
def _predict_in_batches(predict, x, batch_size):
    return np.concatenate([np.argmax(predict(x[i:i + batch_size]), axis=1)
                           for i in range(0, len(x), batch_size)])


class BookModel:
    """A book-style network (``fastnn.nets``) behind the common interface."""

    def __init__(self, name, net, config):
        self.name, self.net, self.config = name, net, config
        self.title = _TITLES[name]
        self.optimizer = None

    def set_optimizer(self, optimizer, lr):
        self.optimizer = _make_optimizer(optimizer, {"lr": lr})

    def set_lr(self, lr):
        self.optimizer.lr = lr

    def train_step(self, x, t):
        """One backprop step on a mini-batch; returns the batch's loss before the update."""
        grads = self.net.gradient(x, t)
        self.optimizer.update(self.net.params, grads)
        last = getattr(self.net, "last_layer", None)  # SoftmaxWithLoss keeps the forward's loss
        return float(last.loss) if last is not None and last.loss is not None else float(self.net.loss(x, t))

    def predict_labels(self, x, batch_size=500):
        return _predict_in_batches(self.net.predict, x, batch_size)

    def params_finite(self):
        """True if every parameter is finite (no NaN, no inf): safe to save."""
        return all(np.isfinite(value).all() for value in self.net.params.values())

    def accuracy(self, x, t):
        return float(np.mean(self.predict_labels(x) == np.asarray(t).reshape(-1)))

    def save(self, path):
        self.net.save_params(path)
        return path


class KerasModel:
    """A small Keras-style network (``fastnn.keras``) behind the common interface.

    keras_mlp: Dense(hidden, relu) -> Dense(10, softmax) on (N, 784).
    keras_cnn: Conv2D(filters, 3, relu) -> MaxPooling2D -> Flatten -> Dense(hidden, relu)
    -> Dense(10, softmax) on (N, 28, 28, 1) (book-layout inputs are transposed).
    Parameters are saved as ``w0, w1, ...`` (``get_weights()`` order).
    """

    def __init__(self, name, config, *, dtype=np.float32, seed=0):
        from . import keras
        self.name, self.config = name, config
        self.title = _TITLES[name]
        self.dtype = np.dtype(dtype)
        self._seed_keras(keras, seed)
        layers = keras.layers
        if name == "keras_mlp":
            self.model = keras.models.Sequential([
                layers.Dense(config["hidden_size"], activation="relu",
                             input_shape=(config["input_size"],)),
                layers.Dense(config["output_size"], activation="softmax"),
            ])
        elif name == "keras_cnn":
            C, H, W = config["input_shape"]
            self.model = keras.models.Sequential([
                layers.Conv2D(config["filters"], 3, activation="relu", input_shape=(H, W, C)),
                layers.MaxPooling2D((2, 2)),
                layers.Flatten(),
                layers.Dense(config["hidden_size"], activation="relu"),
                layers.Dense(config["output_size"], activation="softmax"),
            ])
        else:
            raise ValueError(f"unknown Keras-style network {name!r}")
        self._optimizer = None

    @staticmethod
    def _seed_keras(keras, seed):
        setter = getattr(getattr(keras, "utils", None), "set_random_seed", None)
        if setter is not None:
            setter(seed)
        else:
            np.random.seed(seed)

    def _inputs(self, x):
        x = np.asarray(x, dtype=self.dtype)
        return x.transpose(0, 2, 3, 1) if (self.name == "keras_cnn" and x.ndim == 4) else x

    def set_optimizer(self, optimizer, lr):
        from . import keras
        classes = {"sgd": "SGD", "rmsprop": "RMSprop", "adam": "Adam", "adagrad": "Adagrad"}
        if optimizer not in classes:
            raise ValueError(f"{self.title}: optimizer must be one of {sorted(classes)}, got {optimizer!r}")
        opt = getattr(keras.optimizers, classes[optimizer])(learning_rate=lr)
        self.model.compile(optimizer=opt, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        self._optimizer = opt

    def set_lr(self, lr):
        self._optimizer.learning_rate = lr

    def fit_epoch(self, x, t, batch_size, on_step=None, steps_before=0, lr=float("nan")):
        """One epoch of ``model.fit``; returns (mean loss, the loss of every mini-batch).

        ``on_step(step, mean_loss, images_per_s)`` is called after every
        mini-batch, through a Keras callback. A loss that is not finite stops
        the epoch with :class:`TrainingDiverged` (``steps_before``: steps of
        earlier epochs, and ``lr``, for its message).
        """
        from .keras.callbacks import Callback

        x = self._inputs(x)
        n, start = len(x), time.perf_counter()
        step_losses = []

        class _Steps(Callback):
            total = 0.0  # sum of the per-sample losses so far

            def on_train_batch_end(self, batch, logs=None):
                # Keras logs the running mean over the epoch; recover this batch's own loss.
                seen = min((batch + 1) * batch_size, n)
                mean = float((logs or {}).get("loss", np.nan))
                batch_n = seen - min(batch * batch_size, n)
                step_losses.append((mean * seen - self.total) / batch_n)
                self.total = mean * seen
                if not math.isfinite(mean):
                    raise TrainingDiverged(steps_before + batch + 1, mean, lr)
                if on_step is not None:
                    on_step(batch + 1, mean, seen / max(time.perf_counter() - start, 1e-9))

        history = self.model.fit(x, np.asarray(t), batch_size=batch_size, epochs=1, verbose=0,
                                 shuffle=True, callbacks=[_Steps()])
        return float(history.history["loss"][-1]), step_losses

    def predict_labels(self, x, batch_size=500):
        x = self._inputs(x)
        return np.argmax(self.model.predict(x, batch_size=batch_size, verbose=0), axis=1)

    def accuracy(self, x, t):
        return float(np.mean(self.predict_labels(x) == np.asarray(t).reshape(-1)))

    def get_params(self):
        return {f"w{i}": w for i, w in enumerate(self.model.get_weights())}

    def params_finite(self):
        """True if every weight is finite (no NaN, no inf): safe to save."""
        return all(np.isfinite(w).all() for w in self.model.get_weights())

    def set_params(self, params):
        n = len(self.model.get_weights())
        missing = [f"w{i}" for i in range(n) if f"w{i}" not in params]
        if missing:
            raise ValueError(f"{self.title}: the parameters lack {missing}")
        self.model.set_weights([params[f"w{i}"] for i in range(n)])

    def save(self, path):
        from .io import save_params
        save_params(self.get_params(), path)
        return path


# --------------------------------------------------------------------------
# The epoch loop
# --------------------------------------------------------------------------
class Run:
    """Train ``model`` epoch by epoch, keeping a history.

    ``eval_samples``: the per-epoch accuracies use the first N training and
    test samples (None: all). ``schedule``: 'constant' keeps the learning
    rate; 'cosine' lowers it along half a cosine over ``epochs`` epochs,
    lr * (1 + cos(pi * e / epochs)) / 2 in epoch e = 0, 1, ..., which lets the
    last epochs settle into a minimum instead of jumping around it.
    ``history``: one dict per epoch with the keys of :data:`HISTORY_FIELDS`;
    ``losses``: the loss of every step.
    A step whose loss is NaN or infinite raises :class:`TrainingDiverged`.
    """

    def __init__(self, model, x_train, t_train, x_test, t_test, *, optimizer="adam", lr=0.001,
                 batch_size=100, seed=0, eval_samples=None, schedule="constant", epochs=None):
        if len(x_train) == 0:
            raise ValueError("Run: no training data")
        if len(x_train) != len(t_train) or len(x_test) != len(t_test):
            raise ValueError("Run: images and labels differ in number")
        self.model = model
        self.x_train, self.t_train, self.x_test, self.t_test = x_train, t_train, x_test, t_test
        self.batch_size = int(batch_size)
        self.rng = np.random.default_rng(seed)
        self.eval_samples = eval_samples
        if schedule not in SCHEDULES:
            raise ValueError(f"Run: schedule must be one of {SCHEDULES}, got {schedule!r}")
        if schedule == "cosine" and not epochs:
            raise ValueError("Run: the cosine schedule needs the number of epochs")
        self.base_lr, self.schedule, self.epochs = lr, schedule, epochs
        self.steps_per_epoch = -(-len(x_train) // self.batch_size)
        self.steps_done = 0
        self.history = []
        self.losses = []
        model.set_optimizer(optimizer, lr)

    def train_epoch(self, on_step=None):
        """One pass over the training data; returns the epoch's history record.

        ``on_step(step, mean_loss_so_far, images_per_s)`` is called after each step.
        """
        start = time.perf_counter()
        n = len(self.x_train)
        lr = self.lr_at(len(self.history))
        self.model.set_lr(lr)
        if isinstance(self.model, KerasModel):
            loss, step_losses = self.model.fit_epoch(self.x_train, self.t_train, self.batch_size, on_step,
                                                     steps_before=self.steps_done, lr=lr)
            self.losses.extend(step_losses)
            self.steps_done += len(step_losses)
        else:
            order = self.rng.permutation(n)
            total = 0.0
            for step in range(self.steps_per_epoch):
                batch = order[step * self.batch_size:(step + 1) * self.batch_size]
                loss = self.model.train_step(self.x_train[batch], self.t_train[batch])
                self.losses.append(loss)
                self.steps_done += 1
                if not math.isfinite(loss):
                    raise TrainingDiverged(self.steps_done, loss, lr)
                total += loss
                if on_step is not None:
                    seen = min((step + 1) * self.batch_size, n)
                    on_step(step + 1, total / (step + 1), seen / max(time.perf_counter() - start, 1e-9))
            steps = self.steps_per_epoch
            loss = total / steps
        seconds = time.perf_counter() - start
        k = self.eval_samples
        record = {
            "epoch": len(self.history) + 1,
            "steps": self.steps_done,
            "loss": float(loss),
            "train_acc": self.model.accuracy(self.x_train[:k], self.t_train[:k]),
            "test_acc": self.model.accuracy(self.x_test[:k], self.t_test[:k]),
            "lr": lr,
            "seconds": seconds,
            "images_per_s": n / max(seconds, 1e-9),
        }
        self.history.append(record)
        return record

    def lr_at(self, epoch):
        """Learning rate of epoch ``epoch`` (0-based) under the schedule."""
        if self.schedule == "cosine":
            return self.base_lr * 0.5 * (1.0 + math.cos(math.pi * epoch / self.epochs))
        return self.base_lr

    def accuracy(self, x, t):
        return self.model.accuracy(x, t)

    def curves(self):
        """The history in the Trainer's names, for :func:`fastnn.plot.plot_learning_curves`."""
        return {
            "train_loss_list": list(self.losses),
            "train_acc_list": [r["train_acc"] for r in self.history],
            "test_acc_list": [r["test_acc"] for r in self.history],
        }
