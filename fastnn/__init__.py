"""fastnn: the networks of *Deep Learning from Scratch*, with a Keras-style API,
on compiled Cython kernels and a NumPy fallback that computes the same numbers.

    import fastnn
    fastnn.backend_info()            # which kernels are compiled, BLAS, threads
    fastnn.set_backend("numpy")      # or: with fastnn.use_backend("numpy"): ...
"""
__version__ = "0.1.0"

from ._backend import (  # noqa: F401
    BACKENDS,
    get_backend,
    get_num_threads,
    set_backend,
    set_num_threads,
    use_backend,
)


def backend_info():
    """A dict describing what computes: backend, compiled kernels, BLAS, threads.

    Keys: ``backend`` (selected), ``compiled`` (kernels with a compiled
    version), ``numpy_only`` (kernels that run on NumPy even under 'cython'),
    ``missing_modules`` (compiled modules that failed to import, with why),
    ``openmp`` (whether the compiled kernels were built with OpenMP),
    ``threads``, ``blas`` (libraries reported by threadpoolctl), ``version``.
    """
    from . import kernels

    compiled = kernels.compiled_kernels()
    info = {
        "version": __version__,
        "backend": get_backend(),
        "compiled": compiled,
        "numpy_only": [k for k in kernels.KERNEL_NAMES + kernels.CHANNELS_LAST_NAMES if k not in compiled],
        "missing_modules": kernels.missing_modules(),
        "openmp": _openmp_built(),
        "threads": get_num_threads(),
        "blas": _blas_info(),
    }
    return info


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
