"""MNIST / Fashion-MNIST loaders: formats, lookup order, download, failures, sample.

Every test runs isolated (fixture ``isolated``): the user cache and ~/.fastnn
point into tmp_path, FASTNN_DATA / FASTNN_OFFLINE are unset, Fashion-MNIST's
system directory is removed from the spec, and all mirrors point at a closed
port on 127.0.0.1. Downloads are served by a small HTTP server on loopback.
"""
import copy
import dataclasses
import hashlib
import http.server
import pickle
import re
import socket
import threading
import warnings
from pathlib import Path

import numpy as np
import pytest

from fastnn.datasets import lookup_report
from fastnn.datasets import (
    DatasetNotFoundError,
    SampleDataWarning,
    fashion_mnist,
    load_fashion_mnist,
    load_mnist,
    mnist,
    sources,
    write_idx,
)
from fastnn.datasets.download import USER_AGENT
from fastnn.keras.datasets import fashion_mnist as keras_fashion_mnist
from fastnn.keras.datasets import mnist as keras_mnist

DEBIAN_FASHION = Path("/usr/share/datasets/fashion-mnist")
NAMES = sources.STANDARD_NAMES


def _closed_port_url():
    """A loopback URL nobody listens on: connections are refused at once."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/"


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    cache = tmp_path / "user-cache"
    legacy = tmp_path / "home" / ".fastnn" / "datasets"
    monkeypatch.setattr(sources, "cache_root", lambda: cache)
    monkeypatch.setattr(sources, "legacy_cache_root", lambda: legacy)
    monkeypatch.delenv("FASTNN_DATA", raising=False)
    monkeypatch.delenv("FASTNN_OFFLINE", raising=False)
    dead = (_closed_port_url(),)
    monkeypatch.setattr(mnist, "SPEC", dataclasses.replace(mnist.SPEC, mirrors=dead))
    monkeypatch.setattr(
        fashion_mnist, "SPEC", dataclasses.replace(fashion_mnist.SPEC, mirrors=dead, system_dirs=())
    )
    return {"cache": cache, "legacy": legacy}


def make_files(directory, n_train, n_test=7, seed=0, gz=True):
    """Write a small fake dataset (four IDX files, standard names) into
    ``directory``; returns ``{file name: array}``. ``n_train`` tells copies apart."""
    rng = np.random.default_rng(seed)
    arrays = {
        NAMES["train_images"]: rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        NAMES["train_labels"]: rng.integers(0, 10, n_train, dtype=np.uint8),
        NAMES["test_images"]: rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        NAMES["test_labels"]: rng.integers(0, 10, n_test, dtype=np.uint8),
    }
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    for name, array in arrays.items():
        write_idx(directory / (name if gz else name[:-3]), array, compress=gz)
    return arrays


def sha256_of(data):
    return hashlib.sha256(data).hexdigest()


# -- a loopback HTTP server ---------------------------------------------------


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (http.server's naming)
        server = self.server
        server.requests.append((self.path, self.headers.get("User-Agent")))
        name = self.path.rsplit("/", 1)[-1]
        if name not in server.files:
            self.send_error(404)
            return
        data = server.files[name]
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if name in server.cut:
            # announce the full length, send half, hang up: an interrupted transfer
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(data)

    def log_message(self, *args):  # keep test output clean
        pass


@pytest.fixture
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.files, httpd.cut, httpd.requests = {}, set(), []
    httpd.url = f"http://127.0.0.1:{httpd.server_address[1]}/data/"
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()
    thread.join(5)


def serve_dataset(server, tmp_path, monkeypatch, module, n_train=9, corrupt=(), cut=()):
    """Put a fake dataset on the server and point ``module.SPEC`` at it
    (a dead mirror first, then the server). Returns the arrays served."""
    src = tmp_path / "served"
    arrays = make_files(src, n_train)
    hashes = {}
    for name in arrays:
        data = (src / name).read_bytes()
        hashes[name] = sha256_of(data)
        if name in corrupt:  # same length, one byte flipped: only the hash can tell
            data = data[:-1] + bytes([data[-1] ^ 1])
        server.files[name] = data
    server.cut.update(cut)
    spec = dataclasses.replace(
        module.SPEC, mirrors=(_closed_port_url(), server.url), sha256=hashes
    )
    monkeypatch.setattr(module, "SPEC", spec)
    return arrays


def cache_listing(isolated, name):
    directory = isolated["cache"] / name
    return sorted(p.name for p in directory.iterdir()) if directory.exists() else []


# -- formats ------------------------------------------------------------------


def test_book_formats(tmp_path):
    arrays = make_files(tmp_path / "d", n_train=12, n_test=5)
    raw_x = arrays[NAMES["train_images"]]
    raw_t = arrays[NAMES["train_labels"]]

    (x, t), (xt, tt) = load_mnist(path=tmp_path / "d")
    assert x.shape == (12, 784) and x.dtype == np.float32 and xt.shape == (5, 784)
    np.testing.assert_array_equal(x, raw_x.reshape(12, 784).astype(np.float32) / 255.0)
    assert 0.0 <= x.min() and x.max() <= 1.0
    assert t.dtype == np.uint8 and t.shape == (12,)
    np.testing.assert_array_equal(t, raw_t)

    (x, t), _ = load_mnist(normalize=False, flatten=False, one_hot_label=True, path=tmp_path / "d")
    assert x.shape == (12, 1, 28, 28) and x.dtype == np.uint8
    np.testing.assert_array_equal(x[:, 0], raw_x)
    assert t.shape == (12, 10) and t.dtype == np.float64
    np.testing.assert_array_equal(t.sum(axis=1), np.ones(12))
    np.testing.assert_array_equal(t.argmax(axis=1), raw_t)


def test_keras_loaders_return_uint8_images_and_labels(tmp_path):
    arrays = make_files(tmp_path / "d", n_train=6, n_test=4)
    for load_data in (keras_mnist.load_data, keras_fashion_mnist.load_data):
        (x, y), (xt, yt) = load_data(path=tmp_path / "d")
        assert x.shape == (6, 28, 28) and x.dtype == np.uint8
        assert y.shape == (6,) and y.dtype == np.uint8 and xt.shape == (4, 28, 28)
        np.testing.assert_array_equal(xt, arrays[NAMES["test_images"]])
        np.testing.assert_array_equal(yt, arrays[NAMES["test_labels"]])


def test_result_carries_provenance_and_survives_copy_and_pickle(tmp_path):
    make_files(tmp_path / "d", n_train=3)
    result = load_fashion_mnist(path=tmp_path / "d")
    assert (result.origin, result.is_sample, result.source) == ("path", False, str(tmp_path / "d"))
    for clone in (copy.copy(result), pickle.loads(pickle.dumps(result))):
        assert (clone.origin, clone.source, clone.is_sample) == ("path", result.source, False)
        np.testing.assert_array_equal(clone[0][0], result[0][0])


# -- explicit paths -------------------------------------------------------------


def test_explicit_dict_of_files_and_raw_or_kaggle_names(tmp_path):
    arrays = make_files(tmp_path / "raw", n_train=4, gz=False)
    (x, t), _ = load_mnist(normalize=False, path=tmp_path / "raw")
    np.testing.assert_array_equal(t, arrays[NAMES["train_labels"]])
    # Kaggle spells them train-images.idx3-ubyte
    for f in (tmp_path / "raw").iterdir():
        f.rename(f.with_name(f.name.replace("-idx", ".idx")))
    (x, t), _ = load_mnist(normalize=False, path=tmp_path / "raw")
    np.testing.assert_array_equal(t, arrays[NAMES["train_labels"]])
    files = {role: tmp_path / "raw" / NAMES[role][:-3].replace("-idx", ".idx") for role in NAMES}
    result = load_mnist(normalize=False, path=files)
    assert result.origin == "path"
    np.testing.assert_array_equal(result[1][1], arrays[NAMES["test_labels"]])


def test_explicit_path_errors(tmp_path):
    with pytest.raises(DatasetNotFoundError, match=r"load_mnist: path='.*nowhere' is not a directory"):
        load_mnist(path=tmp_path / "nowhere")
    make_files(tmp_path / "d", n_train=4)
    (tmp_path / "d" / NAMES["test_labels"]).unlink()
    with pytest.raises(DatasetNotFoundError, match=r"lacks the MNIST files \['t10k-labels-idx1-ubyte.gz'\]"):
        load_mnist(path=tmp_path / "d")
    with pytest.raises(ValueError, match=r"must have exactly the keys.*missing \['test_images'"):
        load_mnist(path={"train_images": "a", "train_labels": "b", "test_labels": "c"})
    with pytest.raises(TypeError, match=r"load_fashion_mnist: path must be a directory.*got int"):
        load_fashion_mnist(path=3)


def test_explicit_path_with_inconsistent_files(tmp_path):
    make_files(tmp_path / "d", n_train=4)
    write_idx(tmp_path / "d" / NAMES["train_labels"], np.zeros(5, np.uint8))
    with pytest.raises(ValueError, match=r"train-labels-idx1-ubyte.gz: 5 labels for 4 images"):
        load_mnist(path=tmp_path / "d")
    write_idx(tmp_path / "d" / NAMES["train_labels"], np.full(4, 10, np.uint8))
    with pytest.raises(ValueError, match=r"label 10 out of range 0..9"):
        load_mnist(path=tmp_path / "d")
    write_idx(tmp_path / "d" / NAMES["train_images"], np.zeros((4, 28, 27), np.uint8))
    with pytest.raises(ValueError, match=r"images of shape \(4, 28, 27\), expected \(N, 28, 28\)"):
        load_mnist(path=tmp_path / "d")


# -- lookup order ---------------------------------------------------------------


def test_lookup_order(tmp_path, monkeypatch, isolated, server):
    """explicit > FASTNN_DATA > user cache > ~/.fastnn > system dir > download."""
    make_files(tmp_path / "explicit", n_train=11)
    make_files(tmp_path / "env" / "fashion-mnist", n_train=12)
    make_files(isolated["cache"] / "fashion-mnist", n_train=13)
    make_files(isolated["legacy"] / "fashion-mnist", n_train=14)
    make_files(tmp_path / "system", n_train=15)
    serve_dataset(server, tmp_path, monkeypatch, fashion_mnist, n_train=16)
    monkeypatch.setattr(
        fashion_mnist, "SPEC",
        dataclasses.replace(fashion_mnist.SPEC, system_dirs=(str(tmp_path / "system"),)),
    )
    monkeypatch.setenv("FASTNN_DATA", str(tmp_path / "env"))

    def served():
        result = load_fashion_mnist()
        return len(result[0][1]), result.origin

    assert len(load_fashion_mnist(path=tmp_path / "explicit")[0][1]) == 11
    assert served() == (12, "FASTNN_DATA")
    monkeypatch.delenv("FASTNN_DATA")
    assert served() == (13, "cache")
    for f in (isolated["cache"] / "fashion-mnist").iterdir():
        f.unlink()
    assert served() == (14, "cache")
    for f in (isolated["legacy"] / "fashion-mnist").iterdir():
        f.unlink()
    assert served() == (15, "system")
    assert server.requests == []  # nothing downloaded while a local copy existed
    monkeypatch.setattr(
        fashion_mnist, "SPEC", dataclasses.replace(fashion_mnist.SPEC, system_dirs=())
    )
    assert served() == (16, "download")
    assert served() == (16, "cache")  # the download is now the cached copy


def test_mnist_falls_back_to_the_sample_after_everything_else(tmp_path, monkeypatch, isolated):
    make_files(isolated["legacy"] / "mnist", n_train=5)
    assert load_mnist().origin == "cache"
    for f in (isolated["legacy"] / "mnist").iterdir():
        f.unlink()
    with pytest.warns(SampleDataWarning):
        assert load_mnist().origin == "sample"


# -- download -------------------------------------------------------------------


def test_download_verifies_caches_and_sends_a_user_agent(tmp_path, monkeypatch, isolated, server):
    arrays = serve_dataset(server, tmp_path, monkeypatch, mnist, n_train=9)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no sample warning: the full set was served
        result = load_mnist(normalize=False)
    assert (result.origin, result.is_sample) == ("download", False)
    assert result.source == str(isolated["cache"] / "mnist")
    np.testing.assert_array_equal(result[0][1], arrays[NAMES["train_labels"]])
    assert cache_listing(isolated, "mnist") == sorted(NAMES.values())
    assert len(server.requests) == 4
    assert {agent for _, agent in server.requests} == {USER_AGENT}
    assert USER_AGENT.startswith("fastnn/")
    assert load_mnist().origin == "cache" and len(server.requests) == 4


def test_corrupt_download_is_rejected_and_not_cached(tmp_path, monkeypatch, isolated, server):
    bad = NAMES["train_images"]
    serve_dataset(server, tmp_path, monkeypatch, fashion_mnist, corrupt={bad})
    mismatch = r"(?s)could not download train-images.*does not match the known hash"
    with pytest.raises(DatasetNotFoundError, match=mismatch):
        load_fashion_mnist()
    assert bad not in cache_listing(isolated, "fashion-mnist")
    assert all(not n.startswith("tmp") for n in cache_listing(isolated, "fashion-mnist"))


def test_corrupt_mnist_download_falls_back_to_the_sample(tmp_path, monkeypatch, isolated, server):
    bad = NAMES["test_labels"]
    serve_dataset(server, tmp_path, monkeypatch, mnist, corrupt={bad})
    with pytest.warns(SampleDataWarning) as record:
        result = load_mnist()
    assert re.search(r"(?s)t10k-labels-idx1-ubyte.gz.*hash", record[0].message.details)
    assert result.is_sample
    assert bad not in cache_listing(isolated, "mnist")
    assert len(cache_listing(isolated, "mnist")) == 3  # the good files are kept


def test_interrupted_transfer_leaves_no_file(tmp_path, monkeypatch, isolated, server):
    cut = NAMES["test_images"]
    serve_dataset(server, tmp_path, monkeypatch, fashion_mnist, cut={cut})
    broken = r"(?s)could not download t10k-images-idx3-ubyte.gz.*IncompleteRead"
    with pytest.raises(DatasetNotFoundError, match=broken):
        load_fashion_mnist()
    assert cut not in cache_listing(isolated, "fashion-mnist")
    assert len(cache_listing(isolated, "fashion-mnist")) == 2  # only the two files before it
    # the server comes back whole: the download completes
    server.cut.clear()
    assert load_fashion_mnist().origin == "download"


def test_corrupt_cached_file_is_removed_and_downloaded_again(tmp_path, monkeypatch, isolated, server):
    arrays = serve_dataset(server, tmp_path, monkeypatch, fashion_mnist, n_train=9)
    cached = make_files(isolated["cache"] / "fashion-mnist", n_train=9)
    assert cached.keys() == arrays.keys()
    victim = isolated["cache"] / "fashion-mnist" / NAMES["train_images"]
    victim.write_bytes(victim.read_bytes()[:-100])  # truncated gzip
    with pytest.warns(RuntimeWarning, match=r"skipping .*train-images-idx3-ubyte.gz.*truncated"):
        result = load_fashion_mnist(normalize=False)
    assert result.origin == "download"
    np.testing.assert_array_equal(result[0][0].reshape(9, 28, 28), arrays[NAMES["train_images"]])
    assert [path for path, _ in server.requests] == ["/data/" + NAMES["train_images"]]


def test_corrupt_file_outside_the_cache_is_reported_but_kept(tmp_path, monkeypatch):
    make_files(tmp_path / "env" / "fashion-mnist", n_train=4)
    bad = tmp_path / "env" / "fashion-mnist" / NAMES["test_labels"]
    bad.write_bytes(bad.read_bytes() + b"x")
    monkeypatch.setenv("FASTNN_DATA", str(tmp_path / "env"))
    with pytest.warns(RuntimeWarning, match="t10k-labels.*corrupt gzip file") as record:
        with pytest.raises(DatasetNotFoundError, match=r"FASTNN_DATA: .*fashion-mnist \(corrupt: "):
            load_fashion_mnist()
    assert record[0].filename == __file__  # points at the caller
    assert bad.exists()


# -- offline --------------------------------------------------------------------


def test_offline_error_lists_every_place_and_how_to_fix(tmp_path, monkeypatch, isolated):
    monkeypatch.setenv("FASTNN_DATA", str(tmp_path / "env"))
    make_files(isolated["cache"] / "fashion-mnist", n_train=3)
    (isolated["cache"] / "fashion-mnist" / NAMES["train_labels"]).unlink()
    with pytest.raises(DatasetNotFoundError) as info:
        load_fashion_mnist()
    message = str(info.value)
    assert message.startswith("load_fashion_mnist: Fashion-MNIST not found and not downloadable")
    assert f"FASTNN_DATA: {tmp_path / 'env' / 'fashion-mnist'} (no such directory)" in message
    assert f"cache: {isolated['cache'] / 'fashion-mnist'} (missing train-labels-idx1-ubyte.gz)" in message
    assert f"cache: {isolated['legacy'] / 'fashion-mnist'} (no such directory)" in message
    # the first file fails on the only (dead) mirror; the loader says so
    assert "could not download train-images-idx3-ubyte.gz" in message
    assert "ConnectionError" in message and "127.0.0.1" in message
    assert "apt-get install dataset-fashion-mnist" in message
    assert "FASTNN_DATA=<dir>" in message and "path=<directory>" in message
    # the complete files already in the cache were not harmed
    assert len(cache_listing(isolated, "fashion-mnist")) == 3


def test_fastnn_offline_skips_the_download(monkeypatch, server):
    monkeypatch.setenv("FASTNN_OFFLINE", "1")
    monkeypatch.setattr(
        fashion_mnist, "SPEC", dataclasses.replace(fashion_mnist.SPEC, mirrors=(server.url,))
    )
    with pytest.raises(DatasetNotFoundError, match="download: skipped because FASTNN_OFFLINE is set"):
        load_fashion_mnist()
    assert server.requests == []


# -- the bundled sample ---------------------------------------------------------


def test_bundled_sample_is_served_with_a_warning(shared_data):
    with pytest.warns(SampleDataWarning, match=r"sample bundled with fastnn \(5,000 training \+ "
                      r"10,000 test images\), NOT the full MNIST \(60,000 \+ 10,000\)") as record:
        result = load_mnist()
    assert record[0].filename == __file__  # the warning points at the caller
    message = str(record[0].message)
    assert "\n" not in message and "How to provide" not in message  # one line; details on request
    assert "How to provide MNIST" in record[0].message.details
    assert record[0].message.details == lookup_report("mnist")
    with warnings.catch_warnings():
        warnings.simplefilter("error")     # once per process: no second warning
        assert load_mnist().is_sample
    (x, t), (xt, tt) = result
    assert result.is_sample and result.origin == "sample"
    assert x.shape == (5000, 784) and xt.shape == (10000, 784) and x.dtype == np.float32
    assert np.bincount(t).tolist() == [500] * 10
    # the sample is the shared real data: test set identical, training set reordered
    (sx, st), (sxt, stt) = load_mnist(normalize=False, flatten=False, path={
        "train_images": shared_data / "mnist" / "train-5k-images-idx3-ubyte.gz",
        "train_labels": shared_data / "mnist" / "train-5k-labels-idx1-ubyte.gz",
        "test_images": shared_data / "mnist" / "t10k-images-idx3-ubyte.gz",
        "test_labels": shared_data / "mnist" / "t10k-labels-idx1-ubyte.gz",
    })
    np.testing.assert_array_equal(xt, sxt.reshape(10000, 784) / np.float32(255))
    np.testing.assert_array_equal(tt, stt)
    key = lambda images, labels: sorted(zip(labels.tolist(), (im.tobytes() for im in images)))
    assert key((x * 255).round().astype(np.uint8), t) == key(sx.reshape(5000, 784), st)
    assert len(set(t[:50].tolist())) == 10  # shuffled: the first images hold every digit


def test_damaged_sample_is_an_error(monkeypatch):
    wrong = dict(mnist.SAMPLE_SHA256)
    wrong["mnist-sample-train-labels-idx1-ubyte.gz"] = "0" * 64
    monkeypatch.setattr(mnist, "SAMPLE_SHA256", wrong)
    with pytest.raises(ValueError, match=r"sample file .*train-labels.* is damaged.*reinstall"):
        load_mnist()


def test_keras_mnist_sample_warns_too():
    with pytest.warns(SampleDataWarning, match=r"keras.datasets.mnist.load_data: serving"):
        (x, y), (xt, yt) = keras_mnist.load_data()
    assert x.shape == (5000, 28, 28) and x.dtype == np.uint8 and yt.shape == (10000,)


# -- real data ------------------------------------------------------------------


def test_real_mnist_subset(shared_data):
    d = shared_data / "mnist"
    files = {
        "train_images": d / "train-5k-images-idx3-ubyte.gz",
        "train_labels": d / "train-5k-labels-idx1-ubyte.gz",
        "test_images": d / "t10k-images-idx3-ubyte.gz",
        "test_labels": d / "t10k-labels-idx1-ubyte.gz",
    }
    (x, t), (xt, tt) = load_mnist(flatten=False, one_hot_label=True, path=files)
    assert x.shape == (5000, 1, 28, 28) and xt.shape == (10000, 1, 28, 28)
    assert x.dtype == np.float32 and x.min() == 0.0 and x.max() == 1.0
    assert t.shape == (5000, 10) and tt.shape == (10000, 10)
    assert np.bincount(tt.argmax(axis=1)).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


@pytest.mark.skipif(not DEBIAN_FASHION.is_dir(), reason="apt-get install dataset-fashion-mnist")
def test_full_fashion_mnist_from_the_debian_package(monkeypatch):
    monkeypatch.setattr(
        fashion_mnist, "SPEC",
        dataclasses.replace(fashion_mnist.SPEC, system_dirs=(str(DEBIAN_FASHION),)),
    )
    result = keras_fashion_mnist.load_data()
    (x, y), (xt, yt) = result
    assert (result.origin, result.source, result.is_sample) == ("system", str(DEBIAN_FASHION), False)
    assert x.shape == (60000, 28, 28) and xt.shape == (10000, 28, 28) and x.dtype == np.uint8
    assert y.shape == (60000,) and yt.shape == (10000,)
    # Fashion-MNIST is balanced: 6,000 training and 1,000 test images per class
    assert np.bincount(y).tolist() == [6000] * 10
    assert np.bincount(yt).tolist() == [1000] * 10


def test_an_unreachable_mirror_is_not_retried_on_every_call(monkeypatch, isolated):
    # the mirrors of the isolated fixture refuse connections; the first call tries each once
    import requests

    calls = []

    def refuse(url, *args, **kwargs):
        calls.append(url)
        raise requests.ConnectionError(f"cannot reach {url}")

    import pooch
    monkeypatch.setattr(pooch, "retrieve", refuse)
    monkeypatch.delenv("FASTNN_OFFLINE", raising=False)
    with pytest.warns(SampleDataWarning):
        assert load_mnist().is_sample
    first = len(calls)
    assert first == len(mnist.SPEC.mirrors)    # each mirror once, not once per file
    assert load_mnist().is_sample and len(calls) == first    # the next call does not retry them
    report = lookup_report("mnist")
    assert "unreachable before" in report and "cannot reach" in report
