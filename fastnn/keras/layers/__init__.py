"""``keras.layers``: the layers of fastnn.keras (channels_last, Keras' defaults)."""
from .base import KerasTensor, Layer  # noqa: F401
from .convolutional import Conv2D, MaxPooling2D
from .core import Activation, Dense, Dropout, Flatten, Input, InputLayer, Reshape
from .lambda_layer import Lambda
from .merging import Concatenate, concatenate
from .normalization import BatchNormalization

Convolution2D = Conv2D
MaxPool2D = MaxPooling2D

#: Layer classes by class name, used to rebuild a model from its JSON config.
LAYER_CLASSES = {cls.__name__: cls for cls in (
    Dense, Activation, Flatten, Reshape, Dropout, InputLayer, Conv2D, MaxPooling2D,
    BatchNormalization, Concatenate,
)}

__all__ = ["Layer", "KerasTensor", "Dense", "Activation", "Flatten", "Reshape", "Dropout", "Input",
           "InputLayer", "Conv2D", "Convolution2D", "MaxPooling2D", "MaxPool2D", "BatchNormalization",
           "Concatenate", "concatenate", "Lambda"]
