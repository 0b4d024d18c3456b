"""A two-class classifier on a small table (3 features), in the style of the
introductory Keras tutorials: Sequential + add, named layers, separate
Activation layers, one-hot targets. Only the import lines differ.

The table is synthetic: class 1 when x0 + x1 - x2 > 0.

    python examples/keras_two_class_tabular.py
    python examples/keras_two_class_tabular.py --quick
"""
import argparse

import numpy as np

from fastnn.keras.models import Sequential              # was: from keras.models import Sequential
from fastnn.keras.layers import Dense, Activation       # was: from keras.layers import Dense, Activation
from fastnn.keras.utils import to_categorical           # was: from keras.utils import to_categorical

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--quick", action="store_true", help="fewer samples (for tests)")
args = parser.parse_args()

rng = np.random.default_rng(0)
data = rng.uniform(-1, 1, size=(200 if args.quick else 1000, 3))
labels = (data[:, 0] + data[:, 1] - data[:, 2] > 0).astype(int)
one_hot = to_categorical(labels, num_classes=2)

model = Sequential()
model.add(Dense(4, input_dim=3, kernel_initializer='random_normal', name='Dense1'))
model.add(Activation('relu', name='hidden'))
model.add(Dense(2, kernel_initializer='random_normal', name='Dense2'))
model.add(Activation('softmax'))
model.compile(optimizer='adam', loss='categorical_crossentropy', metrics=['accuracy'])
model.summary()

model.fit(data, one_hot, epochs=10, batch_size=8)

new = np.array([[0.5, 0.5, -0.5], [-0.5, -0.5, 0.5]])
probabilities = model.predict(new)
print(probabilities.round(3))
print("predicted classes:", np.argmax(probabilities, axis=1), "(expected [1 0])")
