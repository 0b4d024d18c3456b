"""Sizes checked before allocating: a model rebuilt from a file may only draw as
many weight values as the file can hold.

A config is a few bytes of JSON, and ``"units": 100000000`` in it would make
building the model allocate gigabytes before any weight is read. While a
loader builds a model it installs a ``Budget`` (through
``initializers.ALLOCATION_GUARD``): every weight drawn is charged against the
number of values the file's weight datasets really hold, and a weight beyond
that is a ``ValueError`` naming the layer, before any memory is taken.
"""
import contextlib

import numpy as np

from .. import initializers as _init

#: Values a model built from a config alone (``model_from_json``) may hold:
#: 2**30 (4 GiB of float32), far beyond the models fastnn trains.
MAX_CONFIG_VALUES = 2 ** 30

#: How much larger than its bytes on disk a dataset may claim to be (compression).
MAX_EXPANSION = 64


class SizeError(ValueError):
    """A file asks for more weight values than it can hold."""


class Budget:
    def __init__(self, limit, where, source):
        self.limit = int(limit)
        self.left = int(limit)
        self.where = where
        self.source = source          # what bounds the budget, for the message
        self.layer = None

    def on_layer(self, name):
        self.layer = name

    def __call__(self, shape):
        n = 1
        for s in shape:
            n *= int(s)
        if n > self.left:
            raise SizeError(
                f"{self.where}: layer {self.layer!r} asks for a weight of shape {tuple(shape)} "
                f"({n:,} values), more than {self.source} ({self.limit:,} values in all); "
                f"refusing to allocate it"
            )
        self.left -= n

    @contextlib.contextmanager
    def active(self):
        token = _init.ALLOCATION_GUARD.set(self)
        try:
            yield self
        finally:
            _init.ALLOCATION_GUARD.reset(token)


def h5_values(group):
    """Weight values an HDF5 group can really hold: each dataset counts its
    claimed size, but at most MAX_EXPANSION times what it stores on disk."""
    import h5py
    total = [0]

    def visit(_, obj):
        if isinstance(obj, h5py.Dataset) and obj.dtype.kind in "biuf" and obj.dtype.itemsize:
            stored = obj.id.get_storage_size()
            cap = max(stored, 1 << 12) * MAX_EXPANSION // obj.dtype.itemsize
            total[0] += min(int(np.prod(obj.shape, dtype=np.float64)), cap)

    group.visititems(visit)
    return total[0]
