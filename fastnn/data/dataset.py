"""``Dataset``: the part of ``tf.data.Dataset`` the tutorials use, on NumPy.

    ds = (Dataset.from_tensor_slices((x_train, y_train))
          .cache().shuffle(5000).repeat().batch(128).prefetch(AUTOTUNE))
    for xb, yb in ds.take(3): ...          # NumPy arrays, xb (128, 28, 28), yb (128,)

A dataset is a recipe: every ``iter(ds)`` starts a fresh pass. Elements are
NumPy arrays, or tuples/dicts of them. ``map`` passes a tuple element as
separate arguments (``ds.map(lambda img, label: ...)``), as tf.data does.
``prefetch`` and ``map(num_parallel_calls=...)`` run in background threads
(see ``_workers``): an exception there reaches the loop that iterates, and
leaving the loop stops every thread.
"""
import itertools

import numpy as np

from . import _structure
from ._workers import background, ordered_map

AUTOTUNE = -1
INFINITE = -1          # cardinality() of an endless dataset
UNKNOWN = -2           # cardinality() when it cannot be known without iterating


def _count(n, where, what):
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise TypeError(f"{where}: {what} must be an int, got {type(n).__name__}")
    return int(n)


def _threads(n):
    import os
    return max(2, os.cpu_count() or 2) if n == AUTOTUNE else max(1, int(n))


class Dataset:
    """A re-iterable pipeline of elements. Build one with ``from_tensor_slices``,
    ``from_generator``, ``range`` or ``zip``; transform it with the methods below."""

    def __init__(self, make_iterator, cardinality=UNKNOWN):
        self._make_iterator = make_iterator
        self._cardinality = cardinality

    # ------------------------------------------------------------ sources
    @staticmethod
    def from_tensor_slices(tensors):
        """One element per row of the first axis; tuples and dicts keep their nesting.

        ``from_tensor_slices((x, y))`` -> elements ``(x[i], y[i])``; a list is one array.
        """
        where = "Dataset.from_tensor_slices"
        data = _structure.as_arrays(tensors, where)
        parts = _structure.leaves(data)
        if not parts:
            raise ValueError(f"{where}: nothing to slice")
        for p in parts:
            if p.ndim == 0:
                raise ValueError(f"{where}: every component needs a first axis to slice, got a scalar")
        lengths = sorted({p.shape[0] for p in parts})
        if len(lengths) > 1:
            raise ValueError(f"{where}: all components must have the same first dimension, got {lengths}")
        n = lengths[0]

        def make():
            for i in range(n):
                yield _structure.map_structure(lambda a: a[i], data)
        return Dataset(make, n)

    @staticmethod
    def from_tensors(tensors):
        """A dataset of one element: ``tensors`` itself."""
        data = _structure.as_arrays(tensors, "Dataset.from_tensors")
        return Dataset(lambda: iter([data]), 1)

    @staticmethod
    def from_generator(generator, output_types=None, output_shapes=None, args=None, output_signature=None):
        """Elements of ``generator(*args)`` (a callable returning an iterable), called again on every pass."""
        if not callable(generator):
            raise TypeError("Dataset.from_generator: generator must be a callable that returns an iterator "
                            f"(e.g. a generator function), got {type(generator).__name__}")
        args = tuple(args or ())

        def make():
            for el in generator(*args):
                yield _structure.map_structure(np.asarray, tuple(el) if isinstance(el, list) else el)
        return Dataset(make, UNKNOWN)

    @staticmethod
    def range(*args):
        """Like Python's range: ``Dataset.range(5)`` -> 0, 1, 2, 3, 4 (int64 scalars)."""
        r = range(*args)
        return Dataset(lambda: (np.int64(i) for i in r), len(r))

    @staticmethod
    def zip(*datasets):
        """Elements are tuples of the elements of each dataset; ends with the shortest."""
        if len(datasets) == 1 and isinstance(datasets[0], tuple):
            datasets = datasets[0]
        for d in datasets:
            if not isinstance(d, Dataset):
                raise TypeError(f"Dataset.zip: expected Datasets, got {type(d).__name__}")
        cards = [d._cardinality for d in datasets]
        finite = [c for c in cards if c >= 0]
        card = min(finite) if finite else (INFINITE if all(c == INFINITE for c in cards) else UNKNOWN)
        if finite and any(c == UNKNOWN for c in cards):
            card = UNKNOWN
        return Dataset(lambda: zip(*(iter(d) for d in datasets)), card)

    # ------------------------------------------------------------ iterate
    def __iter__(self):
        return iter(self._make_iterator())

    def as_numpy_iterator(self):
        return iter(self)

    def cardinality(self):
        """Number of elements; ``INFINITE`` (-1) or ``UNKNOWN`` (-2) when not finite/known."""
        return self._cardinality

    def __len__(self):
        if self._cardinality == INFINITE:
            raise TypeError("The dataset is infinite (repeat() without a count): it has no len()")
        if self._cardinality == UNKNOWN:
            raise TypeError("The dataset length is unknown (from_generator or filter); iterate to count it")
        return self._cardinality

    def __bool__(self):
        return True

    def __repr__(self):
        card = {INFINITE: "infinite", UNKNOWN: "unknown"}.get(self._cardinality, self._cardinality)
        return f"<fastnn.data.Dataset cardinality={card}>"

    # --------------------------------------------------------- transforms
    def map(self, map_func, num_parallel_calls=None, deterministic=None, name=None):
        """``map_func(element)`` for each element (``map_func(*element)`` for a tuple).

        With ``num_parallel_calls`` (an int or ``AUTOTUNE``) the calls run in a
        pool of threads; the order of the elements is kept.
        """
        if not callable(map_func):
            raise TypeError(f"Dataset.map: map_func must be callable, got {type(map_func).__name__}")

        def call(el):
            out = map_func(*el) if isinstance(el, tuple) else map_func(el)
            return tuple(out) if isinstance(out, list) else out

        src = self
        if num_parallel_calls is None or num_parallel_calls == 1:
            def make():
                return (call(el) for el in src)
        else:
            workers = _threads(num_parallel_calls)

            def make():
                return ordered_map(call, iter(src), workers, name="fastnn-map")
        return Dataset(make, self._cardinality)

    def filter(self, predicate, name=None):
        """Keep the elements for which ``predicate(element)`` is true."""
        src = self

        def keep(el):
            r = predicate(*el) if isinstance(el, tuple) else predicate(el)
            return bool(np.asarray(r))

        return Dataset(lambda: (el for el in src if keep(el)),
                       INFINITE if self._cardinality == INFINITE else UNKNOWN)

    def shuffle(self, buffer_size, seed=None, reshuffle_each_iteration=True, name=None):
        """tf.data's buffered shuffle.

        The first ``buffer_size`` elements fill a buffer; each output is a
        uniformly chosen buffer slot, which the next input element then fills;
        at the end the buffer is emptied in random order. A buffer at least as
        large as the dataset gives a full uniform shuffle. A new order on every
        pass unless ``reshuffle_each_iteration=False``.
        """
        buffer_size = _count(buffer_size, "Dataset.shuffle", "buffer_size")
        if buffer_size < 1:
            raise ValueError(f"Dataset.shuffle: buffer_size must be >= 1, got {buffer_size}")
        if seed is None:
            # NumPy's global generator, so that keras.utils.set_random_seed makes it repeatable (as tf.data)
            seed = int(np.random.randint(0, 2**63 - 1, dtype=np.int64))
        seeds = np.random.SeedSequence(seed)
        src = self

        def make():
            rng = np.random.default_rng(seeds.spawn(1)[0] if reshuffle_each_iteration else seed)
            buf = []
            for el in src:
                if len(buf) < buffer_size:
                    buf.append(el)
                    continue
                k = int(rng.integers(len(buf)))
                out, buf[k] = buf[k], el
                yield out
            while buf:
                k = int(rng.integers(len(buf)))
                buf[k], buf[-1] = buf[-1], buf[k]
                yield buf.pop()
        return Dataset(make, self._cardinality)

    def batch(self, batch_size, drop_remainder=False, num_parallel_calls=None, deterministic=None, name=None):
        """Consecutive elements stacked into batches (the last one smaller unless ``drop_remainder``)."""
        batch_size = _count(batch_size, "Dataset.batch", "batch_size")
        if batch_size < 1:
            raise ValueError(f"Dataset.batch: batch_size must be >= 1, got {batch_size}")
        src = self

        def make():
            it = iter(src)
            while True:
                chunk = list(itertools.islice(it, batch_size))
                if not chunk or (drop_remainder and len(chunk) < batch_size):
                    return
                yield _structure.stack(chunk, "Dataset.batch")
        c = self._cardinality
        card = c if c < 0 else (c // batch_size if drop_remainder else -(-c // batch_size))
        return Dataset(make, card)

    def unbatch(self, name=None):
        """Split each element along its first axis (the inverse of ``batch``)."""
        src = self

        def make():
            for el in src:
                parts = _structure.leaves(el)
                n = np.shape(parts[0])[0] if parts and np.ndim(parts[0]) else 0
                for i in range(n):
                    yield _structure.map_structure(lambda a: np.asarray(a)[i], el)
        return Dataset(make, INFINITE if self._cardinality == INFINITE else UNKNOWN)

    def repeat(self, count=None, name=None):
        """The dataset ``count`` times over (for ever when ``count`` is None or -1)."""
        if count is not None:
            count = _count(count, "Dataset.repeat", "count")
        src = self

        def make():
            passes = itertools.count() if count is None or count < 0 else range(count)
            for _ in passes:
                empty = True
                for el in src:
                    empty = False
                    yield el
                if empty:
                    return
        c = self._cardinality
        if count is None or count < 0:
            card = 0 if c == 0 else INFINITE
        else:
            card = c * count if c >= 0 else c
        return Dataset(make, card)

    def cache(self, filename="", name=None):
        """Keep the elements of the first complete pass in memory; later passes replay them.

        A pass that stops early caches nothing (as in tf.data). Only the in-memory
        cache is provided: a ``filename`` is refused.
        """
        if filename:
            raise ValueError("Dataset.cache: only the in-memory cache is supported (filename='')")
        src = self
        store = {}

        def make():
            if "elements" in store:
                yield from store["elements"]
                return
            seen = []
            for el in src:
                seen.append(el)
                yield el
            store["elements"] = seen
        return Dataset(make, self._cardinality)

    def take(self, count, name=None):
        """The first ``count`` elements (all of them when ``count`` is -1)."""
        count = _count(count, "Dataset.take", "count")
        if count < 0:
            return self
        src = self
        c = self._cardinality
        card = count if c == INFINITE else (min(c, count) if c >= 0 else UNKNOWN)
        return Dataset(lambda: itertools.islice(iter(src), count), card)

    def skip(self, count, name=None):
        """All but the first ``count`` elements."""
        count = _count(count, "Dataset.skip", "count")
        src = self
        c = self._cardinality
        card = c if c < 0 else max(c - max(count, 0), 0)
        if count < 0:
            card = 0
        return Dataset(lambda: itertools.islice(iter(src), max(count, 0), None) if count >= 0 else iter(()), card)

    def prefetch(self, buffer_size, name=None):
        """Produce up to ``buffer_size`` elements ahead in a background thread (``AUTOTUNE``: 2)."""
        buffer_size = _count(buffer_size, "Dataset.prefetch", "buffer_size")
        size = 2 if buffer_size == AUTOTUNE else buffer_size
        if size < 0:
            raise ValueError(f"Dataset.prefetch: buffer_size must be >= 0 or AUTOTUNE, got {buffer_size}")
        if size == 0:
            return self
        src = self
        return Dataset(lambda: background(lambda: iter(src), size), self._cardinality)

    def concatenate(self, dataset):
        """This dataset's elements, then ``dataset``'s."""
        a, b = self._cardinality, dataset._cardinality
        card = INFINITE if INFINITE in (a, b) else (UNKNOWN if UNKNOWN in (a, b) else a + b)
        return Dataset(lambda: itertools.chain(iter(self), iter(dataset)), card)

    def enumerate(self, start=0):
        """Elements become ``(index, element)``."""
        return Dataset(lambda: ((np.int64(i), el) for i, el in enumerate(self, start)), self._cardinality)

    def apply(self, transformation_func):
        return transformation_func(self)
