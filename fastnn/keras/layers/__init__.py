"""``keras.layers``: the layers of fastnn.keras (channels_last, Keras' defaults)."""
from .activation import ELU, LeakyReLU, ReLU, Softmax
from .base import KerasTensor, Layer  # noqa: F401
from .convolutional import Conv2D, MaxPooling2D
from .core import Activation, Dense, Dropout, Flatten, Input, InputLayer, Reshape
from .lambda_layer import Lambda
from .depthwise import DepthwiseConv2D, SeparableConv2D
from .merging import (Add, Average, Concatenate, Maximum, Minimum, Multiply, Subtract, add, average,
                      concatenate, maximum, minimum, multiply, subtract)
from .normalization import BatchNormalization, LayerNormalization
from .pooling import AveragePooling2D, GlobalAveragePooling2D, GlobalMaxPooling2D
from .preprocessing import (RandomContrast, RandomFlip, RandomRotation, RandomTranslation, RandomZoom,
                            Rescaling, Resizing)
from .regularization import SpatialDropout2D
from .reshaping import Cropping2D, UpSampling2D, ZeroPadding2D

Convolution2D = Conv2D
MaxPool2D = MaxPooling2D
AvgPool2D = AveragePooling2D
GlobalAvgPool2D = GlobalAveragePooling2D
GlobalMaxPool2D = GlobalMaxPooling2D
SeparableConvolution2D = SeparableConv2D

#: Layer classes by class name, used to rebuild a model from its JSON config.
LAYER_CLASSES = {cls.__name__: cls for cls in (
    Dense, Activation, Flatten, Reshape, Dropout, InputLayer, Conv2D, MaxPooling2D,
    BatchNormalization, Concatenate,
    Rescaling, Resizing, RandomFlip, RandomRotation, RandomZoom, RandomTranslation, RandomContrast,
    AveragePooling2D, GlobalAveragePooling2D, GlobalMaxPooling2D, ZeroPadding2D, UpSampling2D, Cropping2D,
    ReLU, LeakyReLU, ELU, Softmax, Add, Subtract, Multiply, Average, Maximum, Minimum,
    LayerNormalization, SeparableConv2D, DepthwiseConv2D, SpatialDropout2D,
)}

__all__ = ["Layer", "KerasTensor", "Dense", "Activation", "Flatten", "Reshape", "Dropout", "Input",
           "InputLayer", "Conv2D", "Convolution2D", "MaxPooling2D", "MaxPool2D", "BatchNormalization",
           "Concatenate", "concatenate",
           "Rescaling", "Resizing", "RandomFlip", "RandomRotation", "RandomZoom", "RandomTranslation",
           "RandomContrast", "AveragePooling2D", "AvgPool2D", "GlobalAveragePooling2D", "GlobalAvgPool2D",
           "GlobalMaxPooling2D", "GlobalMaxPool2D", "ZeroPadding2D", "UpSampling2D", "Cropping2D",
           "ReLU", "LeakyReLU", "ELU", "Softmax", "Add", "Subtract", "Multiply", "Average", "Maximum",
           "Minimum", "add", "subtract", "multiply", "average", "maximum", "minimum",
           "LayerNormalization", "SeparableConv2D", "SeparableConvolution2D", "DepthwiseConv2D",
           "SpatialDropout2D", "Lambda"]
