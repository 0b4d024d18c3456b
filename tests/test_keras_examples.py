"""Each Keras tutorial program in examples/ runs with --quick in a fresh process
and prints results that make sense."""
import re
import subprocess
import sys
from pathlib import Path

import pytest

from child import NEUTRAL_CWD, child_env

ROOT = Path(__file__).resolve().parents[1]


def run_example(name):
    env = child_env(MPLBACKEND="Agg")
    proc = subprocess.run([sys.executable, str(ROOT / "examples" / name), "--quick"], capture_output=True,
                          text=True, env=env, timeout=300, cwd=NEUTRAL_CWD)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


def _float_after(label, text):
    m = re.search(re.escape(label) + r"\s*([0-9.eE+-]+)", text)
    assert m, f"{label!r} not in output:\n{text[-2000:]}"
    return float(m.group(1))


def test_mnist_mlp():
    out = run_example("keras_mnist_mlp.py")
    assert "Total params: 407,050" in out
    assert _float_after("test_acc:", out) > 0.6           # 1,000 images, 1 epoch; chance is 0.1


@pytest.mark.skipif(not Path("/usr/share/datasets/fashion-mnist").is_dir(),
                    reason="Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)")
def test_fashion_mnist_mlp():
    out = run_example("keras_fashion_mnist_mlp.py")
    assert "['accuracy', 'loss', 'val_accuracy', 'val_loss']" in out
    assert re.search(r"Epoch 1/1\n.*val_accuracy: 0\.[5-9]", out)
    assert re.search(r"\[\d \d \d\] \[", out)               # argmax predictions with class names


def test_regression_mlp():
    out = run_example("keras_regression_mlp.py")
    mse = _float_after("test MSE:", out)
    variance = _float_after("(target variance:", out)
    assert mse < variance                                  # better than predicting the mean


def test_wide_and_deep():
    out = run_example("keras_wide_and_deep.py")
    assert "wide_input (InputLayer)" in out and "concatenate (Concatenate)" in out
    assert "same predictions by input name: True" in out
    assert _float_after("test MSE:", out) < 10


def test_two_class_tabular():
    out = run_example("keras_two_class_tabular.py")
    assert "Dense1 (Dense)" in out and "hidden (Activation)" in out
    assert "predicted classes: [1 0]" in out


def test_cnn():
    out = run_example("keras_cnn.py")
    assert "batch_normalization (BatchNormalization)" in out
    assert _float_after("test_acc:", out) > 0.2            # 500 images, 1 epoch; chance is 0.1
