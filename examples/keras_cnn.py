"""A small convnet on MNIST, as in *Deep Learning with Python* (5.1), with a
BatchNormalization and a Dropout layer, trained with adam; the weights are
saved, reloaded into a second model and evaluated. Only the import lines
differ from the tutorial; the data is the full MNIST if available, else the
5,000-image sample bundled with fastnn.

Batches are 32 (Keras' default) rather than the tutorial's 64: on the
5,000-image sample, 64 gives only 237 steps in 3 epochs, too few for
BatchNormalization's moving statistics (momentum 0.99) to settle, and the
test accuracy drops to about 0.94; with 32 it is about 0.957.

    python examples/keras_cnn.py            # 3 epochs
    python examples/keras_cnn.py --quick    # 500 images, 1 epoch
"""
import argparse
import os
import tempfile

from fastnn.keras import layers, models          # was: from keras import layers, models
from fastnn.keras.datasets import mnist          # was: from keras.datasets import mnist
from fastnn.keras.utils import to_categorical    # was: from keras.utils import to_categorical

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--quick", action="store_true", help="tiny data and 1 epoch (for tests)")
parser.add_argument("--optimizer", default="adam", choices=["adam", "sgd"])
args = parser.parse_args()

(train_images, train_labels), (test_images, test_labels) = mnist.load_data()
if args.quick:
    train_images, train_labels = train_images[:500], train_labels[:500]
    test_images, test_labels = test_images[:500], test_labels[:500]
epochs = 1 if args.quick else 3


def build_model():
    model = models.Sequential()
    model.add(layers.Conv2D(32, (3, 3), activation='relu', input_shape=(28, 28, 1)))
    model.add(layers.BatchNormalization())
    model.add(layers.MaxPooling2D((2, 2)))
    model.add(layers.Conv2D(64, (3, 3), activation='relu'))
    model.add(layers.MaxPooling2D((2, 2)))
    model.add(layers.Flatten())
    model.add(layers.Dense(64, activation='relu'))
    model.add(layers.Dropout(0.5))
    model.add(layers.Dense(10, activation='softmax'))
    return model


model = build_model()
model.summary()

train_images = train_images.reshape((len(train_images), 28, 28, 1)).astype('float32') / 255
test_images = test_images.reshape((len(test_images), 28, 28, 1)).astype('float32') / 255
train_labels = to_categorical(train_labels)
test_labels = to_categorical(test_labels)

model.compile(optimizer=args.optimizer, loss='categorical_crossentropy', metrics=['accuracy'])
model.fit(train_images, train_labels, epochs=epochs, batch_size=32)

with tempfile.TemporaryDirectory() as tmp:
    path = os.path.join(tmp, 'cnn.weights.h5')
    model.save_weights(path)
    reloaded = build_model()
    reloaded.compile(optimizer=args.optimizer, loss='categorical_crossentropy', metrics=['accuracy'])
    reloaded.load_weights(path)

test_loss, test_acc = reloaded.evaluate(test_images, test_labels)
print('test_acc:', test_acc)
