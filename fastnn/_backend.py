"""Which implementation of the hot kernels runs: the compiled one or NumPy.

Three ways to choose it:

* the environment variable ``FASTNN_BACKEND=numpy|cython`` read at import,
  and ``fastnn.set_backend("numpy")``: the process-wide default;
* ``with fastnn.use_backend("numpy"): ...`` for a block of code: it holds
  for the thread (and the asyncio task) that runs the block only, through a
  ``contextvars.ContextVar``, so threads and tasks nesting it never see each
  other's choice, and the default is untouched.

The thread count of the compiled kernels comes from ``FASTNN_NUM_THREADS``,
else ``OMP_NUM_THREADS``, else the number of cores; ``set_num_threads`` changes it.
"""
import contextlib
import contextvars
import os
import threading

BACKENDS = ("numpy", "cython")

# Idle OpenMP threads should sleep rather than spin. libgomp's default keeps
# them spinning for milliseconds after every parallel region, which steals
# the cores as soon as anything else runs on the machine (a SimpleConvNet
# training step on 2 busy cores: median 250 ms spinning, 38 ms sleeping;
# waking a sleeping thread costs microseconds). It must be set before the
# compiled kernels load libgomp; a value the user set is kept.
# A short spin (GOMP_SPINCOUNT=30000) was tried: 10-15% faster convnet steps
# on a quiet machine (DeepConvNet float32 90 -> 81 ms), but 46% slower ones
# when a NumPy matrix product (threaded OpenBLAS, whose workers then spin for
# ~0.1 s) came before each step (SimpleConvNet 24 -> 35 ms), and PyTorch
# steps in the same process fell into ms-long stalls. Sleeping at once stays.
#: The OpenMP variables fastnn set itself (not the user): the benchmark's
#: "PyTorch alone" child process starts without them.
OPENMP_ENV_SET_BY_FASTNN = () if "OMP_WAIT_POLICY" in os.environ else ("OMP_WAIT_POLICY",)
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

_lock = threading.Lock()
_state = {"backend": None, "threads": None}   # the process-wide default

#: The backend chosen by the innermost ``use_backend`` block of this thread or
#: task, or None outside any (then the process default holds). New threads
#: start outside every block; asyncio tasks inherit their creator's choice.
_override = contextvars.ContextVar("fastnn_backend", default=None)


def _default_backend():
    name = os.environ.get("FASTNN_BACKEND", "cython").strip().lower() or "cython"
    if name not in BACKENDS:
        raise ValueError(
            f"FASTNN_BACKEND must be one of {BACKENDS}, got {name!r}"
        )
    return name


def get_backend():
    """Return the name of the backend in use here: ``'numpy'`` or ``'cython'``.

    That is the one of the innermost ``use_backend`` block of this thread or
    task, else the process default.
    """
    name = _override.get()
    if name is not None:
        return name
    if _state["backend"] is None:
        with _lock:
            if _state["backend"] is None:
                _state["backend"] = _default_backend()
    return _state["backend"]


def _checked(where, name):
    if not isinstance(name, str):
        raise TypeError(f"{where}: expected a string, got {type(name).__name__}")
    name = name.strip().lower()
    if name not in BACKENDS:
        raise ValueError(f"{where}: unknown backend {name!r}; choose one of {BACKENDS}")
    return name


def set_backend(name):
    """Select the process-wide default: ``'cython'`` (compiled) or ``'numpy'``.

    Returns the previous default. Inside a ``use_backend`` block the block's
    choice still holds for that thread or task until the block ends.
    Choosing ``'cython'`` when a compiled module is missing is allowed; those
    kernels then run on NumPy and ``backend_info()`` says so.
    """
    name = _checked("set_backend", name)
    with _lock:
        previous = _state["backend"] if _state["backend"] is not None else _default_backend()
        _state["backend"] = name
    return previous


@contextlib.contextmanager
def use_backend(name):
    """Context manager: run the block with backend ``name`` in this thread or task only.

    Blocks nest, and each restores on exit what held before it; other
    threads and tasks, and the process default (``set_backend``), are not
    affected.
    """
    token = _override.set(_checked("use_backend", name))
    try:
        yield _override.get()
    finally:
        _override.reset(token)


def _threads_from_env():
    for var in ("FASTNN_NUM_THREADS", "OMP_NUM_THREADS"):
        value = os.environ.get(var, "").strip()
        if value:
            try:
                n = int(value.split(",")[0])
            except ValueError:
                raise ValueError(f"{var} must be a positive integer, got {value!r}") from None
            if n < 1:
                raise ValueError(f"{var} must be a positive integer, got {value!r}")
            return n
    return os.cpu_count() or 1


def get_num_threads():
    """Threads the compiled kernels may use."""
    if _state["threads"] is None:
        _state["threads"] = _threads_from_env()
    return _state["threads"]


def threads_for(work, min_work):
    """Threads for a compiled call doing ``work`` units: 1 below ``min_work``
    (where starting threads costs more than it saves), else get_num_threads()."""
    return 1 if work < min_work else get_num_threads()


def set_num_threads(n):
    """Set the number of threads of the compiled kernels (an int >= 1)."""
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError(f"set_num_threads: expected an int, got {type(n).__name__}")
    if n < 1:
        raise ValueError(f"set_num_threads: expected n >= 1, got {n}")
    previous = get_num_threads()
    _state["threads"] = n
    return previous
