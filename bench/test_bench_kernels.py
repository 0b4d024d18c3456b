"""Each hot kernel at the book networks' layer shapes (batch 100), float64 and float32,
on NumPy, compiled and PyTorch.  Run: pytest bench/test_bench_kernels.py --benchmark-only"""
import pytest
from conftest import case_id

from fastnn.benchmark._kernels import kernel_cases

CASES = kernel_cases(batch=100)


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_kernel(run_row, case):
    run_row(case)
