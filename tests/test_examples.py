"""Every examples/ch*.py runs in quick mode and prints what its chapter is about."""
import subprocess
import sys
from pathlib import Path

import pytest

from child import child_env

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "examples").glob("ch*.py"))

#: A line each example must print (its chapter's result), and the pictures it must write.
EXPECTED = {
    "ch02_perceptron.py": (["XOR(x1, x2) = AND(NAND(x1, x2), OR(x1, x2))", "XOR stays at"],
                           ["ch02_perceptron.png"]),
    "ch03_forward_pass.py": (["Accuracy: 0.9352 on all 10,000 test images"], ["ch03_activations.png"]),
    "ch04_numerical_gradient.py": (["610 parameters", "10 steps in"], ["ch04_loss.png"]),
    "ch05_backprop.py": (["price 715", "d price / d apple 2.2, / d apple_num 110", "/ d tax 650"],
                         ["ch05_learning_curves.png"]),
    "ch06_training_techniques.py": (["1. Optimizers", "2. Weight initialisation", "3. Batch Normalization",
                                     "4. Overfitting"],
                                    ["ch06_optimizers.png", "ch06_activations_Xavier.png",
                                     "ch06_batchnorm.png", "ch06_overfitting.png"]),
    "ch07_convnet.py": (["test accuracy"], ["ch07_filters_after.png", "ch07_learning_curves.png"]),
    "ch08_deep_convnet.py": (["loaded the book's trained parameters", "test accuracy"],
                             ["ch08_misclassified.png"]),
}


def test_every_chapter_has_an_example():
    chapters = {p.name[:4] for p in EXAMPLES}
    assert chapters == {f"ch0{i}" for i in range(2, 9)}
    assert {p.name for p in EXAMPLES} == set(EXPECTED)


@pytest.mark.parametrize("script", EXAMPLES, ids=lambda p: p.name)
def test_example_runs_in_quick_mode(script, tmp_path, shared_data, book_files_in_cache):
    pytest.importorskip("matplotlib")
    env = child_env(FASTNN_OFFLINE="1", MPLBACKEND="Agg")
    proc = subprocess.run([sys.executable, str(script), "--quick", "--output", str(tmp_path)],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines, pictures = EXPECTED[script.name]
    for line in lines:
        assert line in proc.stdout, f"{script.name} did not print {line!r}:\n{proc.stdout}"
    for name in pictures:
        assert (tmp_path / name).stat().st_size > 1000, f"{script.name} did not write {name}"
    assert "Traceback" not in proc.stderr


def test_ch03_says_clearly_when_the_weights_are_absent(tmp_path):
    env = child_env(FASTNN_OFFLINE="1", MPLBACKEND="Agg")
    missing = tmp_path / "sample_weight.pkl"
    proc = subprocess.run([sys.executable, str(ROOT / "examples" / "ch03_forward_pass.py"),
                           "--weights", str(missing), "--output", str(tmp_path)],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    assert proc.returncode == 2
    assert f"The book's sample weights were not found at {missing}" in proc.stderr
    assert "Traceback" not in proc.stderr
