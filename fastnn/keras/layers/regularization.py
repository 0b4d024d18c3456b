"""SpatialDropout2D: dropout of whole feature maps (channels_last)."""
import numpy as np

from .. import backend
from .base import Layer


class SpatialDropout2D(Layer):
    """In training, zero each channel of each image with probability ``rate``
    (the whole H x W map at once) and scale the kept ones by 1/(1 - rate);
    at inference, the identity. x (N, H, W, C) -> same shape.

    Neighbouring pixels of a feature map are strongly correlated, so plain
    Dropout barely regularises convolutions; dropping whole maps does.
    """
    weightless = True

    def __init__(self, rate, data_format=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        where = f"SpatialDropout2D '{self.name}'"
        if data_format not in (None, "channels_last"):
            raise ValueError(f"{where}: only data_format='channels_last' is supported, got {data_format!r}")
        if isinstance(rate, bool) or not isinstance(rate, (int, float, np.integer, np.floating)) \
                or not 0 <= rate < 1:
            raise ValueError(f"{where}: rate must be a number in [0, 1), got {rate!r}")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))):
            raise TypeError(f"{where}: seed must be an int or None, got {seed!r}")
        self.rate = float(rate)
        self.seed = None if seed is None else int(seed)
        self._rng = np.random.default_rng(self.seed if self.seed is not None
                                          else backend.global_rng().integers(2**63))

    def compute_output_shape(self, input_shape):
        if len(input_shape) != 3:
            raise ValueError(
                f"SpatialDropout2D '{self.name}': expects samples of shape (height, width, channels), "
                f"got {tuple(input_shape)}"
            )
        return input_shape

    def forward(self, x, training=False):
        if not training or self.rate == 0:
            self._mask = None
            return x
        keep = self._rng.random((x.shape[0], 1, 1, x.shape[3])) >= self.rate
        self._mask = keep.astype(x.dtype) / x.dtype.type(1 - self.rate)
        return x * self._mask

    def backward(self, dout):
        return dout if self._mask is None else dout * self._mask

    def get_config(self):
        config = super().get_config()
        config.update(rate=self.rate, seed=self.seed, data_format="channels_last")
        return config
