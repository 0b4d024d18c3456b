"""One data adapter for fit/evaluate/predict: whatever the user passes -> batches.

* arrays (``ArrayAdapter``): the model's own batching, shuffled per epoch;
* a ``keras.utils.Sequence``/``PyDataset`` or an ``ImageDataGenerator``
  iterator (``SequenceAdapter``): batches ``0 .. len-1`` fetched ahead by
  ``workers`` threads, ``on_epoch_end()`` after each full pass;
* a Python generator or iterator (``GeneratorAdapter``): read ahead by one
  background thread, ``steps_per_epoch`` batches per epoch;
* a ``fastnn.data.Dataset`` (``DatasetAdapter``): one pass per epoch, or
  ``steps_per_epoch`` batches from a running iterator (for ``repeat()``).

Every adapter has ``steps`` (batches per epoch, None while unknown),
``epoch()`` (an iterator over the epoch's batches) and ``close()`` (stops its
threads). Non-array batches are ``x``, ``(x, y)`` or ``(x, y, sample_weight)``
and are checked by the model like arrays (``prepared`` is False).
"""
import warnings

import numpy as np

from ..data import Dataset
from ..data._workers import background, ordered_map
from . import _data
from ._pydataset import PyDataset


def is_array_like(x):
    return (x is None or isinstance(x, (np.ndarray, list, tuple, dict)) or hasattr(x, "shape")
            or hasattr(x, "to_numpy") or np.isscalar(x))


def is_sequence(x):
    return isinstance(x, PyDataset) or (hasattr(x, "__getitem__") and hasattr(x, "__len__")
                                        and not is_array_like(x))


def unpack(batch, where):
    """A batch -> (x, y, sample_weight) with None for what is missing."""
    if isinstance(batch, list):
        batch = tuple(batch)
    if isinstance(batch, tuple):
        if len(batch) == 1:
            return batch[0], None, None
        if len(batch) == 2:
            return batch[0], batch[1], None
        if len(batch) == 3:
            return batch
        raise ValueError(f"{where}: a batch must be x, (x, y) or (x, y, sample_weight); got a tuple of "
                         f"{len(batch)} items")
    return batch, None, None


def _positive(value, where, what):
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{where}: {what} must be a positive int or None, got {value!r}")
    return int(value)


class ArrayAdapter:
    prepared = True

    def __init__(self, xs, ys, w, batch_size, shuffle=False, rng=None):
        self.xs, self.ys, self.w = xs, ys, w
        self.n = xs[0].shape[0]
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.rng = rng
        self.steps = -(-self.n // batch_size)

    def epoch(self):
        order = self.rng.permutation(self.n) if self.shuffle else None
        bs = self.batch_size
        for step in range(self.steps):
            idx = order[step * bs:(step + 1) * bs] if order is not None else slice(step * bs, (step + 1) * bs)
            yield (_data.take(self.xs, idx), None if self.ys is None else _data.take(self.ys, idx),
                   None if self.w is None else self.w[idx])

    def close(self):
        pass


class SequenceAdapter:
    prepared = False

    def __init__(self, seq, steps, workers, use_multiprocessing, max_queue_size, where):
        self.seq = seq
        n = len(seq)
        if n < 1:
            raise ValueError(f"{where}: the {type(seq).__name__} has no batches (len 0)")
        self.n = n
        self.steps = steps or n
        self.cursor = 0
        w = getattr(seq, "workers", 1) if workers is None else workers
        if use_multiprocessing or getattr(seq, "use_multiprocessing", False):
            w = max(int(w), 2)
        self.workers = int(w)
        q = getattr(seq, "max_queue_size", 10) if max_queue_size is None else max_queue_size
        self.max_queue_size = max(1, int(q))
        self._source = None

    def _segments(self):
        """This epoch's batch indices, split where a pass of the Sequence ends."""
        segs, left, c = [], self.steps, self.cursor
        while left:
            take = min(left, self.n - c)
            segs.append((range(c, c + take), c + take == self.n))
            left -= take
            c = (c + take) % self.n
        self.cursor = c
        return segs

    def _serial(self, segs):
        for indices, ends_pass in segs:
            if indices.start == 0:
                self._begin()
            for i in indices:
                yield self.seq[i]
            if ends_pass:
                self.seq.on_epoch_end()

    def _begin(self):
        begin = getattr(self.seq, "on_epoch_begin", None)
        if begin is not None:
            begin()

    def epoch(self):
        segs = self._segments()
        if self.workers <= 0:
            yield from self._serial(segs)
            return
        if self.workers == 1:
            self._source = background(lambda: self._serial(segs), self.max_queue_size, "fastnn-sequence")
            yield from self._source
            return
        for indices, ends_pass in segs:
            if indices.start == 0:
                self._begin()
            self._source = ordered_map(self.seq.__getitem__, indices, self.workers, self.max_queue_size,
                                       "fastnn-sequence")
            yield from self._source
            if ends_pass:
                self.seq.on_epoch_end()

    def close(self):
        if self._source is not None:
            self._source.close()


class GeneratorAdapter:
    prepared = False

    def __init__(self, gen, steps, max_queue_size, where):
        self.it = iter(gen)
        self.steps = steps
        self.where = where
        self._source = None
        self._size = max(1, int(10 if max_queue_size is None else max_queue_size))
        self.exhausted = False

    def epoch(self):
        if self._source is None:
            self._source = background(lambda: self.it, self._size, "fastnn-generator", close_source=False)
        count = 0
        while self.steps is None or count < self.steps:
            try:
                batch = next(self._source)
            except StopIteration:
                self.exhausted = True
                if self.steps is not None:
                    warnings.warn(f"{self.where}: your input ran out of data after {count} batches of this "
                                  f"epoch; interrupting (give steps_per_epoch/steps that the generator can "
                                  f"supply, e.g. with repeat())", stacklevel=4)
                return
            count += 1
            yield batch

    def close(self):
        if self._source is not None:
            self._source.close()


class DatasetAdapter:
    prepared = False

    def __init__(self, ds, steps, where):
        card = ds.cardinality()
        if steps is None and card == -1:
            raise ValueError(f"{where}: the dataset is infinite (repeat() without a count); give "
                             f"steps_per_epoch= (fit), steps= (evaluate/predict) or validation_steps=")
        self.ds = ds
        self.steps = steps if steps is not None else (card if card >= 0 else None)
        self.persistent = steps is not None
        self._it = None
        self.exhausted = False

    def _new(self):
        self._it = iter(self.ds)

    def epoch(self):
        if not self.persistent or self._it is None:
            self.close()
            self._new()
        count, fresh = 0, True
        while self.steps is None or count < self.steps:
            try:
                batch = next(self._it)
            except StopIteration:
                if self.persistent and fresh and count == 0:
                    self._new()
                    fresh = False
                    continue
                self.close()
                return
            count += 1
            yield batch

    def close(self):
        close = getattr(self._it, "close", None)
        if close is not None:
            close()
        self._it = None


def adapter_for(x, steps, where, workers=None, use_multiprocessing=False, max_queue_size=None, steps_name="steps"):
    """The adapter for a non-array ``x`` (a Sequence, generator, iterator or Dataset)."""
    steps = _positive(steps, where, steps_name)
    if isinstance(x, Dataset):
        return DatasetAdapter(x, steps, where)
    if is_sequence(x):
        return SequenceAdapter(x, steps, workers, use_multiprocessing, max_queue_size, where)
    if hasattr(x, "__next__") or hasattr(x, "__iter__"):
        if steps is None and where.startswith("fit"):
            raise ValueError(f"{where}: {steps_name} is required when the data is a Python generator or "
                             f"iterator (its length cannot be known, and it may never end); e.g. "
                             f"{steps_name}=len(x_train) // batch_size")
        return GeneratorAdapter(x, steps, max_queue_size, where)
    raise TypeError(f"{where}: unsupported data type {type(x).__name__}: give NumPy arrays, a "
                    f"keras.utils.Sequence/PyDataset, a generator or a fastnn.data.Dataset")
