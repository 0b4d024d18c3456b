"""The fastnn command: info, train (files written, accuracy reproducible), evaluate, bench, errors."""
import csv
import io
import json
import signal
import subprocess
import sys
import types
import warnings
from pathlib import Path

import numpy as np
import pytest

import fastnn
from child import NEUTRAL_CWD, child_env
from fastnn import cli, runner
from fastnn.datasets import SampleDataWarning, load_mnist

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    """No download attempts: the bundled MNIST sample serves when the full set is absent."""
    monkeypatch.setenv("FASTNN_OFFLINE", "1")
    previous = fastnn.get_backend()
    yield
    fastnn.set_backend(previous)


def run_cli(args):
    """``python -m fastnn ARGS`` in a subprocess: (exit status, stdout, stderr)."""
    env = child_env(FASTNN_OFFLINE="1", MPLBACKEND="Agg")
    proc = subprocess.run([sys.executable, "-m", "fastnn", *args], capture_output=True, text=True,
                          env=env, cwd=NEUTRAL_CWD, timeout=300)
    return proc.returncode, proc.stdout, proc.stderr


def _number_after(text, label):
    """The float printed right after ``label`` in ``text``."""
    return float(text.split(label, 1)[1].split()[0])


# --------------------------------------------------------------------------
# info
# --------------------------------------------------------------------------
def test_info_reports_backend_kernels_blas_threads(capsys):
    assert cli.main(["info"]) == 0
    out = capsys.readouterr().out
    info = fastnn.backend_info()
    assert out.startswith(f"fastnn {fastnn.__version__}")
    assert f"backend:  {info['backend']}" in out
    assert f"compiled kernels ({len(info['compiled'])})" in out
    assert f"threads:  {info['threads']}" in out
    assert "BLAS:" in out


def test_info_json_is_backend_info(capsys):
    assert cli.main(["info", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["version"] == fastnn.__version__
    assert data["compiled"] == fastnn.backend_info()["compiled"]


def test_python_m_fastnn_runs_the_command():
    status, out, err = run_cli(["info"])
    assert status == 0, err
    assert out.startswith(f"fastnn {fastnn.__version__}")


# --------------------------------------------------------------------------
# train + evaluate
# --------------------------------------------------------------------------
def _read_history(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


@pytest.mark.parametrize("net, epochs", [("two_layer", 2), ("simple_convnet", 1), ("keras_mlp", 1)])
def test_train_quick_writes_files_that_evaluate_to_the_reported_accuracy(tmp_path, capsys, net, epochs):
    pytest.importorskip("matplotlib")
    import matplotlib.image as mpimg

    out_dir = tmp_path / "run"
    status = cli.main(["train", "--net", net, "--quick", "--epochs", str(epochs), "--output", str(out_dir),
                       "--optimizer", "adam", "--lr", "0.002"])
    assert status == 0
    out = capsys.readouterr().out
    assert "the sample bundled with fastnn" in out or "MNIST from /" in out
    assert out.count("epoch ") >= epochs and "img/s" in out
    reported = _number_after(out, "test accuracy")

    params = out_dir / f"{net}.npz"
    meta = json.loads((out_dir / f"{net}.json").read_text())
    assert meta["net"] == net and meta["epochs_done"] == epochs and meta["dtype"] == "float32"
    assert meta["test_accuracy"] == pytest.approx(reported, abs=5e-5)
    assert reported > 0.3  # well above chance (0.1) after 10 or 20 steps

    rows = _read_history(out_dir / f"{net}_history.csv")
    assert [r["epoch"] for r in rows] == [str(e) for e in range(1, epochs + 1)]
    assert list(rows[0]) == list(runner.HISTORY_FIELDS)
    if epochs == 2:
        assert float(rows[1]["loss"]) < float(rows[0]["loss"])
        # The default cosine schedule: full rate in epoch 1, half of it in epoch 2 of 2.
        assert [float(r["lr"]) for r in rows] == pytest.approx([0.002, 0.001])

    img = mpimg.imread(str(out_dir / f"{net}_curves.png"))
    assert img.shape[0] > 200 and img.shape[1] > 400 and img[..., :3].var() > 1e-4

    # The saved parameters give the same accuracy on the same 1,000 test images.
    assert cli.main(["evaluate", str(params), "--limit", "1000"]) == 0
    out = capsys.readouterr().out
    assert _number_after(out, "accuracy") == pytest.approx(reported, abs=5e-5)
    assert "confusion matrix" in out


def test_evaluate_infers_the_network_without_the_json(tmp_path, capsys):
    rng = np.random.default_rng(3)
    model = runner.build("simple_convnet", dtype=np.float64, seed=1)
    model.net.params["W1"][...] = rng.standard_normal(model.net.params["W1"].shape) * 0.1
    path = model.save(str(tmp_path / "mine.npz"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SampleDataWarning)
        _, (x_test, t_test) = load_mnist(flatten=False)
    expected = model.accuracy(x_test[:300], t_test[:300])
    assert cli.main(["evaluate", path, "--limit", "300"]) == 0
    out = capsys.readouterr().out
    assert "as SimpleConvNet (float64" in out
    assert _number_after(out, "accuracy") == pytest.approx(expected, abs=5e-5)


@pytest.mark.parametrize("net", ["two_layer", "multi_layer", "simple_convnet", "deep_convnet",
                                 "sample_network"])
def test_infer_net_from_parameter_names_and_shapes(net):
    model = runner.build(net, dtype=np.float32, seed=0,
                         input_shape=(784,) if runner.wants_flat_input(net) else (1, 28, 28))
    params = model.net.params
    assert runner.infer_net(params) == net
    # The rebuilt model has the same parameters.
    rebuilt = runner.from_params(net, params, dtype=np.float32)
    for key, value in params.items():
        np.testing.assert_array_equal(rebuilt.net.params[key], value)


def test_keyboard_interrupt_saves_what_was_trained(tmp_path, capsys, monkeypatch):
    real_epoch = runner.Run.train_epoch

    def epoch_then_interrupt(self, on_step=None):
        if self.history:
            raise KeyboardInterrupt
        return real_epoch(self, on_step)

    monkeypatch.setattr(runner.Run, "train_epoch", epoch_then_interrupt)
    out_dir = tmp_path / "run"
    status = cli.main(["train", "--net", "two_layer", "--quick", "--epochs", "5", "--output", str(out_dir),
                       "--no-plot"])
    assert status == 130
    assert "interrupted after 10 step(s)" in capsys.readouterr().out
    meta = json.loads((out_dir / "two_layer.json").read_text())
    assert meta["epochs_done"] == 1 and meta["test_accuracy"] is None
    assert len(_read_history(out_dir / "two_layer_history.csv")) == 1
    saved = np.load(out_dir / "two_layer.npz")
    assert sorted(saved.files) == ["W1", "W2", "b1", "b2"]


@pytest.mark.parametrize("name, expected", [
    ("ch03_sample_weight.pkl", "0.9352"),
    ("simple_convnet_params.pkl", "0.9600"),
    ("deep_convnet_params.pkl", "0.9797"),
])
def test_evaluate_book_params_gives_the_books_accuracy(shared_data, capsys, name, expected):
    status = cli.main(["evaluate", str(shared_data / "book" / name), "--backend", "cython"])
    out = capsys.readouterr().out
    assert status == 0
    assert f"accuracy {expected} " in out
    # The confusion matrix has 10 rows whose counts add up to the 10,000 test images.
    rows = [line.split() for line in out.splitlines() if line[:5].strip().isdigit()]
    assert len(rows) == 10
    assert sum(int(v) for row in rows for v in row[1:11]) == 10000


def test_confusion_matrix_text():
    cm = np.array([[5, 1], [0, 4]])
    text = cli.format_confusion_matrix(cm)
    lines = text.splitlines()
    assert lines[2].split() == ["0", "5", "1", "0.8333"]
    assert lines[3].split() == ["1", "0", "4", "1.0000"]


# --------------------------------------------------------------------------
# The progress bar: '\r' on a terminal, one line per epoch otherwise
# --------------------------------------------------------------------------
class _TTY(io.StringIO):
    def isatty(self):
        return True


@pytest.mark.parametrize("stream_cls, redraws", [(_TTY, True), (io.StringIO, False)])
def test_progress_bar(stream_cls, redraws):
    stream = stream_cls()
    bar = cli.ProgressBar(stream)
    bar.start("epoch 1/2", 3)
    for step in (1, 2, 3):
        bar.update(step, 0.5, 1000.0)
    bar.finish({"loss": 0.25, "train_acc": 0.9, "test_acc": 0.85, "images_per_s": 1234.0, "seconds": 1.5})
    text = stream.getvalue()
    assert ("\r" in text) is redraws
    assert text.endswith("\n")
    final = text.split("\r")[-1]
    assert "3/3 loss 0.2500 | train acc 0.9000 | test acc 0.8500 | 1,234 img/s | 1.5 s" in final
    if not redraws:
        assert text.count("\n") == 1


# --------------------------------------------------------------------------
# bench forwards to fastnn.benchmark.main
# --------------------------------------------------------------------------
def test_bench_forwards_arguments(monkeypatch):
    seen = []
    fake = types.ModuleType("fastnn.benchmark")
    fake.main = lambda argv: seen.append(argv) or 0
    monkeypatch.setitem(sys.modules, "fastnn.benchmark", fake)
    monkeypatch.setattr(fastnn, "benchmark", fake, raising=False)
    assert cli.main(["bench", "--quick", "--repeat", "3"]) == 0
    assert seen == [["--quick", "--repeat", "3"]]


# --------------------------------------------------------------------------
# Errors: one line on stderr, exit status 2, no traceback
# --------------------------------------------------------------------------
@pytest.mark.parametrize("args, message", [
    (["evaluate", "/no/such/file.npz"], "no such parameter file: /no/such/file.npz"),
    (["train", "--net", "resnet50"], "invalid choice: 'resnet50'"),
    (["train", "--lr", "-0.1"], "argument --lr: expected a positive number, got '-0.1'"),
    (["train", "--epochs", "zero"], "argument --epochs: expected a whole number >= 1, got 'zero'"),
    (["train", "--batch-size", "0"], "argument --batch-size: expected a whole number >= 1, got '0'"),
    (["evaluate", "x.npz", "--net", "lenet"], "invalid choice: 'lenet'"),
])
def test_bad_input_is_one_line_and_exit_2(capsys, args, message):
    with pytest.raises(SystemExit) as exc_info:
        status = cli.main(args)
        raise SystemExit(status)
    assert exc_info.value.code == 2
    err = capsys.readouterr().err
    assert message in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_unreadable_params_file_is_reported(tmp_path, capsys):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip file")
    assert cli.main(["evaluate", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("fastnn evaluate: error:") and "bad.npz" in err
    assert err.count("\n") == 1


def test_params_of_an_unknown_network_are_reported(tmp_path, capsys):
    path = tmp_path / "odd.npz"
    np.savez(path, W1=np.zeros((3, 3, 3)), b1=np.zeros(3))
    assert cli.main(["evaluate", str(path)]) == 2
    assert "cannot tell the network" in capsys.readouterr().err


def test_errors_in_a_subprocess_have_no_traceback():
    status, out, err = run_cli(["evaluate", "/no/such/params.pkl"])
    assert status == 2
    assert err == "fastnn evaluate: error: no such parameter file: /no/such/params.pkl\n"


def test_ctrl_c_in_a_real_run_stops_between_steps_and_saves(tmp_path):
    env = child_env(FASTNN_OFFLINE="1", PYTHONUNBUFFERED="1")
    out_dir = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-m", "fastnn", "train", "--net", "two_layer", "--quick",
                             "--epochs", "1000", "--no-plot", "--output", str(out_dir)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=NEUTRAL_CWD)
    try:
        lines = []
        for line in proc.stdout:  # wait for the first finished epoch
            lines.append(line)
            if line.startswith("epoch 1/1000"):
                break
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert "saving what was trained" in out and "Traceback" not in err
    meta = json.loads((out_dir / "two_layer.json").read_text())
    assert meta["epochs_done"] >= 1 and meta["test_accuracy"] is None
    assert len(_read_history(out_dir / "two_layer_history.csv")) == meta["epochs_done"]
    assert sorted(np.load(out_dir / "two_layer.npz").files) == ["W1", "W2", "b1", "b2"]


# --------------------------------------------------------------------------
# A newcomer's first hour: version, runs kept, clean one-line failures
# --------------------------------------------------------------------------
def test_version_is_the_package_metadata(capsys):
    import importlib.metadata
    with pytest.raises(SystemExit) as caught:
        cli.main(["--version"])
    assert caught.value.code == 0
    assert capsys.readouterr().out == f"fastnn {fastnn.__version__}\n"
    from fastnn._version import __version__
    assert fastnn.__version__ == __version__
    assert 'version = {attr = "fastnn._version.__version__"}' in (ROOT / "pyproject.toml").read_text()
    try:
        installed = importlib.metadata.version("fastnn")
    except importlib.metadata.PackageNotFoundError:
        return
    assert installed == fastnn.__version__


def test_a_second_run_keeps_the_first_runs_files(tmp_path, capsys):
    out = tmp_path / "out"
    args = ["train", "--net", "two_layer", "--quick", "--no-plot", "--output", str(out)]
    assert cli.main(args) == 0
    first = (out / "two_layer.npz").read_bytes()
    assert cli.main(args + ["--seed", "1"]) == 2
    err = capsys.readouterr().err
    assert err == (f"fastnn train: error: {out / 'two_layer.npz'} is from an earlier run; it is kept. "
                   "Add --overwrite to replace that run's files, or choose a new folder with --output DIR\n")
    assert (out / "two_layer.npz").read_bytes() == first
    assert cli.main(args + ["--seed", "1", "--overwrite"]) == 0
    assert (out / "two_layer.npz").read_bytes() != first
    assert f"saved {out / 'two_layer.npz'}" in capsys.readouterr().out


def test_an_unwritable_output_is_found_before_training(tmp_path, capsys, monkeypatch):
    trained = []
    monkeypatch.setattr(runner.Run, "train_epoch", lambda self, **kw: trained.append(1))
    (tmp_path / "file").write_text("")
    assert cli.main(["train", "--quick", "--output", str(tmp_path / "file" / "out")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"fastnn train: error: --output {tmp_path / 'file' / 'out'}: cannot create")
    assert err.count("\n") == 1 and not trained


def test_missing_fashion_mnist_shows_where_it_looked_and_how_to_get_it(tmp_path, monkeypatch, capsys):
    import dataclasses

    from fastnn.datasets import fashion_mnist, sources
    monkeypatch.setattr(sources, "cache_root", lambda: tmp_path / "cache")
    monkeypatch.setattr(sources, "legacy_cache_root", lambda: tmp_path / "legacy")
    monkeypatch.setattr(fashion_mnist, "SPEC", dataclasses.replace(fashion_mnist.SPEC, system_dirs=(
        str(tmp_path / "usr-share"),)))
    monkeypatch.delenv("FASTNN_DATA", raising=False)
    monkeypatch.chdir(tmp_path)
    assert cli.main(["train", "--dataset", "fashion_mnist", "--quick"]) == 2
    assert not (tmp_path / "fastnn-output").exists()       # a failed run leaves no empty folder
    err = capsys.readouterr().err
    assert err.startswith("fastnn train: error: Fashion-MNIST not found (add --download to fetch it). "
                          "Looked at:\n  - cache: ")
    assert f"system: {tmp_path / 'usr-share'} (no such directory)" in err
    assert "download: skipped because FASTNN_OFFLINE is set" in err     # the test's own setting
    monkeypatch.delenv("FASTNN_OFFLINE")
    assert cli.main(["train", "--dataset", "fashion_mnist", "--quick"]) == 2
    assert "download: not tried (fastnn downloads only with --download)" in capsys.readouterr().err
    assert "How to provide Fashion-MNIST" in err
    assert "On Debian/Ubuntu: apt-get install dataset-fashion-mnist" in err


def _two_layer_params(tmp_path):
    path = tmp_path / "two_layer.npz"
    rng = np.random.default_rng(0)
    np.savez(path, W1=rng.standard_normal((784, 20)), b1=np.zeros(20), W2=rng.standard_normal((20, 10)),
             b2=np.zeros(10))
    return path


def _one_line_error(capsys, command="evaluate"):
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert err.startswith(f"fastnn {command}: error: "), err
    return err


def test_parameters_of_another_network_are_one_line(tmp_path, capsys):
    path = _two_layer_params(tmp_path)
    assert cli.main(["evaluate", str(path), "--net", "simple_convnet"]) == 2
    err = _one_line_error(capsys)
    assert err == (f"fastnn evaluate: error: {path}: weights shaped [(784, 20), (20, 10)] are not "
                   "SimpleConvNet's (3 weights of ranks [4, 2, 2]); name the right network with --net\n")


def test_simple_convnet_with_zero_filters_is_one_line(tmp_path, capsys):
    path = tmp_path / "zero.npz"
    np.savez(path, W1=np.zeros((0, 1, 5, 5)), b1=np.zeros(0), W2=np.zeros((0, 100)), b2=np.zeros(100),
             W3=np.zeros((100, 10)), b3=np.zeros(10))
    assert cli.main(["evaluate", str(path)]) == 2
    assert str(path) in _one_line_error(capsys)


def test_a_sidecar_that_is_a_list_is_one_line(tmp_path, capsys):
    path = _two_layer_params(tmp_path)
    (tmp_path / "two_layer.json").write_text("[1, 2]")
    assert cli.main(["evaluate", str(path)]) == 2
    assert str(tmp_path / "two_layer") in _one_line_error(capsys)


def test_memory_error_is_one_line(tmp_path, capsys, monkeypatch):
    import fastnn.io

    def exhausted(path, *args, **kwargs):
        raise MemoryError()
    monkeypatch.setattr(fastnn.io, "load_params", exhausted)
    path = _two_layer_params(tmp_path)
    assert cli.main(["evaluate", str(path)]) == 2
    assert _one_line_error(capsys) == f"fastnn evaluate: error: {path}: not enough memory (MemoryError)\n"


CTRL_C_IN_FINAL_PASS = """
import os, signal, sys, time
from fastnn import cli, runner

def final_pass(self, x, t):      # the final test pass: Ctrl-C arrives while it runs
    os.kill(os.getpid(), signal.SIGINT)
    time.sleep(30)
    return 1.0

runner.Run.accuracy = final_pass
sys.exit(cli.main(["train", "--net", "two_layer", "--quick", "--no-plot", "--output", sys.argv[1]]))
"""


def test_ctrl_c_during_the_final_test_pass_stops_too(tmp_path):
    proc = subprocess.run([sys.executable, "-c", CTRL_C_IN_FINAL_PASS, str(tmp_path / "run")],
                          capture_output=True, text=True, env=child_env(FASTNN_OFFLINE="1"),
                          cwd=NEUTRAL_CWD, timeout=25)
    assert proc.returncode == 130, proc.stderr
    assert "saving what was trained" in proc.stdout and "Traceback" not in proc.stderr
    assert json.loads((tmp_path / "run" / "two_layer.json").read_text())["test_accuracy"] is None
