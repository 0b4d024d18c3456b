"""Optimizers with Keras' defaults and update rules.

Each keeps its learning rate in ``learning_rate`` (``lr`` is accepted as the
old spelling), counts steps in ``iterations``, and holds per-weight state
("slots") keyed by ``'layer_name/weight_name'`` so that a saved model resumes
exactly. SGD and Adam run on the kernels ``sgd_update``, ``momentum_update``
and ``adam_update``.

=========  ============================================================  ===============
SGD        v = momentum*v - lr*g;  w += v   (plain: w -= lr*g)           lr 0.01
           (nesterov: w += momentum*v - lr*g)
RMSprop    s = rho*s + (1-rho)*g^2;  w -= lr*g / sqrt(s + eps)            lr 0.001, rho 0.9
Adam       m, v moving moments; w -= lr_t*m/(sqrt(v)+eps),               lr 0.001
           lr_t = lr*sqrt(1-beta_2^t)/(1-beta_1^t)
Adagrad    a += g^2 (a starts at 0.1);  w -= lr*g / sqrt(a + eps)         lr 0.001
=========  ============================================================  ===============

The old ``decay=`` argument of Keras 2 is honoured: step t uses lr / (1 + decay*t).
"""
import numpy as np

from .. import kernels
from .backend import LiveScalar

_COMMON = ("name", "clipnorm", "clipvalue", "global_clipnorm", "weight_decay", "decay")


class Optimizer:
    default_lr = 0.001

    def __init__(self, learning_rate=None, **kwargs):
        cls = type(self).__name__
        lr = kwargs.pop("lr", None)
        unknown = sorted(set(kwargs) - set(_COMMON))
        if unknown:
            raise ValueError(f"{cls}: unknown keyword argument(s) {unknown}")
        if learning_rate is None:
            learning_rate = lr if lr is not None else self.default_lr
        self.learning_rate = learning_rate
        self.name = kwargs.get("name") or cls.lower()
        self.clipnorm = kwargs.get("clipnorm")
        self.clipvalue = kwargs.get("clipvalue")
        if kwargs.get("global_clipnorm") or kwargs.get("weight_decay"):
            raise ValueError(f"{cls}: global_clipnorm and weight_decay are not supported")
        # Keras 2's time-based decay: lr / (1 + decay * iterations).
        self.decay = float(kwargs.get("decay") or 0.0)
        self.iterations = 0
        self.slots = {}          # key -> {slot name: array}

    @property
    def learning_rate(self):
        """The learning rate: a float that ``keras.backend.set_value`` / ``.assign`` can change.

        Assigning (``opt.learning_rate = 0.01``, ``opt.lr = ...``, ``set_value``)
        takes effect at the next training step.
        """
        return LiveScalar(self._lr, lambda: self._lr, lambda v: setattr(self, "learning_rate", v))

    @learning_rate.setter
    def learning_rate(self, value):
        value = float(value)
        if not value >= 0:
            raise ValueError(f"{type(self).__name__}: learning_rate must be >= 0, got {value}")
        self._lr = value

    lr = learning_rate

    def _slot(self, key, name, param, init=0.0):
        slots = self.slots.setdefault(key, {})
        if name not in slots:
            slots[name] = np.full_like(param, init)
        return slots[name]

    def _clip(self, g):
        if self.clipvalue is not None:
            g = np.clip(g, -self.clipvalue, self.clipvalue)
        if self.clipnorm is not None:
            norm = np.sqrt(np.sum(g * g))
            if norm > self.clipnorm:
                g = g * (self.clipnorm / norm)
        return g

    def _step_lr(self):
        """The learning rate of the current step (with the old ``decay`` argument applied)."""
        if self.decay:
            return self._lr / (1.0 + self.decay * self.iterations)
        return self._lr

    def apply(self, keys, params, grads):
        """One step on every (param, grad) pair; params are updated in place."""
        self._lr_now = self._step_lr()
        self.iterations += 1
        for key, p, g in zip(keys, params, grads):
            self._update(key, p, self._clip(np.asarray(g, dtype=p.dtype)))

    def _update(self, key, p, g):
        raise NotImplementedError

    def get_config(self):
        """Keras 3's keys. The old ``decay`` travels as Keras 3's equivalent, an
        ``InverseTimeDecay`` schedule: lr / (1 + decay * step)."""
        lr = self.learning_rate
        if self.decay:
            lr = {"module": "keras.optimizers.schedules", "class_name": "InverseTimeDecay",
                  "config": {"initial_learning_rate": lr, "decay_steps": 1, "decay_rate": self.decay,
                             "staircase": False, "name": "InverseTimeDecay"}, "registered_name": None}
        return {"name": self.name, "learning_rate": lr, "weight_decay": None, "clipnorm": self.clipnorm,
                "global_clipnorm": None, "clipvalue": self.clipvalue, "use_ema": False, "ema_momentum": 0.99,
                "ema_overwrite_frequency": None, "loss_scale_factor": None, "gradient_accumulation_steps": None}

    @classmethod
    def from_config(cls, config):
        """Rebuild from a Keras 3, Keras 2 or fastnn config; options fastnn does not
        implement are accepted only at their neutral values, else ValueError."""
        config = dict(config)
        where = f"{cls.__name__} config"
        for key, neutral in _NEUTRAL.items():
            if key in config:
                value = config.pop(key)
                if value not in neutral:
                    raise ValueError(f"{where}: {key}={value!r} is not supported by fastnn")
        config.pop("ema_momentum", None)
        lr = config.get("learning_rate")
        if isinstance(lr, dict):
            config["learning_rate"], decay = _schedule(lr, where)
            if decay:
                config["decay"] = decay
        for key in ("learning_rate", "lr", "decay", "clipnorm", "clipvalue"):
            value = config.get(key)
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
                raise ValueError(f"{where}: {key} must be a number, got {value!r}")
        try:
            return cls(**config)
        except TypeError as exc:
            raise ValueError(f"{where}: {exc}") from None

    # ------------------------------------------------------ Keras' variables
    def slot_layout(self):
        """Keras 3's order of the per-weight variables after (iteration, learning_rate):
        a list of groups; the slots of one group are interleaved weight by weight,
        the groups follow each other (e.g. RMSprop: every velocity, then every momentum)."""
        return []

    def slot_initial(self, name):
        return 0.0

    #: fastnn slot name -> the name Keras gives the variable.
    keras_slot_names = {}


class SGD(Optimizer):
    default_lr = 0.01

    def __init__(self, learning_rate=None, momentum=0.0, nesterov=False, **kwargs):
        super().__init__(learning_rate, **kwargs)
        if not 0 <= momentum <= 1:
            raise ValueError(f"SGD: momentum must be in [0, 1], got {momentum}")
        self.momentum = float(momentum)
        self.nesterov = bool(nesterov)

    def _update(self, key, p, g):
        lr = self._lr_now
        if self.momentum == 0:
            kernels.sgd_update(p, g, lr)
        elif not self.nesterov:
            kernels.momentum_update(p, g, self._slot(key, "momentum", p), lr, self.momentum)
        else:
            kernels.nesterov_update(p, g, self._slot(key, "momentum", p), lr, self.momentum)

    def get_config(self):
        return dict(super().get_config(), momentum=self.momentum, nesterov=self.nesterov)

    keras_slot_names = {"momentum": "momentum"}

    def slot_layout(self):
        return [("momentum",)] if self.momentum != 0 else []


class RMSprop(Optimizer):
    def __init__(self, learning_rate=None, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False, **kwargs):
        super().__init__(learning_rate, **kwargs)
        self.rho, self.momentum, self.epsilon, self.centered = float(rho), float(momentum), float(epsilon), bool(centered)

    def _update(self, key, p, g):
        s = self._slot(key, "velocity", p)
        if not self.centered and self.momentum == 0:        # Keras' default: one compiled pass
            kernels.rmsprop_update(p, g, s, self._lr_now, self.rho, self.epsilon)
            return
        s *= self.rho
        s += (1 - self.rho) * g * g
        denom = s
        if self.centered:
            mg = self._slot(key, "average_gradient", p)
            mg *= self.rho
            mg += (1 - self.rho) * g
            denom = s - mg * mg
        step = self._lr_now * g / np.sqrt(denom + self.epsilon)
        if self.momentum > 0:
            m = self._slot(key, "momentum", p)
            m *= self.momentum
            m += step
            step = m
        p -= step.astype(p.dtype, copy=False)

    def get_config(self):
        return dict(super().get_config(), rho=self.rho, momentum=self.momentum,
                    epsilon=self.epsilon, centered=self.centered)

    keras_slot_names = {"velocity": "velocity", "momentum": "momentum", "average_gradient": "average_gradient"}

    def slot_layout(self):
        return [("velocity",)] + ([("momentum",)] if self.momentum > 0 else []) + \
            ([("average_gradient",)] if self.centered else [])


class Adam(Optimizer):
    def __init__(self, learning_rate=None, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False, **kwargs):
        super().__init__(learning_rate, **kwargs)
        if amsgrad:
            raise ValueError("Adam: amsgrad is not supported")
        self.beta_1, self.beta_2, self.epsilon = float(beta_1), float(beta_2), float(epsilon)

    def _update(self, key, p, g):
        t = self.iterations
        lr_t = self._lr_now * np.sqrt(1 - self.beta_2 ** t) / (1 - self.beta_1 ** t)
        kernels.adam_update(p, g, self._slot(key, "m", p), self._slot(key, "v", p),
                            lr_t, self.beta_1, self.beta_2, self.epsilon)

    def get_config(self):
        return dict(super().get_config(), beta_1=self.beta_1, beta_2=self.beta_2, epsilon=self.epsilon,
                    amsgrad=False)

    keras_slot_names = {"m": "momentum", "v": "velocity"}

    def slot_layout(self):
        return [("m", "v")]


class Adagrad(Optimizer):
    def __init__(self, learning_rate=None, initial_accumulator_value=0.1, epsilon=1e-7, **kwargs):
        super().__init__(learning_rate, **kwargs)
        self.initial_accumulator_value, self.epsilon = float(initial_accumulator_value), float(epsilon)

    def _update(self, key, p, g):
        a = self._slot(key, "accumulator", p, self.initial_accumulator_value)
        kernels.adagrad_update(p, g, a, self._lr_now, self.epsilon)

    def get_config(self):
        return dict(super().get_config(), initial_accumulator_value=self.initial_accumulator_value,
                    epsilon=self.epsilon)

    keras_slot_names = {"accumulator": "accumulator"}

    def slot_layout(self):
        return [("accumulator",)]

    def slot_initial(self, name):
        return self.initial_accumulator_value


_CLASSES = {"sgd": SGD, "rmsprop": RMSprop, "adam": Adam, "adagrad": Adagrad}


def get(identifier):
    """An optimizer from a name ('sgd', 'rmsprop', 'adam', 'adagrad') with Keras' defaults, or an instance."""
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, str) and identifier.lower() in _CLASSES:
        return _CLASSES[identifier.lower()]()
    raise ValueError(f"compile: unknown optimizer {identifier!r}; valid optimizers are {sorted(_CLASSES)}")


#: Keras options fastnn implements only at these values (Keras 3 and Keras 2 configs).
_NEUTRAL = {"weight_decay": (None, 0, 0.0), "global_clipnorm": (None,), "use_ema": (False,),
            "ema_overwrite_frequency": (None,), "loss_scale_factor": (None, 1, 1.0),
            "gradient_accumulation_steps": (None, 1), "is_legacy_optimizer": (False,),
            "jit_compile": (False, True), "amsgrad": (False,)}


def _schedule(config, where):
    """(learning_rate, decay) of a Keras learning-rate schedule fastnn can run: InverseTimeDecay."""
    name = config.get("class_name")
    c = config.get("config") or {}
    if name != "InverseTimeDecay" or not isinstance(c, dict):
        raise ValueError(f"{where}: learning-rate schedule {name!r} is not supported "
                         f"(fastnn runs InverseTimeDecay, Keras 2's decay=)")
    if c.get("staircase"):
        raise ValueError(f"{where}: InverseTimeDecay with staircase=True is not supported")
    try:
        lr, rate, steps = float(c["initial_learning_rate"]), float(c["decay_rate"]), float(c.get("decay_steps", 1))
    except (KeyError, TypeError, ValueError):
        raise ValueError(f"{where}: malformed InverseTimeDecay config {c!r}") from None
    if not steps > 0:
        raise ValueError(f"{where}: InverseTimeDecay decay_steps must be > 0, got {steps}")
    return lr, rate / steps


def serialize(opt):
    """Keras 3's form: {'module': 'keras.optimizers', 'class_name': 'Adam', 'config': {...}}."""
    return {"module": "keras.optimizers", "class_name": type(opt).__name__, "config": opt.get_config(),
            "registered_name": None}


def deserialize(config, where="optimizer"):
    """An optimizer from a name or a config dict; class names resolve only through fastnn's table."""
    if isinstance(config, str):
        return get(config)
    if not isinstance(config, dict):
        raise ValueError(f"{where}: expected an optimizer config dict, got {type(config).__name__}")
    classes = {cls.__name__: cls for cls in _CLASSES.values()}
    name = config.get("class_name")
    cls = classes.get(name) or (_CLASSES.get(name.lower()) if isinstance(name, str) else None)
    if cls is None:
        raise ValueError(f"{where}: unknown optimizer {name!r}; fastnn has {sorted(classes)}")
    inner = config.get("config") or {}
    if not isinstance(inner, dict):
        raise ValueError(f"{where}: the config of optimizer {name!r} must be a dict")
    return cls.from_config(inner)
