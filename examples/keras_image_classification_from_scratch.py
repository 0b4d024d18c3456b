"""keras-io's "Image classification from scratch" network (a small Xception:
data augmentation, Rescaling, strided Conv2D, SeparableConv2D blocks with
residual ``layers.add`` connections, GlobalAveragePooling2D, Dropout, Dense)
on Fashion-MNIST, pictured as 32x32 RGB images.

The model code is the tutorial's, with the import lines changed. The
tutorial classifies 180x180 photos of cats and dogs with block widths
256/512/728 and 1024; on two CPU cores this script keeps its architecture but
divides every width by 4 (``--width 4``; ``--width 1`` is the original) and
reads Fashion-MNIST (Debian's dataset-fashion-mnist, or a download), padded
to 32x32 and repeated over 3 channels. The model is saved, reloaded and the
reloaded copy evaluated.

    python examples/keras_image_classification_from_scratch.py            # 10,000 images, 3 epochs
    python examples/keras_image_classification_from_scratch.py --quick    # 512 images, 1 epoch
"""
import argparse
import os
import tempfile

import numpy as np

from fastnn import keras                                  # was: import keras
from fastnn.keras import layers                           # was: from keras import layers

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--quick", action="store_true", help="512 images, 1 epoch (for tests)")
parser.add_argument("--width", type=int, default=4, help="divide the tutorial's layer widths by this")
args = parser.parse_args()

keras.utils.set_random_seed(1337)

(x_train, y_train), (x_test, y_test) = keras.datasets.fashion_mnist.load_data()
n_train, n_test = (512, 256) if args.quick else (10000, 2000)
epochs = 1 if args.quick else 3


def as_rgb_32(images):
    """(N, 28, 28) uint8 -> (N, 32, 32, 3) float32 pixel values in [0, 255]."""
    images = np.pad(images, [(0, 0), (2, 2), (2, 2)])
    return np.repeat(images[..., None], 3, axis=-1).astype("float32")


x_train, y_train = as_rgb_32(x_train[:n_train]), y_train[:n_train]
x_test, y_test = as_rgb_32(x_test[:n_test]), y_test[:n_test]
image_size = (32, 32)
w = args.width

# ---- from here on, the tutorial's code (widths divided by w) ----
data_augmentation_layers = [
    layers.RandomFlip("horizontal"),
    layers.RandomRotation(0.1),
]


def data_augmentation(images):
    for layer in data_augmentation_layers:
        images = layer(images)
    return images


def make_model(input_shape, num_classes):
    inputs = keras.Input(shape=input_shape)

    # Entry block
    x = layers.Rescaling(1.0 / 255)(inputs)
    x = layers.Conv2D(128 // w, 3, strides=2, padding="same")(x)
    x = layers.BatchNormalization()(x)
    x = layers.Activation("relu")(x)

    previous_block_activation = x  # Set aside residual

    for size in [256 // w, 512 // w, 728 // w]:
        x = layers.Activation("relu")(x)
        x = layers.SeparableConv2D(size, 3, padding="same")(x)
        x = layers.BatchNormalization()(x)

        x = layers.Activation("relu")(x)
        x = layers.SeparableConv2D(size, 3, padding="same")(x)
        x = layers.BatchNormalization()(x)

        x = layers.MaxPooling2D(3, strides=2, padding="same")(x)

        # Project residual
        residual = layers.Conv2D(size, 1, strides=2, padding="same")(previous_block_activation)
        x = layers.add([x, residual])  # Add back residual
        previous_block_activation = x  # Set aside next residual

    x = layers.SeparableConv2D(1024 // w, 3, padding="same")(x)
    x = layers.BatchNormalization()(x)
    x = layers.Activation("relu")(x)

    x = layers.GlobalAveragePooling2D()(x)
    if num_classes == 2:
        activation, units = "sigmoid", 1
    else:
        activation, units = "softmax", num_classes

    x = layers.Dropout(0.25)(x)
    outputs = layers.Dense(units, activation=activation)(x)
    return keras.Model(inputs, outputs)


model = make_model(input_shape=image_size + (3,), num_classes=10)
model.summary()
# The tutorial maps data_augmentation over its tf.data pipeline; with arrays,
# augment each epoch's copy of the training images the same way.
model.compile(optimizer=keras.optimizers.Adam(3e-4), loss="sparse_categorical_crossentropy",
              metrics=["acc"])
for epoch in range(epochs):
    print(f"augmented pass {epoch + 1}/{epochs}")
    model.fit(data_augmentation(x_train), y_train, epochs=1, batch_size=32, verbose=2)
loss, acc = model.evaluate(x_test, y_test, verbose=0)
print(f"test loss: {loss:.4f}  test acc: {acc:.4f}")

with tempfile.TemporaryDirectory() as tmp:
    path = os.path.join(tmp, "save_at_end.keras")
    model.save(path)
    reloaded = keras.models.load_model(path)
    same = np.allclose(reloaded.predict(x_test[:64], verbose=0), model.predict(x_test[:64], verbose=0),
                       rtol=1e-5, atol=1e-6)
    print(f"reloaded model gives the same predictions: {same}")
    print(f"reloaded test acc: {reloaded.evaluate(x_test, y_test, verbose=0)[1]:.4f}")
