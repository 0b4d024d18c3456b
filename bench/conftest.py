"""pytest-benchmark suites over the rows of fastnn.benchmark (run: pytest bench/ --benchmark-only).

The rows, their shapes and their PyTorch twins are defined once, in
``fastnn.benchmark``; these suites time each row on each implementation
("numpy", "cython", "torch") in pytest-benchmark's own way, grouped by row so
that ``--benchmark-group-by=group`` shows the implementations side by side.
The compiled result is checked against the NumPy one before it is timed.
They are not part of the test suite (that is tests/).
"""
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))     # the checkout's fastnn

import fastnn  # noqa: E402
from fastnn.benchmark import assert_agree  # noqa: E402

IMPLEMENTATIONS = ("numpy", "cython", "torch")


def case_id(case):
    """A short pytest id for a row: name, shapes and dtype without spaces."""
    text = f"{case.name}-{case.detail}-{case.dtype}"
    for old, new in ((" ", ""), (",", "_"), ("(", ""), (")", ""), ("->", "to"), ("+", "_")):
        text = text.replace(old, new)
    return text


@pytest.fixture(params=IMPLEMENTATIONS)
def impl(request):
    return request.param


@pytest.fixture
def run_row(benchmark, impl):
    """run_row(case, slow=False): time ``case`` on the implementation ``impl``.

    ``slow`` rows (whole networks) get 3 rounds of one call after a warm-up
    instead of pytest-benchmark's automatic calibration.
    """
    def run(case, slow=False):
        benchmark.group = f"{case.name} [{case.detail}, {case.dtype}]"
        if impl == "torch":
            if case.make_torch is None:
                pytest.skip("no PyTorch twin for this row")
            torch = pytest.importorskip("torch")
            torch.set_num_threads(fastnn.get_num_threads())
            fn = case.make_torch()
            _time(benchmark, fn, slow)
            return
        if impl == "cython":
            with fastnn.use_backend("numpy"):
                np.random.seed(0)
                reference = case.make("numpy")()
        with fastnn.use_backend(impl):
            fn = case.make(impl)
            if impl == "cython":
                np.random.seed(0)
                assert_agree(case.label, reference, fn(), case.tolerance)
            _time(benchmark, fn, slow)
    return run


def _time(benchmark, fn, slow):
    if slow:
        benchmark.pedantic(fn, rounds=3, iterations=1, warmup_rounds=1)
    else:
        benchmark(fn)
