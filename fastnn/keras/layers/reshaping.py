"""Spatial reshaping layers (channels_last): ZeroPadding2D, Cropping2D, UpSampling2D."""
import numpy as np

from . import _resample
from .base import Layer


def _check_data_format(layer, data_format):
    if data_format not in (None, "channels_last"):
        raise ValueError(
            f"{type(layer).__name__} '{layer.name}': only data_format='channels_last' is supported, "
            f"got {data_format!r}"
        )


def _check_rank(layer, input_shape):
    if len(input_shape) != 3:
        raise ValueError(
            f"{type(layer).__name__} '{layer.name}': expects samples of shape (height, width, channels), "
            f"got {tuple(input_shape)}"
        )


def _two_pairs(layer, what, value):
    """Keras' spec: an int p, a pair (h, w), or ((top, bottom), (left, right)) -> the latter, validated."""
    where = f"{type(layer).__name__} '{layer.name}'"

    def as_int(v):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 0:
            raise ValueError(f"{where}: {what} must hold non-negative ints, got {value!r}")
        return int(v)

    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        p = as_int(value)
        return (p, p), (p, p)
    if isinstance(value, (list, tuple)) and len(value) == 2:
        if all(isinstance(v, (list, tuple)) for v in value):
            if any(len(v) != 2 for v in value):
                raise ValueError(f"{where}: {what} must be ((top, bottom), (left, right)), got {value!r}")
            return tuple(tuple(as_int(a) for a in v) for v in value)
        h, w = (as_int(v) for v in value)
        return (h, h), (w, w)
    raise ValueError(f"{where}: {what} must be an int, a pair of ints or a pair of pairs, got {value!r}")


class ZeroPadding2D(Layer):
    """Pad with zero rows/columns: (N, H, W, C) -> (N, H + top + bottom, W + left + right, C).

    padding: an int (all four sides), (rows, cols) (symmetric), or
    ((top, bottom), (left, right)).
    """
    weightless = True

    def __init__(self, padding=(1, 1), data_format=None, **kwargs):
        super().__init__(**kwargs)
        _check_data_format(self, data_format)
        self.padding = _two_pairs(self, "padding", padding)

    def compute_output_shape(self, input_shape):
        _check_rank(self, input_shape)
        (t, b), (l, r) = self.padding
        H, W, C = input_shape
        return (None if H is None else H + t + b, None if W is None else W + l + r, C)

    def forward(self, x, training=False):
        (t, b), (l, r) = self.padding
        return np.pad(x, [(0, 0), (t, b), (l, r), (0, 0)])

    def backward(self, dout):
        (t, b), (l, r) = self.padding
        return np.ascontiguousarray(dout[:, t:dout.shape[1] - b, l:dout.shape[2] - r])

    def get_config(self):
        config = super().get_config()
        config.update(padding=[list(p) for p in self.padding], data_format="channels_last")
        return config


class Cropping2D(Layer):
    """Cut rows/columns off the borders: (N, H, W, C) -> (N, H - top - bottom, W - left - right, C).

    cropping: an int, (rows, cols) (symmetric), or ((top, bottom), (left, right)).
    """
    weightless = True

    def __init__(self, cropping=((0, 0), (0, 0)), data_format=None, **kwargs):
        super().__init__(**kwargs)
        _check_data_format(self, data_format)
        self.cropping = _two_pairs(self, "cropping", cropping)

    def compute_output_shape(self, input_shape):
        _check_rank(self, input_shape)
        (t, b), (l, r) = self.cropping
        H, W, C = input_shape
        oh = None if H is None else H - t - b
        ow = None if W is None else W - l - r
        if (oh is not None and oh < 1) or (ow is not None and ow < 1):
            raise ValueError(
                f"Cropping2D '{self.name}': cropping {self.cropping} leaves nothing of an input of "
                f"{H}x{W}"
            )
        return (oh, ow, C)

    def forward(self, x, training=False):
        (t, b), (l, r) = self.cropping
        self._x_shape = x.shape
        return np.ascontiguousarray(x[:, t:x.shape[1] - b, l:x.shape[2] - r])

    def backward(self, dout):
        (t, b), (l, r) = self.cropping
        return np.pad(dout, [(0, 0), (t, b), (l, r), (0, 0)])

    def get_config(self):
        config = super().get_config()
        config.update(cropping=[list(p) for p in self.cropping], data_format="channels_last")
        return config


class UpSampling2D(Layer):
    """Enlarge by integer factors: (N, H, W, C) -> (N, H*sh, W*sw, C).

    interpolation 'nearest' repeats each pixel sh x sw times; 'bilinear'
    interpolates with half-pixel centres (Keras 3's image resize).
    """
    weightless = True

    def __init__(self, size=(2, 2), data_format=None, interpolation="nearest", **kwargs):
        super().__init__(**kwargs)
        _check_data_format(self, data_format)
        where = f"UpSampling2D '{self.name}'"
        if isinstance(size, (int, np.integer)) and not isinstance(size, bool):
            size = (size, size)
        try:
            sh, sw = (int(s) for s in size)
        except (TypeError, ValueError):
            raise ValueError(f"{where}: size must be an int or a pair of ints, got {size!r}") from None
        if sh < 1 or sw < 1:
            raise ValueError(f"{where}: size must be positive, got {size!r}")
        self.size = (sh, sw)
        if interpolation not in _resample.INTERPOLATIONS:
            raise ValueError(f"{where}: interpolation must be one of {list(_resample.INTERPOLATIONS)}, "
                             f"got {interpolation!r}")
        self.interpolation = interpolation

    def compute_output_shape(self, input_shape):
        _check_rank(self, input_shape)
        H, W, C = input_shape
        return (None if H is None else H * self.size[0], None if W is None else W * self.size[1], C)

    def _matrices(self, H, W):
        """The two 1-D bilinear resize matrices for H x W inputs (cached)."""
        key = (H, W)
        if getattr(self, "_mats_key", None) != key:
            self._mats = (_resample.resize_matrix(H, H * self.size[0], "bilinear"),
                          _resample.resize_matrix(W, W * self.size[1], "bilinear"))
            self._mats_key = key
        return self._mats

    def forward(self, x, training=False):
        if self.interpolation == "bilinear":
            return _resample.resize_forward(x, *self._matrices(x.shape[1], x.shape[2]))
        sh, sw = self.size
        return np.ascontiguousarray(np.repeat(np.repeat(x, sh, axis=1), sw, axis=2))

    def backward(self, dout):
        sh, sw = self.size
        N, OH, OW, C = dout.shape
        if self.interpolation == "bilinear":
            return _resample.resize_backward(dout, *self._matrices(OH // sh, OW // sw))
        return np.ascontiguousarray(dout.reshape(N, OH // sh, sh, OW // sw, sw, C).sum(axis=(2, 4)))

    def get_config(self):
        config = super().get_config()
        config.update(size=list(self.size), data_format="channels_last", interpolation=self.interpolation)
        return config
