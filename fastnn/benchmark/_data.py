"""The images the network rows run on: real MNIST when it is at hand, else random.

Timings hardly depend on the pixel values (only ReLU and max-pool branch on
them), but real digits make the rows what a user runs. The real images are
read from an IDX file (``t10k-images-idx3-ubyte.gz``) found in ``data_dir``;
without one, uniform random images and labels of the same shapes are used,
and the report says which.
"""
from pathlib import Path

import numpy as np

from ..datasets import read_idx

IMAGES = "t10k-images-idx3-ubyte.gz"
LABELS = "t10k-labels-idx1-ubyte.gz"


def default_data_dir():
    """``shared/data/mnist`` beside the source checkout, if this is one; else None."""
    candidate = Path(__file__).resolve().parents[3] / "shared" / "data" / "mnist"
    return candidate if (candidate / IMAGES).is_file() else None


def load_images(n, data_dir=None):
    """(x (n, 1, 28, 28) float64 in [0, 1], t (n,) int64, description of the source).

    Takes the first ``n`` MNIST test images from ``data_dir`` (repeated if
    ``n`` exceeds the file), or random ones when ``data_dir`` is None.
    """
    if n < 1:
        raise ValueError(f"benchmark: the number of images must be >= 1, got {n}")
    if data_dir is not None:
        data_dir = Path(data_dir)
        images, labels = data_dir / IMAGES, data_dir / LABELS
        if not images.is_file() or not labels.is_file():
            raise ValueError(f"benchmark: expected {IMAGES} and {LABELS} in {data_dir}")
        x = read_idx(images)
        t = read_idx(labels)
        reps = -(-n // x.shape[0])          # ceil: repeat a small file to n images
        x = np.concatenate([x] * reps)[:n]
        t = np.concatenate([t] * reps)[:n]
        source = f"MNIST test images from {data_dir}"
    else:
        rng = np.random.default_rng(2024)
        x = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        t = rng.integers(0, 10, size=n)
        source = "random images (no MNIST files given)"
    x = (x.astype(np.float64) / 255.0).reshape(n, 1, 28, 28)
    return x, t.astype(np.int64), source
