"""Diverged training (issue #12, item 4): `fastnn train` stops at a NaN loss, says so, exits
non-zero and never replaces a good parameter file; the book Trainer warns and stops."""
import hashlib
import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

import fastnn
from fastnn import cli, runner
from fastnn.nets import TwoLayerNet
from fastnn.trainer import DivergenceWarning, Trainer

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _restore_backend(monkeypatch):
    monkeypatch.setenv("FASTNN_OFFLINE", "1")
    previous = fastnn.get_backend()
    yield
    fastnn.set_backend(previous)


def _digests(directory):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(Path(directory).iterdir())}


@pytest.mark.parametrize("backend_name", ["numpy", "cython"])
def test_a_nan_run_of_the_cli_leaves_a_good_file_untouched_and_exits_non_zero(tmp_path, backend_name):
    env = dict(os.environ, PYTHONPATH=str(ROOT), FASTNN_OFFLINE="1", FASTNN_BACKEND=backend_name)
    out_dir = tmp_path / "run"
    common = [sys.executable, "-m", "fastnn", "train", "--quick", "--net", "multi_layer", "--optimizer",
              "momentum", "--no-plot", "--output", str(out_dir)]
    good = subprocess.run(common, capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)
    assert good.returncode == 0, good.stderr
    before = _digests(out_dir)
    params = np.load(out_dir / "multi_layer.npz")
    assert all(np.isfinite(params[k]).all() for k in params.files)

    bad = subprocess.run(common + ["--lr", "1000", "--overwrite"], capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)
    assert bad.returncode != 0
    assert "Traceback" not in bad.stderr and "RuntimeWarning" not in bad.stderr
    assert bad.stderr.startswith("fastnn train: error: training diverged: the loss is nan at step ")
    assert "nothing was saved" in bad.stderr and "multi_layer.npz is left as it was" in bad.stderr
    assert bad.stderr.count("\n") == 1
    assert _digests(out_dir) == before                     # the .npz, .json and history untouched


def test_ctrl_c_after_the_parameters_went_bad_saves_nothing(tmp_path, capsys, monkeypatch):
    """The Ctrl-C checkpoint is not written when the parameters are no longer finite."""
    real_epoch = runner.Run.train_epoch

    def epoch_then_poison_then_interrupt(self, on_step=None):
        if self.history:
            self.model.net.params["W1"][0, 0] = np.nan     # the update that diverged, then Ctrl-C
            raise KeyboardInterrupt
        return real_epoch(self, on_step)

    out_dir = tmp_path / "run"
    args = ["train", "--net", "two_layer", "--quick", "--epochs", "3", "--output", str(out_dir), "--no-plot",
            "--train-samples", "200"]
    assert cli.main(args) == 0
    before = _digests(out_dir)
    monkeypatch.setattr(runner.Run, "train_epoch", epoch_then_poison_then_interrupt)
    status = cli.main(args + ["--overwrite"])
    err = capsys.readouterr().err
    assert status != 0
    assert "the parameters hold NaN or infinite values after" in err and "nothing was saved" in err
    assert _digests(out_dir) == before


def test_run_raises_training_diverged_at_the_first_bad_step(backend):
    rng = np.random.default_rng(0)
    x, t = rng.standard_normal((200, 784)).astype(np.float32), rng.integers(0, 10, 200)
    model = runner.build("multi_layer", dtype=np.float32, input_shape=(784,))
    run = runner.Run(model, x, t, x[:50], t[:50], optimizer="momentum", lr=1e4, batch_size=20)
    with np.errstate(all="ignore"), pytest.raises(runner.TrainingDiverged, match=r"the loss is (nan|inf) at step \d+ "
                                                                                  r"\(the learning rate 10000 is"):
        for _ in range(3):
            run.train_epoch()
    assert not np.isfinite(run.losses[-1]) and np.isfinite(run.losses[:-1]).all()
    assert not model.params_finite()


def test_keras_models_stop_too(backend):
    rng = np.random.default_rng(0)
    x, t = rng.standard_normal((120, 784)).astype(np.float32), rng.integers(0, 10, 120)
    model = runner.build("keras_mlp", dtype=np.float32, input_shape=(784,))
    run = runner.Run(model, x, t, x[:20], t[:20], optimizer="sgd", lr=1e6, batch_size=20)
    with np.errstate(all="ignore"), pytest.raises(runner.TrainingDiverged, match="training diverged"):
        for _ in range(5):
            run.train_epoch()


def test_book_trainer_warns_and_stops(backend):
    rng = np.random.default_rng(1)
    x, t = rng.standard_normal((100, 8)), rng.integers(0, 3, 100)
    net = TwoLayerNet(8, 10, 3, weight_init_std=1.0, rng=rng)
    trainer = Trainer(net, x, t, x[:20], t[:20], epochs=50, mini_batch_size=10, optimizer="SGD",
                      optimizer_param={"lr": 1e30}, verbose=False, seed=0)
    with np.errstate(all="ignore"), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = trainer.train()
    diverged = [w for w in caught if issubclass(w.category, DivergenceWarning)]
    assert len(diverged) == 1
    assert "training stopped" in str(diverged[0].message) and "(1e+30) is probably too large" in str(diverged[0].message)
    assert result is None
    assert trainer.diverged_at is not None and trainer.diverged_at < trainer.max_iter - 1
    assert len(trainer.train_loss_list) == trainer.diverged_at + 1 == trainer.current_iter
    assert not np.isfinite(trainer.train_loss_list[-1])


def test_book_trainer_without_divergence_is_unchanged(backend):
    rng = np.random.default_rng(1)
    x, t = rng.standard_normal((60, 8)), rng.integers(0, 3, 60)
    trainer = Trainer(TwoLayerNet(8, 10, 3, rng=rng), x, t, x, t, epochs=2, mini_batch_size=20,
                      verbose=False, seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", DivergenceWarning)
        assert trainer.train() is not None
    assert trainer.diverged_at is None and len(trainer.train_loss_list) == trainer.max_iter
