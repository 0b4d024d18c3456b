"""Keep BLAS on the calling thread while a compiled kernel runs.

The compiled kernels do their own threading (OpenMP) and call BLAS
(``scipy.linalg.cython_blas``) from inside it, one small product per thread.
BLAS must then run single-threaded. There is a second, less obvious reason:
OpenBLAS' worker threads, once woken by a multi-threaded call, keep spinning
on a core for about 2**28 cycles (~0.1 s, its THREAD_TIMEOUT) before they
sleep. A single BLAS call on two threads anywhere in a training step thus
steals a core from the OpenMP threads for the rest of the step: measured on
2 cores, a DeepConvNet float32 step took 106-116 ms with the affine layers'
products on 2 BLAS threads and 65 ms with every product on one.

So every compiled kernel that calls BLAS runs inside ``one_blas_thread()``,
and splits large products over its own threads instead. The limit is set on
entry and the user's setting restored on exit (a counter makes nested and
concurrent uses safe); OpenBLAS' workers are never woken by fastnn.

The counter and the thread-count changes live in compiled code
(``src_c/blas_guard.pyx``), which runs no Python bytecode between them: a
Ctrl-C inside a kernel can never leave BLAS pinned to one thread or the
counter off by one. Without the compiled module (no C compiler) a Python
version of the same context manager is used, which a Ctrl-C at an unlucky
moment can still tear.

The exception is a network made only of dense products (an MLP, the book's
TwoLayerNet): there no OpenMP kernel follows a product, and BLAS' own
threads, still spinning from the previous product, split the next one
better than fastnn's blocks (both threads share one packed copy of the
weights). Such networks run their passes inside ``threaded_blas()``, and
the compiled affine kernels then leave the products to BLAS (measured on 2
cores, float32 train step: Keras MLP 784-512-10 at batch 100 2.5-2.9 ms
against 3.1-4.3 ms split over OpenMP; 784-300-100-10 at batch 32 1.2-1.4 ms
against 1.8-2.6 ms).
"""
import contextlib
import contextvars
import ctypes
import threading

_lock = threading.Lock()
_state = {"controls": None, "depth": 0, "saved": ()}


def _openblas_functions(lib):
    """(get, set) thread-count functions of an OpenBLAS library, called directly.

    threadpoolctl finds the libraries; its own setter for OpenBLAS ignores
    calls from any thread but the first one that used it, and costs a symbol
    lookup per call, so fastnn calls OpenBLAS' exported functions itself
    (their names carry a prefix and suffix in SciPy's and NumPy's builds).
    """
    for prefix in ("", "scipy_"):
        for suffix in ("", "64_", "_64"):
            get = getattr(lib.dynlib, f"{prefix}openblas_get_num_threads{suffix}", None)
            set_ = getattr(lib.dynlib, f"{prefix}openblas_set_num_threads{suffix}", None)
            if get is not None and set_ is not None:
                return get, set_
    return None


def _controls():
    """(get, set) pairs for every loaded BLAS library (found once).

    SciPy's BLAS is imported first so that the library the kernels call is
    loaded and found. NumPy's BLAS, when separate, is limited too: the kernels
    never call it, and keeping it on one thread costs nothing.
    """
    if _state["controls"] is None:
        import scipy.linalg.cython_blas  # noqa: F401  (loads the kernels' BLAS)
        from threadpoolctl import ThreadpoolController
        controls = []
        for lib in ThreadpoolController().lib_controllers:
            if lib.user_api != "blas":
                continue
            pthreads_openblas = lib.internal_api == "openblas" and lib.threading_layer != "openmp"
            direct = pthreads_openblas and _openblas_functions(lib)
            controls.append(direct or (lib.get_num_threads, lib.set_num_threads))
        _state["controls"] = controls
    return _state["controls"]


def _c_addresses(pair):
    """(get, set) ctypes functions -> their C addresses, or None if they are not ctypes functions."""
    try:
        return tuple(ctypes.cast(fn, ctypes.c_void_p).value for fn in pair)
    except (TypeError, ctypes.ArgumentError):
        return None


def _discover():
    """The BLAS libraries' controls, split for the compiled guard: (C addresses, Python callables)."""
    c_pairs, py_pairs = [], []
    for pair in _controls():
        addresses = _c_addresses(pair) if isinstance(pair[0], ctypes._CFuncPtr) else None
        if addresses and all(addresses):
            c_pairs.append(addresses)
        else:
            py_pairs.append(pair)
    return c_pairs, py_pairs


class _OneBlasThread:
    """Python fallback of ``fastnn._ext.blas_guard.OneBlasThread`` (used when it is not built)."""

    def __enter__(self):
        with _lock:
            if _state["depth"] == 0:
                controls = _controls()
                _state["saved"] = [get() for get, _ in controls]
                for _, set_threads in controls:
                    set_threads(1)
            _state["depth"] += 1
        return self

    def __exit__(self, *exc):
        with _lock:
            _state["depth"] -= 1
            if _state["depth"] == 0:
                for (_, set_threads), n in zip(_controls(), _state["saved"]):
                    if n:
                        set_threads(n)
        return False

    @property
    def depth(self):
        return _state["depth"]


def _make_guard():
    try:
        from ._ext.blas_guard import OneBlasThread
    except ImportError:
        return _OneBlasThread()
    guard = OneBlasThread()
    guard.set_discovery(_discover)
    return guard


_ONE_BLAS_THREAD = _make_guard()


def one_blas_thread():
    """``with one_blas_thread(): ...`` runs the block with BLAS on one thread."""
    return _ONE_BLAS_THREAD


def depth():
    """How many compiled kernels (or nested blocks) hold BLAS on one thread right now."""
    return _ONE_BLAS_THREAD.depth


#: True inside ``threaded_blas()`` (per thread and per asyncio task).
_threaded = contextvars.ContextVar("fastnn_threaded_blas", default=False)


@contextlib.contextmanager
def threaded_blas(enabled=True):
    """``with threaded_blas(): ...``: the compiled affine kernels let BLAS thread
    their products in this block (for networks made only of dense products;
    see the module's docstring). ``enabled=False`` makes it a no-op block."""
    token = _threaded.set(bool(enabled) or _threaded.get())
    try:
        yield
    finally:
        _threaded.reset(token)


def blas_may_thread():
    """Whether the calling thread is inside ``threaded_blas()``."""
    return _threaded.get()
