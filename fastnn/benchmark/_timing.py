"""Timing a call, and measuring what this machine can do (its GEMM peak).

Every figure in the report is a median of several timed repeats taken after
a warm-up call, so a single interruption by another process does not move it.
"""
import contextlib
import math
import statistics
import time
from dataclasses import dataclass

import numpy as np


#: Seconds beyond which a call needs no warm-up call besides the agreement check's.
LONG_CALL = 1.0


@dataclass
class Timing:
    """Seconds per call of one implementation of one row."""

    median: float       # median over the repeats: the figure reported
    best: float         # the fastest repeat
    repeats: int        # timed repeats
    number: int         # calls per repeat (several when one call is short)


@dataclass
class TimingPlan:
    """How hard to time: used for every row of one run."""

    repeats: int = 7          # timed repeats per implementation (at most)
    min_repeats: int = 3      # ... and at least this many, however slow the call
    min_time: float = 0.05    # seconds one repeat should last (short calls are looped)
    budget: float = 1.0       # seconds of timing per implementation per row, roughly
    blocks: bool = False      # time each implementation in one block (default: repeats take turns)
    settle: float = 0.12      # seconds to wait after a repeat of an implementation that calls a threaded BLAS


def _calls_and_repeats(first_call_seconds, plan):
    """How many calls per repeat and how many repeats, from one call's duration."""
    one = max(first_call_seconds, 1e-7)
    number = max(1, math.ceil(plan.min_time / one))
    repeats = int(plan.budget / (one * number))
    return number, max(plan.min_repeats, min(plan.repeats, repeats))


def time_call(fn, plan, first_call_seconds=None):
    """Time ``fn()`` under ``plan``; return a ``Timing``.

    ``first_call_seconds`` is the duration of a call already made (the
    agreement check makes one, which is also the warm-up); without it a
    warm-up call is made here. Short calls are repeated ``number`` times per
    repeat so that one repeat lasts at least ``plan.min_time``; slow calls get
    fewer repeats so that a row costs about ``plan.budget`` seconds.
    """
    return time_implementations([(fn, first_call_seconds, None)], plan)[0]


def time_implementations(entries, plan):
    """Time several implementations of one row; return one ``Timing`` each.

    entries: list of (fn, first_call_seconds or None, context[, threaded_blas])
    where context is None or a function returning a context manager entered
    around each repeat (e.g. ``lambda: use_backend("numpy")``), and
    threaded_blas (default False) says that fn calls a multi-threaded BLAS.

    Each implementation gets one more warm-up call, timed (unless its first
    call took over ``LONG_CALL`` seconds); the faster of it and the first call
    sets how many calls make a repeat (a first call also pays one-time costs
    such as loading modules).

    By default the repeats take turns (A, B, C, A, B, C, ...), so that a
    change in background load hits every implementation alike; a repeat that
    loops over several short calls starts with one untimed call, so that the
    thread pools of the implementation before it (OpenMP, BLAS, PyTorch's)
    have gone quiet and its own are awake. After a repeat of an implementation
    that calls a threaded BLAS the next one waits ``plan.settle`` seconds:
    OpenBLAS' worker threads spin for about 0.1 s after each product (measured
    here: 0.10 s of CPU time after a 1000x1000 product, then nothing), and
    would otherwise take a core from whichever implementation comes next.
    ``plan.blocks`` times each implementation in one block of repeats instead.
    """
    entries = [tuple(e) + (False,) * (4 - len(e)) for e in entries]
    def timed(fn, context, number=1):
        with _entered(context):
            t0 = time.perf_counter()
            for _ in range(number):
                fn()
            return (time.perf_counter() - t0) / number

    def warm_up(i):
        fn, first, context, _ = entries[i]
        if first is not None and first > LONG_CALL:
            return _calls_and_repeats(first, plan)       # one-time costs are lost in a call this long
        seconds = timed(fn, context)
        return _calls_and_repeats(seconds if first is None else min(first, seconds), plan)

    def settled_repeat(fn, context, number):
        if number > 1:
            with _entered(context):
                fn()                                     # untimed: settles the thread pools
        return timed(fn, context, number)

    samples = [[] for _ in entries]
    if plan.blocks:
        plans = []
        for i, (fn, _, context, threaded_blas) in enumerate(entries):
            number, repeats = warm_up(i)
            plans.append((number, repeats))
            samples[i] = [timed(fn, context, number) for _ in range(repeats)]
            if threaded_blas:
                time.sleep(plan.settle)
    else:
        plans = [warm_up(i) for i in range(len(entries))]
        for round_ in range(max(repeats for _, repeats in plans)):
            for (fn, _, context, threaded_blas), (number, repeats), times in zip(entries, plans, samples):
                if round_ < repeats:
                    times.append(settled_repeat(fn, context, number))
                    if threaded_blas:
                        time.sleep(plan.settle)
    return [Timing(statistics.median(t), min(t), len(t), number) for t, (number, _) in zip(samples, plans)]


def _entered(context):
    return context() if context is not None else contextlib.nullcontext()


def timed_first_call(fn):
    """Call ``fn()`` once; return (its result, seconds it took)."""
    t0 = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - t0


def gemm_peak(size, dtype, repeats=5):
    """This machine's matrix-product rate in FLOP/s: NumPy ``a @ b`` on size x size.

    The best of ``repeats`` products is taken (a peak is what the hardware
    can do when nothing interferes). A product of n x n matrices costs 2*n^3
    FLOPs.
    """
    rng = np.random.default_rng(0)
    a = rng.standard_normal((size, size)).astype(dtype)
    b = rng.standard_normal((size, size)).astype(dtype)
    out = np.empty((size, size), dtype=dtype)
    np.matmul(a, b, out=out)              # warm-up: BLAS threads start, pages touched
    best = math.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        np.matmul(a, b, out=out)
        best = min(best, time.perf_counter() - t0)
    return 2.0 * size ** 3 / best
