"""MNIST with a two-layer MLP, the first Keras program of *Deep Learning with Python*.

Only the import lines differ from the tutorial (``from tensorflow import keras``
/ ``from keras.datasets import mnist`` ...). ``keras.datasets.mnist`` serves the
full MNIST when it is cached or downloadable, else the 5,000-image sample
bundled with fastnn (it says so with a warning). The tutorial's hard-coded
60000/10000 in reshape are written as len(...) so the sample works too.

    python examples/keras_mnist_mlp.py            # 5 epochs, batch 128
    python examples/keras_mnist_mlp.py --quick    # 1,000 images, 1 epoch
"""
import argparse

from fastnn.keras.datasets import mnist          # was: from keras.datasets import mnist
from fastnn.keras import models, layers          # was: from keras import models, layers
from fastnn.keras.utils import to_categorical    # was: from keras.utils import to_categorical

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--quick", action="store_true", help="tiny data and 1 epoch (for tests)")
args = parser.parse_args()

(train_images, train_labels), (test_images, test_labels) = mnist.load_data()
if args.quick:
    train_images, train_labels = train_images[:1000], train_labels[:1000]
    test_images, test_labels = test_images[:1000], test_labels[:1000]
epochs = 1 if args.quick else 5

network = models.Sequential()
network.add(layers.Dense(512, activation='relu', input_shape=(28 * 28,)))
network.add(layers.Dense(10, activation='softmax'))
network.compile(optimizer='rmsprop',
                loss='categorical_crossentropy',
                metrics=['accuracy'])
network.summary()

train_images = train_images.reshape((len(train_images), 28 * 28))
train_images = train_images.astype('float32') / 255
test_images = test_images.reshape((len(test_images), 28 * 28))
test_images = test_images.astype('float32') / 255

train_labels = to_categorical(train_labels)
test_labels = to_categorical(test_labels)

network.fit(train_images, train_labels, epochs=epochs, batch_size=128)

test_loss, test_acc = network.evaluate(test_images, test_labels)
print('test_acc:', test_acc)
