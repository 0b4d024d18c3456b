"""Running one row: check that the backends agree, then time each implementation."""
from dataclasses import dataclass
from typing import Optional

import numpy as np

from .. import kernels
from .._backend import use_backend
from ._cases import Case, assert_agree
from ._timing import Timing, time_implementations, timed_first_call


@dataclass
class Result:
    """The timings of one row (seconds per call); None where not measured."""

    case: Case
    numpy: Timing
    compiled: Timing
    torch: Optional[Timing] = None
    book: Optional[Timing] = None
    not_compiled: tuple = ()        # kernels of this row that have no compiled version
    torch_alone: Optional[float] = None   # seconds of PyTorch in a process of its own (_torch_alone)

    @property
    def speedup(self):
        """NumPy backend time / compiled time."""
        return self.numpy.median / self.compiled.median

    @property
    def gflops(self):
        """Useful GFLOP/s of the compiled backend, or None for rows without GEMMs."""
        return None if not self.case.flops else self.case.flops / self.compiled.median / 1e9

    @property
    def vs_torch(self):
        """fastnn (compiled) time / PyTorch time: below 1 means fastnn is faster."""
        return None if self.torch is None else self.compiled.median / self.torch.median

    @property
    def vs_torch_fair(self):
        """fastnn time / PyTorch time, with PyTorch in a process of its own where that
        was measured (see _torch_alone), else in fastnn's process."""
        if self.torch_alone:
            return self.compiled.median / self.torch_alone
        return self.vs_torch

    @property
    def book_ratio(self):
        """The book's method time / fastnn's NumPy fallback time: >= 1 means the fallback is no slower."""
        return None if self.book is None else self.book.median / self.numpy.median


def _first_call(backend, case):
    """Build the row's function under ``backend`` and call it once (the warm-up)."""
    with use_backend(backend):
        fn = case.make(backend)
        np.random.seed(0)           # dropout masks: the same draws on both backends
        result, seconds = timed_first_call(fn)
    return fn, result, seconds


def run_case(case, plan, with_torch=False):
    """Check ``case`` and time it; return a ``Result``.

    Raises ``ResultsDisagree`` (naming the row, the output and the size of the
    difference) when the compiled result differs from the NumPy one, or when
    the book's method differs from the NumPy fallback.
    """
    fn_np, ref, t_np = _first_call("numpy", case)
    fn_c, cand, t_c = _first_call("cython", case)
    case.compare(ref, cand)
    del cand

    fn_book = t_book = None
    if case.make_book is not None:
        fn_book = case.make_book()
        book_result, t_book = timed_first_call(fn_book)
        assert_agree(case.label, book_result, ref, case.tolerance,
                     names=("the book's method", "the NumPy fallback"))
        del book_result
    del ref

    # the NumPy backend's products run on NumPy's threaded BLAS
    entries = {"numpy": (fn_np, t_np, lambda: use_backend("numpy"), True),
               "compiled": (fn_c, t_c, lambda: use_backend("cython"))}
    if fn_book is not None:
        entries["book"] = (fn_book, t_book, None)
    if with_torch and case.make_torch is not None:
        entries["torch"] = (case.make_torch(), None, None)
    timings = dict(zip(entries, time_implementations(list(entries.values()), plan)))
    compiled = set(kernels.compiled_kernels())
    missing = tuple(k for k in case.kernels if k not in compiled)
    return Result(case, timings["numpy"], timings["compiled"], timings.get("torch"), timings.get("book"), missing)


def describe(result):
    """One progress line for the console."""
    r = result
    parts = [f"NumPy {r.numpy.median * 1e3:.3g} ms", f"compiled {r.compiled.median * 1e3:.3g} ms "
             f"({r.speedup:.2f}x)"]
    if r.gflops is not None:
        parts.append(f"{r.gflops:.1f} GFLOP/s")
    if r.torch is not None:
        parts.append(f"PyTorch {r.torch.median * 1e3:.3g} ms (fastnn/PyTorch {r.vs_torch:.2f})")
    if r.book is not None:
        parts.append(f"book's method {r.book.median * 1e3:.3g} ms")
    return f"{r.case.name} [{r.case.detail}, {r.case.dtype}]: " + ", ".join(parts)
