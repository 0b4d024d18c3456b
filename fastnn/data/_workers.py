"""Background threads that feed a consumer in order, and stop cleanly.

Two tools, used by ``Dataset.prefetch``/``Dataset.map`` and by the Keras data
adapters (Sequences, generators):

* ``background(iterator_factory, size)``: one producer thread runs the
  iterator and hands its items over a bounded queue.
* ``ordered_map(fn, items, workers, size)``: ``fn`` applied to each item by a
  pool of threads, results handed over in input order, at most ``size`` ahead.

Both are generators: an exception raised in a worker is re-raised in the
consumer (the caller of ``fit``) with its traceback; closing the generator
(end of loop, ``break``, an exception, Ctrl-C in the consumer) sets a stop
flag, and every worker thread ends after its current item and is joined. The
consumer waits in short slices so that Ctrl-C reaches it promptly. NumPy and
the compiled kernels release the GIL, so decoding and augmentation in these
threads overlap the training step.
"""
import queue
import threading
from concurrent.futures import ThreadPoolExecutor

_POLL = 0.1            # seconds between checks of the stop flag / for Ctrl-C
_END = object()


class _Raised:
    """An exception travelling from a worker thread to the consumer."""

    def __init__(self, exc):
        self.exc = exc


def _put(q, item, stop):
    while not stop.is_set():
        try:
            q.put(item, timeout=_POLL)
            return True
        except queue.Full:
            continue
    return False


def _get(q, alive):
    while True:
        try:
            return q.get(timeout=_POLL)
        except queue.Empty:
            if not alive():
                # The producer ended without a final marker (it cannot, but never hang).
                try:
                    return q.get_nowait()
                except queue.Empty:
                    return _END


def background(make_iterator, size=2, name="fastnn-prefetch", close_source=True):
    """Items of ``make_iterator()`` produced by one background thread, ``size`` ahead.

    ``close_source=False`` leaves the iterator open when the consumer stops (a
    user's generator that may be used again).
    """
    size = max(1, int(size))
    q = queue.Queue(maxsize=size)
    stop = threading.Event()

    def produce():
        it = None
        try:
            it = make_iterator()
            for item in it:
                if not _put(q, item, stop):
                    return
            _put(q, _END, stop)
        except BaseException as exc:          # noqa: BLE001 - forwarded to the consumer
            _put(q, _Raised(exc), stop)
        finally:
            close = getattr(it, "close", None) if close_source else None
            if close is not None:
                try:
                    close()
                except Exception:             # noqa: BLE001
                    pass

    thread = threading.Thread(target=produce, name=name, daemon=True)
    thread.start()
    try:
        while True:
            item = _get(q, thread.is_alive)
            if item is _END:
                return
            if isinstance(item, _Raised):
                raise item.exc
            yield item
    finally:
        stop.set()
        thread.join()


def ordered_map(fn, items, workers=2, size=None, name="fastnn-map"):
    """``fn(item)`` for each item of the iterable ``items``, computed by ``workers`` threads.

    Results come in input order; at most ``size`` (default ``2 * workers``)
    are computed ahead of the consumer. ``items`` is read in the consumer's
    thread, so it need not be thread-safe; ``fn`` must be.
    """
    workers = max(1, int(workers))
    size = max(1, int(size or 2 * workers))
    pending = []
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=name)
    it = iter(items)
    exhausted = False
    try:
        while True:
            while not exhausted and len(pending) < size:
                try:
                    item = next(it)
                except StopIteration:
                    exhausted = True
                    break
                pending.append(pool.submit(fn, item))
            if not pending:
                return
            future = pending.pop(0)
            while True:
                try:
                    result = future.result(timeout=_POLL)
                    break
                except TimeoutError:
                    continue
            yield result
    finally:
        for f in pending:
            f.cancel()
        pool.shutdown(wait=True, cancel_futures=True)
        close = getattr(it, "close", None)
        if close is not None:
            close()
