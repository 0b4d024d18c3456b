"""Class folders of real images (Fashion-MNIST, the bundled MNIST sample) for the image tests."""
import os
from pathlib import Path

import numpy as np
from PIL import Image

from fastnn.datasets.idx import read_idx

FASHION = Path("/usr/share/datasets/fashion-mnist")
MNIST_SAMPLE = Path(__file__).resolve().parents[1] / "fastnn" / "datasets" / "data"


def real_images(n_per_class, classes=(7, 9), split="t10k"):
    """(images uint8 (N, 28, 28), labels 0..K-1) of the given classes: Fashion-MNIST when
    installed (7 sneaker, 9 ankle boot, ...), else the bundled MNIST sample."""
    if (FASHION / f"{split}-images-idx3-ubyte.gz").exists():
        x = read_idx(FASHION / f"{split}-images-idx3-ubyte.gz")
        t = read_idx(FASHION / f"{split}-labels-idx1-ubyte.gz")
    else:
        x = read_idx(MNIST_SAMPLE / f"mnist-sample-{split}-images-idx3-ubyte.gz")
        t = read_idx(MNIST_SAMPLE / f"mnist-sample-{split}-labels-idx1-ubyte.gz")
    xs, ys = [], []
    for k, c in enumerate(classes):
        idx = np.flatnonzero(t == c)[:n_per_class]
        xs.append(x[idx])
        ys.append(np.full(len(idx), k))
    return np.concatenate(xs), np.concatenate(ys)


def write_folder(root, images, labels, class_names, fmt="png", mode="L", sizes=None):
    """root/<class>/<i>.<fmt>, the i-th image in ``mode`` ('L' or 'RGB'), resized to sizes[i] (w, h)
    when given. Returns the file paths in Keras' order (class by class, sorted names)."""
    root = Path(root)
    paths = []
    for i, (img, k) in enumerate(zip(images, labels)):
        d = root / class_names[int(k)]
        d.mkdir(parents=True, exist_ok=True)
        im = Image.fromarray(np.asarray(img, dtype=np.uint8))
        if mode != "L":
            im = im.convert(mode)
        if sizes is not None:
            im = im.resize(sizes[i], Image.Resampling.BILINEAR)
        p = d / f"{i:05d}.{fmt}"
        im.save(p)
        paths.append(p)
    return sorted(paths, key=lambda p: (class_names.index(p.parent.name), p.name))


def listing(root):
    return sorted(os.path.relpath(os.path.join(r, f), root) for r, _, fs in os.walk(root) for f in fs)
