"""fastnn.pretrained: the book's parameter files, pinned by SHA-256, fetched into the user cache."""
import functools
import hashlib
import http.server
import shutil
import threading

import pytest

from fastnn import cli, pretrained
from fastnn.pretrained import PRETRAINED, PretrainedNotAvailable

BOOK_FILES = {"sample_network": "ch03_sample_weight.pkl", "simple_convnet": "simple_convnet_params.pkl",
              "deep_convnet": "deep_convnet_params.pkl"}


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """A private, empty user cache."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("FASTNN_OFFLINE", "1")
    return tmp_path / "cache" / "fastnn" / "pretrained"


def test_pinned_hashes_are_those_of_the_books_files(shared_data):
    for name, filename in BOOK_FILES.items():
        digest = hashlib.sha256((shared_data / "book" / filename).read_bytes()).hexdigest()
        assert PRETRAINED[name].sha256 == digest, name


def test_offline_without_the_file_says_which_url_and_where_to_put_it(cache):
    with pytest.raises(PretrainedNotAvailable) as caught:
        pretrained.fetch("deep_convnet")
    message = str(caught.value)
    url = ("https://raw.githubusercontent.com/oreilly-japan/deep-learning-from-scratch/master/"
           "ch08/deep_convnet_params.pkl")
    assert f"Download {url} and save it as {cache / 'deep_convnet_params.pkl'}" in message
    assert pretrained.cached_path("deep_convnet") == cache / "deep_convnet_params.pkl"


def test_the_real_file_placed_in_the_cache_is_used(cache, shared_data):
    cache.mkdir(parents=True)
    shutil.copyfile(shared_data / "book" / "deep_convnet_params.pkl", cache / "deep_convnet_params.pkl")
    assert pretrained.fetch("deep_convnet") == cache / "deep_convnet_params.pkl"


def test_a_file_with_the_wrong_hash_is_refused(cache, shared_data):
    cache.mkdir(parents=True)
    # the book's SimpleConvNet file under DeepConvNet's name: a real pickle, but not the pinned one
    shutil.copyfile(shared_data / "book" / "simple_convnet_params.pkl", cache / "deep_convnet_params.pkl")
    with pytest.raises(ValueError, match=r"deep_convnet_params.pkl is not the book's DeepConvNet .*"
                                         r"SHA-256 a5da99cf.*expected 4b7a27ba.*it was not used"):
        pretrained.fetch("deep_convnet")


def test_unknown_name_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown network 'lenet'; choose one of deep_convnet, "
                                         "sample_network, simple_convnet"):
        pretrained.fetch("lenet")


@pytest.fixture
def book_server(tmp_path, shared_data):
    """The book's repository layout served on 127.0.0.1, with a corrupt ch07/params.pkl."""
    root = tmp_path / "repo"
    for name, filename in BOOK_FILES.items():
        target = root / PRETRAINED[name].repo_path
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shared_data / "book" / filename, target)
    (root / "ch07" / "params.pkl").write_bytes(b"not the book's file")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()


def test_download_checks_the_hash_and_caches(cache, book_server, monkeypatch):
    monkeypatch.setattr(pretrained, "_RAW", book_server)
    monkeypatch.delenv("FASTNN_OFFLINE")
    path = pretrained.fetch("sample_network")
    assert path == cache / "sample_weight.pkl" and path.stat().st_size == 181853
    with pytest.raises(PretrainedNotAvailable, match=r"download failed: .*hash"):
        pretrained.fetch("simple_convnet")
    assert sorted(p.name for p in cache.iterdir()) == ["sample_weight.pkl"]   # nothing half-written


def test_cli_evaluates_the_books_parameters(cache, shared_data, capsys):
    cache.mkdir(parents=True)
    shutil.copyfile(shared_data / "book" / "ch03_sample_weight.pkl", cache / "sample_weight.pkl")
    assert cli.main(["evaluate", "--pretrained", "sample_network"]) == 0
    out = capsys.readouterr().out
    assert "accuracy 0.9352 (9,352/10,000)" in out and "SampleNetwork (chapter 3)" in out


def test_cli_offline_message_is_one_line_with_exit_2(cache, capsys):
    assert cli.main(["evaluate", "--pretrained", "deep_convnet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("fastnn evaluate: error: the book's DeepConvNet (chapter 8) parameters are not in "
                          "the cache and were not downloaded (FASTNN_OFFLINE is set). Download https://")
    assert str(cache / "deep_convnet_params.pkl") in err
    assert cli.main(["evaluate"]) == 2
    assert "give a parameter file (PARAMS) or --pretrained NAME" in capsys.readouterr().err
