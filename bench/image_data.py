"""Image-data rows: one epoch from a folder of JPEGs vs the same images in arrays,
and the cats-vs-dogs network's train step, fastnn vs Keras (same run, same machine).

    python bench/image_data.py                 # 2,000 JPEGs 64x64 RGB, batch 100; writes bench/IMAGE_DATA.md
    python bench/image_data.py --quick         # 400 images, no Keras row
    python bench/image_data.py --no-keras --output /tmp/x.md

Rows (each the median of ``--repeats`` epochs after one warm-up epoch):

* arrays: ``fit(x, y, batch_size=100)`` on the decoded images held in memory, no augmentation;
* folder: ``ImageDataGenerator(<the tutorial's augmentation>).flow_from_directory(...)`` fed to
  ``fit`` with the default background worker (decode + resize + augment overlap the training step);
  the same with ``workers=2``; and with ``workers=0`` (everything in the training thread), to show
  what the overlap saves;
* data only: one pass over the folder iterator with no model (the loading/augmentation cost);
* Dataset: ``image_dataset_from_directory`` (``map`` in threads + ``prefetch``) with no augmentation.

The goal (issue 13): folder + augmentation + prefetch <= 1.2x the arrays epoch.
The network is a small CNN on 64x64x3 (conv32-pool-conv64-pool-dense128-dense2).
Times are wall-clock seconds; on a loaded machine they drift, so compare the
ratios of one run.
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from PIL import Image  # noqa: E402

from fastnn import keras  # noqa: E402
from fastnn.datasets.idx import read_idx  # noqa: E402
from fastnn.keras.preprocessing.image import ImageDataGenerator  # noqa: E402

AUGMENT = dict(rotation_range=20, width_shift_range=0.2, height_shift_range=0.2, shear_range=0.2,
               zoom_range=0.5, horizontal_flip=True)


def build_folder(root, n):
    fashion = "/usr/share/datasets/fashion-mnist"
    if os.path.exists(os.path.join(fashion, "train-images-idx3-ubyte.gz")):
        x = read_idx(os.path.join(fashion, "train-images-idx3-ubyte.gz"))
        t = read_idx(os.path.join(fashion, "train-labels-idx1-ubyte.gz"))
        pair, source = (7, 9), "Fashion-MNIST sneakers / ankle boots"
    else:
        here = os.path.join(os.path.dirname(keras.__file__), "..", "datasets", "data")
        x = read_idx(os.path.join(here, "mnist-sample-train-images-idx3-ubyte.gz"))
        t = read_idx(os.path.join(here, "mnist-sample-train-labels-idx1-ubyte.gz"))
        pair, source = (3, 8), "MNIST sample 3 / 8"
    rng = np.random.default_rng(0)
    for k, label in enumerate(pair):
        d = os.path.join(root, f"class{k}")
        os.makedirs(d)
        for j, i in enumerate(np.flatnonzero(t == label)[:n // 2]):
            tint = rng.integers(150, 256, 3)
            rgb = (x[i][..., None].astype(np.uint16) * tint // 255).astype(np.uint8)
            Image.fromarray(rgb).resize((64, 64), Image.Resampling.BILINEAR).save(
                os.path.join(d, f"{j:05d}.jpg"), quality=90)
    return source


def model_64():
    keras.utils.set_random_seed(0)
    m = keras.Sequential([
        keras.layers.Conv2D(32, 3, activation="relu", input_shape=(64, 64, 3)),
        keras.layers.MaxPooling2D(2),
        keras.layers.Conv2D(64, 3, activation="relu"),
        keras.layers.MaxPooling2D(2),
        keras.layers.Flatten(),
        keras.layers.Dense(128, activation="relu"),
        keras.layers.Dense(2, activation="softmax"),
    ])
    m.compile("sgd", "categorical_crossentropy", ["accuracy"])
    return m


def timed(fn, repeats):
    fn()                                           # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


KERAS_STEP = textwrap.dedent("""
    import os, sys, time, statistics
    os.environ.setdefault("KERAS_BACKEND", "torch")
    import numpy as np, keras
    from keras import layers
    def create():
        m = keras.Sequential([keras.Input((224, 224, 3)),
            layers.Conv2D(6, (11, 11), strides=(4, 4)), layers.Activation("relu"), layers.BatchNormalization(),
            layers.MaxPooling2D((3, 3), (2, 2)), layers.Conv2D(256, (5, 5), padding="same"),
            layers.Activation("relu"), layers.BatchNormalization(), layers.MaxPooling2D((3, 3), (2, 2)),
            layers.Conv2D(384, (3, 3)), layers.Activation("relu"), layers.Conv2D(384, (3, 3)),
            layers.Activation("relu"), layers.Conv2D(356, (3, 3)), layers.Activation("relu"),
            layers.MaxPooling2D((3, 3), (2, 2)), layers.Flatten(), layers.Dense(4096), layers.Activation("relu"),
            layers.Dropout(0.5), layers.Dense(4096), layers.Activation("relu"), layers.Dropout(0.5),
            layers.Dense(1000), layers.Activation("relu"), layers.Dropout(0.5), layers.Dense(2),
            layers.Activation("softmax")])
        m.compile(loss="categorical_crossentropy", optimizer="sgd", metrics=["accuracy"])
        return m
    rng = np.random.default_rng(0)
    x = rng.random((100, 224, 224, 3), dtype=np.float32); y = np.eye(2, dtype=np.float32)[rng.integers(0, 2, 100)]
    m = create(); m.train_on_batch(x, y)
    ts = []
    for _ in range(int(sys.argv[1])):
        t0 = time.perf_counter(); m.train_on_batch(x, y); ts.append(time.perf_counter() - t0)
    print(statistics.median(ts))
""")


def cats_vs_dogs_steps(repeats):
    """(fastnn s/step, Keras s/step or None) for the tutorial network at batch 100."""
    with open(os.path.join(HERE, "..", "examples", "keras_cats_vs_dogs.py")) as fh:
        src = fh.read()
    create_src = src[src.index("def createModel():"):src.index("def train():")]
    ns = {}
    exec("from fastnn.keras.layers import *\nfrom fastnn.keras.models import Sequential\n" + create_src, ns)
    rng = np.random.default_rng(0)
    x = rng.random((100, 224, 224, 3), dtype=np.float32)
    y = np.eye(2, dtype=np.float32)[rng.integers(0, 2, 100)]
    m = ns["createModel"]()
    fastnn_t = timed(lambda: m.train_on_batch(x, y), repeats)
    keras_t = None
    env = dict(os.environ, KERAS_BACKEND="torch")
    proc = subprocess.run([sys.executable, "-c", KERAS_STEP, str(repeats)], capture_output=True, text=True, env=env,
                          timeout=1800)
    if proc.returncode == 0:
        keras_t = float(proc.stdout.strip().splitlines()[-1])
    else:
        print(f"(no Keras row: {proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else 'failed'})")
    return fastnn_t, keras_t


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true")
    p.add_argument("--images", type=int, default=2000)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--keras", dest="keras", action="store_true", default=None)
    p.add_argument("--no-keras", dest="keras", action="store_false")
    p.add_argument("--output", default=os.path.join(HERE, "IMAGE_DATA.md"))
    a = p.parse_args(argv)
    if a.quick:
        a.images, a.repeats = min(a.images, 400), 1
        a.keras = False if a.keras is None else a.keras
    root = tempfile.mkdtemp(prefix="fastnn-bench-images-")
    try:
        source = build_folder(root, a.images)
        gen = ImageDataGenerator(rescale=1 / 255, **AUGMENT)
        plain = ImageDataGenerator(rescale=1 / 255)
        flow = gen.flow_from_directory(root, target_size=(64, 64), batch_size=100, seed=0)
        files = [os.path.join(root, f) for f in flow.filenames]
        x = np.stack([np.asarray(Image.open(f).convert("RGB"), dtype=np.float32) for f in files]) / 255
        y = keras.utils.to_categorical(flow.classes, 2)
        rows = []
        m = model_64()
        t_arr = timed(lambda: m.fit(x, y, batch_size=100, epochs=1, verbose=0), a.repeats)
        rows.append(("arrays in memory, no augmentation", t_arr))
        for workers in (1, 2, 0):
            t = timed(lambda: m.fit(flow, epochs=1, verbose=0, workers=workers), a.repeats)
            rows.append((f"folder, tutorial augmentation, workers={workers}"
                         + (" (default: one background thread)" if workers == 1 else
                            " (in the training thread)" if workers == 0 else ""), t))
        t_data = timed(lambda: [flow[i] for i in range(len(flow))], a.repeats)
        rows.append(("folder + augmentation, data only (no model)", t_data))
        plain_flow = plain.flow_from_directory(root, target_size=(64, 64), batch_size=100, seed=0)
        rows.append(("folder, no augmentation, workers=1",
                     timed(lambda: m.fit(plain_flow, epochs=1, verbose=0), a.repeats)))
        ds = keras.utils.image_dataset_from_directory(root, image_size=(64, 64), batch_size=100, seed=0,
                                                      label_mode="categorical", verbose=False)
        ds = ds.map(lambda im, lab: (im / 255, lab))
        rows.append(("image_dataset_from_directory (map threads + prefetch), no augmentation",
                     timed(lambda: m.fit(ds, epochs=1, verbose=0), a.repeats)))
        step_rows = []
        if a.keras is not False:
            f_t, k_t = cats_vs_dogs_steps(max(a.repeats, 1))
            step_rows.append(("cats-vs-dogs network train step, batch 100, 224x224x3 (fastnn)", f_t))
            if k_t is not None:
                step_rows.append(("the same in Keras 3 (torch backend), same run", k_t))
    finally:
        shutil.rmtree(root, ignore_errors=True)
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    lines = [f"# Image-data benchmark ({stamp})", "",
             f"`python bench/image_data.py{' --quick' if a.quick else ''}`: {a.images} JPEG images 64x64 RGB "
             f"({source}), batch 100, median of {a.repeats} epochs after a warm-up. "
             f"cores: {os.cpu_count()}; the load on the machine is not controlled.", "",
             "| row | seconds per epoch | vs arrays |", "|---|---|---|"]
    for name, t in rows:
        lines.append(f"| {name} | {t:.2f} | {t / t_arr:.2f}x |")
    folder = rows[1][1]
    lines += ["", f"Goal: folder + augmentation + prefetch <= 1.2x arrays; measured {folder / t_arr:.2f}x "
                  f"({'met' if folder / t_arr <= 1.2 else 'not met'} in this run)."]
    if step_rows:
        lines += ["", "| train step | seconds |", "|---|---|"] + [f"| {n} | {t:.2f} |" for n, t in step_rows]
        if len(step_rows) == 2:
            lines.append(f"\nfastnn/Keras time: {step_rows[0][1] / step_rows[1][1]:.2f}x")
    text = "\n".join(lines) + "\n"
    print(text)
    if a.output:
        from fastnn.io import atomic_write
        atomic_write(a.output, lambda fh: fh.write(text.encode()))
        print(f"written to {a.output}")


if __name__ == "__main__":
    main()
