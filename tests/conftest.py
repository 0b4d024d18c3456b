"""Shared fixtures: run a test on both backends; find the real data beside the checkout."""
import importlib.machinery
import os
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest

# The suite never reaches the network nor the user's dataset cache: no downloads,
# and a private cache directory (subprocesses inherit both). The download tests
# in test_datasets.py undo this for themselves and serve files from 127.0.0.1.
os.environ["FASTNN_OFFLINE"] = "1"
os.environ["XDG_CACHE_HOME"] = tempfile.mkdtemp(prefix="fastnn-test-cache-")



def _prefer_the_installed_fastnn():
    """Test the installed package, not the checkout's uncompiled sources.

    ``python -m pytest`` puts the current folder first on sys.path; in a
    checkout (or an unpacked sdist) that is not built in place, its
    ``fastnn/`` has no compiled kernels and would shadow the installed
    package. When another fastnn is importable, the checkout leaves sys.path.
    """
    root = Path(__file__).resolve().parents[1]
    ext = root / "fastnn" / "_ext"
    if any(ext.glob("*.so")) or any(ext.glob("*.pyd")):
        return  # built in place (pip install -e ., or build_ext --inplace): test this tree
    here = [p for p in sys.path if Path(p or os.getcwd()).resolve() == root]
    rest = [p for p in sys.path if p not in here]
    if here and importlib.machinery.PathFinder.find_spec("fastnn", rest) is not None:
        sys.path[:] = rest


_prefer_the_installed_fastnn()

import fastnn  # noqa: E402

# Real MNIST (mnist/) and the book's parameter files (book/): FASTNN_TEST_DATA, else
# ../shared/data beside the checkout (the development and CI layout).
SHARED_DATA = Path(os.environ.get("FASTNN_TEST_DATA")
                   or Path(__file__).resolve().parents[1].parent / "shared" / "data")


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
        pytest.skip(f"no real data at {SHARED_DATA} (set FASTNN_TEST_DATA to a folder with "
                    "mnist/ and book/ to run this test)")
    return SHARED_DATA


@pytest.fixture
def book_files_in_cache(shared_data):
    """The book's parameter files placed in this test run's private user cache, where
    ``fastnn.pretrained.fetch`` finds them (no download)."""
    import shutil

    from fastnn import pretrained

    sources = {"sample_network": "ch03_sample_weight.pkl", "simple_convnet": "simple_convnet_params.pkl",
               "deep_convnet": "deep_convnet_params.pkl"}
    pretrained.cache_dir().mkdir(parents=True, exist_ok=True)
    for name, filename in sources.items():
        target = pretrained.cached_path(name)
        if not target.is_file():
            shutil.copyfile(shared_data / "book" / filename, target)
    yield pretrained.cache_dir()
