"""Image preprocessing and augmentation layers, as in Keras 3 (channels_last).

``Rescaling`` and ``Resizing`` act in training and at inference. The random
layers (``RandomFlip``, ``RandomRotation``, ``RandomZoom``,
``RandomTranslation``, ``RandomContrast``) change the images in training
(``fit``, or a direct call ``layer(images)``: Keras 3 defaults their
``training`` to True) and are the identity in ``predict``/``evaluate`` or
with ``training=False``.
Each draws from its own generator, seeded by ``seed=`` (or from
``keras.utils.set_random_seed`` when no seed is given), and saved with the
model, so a run can be repeated.

Inputs are batches (N, height, width, channels). All of them have a backward
pass: these layers usually sit right after the ``Input``, where no gradient
is needed, but a gradient w.r.t. the input flows through each of them exactly
(a flip is its own transpose, the geometric ones are sparse linear maps with
a transposed backward, see ``_resample``; RandomContrast's clipping passes no
gradient where it clipped).
"""
import math

import numpy as np

from .. import backend
from . import _resample
from .base import KerasTensor, Layer


def _symbolic(inputs):
    items = inputs if isinstance(inputs, (list, tuple)) else [inputs]
    return any(isinstance(x, KerasTensor) for x in items)


def _check_image_rank(layer, input_shape):
    if len(input_shape) != 3:
        raise ValueError(
            f"{type(layer).__name__} '{layer.name}': expects batches of images (N, height, width, channels), "
            f"got samples of shape {tuple(input_shape)}"
        )


def _check_data_format(layer, data_format):
    if data_format not in (None, "channels_last"):
        raise ValueError(
            f"{type(layer).__name__} '{layer.name}': only data_format='channels_last' is supported, "
            f"got {data_format!r}"
        )


def _choice(layer, what, value, allowed):
    if value not in allowed:
        raise ValueError(f"{type(layer).__name__} '{layer.name}': {what} must be one of {list(allowed)}, got {value!r}")
    return value


def _number(layer, what, value):
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{type(layer).__name__} '{layer.name}': {what} must be a number, got {value!r}")
    return float(value)


# ------------------------------------------------------------------ always on
class Rescaling(Layer):
    """out = x * scale + offset, e.g. ``Rescaling(1/255)`` turns bytes into [0, 1].

    ``scale`` and ``offset`` may also be per-channel sequences (broadcast on the last axis).
    """
    weightless = True

    def __init__(self, scale, offset=0.0, **kwargs):
        super().__init__(**kwargs)
        self.scale = self._value("scale", scale)
        self.offset = self._value("offset", offset)

    def _value(self, what, v):
        if isinstance(v, (list, tuple, np.ndarray)):
            arr = np.asarray(v, dtype=np.float64)
            if arr.ndim != 1 or arr.size == 0:
                raise ValueError(f"Rescaling '{self.name}': {what} must be a number or a 1-D sequence, got {v!r}")
            return [float(a) for a in arr]
        return _number(self, what, v)

    def forward(self, x, training=False):
        scale = np.asarray(self.scale, dtype=x.dtype)
        self._scale = scale
        return x * scale + np.asarray(self.offset, dtype=x.dtype)

    def backward(self, dout):
        return dout * self._scale

    def get_config(self):
        config = super().get_config()
        config.update(scale=self.scale, offset=self.offset)
        return config


class Resizing(Layer):
    """Resize images to (height, width): (N, H, W, C) -> (N, height, width, C).

    interpolation 'bilinear' (default) or 'nearest', half-pixel centres as in
    Keras 3 (no antialiasing). ``crop_to_aspect_ratio=True`` first crops the
    largest centred window with the target's aspect ratio;
    ``pad_to_aspect_ratio=True`` instead pads with ``fill_value`` to it.
    """
    weightless = True

    def __init__(self, height, width, interpolation="bilinear", crop_to_aspect_ratio=False,
                 pad_to_aspect_ratio=False, fill_mode="constant", fill_value=0.0, antialias=False,
                 data_format=None, **kwargs):
        super().__init__(**kwargs)
        where = f"Resizing '{self.name}'"
        for what, v in (("height", height), ("width", width)):
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
                raise ValueError(f"{where}: {what} must be a positive int, got {v!r}")
        _check_data_format(self, data_format)
        self.height, self.width = int(height), int(width)
        self.interpolation = _choice(self, "interpolation", interpolation, _resample.INTERPOLATIONS)
        if crop_to_aspect_ratio and pad_to_aspect_ratio:
            raise ValueError(f"{where}: only one of crop_to_aspect_ratio and pad_to_aspect_ratio can be True")
        self.crop_to_aspect_ratio = bool(crop_to_aspect_ratio)
        self.pad_to_aspect_ratio = bool(pad_to_aspect_ratio)
        self.fill_mode = _choice(self, "fill_mode", fill_mode, ("constant",))
        self.fill_value = _number(self, "fill_value", fill_value)
        if antialias:
            raise ValueError(f"{where}: antialias=True is not supported")
        self.antialias = False

    def compute_output_shape(self, input_shape):
        _check_image_rank(self, input_shape)
        return (self.height, self.width, input_shape[2])

    def build(self, input_shape):
        _check_image_rank(self, input_shape)
        self._plans = {}            # (H, W) -> geometry; H and W may be None until data comes

    def _plan(self, H, W):
        """(crop, pad, Rh, Rw) for H x W inputs: the crop or pad box, and the two 1-D resize matrices."""
        if (H, W) in self._plans:
            return self._plans[(H, W)]
        th, tw = self.height, self.width
        crop = pad = None
        h, w = H, W
        if self.crop_to_aspect_ratio:
            ch = max(min(H, int(W * th / tw)), 1)
            cw = max(min(W, int(H * tw / th)), 1)
            crop = (int((H - ch) / 2), ch, int((W - cw) / 2), cw)
            h, w = ch, cw
        elif self.pad_to_aspect_ratio:
            # Keras pads the same amount on both sides (so an odd difference loses a row).
            top = int((max(H, int(W * th / tw)) - H) / 2)
            left = int((max(W, int(H * tw / th)) - W) / 2)
            pad = (top, top, left, left)
            h, w = H + 2 * top, W + 2 * left
        plan = (crop, pad, _resample.resize_matrix(h, th, self.interpolation),
                _resample.resize_matrix(w, tw, self.interpolation))
        self._plans[(H, W)] = plan
        return plan

    def forward(self, x, training=False):
        self._x_shape = x.shape
        crop, pad, Rh, Rw = self._current = self._plan(x.shape[1], x.shape[2])
        if crop is not None:
            top, ch, left, cw = crop
            x = x[:, top:top + ch, left:left + cw]
        elif pad is not None:
            t, b, l, r = pad
            x = np.pad(x, [(0, 0), (t, b), (l, r), (0, 0)], constant_values=self.fill_value)
        return _resample.resize_forward(x, Rh, Rw)

    def backward(self, dout):
        crop, pad, Rh, Rw = self._current
        d = _resample.resize_backward(dout, Rh, Rw)
        if crop is not None:
            top, ch, left, cw = crop
            dx = np.zeros(self._x_shape, dtype=d.dtype)
            dx[:, top:top + ch, left:left + cw] = d
            return dx
        if pad is not None:
            t, b, l, r = pad
            return np.ascontiguousarray(d[:, t:d.shape[1] - b, l:d.shape[2] - r])
        return d

    def get_config(self):
        config = super().get_config()
        config.update(height=self.height, width=self.width, interpolation=self.interpolation,
                      crop_to_aspect_ratio=self.crop_to_aspect_ratio,
                      pad_to_aspect_ratio=self.pad_to_aspect_ratio, fill_mode=self.fill_mode,
                      fill_value=self.fill_value, antialias=self.antialias, data_format="channels_last")
        return config


# ------------------------------------------------------------------ random
class _RandomLayer(Layer):
    """Seeded generator, and identity outside training.

    Called directly on images, ``layer(images)``, the layer augments, as in
    Keras 3 (its image layers' ``training`` defaults to True, so that they
    can be mapped over a dataset); models pass ``training`` explicitly:
    True in ``fit``, False in ``predict``/``evaluate``.
    """
    weightless = True

    def __call__(self, inputs, training=None):
        # On arrays the default is to augment; on symbolic tensors (building a
        # model) the model's fit/predict decides, so leave it open.
        if training is None and not _symbolic(inputs):
            training = True
        return super().__call__(inputs, training=training)

    def __init__(self, seed=None, data_format=None, **kwargs):
        super().__init__(**kwargs)
        _check_data_format(self, data_format)
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))):
            raise TypeError(f"{type(self).__name__} '{self.name}': seed must be an int or None, got {seed!r}")
        self.seed = None if seed is None else int(seed)
        self._rng = np.random.default_rng(self.seed if self.seed is not None
                                          else backend.global_rng().integers(2**63))

    def compute_output_shape(self, input_shape):
        _check_image_rank(self, input_shape)
        return input_shape

    def forward(self, x, training=False):
        self._active = bool(training)
        if not training:
            return x
        return self._augment(x)

    def backward(self, dout):
        if not self._active:
            return dout
        return self._augment_backward(dout)

    def get_config(self):
        config = super().get_config()
        config.update(seed=self.seed, data_format="channels_last")
        return config


class RandomFlip(_RandomLayer):
    """Flip each image with probability 1/2.

    mode 'horizontal' (left-right), 'vertical' (up-down), or
    'horizontal_and_vertical' (the default: one draw per image decides both
    flips, as in Keras 3).
    """

    MODES = ("horizontal", "vertical", "horizontal_and_vertical")

    def __init__(self, mode="horizontal_and_vertical", seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        self.mode = _choice(self, "mode", mode, self.MODES)

    def _flip(self, x):
        out = x.copy()
        f = self._flips
        if self.mode != "vertical":
            out[f] = out[f][:, :, ::-1]
        if self.mode != "horizontal":
            out[f] = out[f][:, ::-1]
        return out

    def _augment(self, x):
        self._flips = self._rng.random(x.shape[0]) <= 0.5
        return self._flip(x)

    def _augment_backward(self, dout):
        return self._flip(dout)             # a flip is its own inverse and transpose

    def get_config(self):
        config = super().get_config()
        config["mode"] = self.mode
        return config


def _range(layer, what, factor, bounds, closed_low=True):
    """Keras' factor argument: a number f means (-f, f), a pair (lower, upper)."""
    lo, hi = bounds
    where = f"{type(layer).__name__} '{layer.name}'"

    def check(v):
        v = _number(layer, what, v)
        if v > hi or (v < lo if closed_low else v <= lo):
            raise ValueError(f"{where}: {what} values must lie in [{lo}, {hi}], got {factor!r}")
        return v

    if isinstance(factor, (list, tuple)):
        if len(factor) != 2:
            raise ValueError(f"{where}: {what} must be a number or a pair (lower, upper), got {factor!r}")
        a, b = sorted(check(v) for v in factor)
        return a, b
    f = abs(check(factor))
    return -f, f


def _as_given(factor):
    """A factor as the user gave it, in JSON form (Keras keeps these in the config)."""
    if isinstance(factor, (list, tuple)):
        return [float(f) for f in factor]
    return None if factor is None else float(factor)


class _AffineLayer(_RandomLayer):
    """Shared by the geometric layers: fill_mode, interpolation, the sparse warp."""

    def __init__(self, fill_mode="reflect", interpolation="bilinear", seed=None, fill_value=0.0, **kwargs):
        super().__init__(seed=seed, **kwargs)
        self.fill_mode = _choice(self, "fill_mode", fill_mode, _resample.FILL_MODES)
        self.interpolation = _choice(self, "interpolation", interpolation, _resample.INTERPOLATIONS)
        self.fill_value = _number(self, "fill_value", fill_value)

    def _augment(self, x):
        N, H, W, _ = x.shape
        self._M, outside = _resample.affine_matrix(self._transforms(N, H, W), H, W,
                                                   self.interpolation, self.fill_mode)
        return _resample.warp_forward(x, self._M, outside, self.fill_value)

    def _augment_backward(self, dout):
        return _resample.warp_backward(dout, self._M)

    def get_config(self):
        config = super().get_config()
        config.update(fill_mode=self.fill_mode, interpolation=self.interpolation, fill_value=self.fill_value)
        return config


class RandomRotation(_AffineLayer):
    """Rotate each image about its centre by a random angle.

    factor: a fraction of a full turn; f means an angle in [-f*360, f*360]
    degrees, a pair (lower, upper) [lower*360, upper*360]. Pixels that come
    from outside the image are read through ``fill_mode``.
    """

    def __init__(self, factor, fill_mode="reflect", interpolation="bilinear", seed=None, fill_value=0.0,
                 **kwargs):
        super().__init__(fill_mode=fill_mode, interpolation=interpolation, seed=seed, fill_value=fill_value,
                         **kwargs)
        self.factor = _range(self, "factor", factor, (-1.0, 1.0))

    def _transforms(self, N, H, W):
        angle = self._rng.uniform(self.factor[0] * 360.0, self.factor[1] * 360.0, N) * (math.pi / 180.0)
        cos, sin = np.cos(angle), np.sin(angle)
        cx, cy = 0.5 * (W - 1), 0.5 * (H - 1)
        a0, a1 = cos, -sin
        b0, b1 = sin, cos
        return np.stack([a0, a1, cx - cx * a0 - cy * a1, b0, b1, cy - cx * b0 - cy * b1], axis=1)

    def get_config(self):
        config = super().get_config()
        config["factor"] = list(self.factor)
        return config


class RandomZoom(_AffineLayer):
    """Zoom each image about its centre by a random factor.

    height_factor: f means a vertical zoom of 1 + z for z in [-f, f]
    (a pair gives [lower, upper]); values in (-1, 1]. A positive z zooms out
    (the picture shrinks), a negative one zooms in. ``width_factor=None`` keeps
    the aspect ratio (the same zoom on both axes).
    """

    def __init__(self, height_factor, width_factor=None, fill_mode="reflect", interpolation="bilinear",
                 seed=None, fill_value=0.0, **kwargs):
        super().__init__(fill_mode=fill_mode, interpolation=interpolation, seed=seed, fill_value=fill_value,
                         **kwargs)
        self.height_factor, self.width_factor = _as_given(height_factor), _as_given(width_factor)
        self._height_range = _range(self, "height_factor", height_factor, (-1.0, 1.0), closed_low=False)
        self._width_range = None if width_factor is None else \
            _range(self, "width_factor", width_factor, (-1.0, 1.0), closed_low=False)

    def _transforms(self, N, H, W):
        zy = 1.0 + self._rng.uniform(*self._height_range, N)
        zx = zy if self._width_range is None else 1.0 + self._rng.uniform(*self._width_range, N)
        zero = np.zeros(N)
        return np.stack([zx, zero, (W - 1) / 2.0 * (1.0 - zx), zero, zy, (H - 1) / 2.0 * (1.0 - zy)], axis=1)

    def get_config(self):
        config = super().get_config()
        config.update(height_factor=self.height_factor, width_factor=self.width_factor)
        return config


class RandomTranslation(_AffineLayer):
    """Shift each image by a random fraction of its height and width.

    height_factor f: a shift of d*height rows for d in [-f, f] (a pair gives
    [lower, upper]; positive moves the picture down); width_factor likewise
    for columns (positive moves it right). Values in [-1, 1].
    """

    def __init__(self, height_factor, width_factor, fill_mode="reflect", interpolation="bilinear",
                 seed=None, fill_value=0.0, **kwargs):
        super().__init__(fill_mode=fill_mode, interpolation=interpolation, seed=seed, fill_value=fill_value,
                         **kwargs)
        self.height_factor, self.width_factor = _as_given(height_factor), _as_given(width_factor)
        self._height_range = _range(self, "height_factor", height_factor, (-1.0, 1.0))
        self._width_range = _range(self, "width_factor", width_factor, (-1.0, 1.0))

    def _transforms(self, N, H, W):
        dy = self._rng.uniform(*self._height_range, N) * H
        dx = self._rng.uniform(*self._width_range, N) * W
        one, zero = np.ones(N), np.zeros(N)
        return np.stack([one, zero, -dx, zero, one, -dy], axis=1)

    def get_config(self):
        config = super().get_config()
        config.update(height_factor=self.height_factor, width_factor=self.width_factor)
        return config


class RandomContrast(_RandomLayer):
    """Scale each image's contrast by a random factor, per image.

    ``out = clip((x - mean) * c + mean, *value_range)``, the mean per image and
    channel over height and width, c uniform in [1 - lower, 1 + upper];
    factor f means lower = upper = f (the rule Keras documents, and tf.keras 2's),
    a pair (lower, upper) gives both; values in [0, 1]. (Keras 3.15's code
    turns a single f into (0, f), i.e. draws c from [1, 1 + f] only; a pair
    means the same in both.)
    """

    def __init__(self, factor, value_range=(0, 255), seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        where = f"RandomContrast '{self.name}'"
        if isinstance(factor, (list, tuple)):
            if len(factor) != 2:
                raise ValueError(f"{where}: factor must be a number or a pair (lower, upper), got {factor!r}")
            lower, upper = (_number(self, "factor", f) for f in factor)
        else:
            lower = upper = _number(self, "factor", factor)
        if not (0 <= lower <= 1 and 0 <= upper <= 1):
            raise ValueError(f"{where}: factor values must lie in [0, 1], got {factor!r}")
        self.factor = (lower, upper)
        try:
            lo, hi = (float(v) for v in value_range)
        except (TypeError, ValueError):
            raise ValueError(f"{where}: value_range must be a pair (low, high), got {value_range!r}") from None
        if not lo < hi:
            raise ValueError(f"{where}: value_range must have low < high, got {value_range!r}")
        self.value_range = (lo, hi)

    def _augment(self, x):
        c = self._rng.uniform(1.0 - self.factor[0], 1.0 + self.factor[1], (x.shape[0], 1, 1, 1)).astype(x.dtype)
        mean = x.mean(axis=(1, 2), keepdims=True)
        y = (x - mean) * c + mean
        lo, hi = self.value_range
        self._c, self._pass = c, (y >= lo) & (y <= hi)
        return np.clip(y, lo, hi).astype(x.dtype, copy=False)

    def _augment_backward(self, dout):
        # y = c*x + (1 - c)*mean(x): dx = c*g + (1 - c)*mean(g) over (H, W).
        g = dout * self._pass
        return (g * self._c + (1 - self._c) * g.mean(axis=(1, 2), keepdims=True)).astype(dout.dtype, copy=False)

    def get_config(self):
        config = super().get_config()
        config.update(factor=list(self.factor), value_range=list(self.value_range))
        return config
