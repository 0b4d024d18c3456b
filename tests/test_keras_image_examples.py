"""The image-data tutorials in examples/ run with --quick in a fresh process."""
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_example(name, *extra, cwd):
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""), MPLBACKEND="Agg")
    proc = subprocess.run([sys.executable, str(ROOT / "examples" / name), "--quick", *extra], capture_output=True,
                          text=True, env=env, timeout=600, cwd=cwd)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


def test_cats_vs_dogs_builds_a_folder_trains_saves_and_predicts(tmp_path):
    out = run_example("keras_cats_vs_dogs.py", "--out", str(tmp_path / "w"), cwd=tmp_path)
    assert re.search(r"Built .*: 2 classes x 24 training \+ 4 test images from (Fashion-MNIST|the bundled MNIST)", out)
    assert "Found 48 images belonging to 2 classes." in out
    assert re.search(r"\{'(ankle_boot|eight)': 0, '(sneaker|three)': 1\}", out)
    assert "2/2 ━━━━━━━━━━━━━━━━━━━━" in out
    assert re.search(r"\{'loss': \[\d\.\d+\], 'accuracy': \[0\.\d+\]\}", out)   # tf.keras' order: loss first
    assert (tmp_path / "w" / "cat_vs_dog_weight.h5").stat().st_size > 100_000_000      # 30.2 M float32 weights
    assert len(re.findall(r"predict\('.*\.(png|jpg)'\) -> \w+ \(0\.\d\d\); true: \w+", out)) == 6
    assert re.search(r"held-out accuracy: \d+/8", out)


def test_cats_vs_dogs_with_a_given_folder(tmp_path):
    from PIL import Image
    import numpy as np
    rng = np.random.default_rng(0)
    for cls, base in (("cat", 60), ("dog", 200)):
        (tmp_path / "photos" / "train" / cls).mkdir(parents=True)
        for i in range(8):
            arr = np.clip(rng.normal(base, 30, (50 + i, 70, 3)), 0, 255).astype(np.uint8)
            Image.fromarray(arr).save(tmp_path / "photos" / "train" / cls / f"{i}.jpg")
    out = run_example("keras_cats_vs_dogs.py", "--data", str(tmp_path / "photos"), "--out", str(tmp_path),
                      cwd=tmp_path)
    assert "{'cat': 0, 'dog': 1}" in out and "Built" not in out


def test_codelab_runs_every_stage_and_draws_the_digits(tmp_path):
    out = run_example("keras_codelab_mnist.py", "--out", str(tmp_path), cwd=tmp_path)
    stages = ["1 dense layer", "5 dense layers", "dense + dropout + lr decay", "convnet",
              "convnet + batchnorm + dropout", "convnet + batchnorm + dropout, augmented"]
    for name in stages:
        acc = float(re.search(re.escape(name) + r": test accuracy ([0-9.]+)", out).group(1))
        assert 0.0 < acc <= 1.0
    assert "Epoch 1: LearningRateScheduler setting learning rate to" in out
    assert float(re.search(r"5 dense layers: test accuracy ([0-9.]+)", out).group(1)) > 0.3   # chance is 0.1
    assert (tmp_path / "codelab_digits.png").stat().st_size > 10_000
