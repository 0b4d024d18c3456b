"""Helpers shared by the kernel tests (imported as a plain module)."""
import fastnn
from fastnn import kernels


def on_both_backends(name, *args):
    """(NumPy result, compiled result) of kernel ``name``; fails if it is not compiled."""
    assert name in kernels.compiled_kernels(), f"{name} has no compiled version: {kernels.missing_modules()}"
    with fastnn.use_backend("numpy"):
        ref = getattr(kernels, name)(*args)
    with fastnn.use_backend("cython"):
        got = getattr(kernels, name)(*args)
    return ref, got
