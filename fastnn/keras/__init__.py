"""fastnn.keras: the Keras API on fastnn's kernels.

    from fastnn import keras          # instead of: from tensorflow import keras
    model = keras.models.Sequential([
        keras.layers.Dense(512, activation="relu", input_shape=(784,)),
        keras.layers.Dense(10, activation="softmax"),
    ])
    model.compile("rmsprop", "categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, keras.utils.to_categorical(y), epochs=5, batch_size=128)

Every layer runs on the same kernels as the book-style ``fastnn.layers``
(affine, convolution, max-pooling, ReLU, softmax-cross-entropy): one compute
path, switchable between compiled and NumPy with ``fastnn.use_backend``.
Weights and data are float32 unless ``keras.backend.set_floatx('float64')``.
"""
from . import (  # noqa: F401
    activations,
    backend,
    callbacks,
    config,
    datasets,
    initializers,
    layers,
    losses,
    metrics,
    models,
    ops,
    optimizers,
    preprocessing,
    saving,
    utils,
    wrappers,
)
from ._model import Model  # noqa: F401
from ._version import __version__  # noqa: F401
from ._sequential import Sequential  # noqa: F401
from .layers import Input  # noqa: F401
from .saving import load_model  # noqa: F401

__all__ = ["Model", "Sequential", "Input", "activations", "backend", "callbacks", "config", "datasets",
           "initializers", "layers", "load_model", "losses", "metrics", "models", "ops", "optimizers",
           "preprocessing", "saving", "utils", "wrappers", "__version__"]
