"""Shared fixtures: run a test on both backends; find the real data beside the checkout."""
import os
import tempfile
from pathlib import Path

import numpy as np
import pytest

# The suite never reaches the network nor the user's dataset cache: no downloads,
# and a private cache directory (subprocesses inherit both). The download tests
# in test_datasets.py undo this for themselves and serve files from 127.0.0.1.
os.environ["FASTNN_OFFLINE"] = "1"
os.environ["XDG_CACHE_HOME"] = tempfile.mkdtemp(prefix="fastnn-test-cache-")

import fastnn  # noqa: E402

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(params=["numpy", "cython"])
def backend(request):
    """Run the test once per backend (the compiled one falls back per kernel if unbuilt)."""
    with fastnn.use_backend(request.param):
        yield request.param


@pytest.fixture(autouse=True)
def _fresh_dataset_notices():
    """Each test sees the once-per-process SampleDataWarning and retries unreachable mirrors."""
    from fastnn.datasets import download, loader

    loader._SAMPLE_WARNED.clear()
    download._UNREACHABLE.clear()
    yield


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
