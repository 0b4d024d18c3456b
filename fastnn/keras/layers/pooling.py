"""AveragePooling2D, GlobalAveragePooling2D, GlobalMaxPooling2D (channels_last).

(MaxPooling2D lives in ``convolutional.py``, beside Conv2D, whose window
geometry it shares; so does AveragePooling2D, through ``_Windowed``.)

AveragePooling2D runs on the channels_last kernels
``fastnn.kernels.avgpool_forward/backward``. With padding='same' each window
averages only its cells inside the image (the padding is not counted), as
Keras documents and its TensorFlow and JAX backends compute. (Its torch
backend, when the padding is uneven, pads by repeating the edge row/column
and counts those cells; with even padding all agree.)
"""
import numpy as np

from ... import kernels
from .base import Layer
from .convolutional import _pair, _padding, _Windowed


def _check_data_format(layer, data_format):
    if data_format not in (None, "channels_last"):
        raise ValueError(
            f"{type(layer).__name__} '{layer.name}': only data_format='channels_last' is supported, "
            f"got {data_format!r}"
        )


class AveragePooling2D(_Windowed):
    """Mean over pool_size windows. x (N, H, W, C) -> (N, OH, OW, C); strides default to pool_size."""
    weightless = True

    def __init__(self, pool_size=(2, 2), strides=None, padding="valid", data_format=None, **kwargs):
        super().__init__(**kwargs)
        where = f"AveragePooling2D '{self.name}'"
        _check_data_format(self, data_format)
        self.pool_size = self._window = _pair(where, "pool_size", pool_size)
        self.strides = _pair(where, "strides", strides if strides is not None else self.pool_size)
        self.padding = _padding(where, padding)

    def compute_output_shape(self, input_shape):
        self._check_rank(input_shape)
        oh, ow, self._pads = self._plan(input_shape)
        return (oh, ow, input_shape[2])

    def forward(self, x, training=False):
        self._x_shape = x.shape
        oh, ow = self.output_shape[:2]
        top, _, left, _ = self._pads
        return kernels.avgpool_forward(x, *self.pool_size, *self.strides, top, left, oh, ow)

    def backward(self, dout):
        top, _, left, _ = self._pads
        return kernels.avgpool_backward(dout, self._x_shape, *self.pool_size, *self.strides, top, left)

    def get_config(self):
        config = super().get_config()
        config.update(pool_size=list(self.pool_size), strides=list(self.strides), padding=self.padding,
                      data_format="channels_last")
        return config


class _GlobalPooling2D(Layer):
    weightless = True

    def __init__(self, data_format=None, keepdims=False, **kwargs):
        super().__init__(**kwargs)
        _check_data_format(self, data_format)
        self.keepdims = bool(keepdims)

    def compute_output_shape(self, input_shape):
        if len(input_shape) != 3:
            raise ValueError(
                f"{type(self).__name__} '{self.name}': expects samples of shape (height, width, channels), "
                f"got {tuple(input_shape)}"
            )
        return (1, 1, input_shape[2]) if self.keepdims else (input_shape[2],)

    def _shape_out(self, r):
        return r if self.keepdims else r.reshape(r.shape[0], r.shape[3])

    def get_config(self):
        config = super().get_config()
        config.update(data_format="channels_last", keepdims=self.keepdims)
        return config


class GlobalAveragePooling2D(_GlobalPooling2D):
    """Mean over height and width: (N, H, W, C) -> (N, C) (or (N, 1, 1, C) with keepdims=True)."""

    def forward(self, x, training=False):
        self._x_shape = x.shape
        return self._shape_out(x.mean(axis=(1, 2), keepdims=True))

    def backward(self, dout):
        N, H, W, C = self._x_shape
        g = dout.reshape(N, 1, 1, C) / dout.dtype.type(H * W)
        return np.ascontiguousarray(np.broadcast_to(g, self._x_shape))


class GlobalMaxPooling2D(_GlobalPooling2D):
    """Max over height and width: (N, H, W, C) -> (N, C); the gradient goes to the first maximum."""

    def forward(self, x, training=False):
        N, H, W, C = x.shape
        self._x_shape = x.shape
        flat = x.reshape(N, H * W, C)
        self._argmax = flat.argmax(axis=1)                       # (N, C)
        out = np.take_along_axis(flat, self._argmax[:, None, :], axis=1)
        return self._shape_out(out.reshape(N, 1, 1, C))

    def backward(self, dout):
        N, H, W, C = self._x_shape
        dx = np.zeros((N, H * W, C), dtype=dout.dtype)
        np.put_along_axis(dx, self._argmax[:, None, :], dout.reshape(N, 1, C), axis=1)
        return dx.reshape(self._x_shape)
