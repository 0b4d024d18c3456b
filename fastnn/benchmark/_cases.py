"""One row of the benchmark, and the check that both backends agree on it.

A ``Case`` knows how to build the call it times for a given backend
(``make(backend)`` returns a zero-argument function), optionally the same
operation in PyTorch (``make_torch()``), and how many useful floating-point
operations one call does. Each call returns its results (arrays, floats,
tuples or dicts of them) so that the compiled and NumPy results can be
compared before anything is timed.
"""
from dataclasses import dataclass, field
from typing import Callable, Optional

import numpy as np

#: Relative tolerance of the agreement check, per dtype (the project's standard).
DEFAULT_RTOL = {"float64": 1e-10, "float32": 1e-4}


class ResultsDisagree(AssertionError):
    """The compiled and NumPy backends computed different numbers for a row."""


@dataclass
class Case:
    """One benchmark row.

    section:  the table it goes in ("Kernels, float64", "Networks", ...)
    name:     what is timed ("conv forward", "SimpleConvNet train step", ...)
    detail:   the shapes, for the reader ("x (100,16,28,28), W (16,16,3,3), pad 1")
    dtype:    "float32" or "float64"
    make:     make(backend) -> fn; fn() runs the operation once and returns its results
    flops:    useful FLOPs of one call (2*M*N*K per GEMM), None for memory-bound kernels
    kernels:  names in fastnn.kernels the row exercises (to flag the ones not compiled)
    make_torch: () -> fn doing the same operation in PyTorch CPU, or None
    rtol:     tolerance of the agreement check (default: by dtype)
    tags:     short labels the targets table looks rows up by
    make_book: () -> fn computing the same thing the book's straightforward way
    (for the rows that show the NumPy fallback is a fair baseline)
    check:    check(label, reference, candidate, rtol) raising ``ResultsDisagree``;
    default ``assert_agree`` (elementwise)
    batch, images: for a network row, its batch size and the images one call
    runs (a train step: one batch), so that its PyTorch twin can be rebuilt
    elsewhere (``_torch_alone``); None for the other rows
    """

    section: str
    name: str
    detail: str
    dtype: str
    make: Callable[[str], Callable[[], object]]
    flops: Optional[float] = None
    kernels: tuple = ()
    make_torch: Optional[Callable[[], Callable[[], object]]] = None
    rtol: Optional[float] = None
    tags: tuple = field(default_factory=tuple)
    make_book: Optional[Callable[[], Callable[[], object]]] = None
    check: Optional[Callable] = None
    batch: Optional[int] = None
    images: Optional[int] = None

    @property
    def label(self):
        return f"{self.name} [{self.detail}, {self.dtype}]"

    @property
    def tolerance(self):
        return self.rtol if self.rtol is not None else DEFAULT_RTOL[self.dtype]

    def compare(self, reference, candidate):
        """Raise ``ResultsDisagree`` unless the compiled result matches the NumPy one."""
        (self.check or assert_agree)(self.label, reference, candidate, self.tolerance)


def _flatten(result, prefix="result"):
    """Yield (name, array) for every array or number inside a result."""
    if isinstance(result, dict):
        for key in sorted(result):
            yield from _flatten(result[key], f"{prefix}[{key!r}]")
    elif isinstance(result, (tuple, list)):
        for i, item in enumerate(result):
            yield from _flatten(item, f"{prefix}[{i}]")
    elif result is None:
        return
    else:
        yield prefix, np.asarray(result)


def assert_agree(label, reference, candidate, rtol, names=("NumPy", "compiled")):
    """Raise ``ResultsDisagree`` unless ``candidate`` matches ``reference``.

    Arrays are compared elementwise with ``|a - b| <= rtol * (|ref| + max|ref|)``:
    a relative tolerance whose absolute part scales with the array's
    magnitude, so that entries near zero (sums of many terms that cancel)
    are not held to more digits than the large ones.
    """
    ref_items = list(_flatten(reference))
    cand_items = list(_flatten(candidate))
    if [n for n, _ in ref_items] != [n for n, _ in cand_items]:
        raise ResultsDisagree(
            f"{label}: the {names[0]} and {names[1]} results have different structure: "
            f"{[n for n, _ in ref_items]} vs {[n for n, _ in cand_items]}"
        )
    for (name, ref), (_, cand) in zip(ref_items, cand_items):
        if ref.shape != cand.shape:
            raise ResultsDisagree(
                f"{label}: {name} has shape {cand.shape} with {names[1]} but {ref.shape} with {names[0]}"
            )
        if ref.dtype.kind in "biu" or cand.dtype.kind in "biu":
            if not np.array_equal(ref, cand):
                bad = int(np.count_nonzero(ref != cand))
                raise ResultsDisagree(
                    f"{label}: {name} differs in {bad} of {ref.size} integer entries "
                    f"between {names[0]} and {names[1]}"
                )
            continue
        ref64 = ref.astype(np.float64)
        cand64 = cand.astype(np.float64)
        if not (np.all(np.isfinite(ref64)) and np.all(np.isfinite(cand64))):
            raise ResultsDisagree(f"{label}: {name} holds NaN or inf")
        scale = float(np.max(np.abs(ref64))) if ref64.size else 0.0
        err = np.abs(cand64 - ref64)
        allowed = rtol * (np.abs(ref64) + scale)
        if np.any(err > allowed):
            worst = int(np.argmax(err - allowed))
            raise ResultsDisagree(
                f"{label}: {name} differs between {names[0]} and {names[1]}: "
                f"max |difference| {err.max():.3g} at flat index {worst} "
                f"({names[0]} {ref64.ravel()[worst]:.10g}, {names[1]} {cand64.ravel()[worst]:.10g}), "
                f"allowed rtol {rtol:g} of magnitude {scale:.3g}"
            )
