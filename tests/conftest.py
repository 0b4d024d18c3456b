"""Shared fixtures: run a test on both backends; find the real data beside the checkout."""
import os
from pathlib import Path

import numpy as np
import pytest

import fastnn

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(params=["numpy", "cython"])
def backend(request):
    """Run the test once per backend (the compiled one falls back per kernel if unbuilt)."""
    with fastnn.use_backend(request.param):
        yield request.param


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


@pytest.fixture(scope="session")
def shared_data():
    """``../shared/data`` (real MNIST and the book's weights). Required in CI."""
    if not SHARED_DATA.is_dir():
        if os.environ.get("CI"):
            pytest.fail(f"real data expected at {SHARED_DATA} in CI")
        pytest.skip(f"no real data at {SHARED_DATA}")
    return SHARED_DATA
