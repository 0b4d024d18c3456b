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
import math
import time

import numpy as np

from .trainer import OPTIMIZERS, _make_optimizer

__all__ = [
    "NET_NAMES", "EVAL_NET_NAMES", "OPTIMIZER_NAMES", "DEFAULT_EPOCHS", "HISTORY_FIELDS", "SCHEDULES",
    "build", "from_params", "infer_net", "wants_flat_input", "default_lr",
    "BookModel", "KerasModel", "Run",
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


_WEIGHT_NDIMS = {"simple_convnet": [4, 2, 2], "deep_convnet": [4] * 6 + [2, 2]}


def _check_weight_shapes(name, W):
    """The weights' ranks and sizes fit network ``name``, else a ValueError saying what came."""
    shapes = [tuple(w.shape) for w in W]
    if not W:
        raise ValueError(f"no weights W1, W2, ... for {_TITLES.get(name, name)}")
    expected = _WEIGHT_NDIMS.get(name)
    ndims = [len(s) for s in shapes]
    if expected is not None and ndims != expected:
        raise ValueError(f"weights shaped {shapes} are not {_TITLES[name]}'s ({len(expected)} weights "
                         f"of ranks {expected}); name the right network with --net")
    if expected is None and any(d != 2 for d in ndims):
        raise ValueError(f"weights shaped {shapes} are not {_TITLES.get(name, name)}'s (all 2-D "
                         "matrices); name the right network with --net")
    for i, s in enumerate(shapes, start=1):
        if 0 in s:
            raise ValueError(f"weight W{i} has shape {s}: a network needs every size >= 1")


def _config_from_params(name, params):
    """Constructor arguments that give parameters of the shapes in ``params``."""
    W = [params[f"W{i}"] for i in range(1, _layer_count(params) + 1)]
    _check_weight_shapes(name, W)
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


def from_params(name, params, *, dtype=np.float64, config=None):
    """A model ``name`` holding ``params`` (a dict of arrays, as loaded from a file)."""
    if name.startswith("keras_"):
        if config is None:
            raise ValueError(f"{name}: the .json file written beside the parameters by "
                             "'fastnn train' is needed to rebuild a Keras-style model")
        model = KerasModel(name, config, dtype=dtype, seed=0)
        model.set_params(params)
        return model
    if config is None:
        config = _config_from_params(name, params)
    model = build(name, dtype=dtype, config=config)
    missing = sorted(set(model.net.params) - set(params))
    if missing:
        raise ValueError(f"the parameters lack {missing} needed by {model.title}")
    for key, value in model.net.params.items():
        if params[key].shape != value.shape:
            raise ValueError(f"parameter {key!r} has shape {params[key].shape}; "
                             f"{model.title} expects {value.shape}")
        np.copyto(value, params[key], casting="unsafe")
    return model


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

    def fit_epoch(self, x, t, batch_size, on_step=None):
        """One epoch of ``model.fit``; returns (mean loss, the loss of every mini-batch).

        ``on_step(step, mean_loss, images_per_s)`` is called after every
        mini-batch, through a Keras callback.
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
            loss, step_losses = self.model.fit_epoch(self.x_train, self.t_train, self.batch_size, on_step)
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
