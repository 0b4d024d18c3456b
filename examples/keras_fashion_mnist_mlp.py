"""Fashion-MNIST with a 300-100-10 MLP, as in *Hands-On Machine Learning* (ch. 10).

Only the import line differs from the tutorial (``from tensorflow import keras``).
Fashion-MNIST comes from the cache, a download, or Debian's
``dataset-fashion-mnist`` package (/usr/share/datasets/fashion-mnist).
The tutorial trains 30 epochs; this script defaults to 5 (``--epochs 30``
for the full run) so that it finishes in about a minute on 2 cores.

    python examples/keras_fashion_mnist_mlp.py [--epochs 30]
    python examples/keras_fashion_mnist_mlp.py --quick    # 2,000 images, 1 epoch
"""
import argparse
import os

import numpy as np
import pandas as pd

from fastnn import keras                         # was: from tensorflow import keras

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--quick", action="store_true", help="tiny data and 1 epoch (for tests)")
parser.add_argument("--epochs", type=int, default=5, help="training epochs (the tutorial uses 30)")
parser.add_argument("--plot", default="fashion_mnist_history.png", help="where to save the learning curves")
args = parser.parse_args()

fashion_mnist = keras.datasets.fashion_mnist
(X_train_full, y_train_full), (X_test, y_test) = fashion_mnist.load_data()
if args.quick:
    X_train_full, y_train_full = X_train_full[:7000], y_train_full[:7000]
    X_test, y_test = X_test[:1000], y_test[:1000]
epochs = 1 if args.quick else args.epochs

X_valid, X_train = X_train_full[:5000] / 255.0, X_train_full[5000:] / 255.0
y_valid, y_train = y_train_full[:5000], y_train_full[5000:]
X_test = X_test / 255.0

class_names = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
               "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]

model = keras.models.Sequential([
    keras.layers.Flatten(input_shape=[28, 28]),
    keras.layers.Dense(300, activation="relu"),
    keras.layers.Dense(100, activation="relu"),
    keras.layers.Dense(10, activation="softmax"),
])
model.summary()

model.compile(loss="sparse_categorical_crossentropy",
              optimizer="sgd",
              metrics=["accuracy"])

history = model.fit(X_train, y_train, epochs=epochs,
                    validation_data=(X_valid, y_valid))

print(sorted(history.history))
if not args.quick:
    os.environ.setdefault("MPLBACKEND", "Agg")
    import matplotlib.pyplot as plt
    pd.DataFrame(history.history).plot(figsize=(8, 5))
    plt.grid(True)
    plt.gca().set_ylim(0, 1)
    plt.savefig(args.plot)
    print("learning curves saved to", args.plot)

model.evaluate(X_test, y_test)

X_new = X_test[:3]
y_proba = model.predict(X_new)
print(y_proba.round(2))
y_pred = np.argmax(model.predict(X_new), axis=-1)
print(y_pred, np.array(class_names)[y_pred])
