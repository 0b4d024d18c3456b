"""Cats vs dogs from a folder of photos: the tutorial's AlexNet-style network,
``ImageDataGenerator`` augmentation and ``fit_generator``, with only the import
lines changed.

    python examples/keras_cats_vs_dogs.py --data c_vs_d     # c_vs_d/train/<class>/*.jpg (+ c_vs_d/test/...)
    python examples/keras_cats_vs_dogs.py                   # builds a small two-class folder first
    python examples/keras_cats_vs_dogs.py --quick           # tiny batches and 2 steps (tests)

With no ``--data`` it writes a two-class folder of real images: Fashion-MNIST
sneakers vs ankle boots when Fashion-MNIST is installed, else digits 3 vs 8
from the MNIST sample bundled with fastnn. Each 28x28 grey image is saved as an
RGB JPEG or PNG of a different size (40 to 120 pixels a side, tinted), so that
the loader's decoding, colour conversion and resizing to 224x224 all run.
``train()`` fits for one epoch of 10 steps (batch 100), prints the history
and saves the weights; ``predict()`` loads them into a new model and
classifies held-out images as the tutorial does (PIL open, resize to 224x224,
divide by 255, predict, argmax). Ten SGD steps from scratch are what the
tutorial runs: the predicted probabilities are still close to 0.5, though on
the built folder the argmax is already right for most held-out images (87 of
100 in one run).
"""
import argparse
import atexit
import os
import shutil
import tempfile

import numpy as np
from PIL import Image

from fastnn.keras.layers import (Activation, BatchNormalization, Conv2D, Dense, Dropout,  # was: from keras.layers
                                 Flatten, MaxPooling2D)
from fastnn.keras.models import Sequential           # was: from keras.models import Sequential
from fastnn.keras.preprocessing import image         # was: from keras.preprocessing import image

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--data", help="folder with train/<class>/ (and optionally test/<class>/) image folders")
parser.add_argument("--out", default="fastnn-output", help="folder for cat_vs_dog_weight.h5 (default fastnn-output)")
parser.add_argument("--quick", action="store_true", help="batch 8, 2 steps, a tiny folder (for tests)")
args = parser.parse_args()

BATCH_SIZE = 8 if args.quick else 100
STEPS = 2 if args.quick else 10


def build_folder(root, per_class):
    """root/train/<class>/ and root/test/<class>/ of real images as RGB JPEG/PNG of mixed sizes."""
    from fastnn.datasets.idx import read_idx
    fashion = "/usr/share/datasets/fashion-mnist"
    if os.path.exists(os.path.join(fashion, "t10k-images-idx3-ubyte.gz")):
        x = read_idx(os.path.join(fashion, "t10k-images-idx3-ubyte.gz"))
        t = read_idx(os.path.join(fashion, "t10k-labels-idx1-ubyte.gz"))
        classes, source = {"sneaker": 7, "ankle_boot": 9}, "Fashion-MNIST (sneakers vs ankle boots)"
    else:
        here = os.path.join(os.path.dirname(__import__("fastnn").__file__), "datasets", "data")
        x = read_idx(os.path.join(here, "mnist-sample-t10k-images-idx3-ubyte.gz"))
        t = read_idx(os.path.join(here, "mnist-sample-t10k-labels-idx1-ubyte.gz"))
        classes, source = {"three": 3, "eight": 8}, "the bundled MNIST sample (3 vs 8)"
    rng = np.random.default_rng(0)
    n_test = max(per_class // 5, 4)
    for name, label in classes.items():
        idx = np.flatnonzero(t == label)[:per_class + n_test]
        for j, i in enumerate(idx):
            split = "train" if j < per_class else "test"
            d = os.path.join(root, split, name)
            os.makedirs(d, exist_ok=True)
            grey = Image.fromarray(255 - x[i])                      # dark object on a light background
            tint = tuple(int(v) for v in rng.integers(180, 256, 3))
            img = Image.merge("RGB", [grey.point(lambda p, c=c: p * c // 255) for c in tint])
            side = int(rng.integers(40, 121))
            img = img.resize((side, int(side * rng.uniform(0.8, 1.25))), Image.Resampling.BICUBIC)
            img.save(os.path.join(d, f"{name}.{j:04d}.{'jpg' if j % 2 else 'png'}"))
    print(f"Built {root}: {len(classes)} classes x {per_class} training + {n_test} test images from {source}, "
          f"saved as RGB JPEG/PNG of 40-120 px (they are decoded, converted and resized to 224x224)")


workdir = tempfile.mkdtemp(prefix="c_vs_d_")            # the built folder; removed at exit
atexit.register(shutil.rmtree, workdir, ignore_errors=True)
data = args.data or os.path.join(workdir, "c_vs_d")
if args.data is None:
    build_folder(data, per_class=24 if args.quick else 600)
train_dir = os.path.join(data, "train") if os.path.isdir(os.path.join(data, "train")) else data
test_dir = os.path.join(data, "test")
out = args.out
os.makedirs(out, exist_ok=True)
weights_path = os.path.join(out, "cat_vs_dog_weight.h5")


def createModel():
    model = Sequential()
    model.add(Conv2D(6, (11, 11), strides=(4, 4), padding="valid", input_shape=(224, 224, 3)))
    model.add(Activation("relu"))
    model.add(BatchNormalization())
    model.add(MaxPooling2D(pool_size=(3, 3), strides=(2, 2)))
    model.add(Conv2D(256, (5, 5), padding="same"))
    model.add(Activation("relu"))
    model.add(BatchNormalization())
    model.add(MaxPooling2D(pool_size=(3, 3), strides=(2, 2)))
    model.add(Conv2D(384, (3, 3)))
    model.add(Activation("relu"))
    model.add(Conv2D(384, (3, 3)))
    model.add(Activation("relu"))
    model.add(Conv2D(356, (3, 3)))
    model.add(Activation("relu"))
    model.add(MaxPooling2D(pool_size=(3, 3), strides=(2, 2)))
    model.add(Flatten())
    model.add(Dense(4096))
    model.add(Activation("relu"))
    model.add(Dropout(0.5))
    model.add(Dense(4096))
    model.add(Activation("relu"))
    model.add(Dropout(0.5))
    model.add(Dense(1000))
    model.add(Activation("relu"))
    model.add(Dropout(0.5))
    model.add(Dense(2))
    model.add(Activation("softmax"))
    model.compile(loss="categorical_crossentropy", optimizer="sgd", metrics=["accuracy"])
    return model


def train():
    gen = image.ImageDataGenerator(rescale=1.0 / 255, rotation_range=20, width_shift_range=0.2,
                                   height_shift_range=0.2, shear_range=0.2, zoom_range=0.5, horizontal_flip=True)
    train_flow = gen.flow_from_directory(directory=train_dir, target_size=(224, 224), batch_size=BATCH_SIZE,
                                         class_mode="categorical")
    print(train_flow.class_indices)
    model = createModel()
    model.summary()
    his = model.fit_generator(train_flow, steps_per_epoch=STEPS, epochs=1, verbose=1)
    print(his.history)
    model.save_weights(weights_path)
    print(f"weights saved to {weights_path}")
    return train_flow.class_indices


def predict(img_path, model, class_names):
    img = Image.open(img_path)
    img = img.convert("RGB").resize((224, 224))
    x = np.array(img, dtype="float32") / 255.0
    x = x[None]
    y = model.predict(x, verbose=0)
    return class_names[int(np.argmax(y[0]))], float(np.max(y[0]))


if __name__ == "__main__":
    class_indices = train()
    class_names = {v: k for k, v in class_indices.items()}
    model = createModel()
    model.load_weights(weights_path)
    tests = []
    if os.path.isdir(test_dir):
        for name in sorted(os.listdir(test_dir)):
            folder = os.path.join(test_dir, name)
            tests += [(os.path.join(folder, f), name) for f in sorted(os.listdir(folder))[:5 if args.quick else 50]]
    else:
        tests = [(os.path.join(train_dir, f), f.split(os.sep)[0])
                 for f in image.ImageDataGenerator().flow_from_directory(train_dir).filenames[:10]]
    right = 0
    for k, (path, truth) in enumerate(tests):
        label, p = predict(path, model, class_names)
        right += label == truth
        if k < 4 or k >= len(tests) - 2:
            print(f"predict({os.path.basename(path)!r}) -> {label} ({p:.2f}); true: {truth}")
    print(f"held-out accuracy: {right}/{len(tests)} = {right / max(len(tests), 1):.2f} "
          f"(after {STEPS} steps of SGD from scratch)")
