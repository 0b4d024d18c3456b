"""fastnn: the networks of *Deep Learning from Scratch*, with a Keras-style API,
on compiled Cython kernels and a NumPy fallback that computes the same numbers.

    import fastnn
    fastnn.backend_info()            # which kernels are compiled, BLAS, threads
    fastnn.set_backend("numpy")      # or: with fastnn.use_backend("numpy"): ...
"""
from ._version import __version__  # noqa: F401  (also the package metadata's version)

from ._backend import (  # noqa: F401
    BACKENDS,
    get_backend,
    get_num_threads,
    set_backend,
    set_num_threads,
    use_backend,
)


def release_buffers():
    """Release the large arrays the compiled kernels keep for reuse (at most 1 GiB).

    Training reuses the kernels' large outputs from one step to the next
    instead of allocating them again (see ``fastnn/_buffers.py``); call this
    after training to give that memory back. Arrays still in use stay valid.
    """
    from . import _buffers

    _buffers.clear()


def backend_info():
    """A dict describing what computes: backend, compiled kernels, BLAS, threads.

    Keys: ``backend`` (selected), ``running`` (what actually computes:
    ``'cython'``, ``'numpy'``, or ``'cython+numpy'`` when only some kernels
    are compiled), ``why`` (one sentence: why that backend runs and, when it
    is the fallback, how to get the compiled one), ``compiled`` (kernels with
    a compiled version), ``numpy_only`` (kernels that run on NumPy even under
    'cython'), ``missing_modules`` (compiled modules that failed to import,
    with why), ``openmp`` (whether the compiled kernels were built with
    OpenMP), ``threads``, ``blas`` (libraries reported by threadpoolctl),
    ``version``.
    """
    from . import kernels

    compiled = kernels.compiled_kernels()
    numpy_only = [k for k in kernels.KERNEL_NAMES + kernels.CHANNELS_LAST_NAMES if k not in compiled]
    backend = get_backend()
    running, why = _what_runs(backend, compiled, numpy_only)
    info = {
        "version": __version__,
        "backend": backend,
        "running": running,
        "why": why,
        "compiled": compiled,
        "numpy_only": numpy_only,
        "missing_modules": kernels.missing_modules(),
        "openmp": _openmp_built(),
        "threads": get_num_threads(),
        "blas": _blas_info(),
    }
    return info


def _what_runs(backend, compiled, numpy_only):
    """(running, why) for :func:`backend_info`."""
    from .kernels import HOW_TO_COMPILE

    if backend == "numpy":
        source = "FASTNN_BACKEND=numpy" if _backend_source() == "env" else "set_backend('numpy')"
        return "numpy", f"the NumPy kernels were chosen ({source})"
    if not compiled:
        return "numpy", ("the NumPy fallback: the compiled kernels are not built in this installation "
                         "(the install found no working C compiler, or the build failed); " + HOW_TO_COMPILE)
    if numpy_only:
        return "cython+numpy", (f"compiled kernels, except {len(numpy_only)} that are not built and run on "
                                f"NumPy ({', '.join(numpy_only)}); " + HOW_TO_COMPILE)
    return "cython", "the compiled kernels (all built)"


def _backend_source():
    """``'env'`` when the backend in use is the one FASTNN_BACKEND chose, else ``'call'``."""
    import os

    env = os.environ.get("FASTNN_BACKEND", "").strip().lower()
    return "env" if env and env == get_backend() else "call"


def _openmp_built():
    try:
        from ._ext import im2col as _m
    except ImportError:
        return False
    return bool(getattr(_m, "OPENMP", False))


def _blas_info():
    try:
        from threadpoolctl import threadpool_info
        import scipy.linalg  # noqa: F401  (loads the BLAS that cython_blas uses)
    except ImportError:
        return []
    return [
        {k: lib.get(k) for k in ("internal_api", "version", "num_threads", "filepath")}
        for lib in threadpool_info()
        if lib.get("user_api") == "blas"
    ]
