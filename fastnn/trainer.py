"""The book's Trainer: mini-batch training of a network with a named optimizer.

    trainer = Trainer(network, x_train, t_train, x_test, t_test,
                      epochs=20, mini_batch_size=100,
                      optimizer='Adam', optimizer_param={'lr': 0.001})
    trainer.train()
    trainer.train_loss_list, trainer.train_acc_list, trainer.test_acc_list

It behaves as the book's ``common/trainer.py``: each step draws a mini-batch
of ``mini_batch_size`` indices *with replacement*, computes
``network.gradient``, lets the optimizer update ``network.params`` in place,
then records ``network.loss`` on the same batch. Every ``iter_per_epoch``
steps (and after the very first step) it records the accuracy on the training
and test data, or on their first ``evaluate_sample_num_per_epoch`` samples.

The network needs ``params`` (a dict of arrays), ``gradient(x, t)`` returning
a dict with the same keys, ``loss(x, t)`` and ``accuracy(x, t)``.

Beyond the book: ``rng=`` (a ``numpy.random.Generator`` or ``RandomState``)
or ``seed=`` makes the mini-batches reproducible without touching NumPy's
global random state; by default the batches come from ``np.random`` as in
the book, so ``np.random.seed(...)`` works the same way. ``optimizer`` may also
be an optimizer object (anything with ``update(params, grads)``).
"""
import math
import os  # noqa: F401  (the book's trainer module exports sys and os through import *)
import sys  # noqa: F401

import warnings

import numpy as np

from . import optimizer as _optim
from .optimizer import SGD, AdaGrad, Adam, Momentum, Nesterov, RMSprop  # noqa: F401

# ``from fastnn.trainer import *`` gives what the book's common/trainer.py gives:
# Trainer, the optimizer classes, np, sys and os.
__all__ = ["Trainer", "OPTIMIZERS", "DivergenceWarning", "SGD", "Momentum", "Nesterov", "AdaGrad", "RMSprop", "Adam",
           "np", "sys", "os"]

#: Optimizer names the Trainer understands (case-insensitive). 'rmsprpo' is the
#: book's spelling (a typo kept for compatibility), next to the correct 'rmsprop'.
OPTIMIZERS = {
    "sgd": _optim.SGD,
    "momentum": _optim.Momentum,
    "nesterov": _optim.Nesterov,
    "adagrad": _optim.AdaGrad,
    "rmsprop": _optim.RMSprop,
    "rmsprpo": _optim.RMSprop,
    "rmsprprop": _optim.RMSprop,
    "adam": _optim.Adam,
}


class DivergenceWarning(RuntimeWarning):
    """The training loss became NaN or infinite; the Trainer stopped."""


def _make_optimizer(optimizer, optimizer_param):
    if hasattr(optimizer, "update"):
        return optimizer
    if not isinstance(optimizer, str):
        raise TypeError(
            f"Trainer: optimizer must be a name such as 'SGD' or an object with update(), "
            f"got {type(optimizer).__name__}"
        )
    cls = OPTIMIZERS.get(optimizer.lower())
    if cls is None:
        raise ValueError(
            f"Trainer: unknown optimizer {optimizer!r}; choose one of {sorted(OPTIMIZERS)}"
        )
    return cls(**(optimizer_param or {}))


class Trainer:
    """Train ``network`` on (x_train, t_train), evaluating on (x_test, t_test).

    Arguments as in the book; ``rng``/``seed`` (keyword-only) are fastnn's
    additions for reproducible mini-batches. ``optimizer_param`` is passed to
    the optimizer's constructor, e.g. ``{'lr': 0.01}``.
    """

    def __init__(self, network, x_train, t_train, x_test, t_test,
                 epochs=20, mini_batch_size=100,
                 optimizer='SGD', optimizer_param={'lr': 0.01},
                 evaluate_sample_num_per_epoch=None, verbose=True,
                 *, rng=None, seed=None):
        if len(x_train) != len(t_train):
            raise ValueError(
                f"Trainer: x_train has {len(x_train)} samples but t_train has {len(t_train)}"
            )
        if len(x_test) != len(t_test):
            raise ValueError(
                f"Trainer: x_test has {len(x_test)} samples but t_test has {len(t_test)}"
            )
        if len(x_train) == 0:
            raise ValueError("Trainer: x_train is empty")
        if isinstance(mini_batch_size, bool) or not isinstance(mini_batch_size, (int, np.integer)) \
                or mini_batch_size < 1:
            raise ValueError(f"Trainer: mini_batch_size must be an int >= 1, got {mini_batch_size!r}")
        if epochs < 0:
            raise ValueError(f"Trainer: epochs must be >= 0, got {epochs!r}")
        if rng is not None and seed is not None:
            raise ValueError("Trainer: give rng or seed, not both")

        self.network = network
        self.verbose = verbose
        self.x_train = x_train
        self.t_train = t_train
        self.x_test = x_test
        self.t_test = t_test
        self.epochs = epochs
        self.batch_size = int(mini_batch_size)
        self.evaluate_sample_num_per_epoch = evaluate_sample_num_per_epoch
        self.optimizer = _make_optimizer(optimizer, optimizer_param)
        # Where the mini-batch indices come from: np.random (the book) by default.
        if seed is not None:
            rng = np.random.default_rng(seed)
        self.rng = np.random if rng is None else rng

        self.train_size = x_train.shape[0]
        # As in the book, a float: an epoch ends when current_iter is a multiple of it.
        self.iter_per_epoch = max(self.train_size / self.batch_size, 1)
        self.max_iter = int(epochs * self.iter_per_epoch)
        self.current_iter = 0
        self.current_epoch = 0

        self.train_loss_list = []
        self.train_acc_list = []
        self.test_acc_list = []
        #: The step (0-based) whose loss was NaN or infinite, or None.
        self.diverged_at = None

    def _evaluation_samples(self):
        """The (x_train, t_train, x_test, t_test) on which an epoch's accuracy is measured."""
        n = self.evaluate_sample_num_per_epoch
        if n is None:
            return self.x_train, self.t_train, self.x_test, self.t_test
        return self.x_train[:n], self.t_train[:n], self.x_test[:n], self.t_test[:n]

    def train_step(self):
        """One mini-batch update; at an epoch boundary also record the accuracies."""
        batch_mask = self.rng.choice(self.train_size, self.batch_size)
        x_batch = self.x_train[batch_mask]
        t_batch = self.t_train[batch_mask]

        grads = self.network.gradient(x_batch, t_batch)
        self.optimizer.update(self.network.params, grads)

        loss = self.network.loss(x_batch, t_batch)
        self.train_loss_list.append(loss)
        if self.verbose:
            print("train loss:" + str(loss))
        if not math.isfinite(loss):
            self.diverged_at = self.current_iter
            self.current_iter += 1
            lr = getattr(self.optimizer, "lr", None)
            warnings.warn(
                f"Trainer: the training loss is {loss} at step {self.diverged_at + 1} (epoch "
                f"{self.current_epoch}); training stopped, and network.params now hold NaN or "
                f"infinite values. The learning rate{'' if lr is None else f' ({lr:g})'} is "
                f"probably too large.",
                DivergenceWarning, stacklevel=3,
            )
            return

        if self.current_iter % self.iter_per_epoch == 0:
            self.current_epoch += 1
            x_tr, t_tr, x_te, t_te = self._evaluation_samples()
            train_acc = self.network.accuracy(x_tr, t_tr)
            test_acc = self.network.accuracy(x_te, t_te)
            self.train_acc_list.append(train_acc)
            self.test_acc_list.append(test_acc)
            if self.verbose:
                print(f"=== epoch:{self.current_epoch}, train acc:{train_acc}, test acc:{test_acc} ===")
        self.current_iter += 1

    def train(self):
        """Run ``max_iter`` steps (``epochs`` epochs), then report the test accuracy.

        Stops early, with a :class:`DivergenceWarning`, at a step whose loss is
        NaN or infinite (``diverged_at``); it then returns None.
        """
        for _ in range(self.max_iter):
            self.train_step()
            if self.diverged_at is not None:
                if self.verbose:
                    print(f"=============== Stopped: the loss diverged at step {self.diverged_at + 1} "
                          f"===============")
                return None

        test_acc = self.network.accuracy(self.x_test, self.t_test)
        if self.verbose:
            print("=============== Final Test Accuracy ===============")
            print("test acc:" + str(test_acc))
        return test_acc
