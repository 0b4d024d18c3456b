"""``ImageDataGenerator``: real-time augmentation and standardisation of image batches.

    gen = ImageDataGenerator(rescale=1/255, rotation_range=20, width_shift_range=0.2,
                             height_shift_range=0.2, shear_range=0.2, zoom_range=0.5,
                             horizontal_flip=True)
    train = gen.flow_from_directory("c_vs_d/train", target_size=(224, 224), batch_size=100)
    model.fit(train, epochs=10)            # batches (100, 224, 224, 3), one-hot (100, 2)

Per image, in Keras' order: draw the random parameters
(``get_random_transform``), apply them (``apply_transform``: one affine
resampling, channel shift, flips, brightness), then ``standardize``
(``preprocessing_function``, ``rescale``, sample-wise then feature-wise
centring/normalisation, ZCA). Images are channels-last ``(h, w, c)``.
"""
import warnings

import numpy as np

from .. import backend
from . import _augment


def _range_pair(value, where, what, centre=None):
    if np.isscalar(value):
        v = float(value)
        if v < 0:
            raise ValueError(f"{where}: {what} must be >= 0, got {value!r}")
        return (centre - v, centre + v) if centre is not None else (-v, v)
    if len(value) == 2:
        return float(value[0]), float(value[1])
    raise ValueError(f"{where}: {what} must be a float or a pair [lower, upper], got {value!r}")


class ImageDataGenerator:
    """Keras' ``ImageDataGenerator`` (channels-last). Random draws come from ``seed``
    when one is given to ``flow``/``flow_from_directory``/``random_transform``."""

    def __init__(self, featurewise_center=False, samplewise_center=False, featurewise_std_normalization=False,
                 samplewise_std_normalization=False, zca_whitening=False, zca_epsilon=1e-6, rotation_range=0,
                 width_shift_range=0.0, height_shift_range=0.0, brightness_range=None, shear_range=0.0,
                 zoom_range=0.0, channel_shift_range=0.0, fill_mode="nearest", cval=0.0, horizontal_flip=False,
                 vertical_flip=False, rescale=None, preprocessing_function=None, data_format=None,
                 validation_split=0.0, interpolation_order=1, dtype=None):
        where = "ImageDataGenerator"
        if data_format not in (None, "channels_last"):
            raise ValueError(f"{where}: only data_format='channels_last' is supported, got {data_format!r}")
        if fill_mode not in _augment.FILL_MODES:
            raise ValueError(f"{where}: fill_mode must be one of {sorted(_augment.FILL_MODES)}, got {fill_mode!r}")
        if not 0 <= validation_split < 1:
            raise ValueError(f"{where}: validation_split must be in [0, 1), got {validation_split!r}")
        if brightness_range is not None:
            if np.isscalar(brightness_range) or len(brightness_range) != 2:
                raise ValueError(f"{where}: brightness_range must be a pair [lower, upper], got {brightness_range!r}")
            brightness_range = (float(brightness_range[0]), float(brightness_range[1]))
        if preprocessing_function is not None and not callable(preprocessing_function):
            raise TypeError(f"{where}: preprocessing_function must be callable")
        if interpolation_order not in range(6):
            raise ValueError(f"{where}: interpolation_order must be 0..5, got {interpolation_order!r}")
        for name, v in (("rotation_range", rotation_range), ("shear_range", shear_range),
                        ("channel_shift_range", channel_shift_range)):
            if not np.isscalar(v) or v < 0:
                raise ValueError(f"{where}: {name} must be a number >= 0, got {v!r}")
        self.featurewise_center = featurewise_center
        self.samplewise_center = samplewise_center
        self.featurewise_std_normalization = featurewise_std_normalization
        self.samplewise_std_normalization = samplewise_std_normalization
        self.zca_whitening = zca_whitening
        self.zca_epsilon = zca_epsilon
        self.rotation_range = float(rotation_range)
        self.width_shift_range = width_shift_range
        self.height_shift_range = height_shift_range
        self.brightness_range = brightness_range
        self.shear_range = float(shear_range)
        self.zoom_range = list(_range_pair(zoom_range, where, "zoom_range", centre=1.0))
        self.channel_shift_range = float(channel_shift_range)
        self.fill_mode = fill_mode
        self.cval = float(cval)
        self.horizontal_flip = bool(horizontal_flip)
        self.vertical_flip = bool(vertical_flip)
        self.rescale = rescale
        self.preprocessing_function = preprocessing_function
        self.data_format = "channels_last"
        self.validation_split = float(validation_split)
        self.interpolation_order = int(interpolation_order)
        self.dtype = dtype or backend.floatx()
        self.mean = self.std = self.zca_whitening_matrix = None
        self._rng = np.random.default_rng()
        if zca_whitening and (featurewise_std_normalization or not featurewise_center):
            if featurewise_std_normalization:
                warnings.warn("ImageDataGenerator: zca_whitening overrides featurewise_std_normalization")
                self.featurewise_std_normalization = False
            if not featurewise_center:
                warnings.warn("ImageDataGenerator: zca_whitening implies featurewise_center")
                self.featurewise_center = True

    # ---------------------------------------------------------- iterators
    def flow(self, x, y=None, batch_size=32, shuffle=True, sample_weight=None, seed=None, save_to_dir=None,
             save_prefix="", save_format="png", ignore_class_split=False, subset=None):
        """Batches of augmented images from arrays: ``(x, y)``, ``(x, y, sample_weight)`` or ``x``."""
        from ._iterators import NumpyArrayIterator
        return NumpyArrayIterator(x, y, self, batch_size=batch_size, shuffle=shuffle, sample_weight=sample_weight,
                                  seed=seed, save_to_dir=save_to_dir, save_prefix=save_prefix,
                                  save_format=save_format, subset=subset)

    def flow_from_directory(self, directory, target_size=(256, 256), color_mode="rgb", classes=None,
                            class_mode="categorical", batch_size=32, shuffle=True, seed=None, save_to_dir=None,
                            save_prefix="", save_format="png", follow_links=False, subset=None,
                            interpolation="nearest", keep_aspect_ratio=False):
        """Batches of augmented images read from ``directory/<class>/*.{png,jpg,...}``."""
        from ._iterators import DirectoryIterator
        return DirectoryIterator(directory, self, target_size=target_size, color_mode=color_mode,
                                 classes=classes, class_mode=class_mode, batch_size=batch_size, shuffle=shuffle,
                                 seed=seed, save_to_dir=save_to_dir, save_prefix=save_prefix,
                                 save_format=save_format, follow_links=follow_links, subset=subset,
                                 interpolation=interpolation, keep_aspect_ratio=keep_aspect_ratio)

    # ------------------------------------------------------- random draws
    def _shift(self, value, size, rng):
        """Keras' shift draw: float -> uniform in [-v, v] (a fraction of ``size`` when v < 1);
        int -> whole pixels in (-v, v); a list -> one of its values with a random sign."""
        if np.isscalar(value) and not value:
            return 0.0
        if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
            shift = float(rng.integers(-(int(value) - 1), int(value)))
        elif np.isscalar(value):
            shift = rng.uniform(-float(value), float(value))
        else:
            shift = float(rng.choice(np.asarray(value, dtype=float))) * float(rng.choice([-1, 1]))
        return shift * size if np.max(np.abs(value)) < 1 else shift

    def _draw(self, img_shape, rng):
        h, w = img_shape[0], img_shape[1]
        theta = rng.uniform(-self.rotation_range, self.rotation_range) if self.rotation_range else 0.0
        tx = self._shift(self.height_shift_range, h, rng)
        ty = self._shift(self.width_shift_range, w, rng)
        shear = rng.uniform(-self.shear_range, self.shear_range) if self.shear_range else 0.0
        if self.zoom_range[0] == 1 and self.zoom_range[1] == 1:
            zx = zy = 1.0
        else:
            zx, zy = rng.uniform(self.zoom_range[0], self.zoom_range[1], 2)
        flip_h = bool(rng.random() < 0.5) if self.horizontal_flip else False
        flip_v = bool(rng.random() < 0.5) if self.vertical_flip else False
        cs = rng.uniform(-self.channel_shift_range, self.channel_shift_range) if self.channel_shift_range else None
        br = rng.uniform(*self.brightness_range) if self.brightness_range is not None else None
        return {"theta": float(theta), "tx": float(tx), "ty": float(ty), "shear": float(shear),
                "zx": float(zx), "zy": float(zy), "flip_horizontal": flip_h, "flip_vertical": flip_v,
                "channel_shift_intensity": None if cs is None else float(cs),
                "brightness": None if br is None else float(br)}

    def get_random_transform(self, img_shape, seed=None):
        """A dict of random parameters for one image of shape (h, w, c): theta, tx, ty, shear,
        zx, zy, flip_horizontal, flip_vertical, channel_shift_intensity, brightness."""
        rng = self._rng if seed is None else np.random.default_rng(seed)
        return self._draw(img_shape, rng)

    def apply_transform(self, x, transform_parameters):
        """One image (h, w, c) transformed by the parameters of ``get_random_transform``."""
        x = np.asarray(x)
        if x.ndim != 3:
            raise ValueError(f"ImageDataGenerator.apply_transform: expected one image (h, w, c), got shape {x.shape}")
        p = transform_parameters
        m = _augment.affine_matrix(p.get("theta", 0), p.get("tx", 0), p.get("ty", 0), p.get("shear", 0),
                                   p.get("zx", 1), p.get("zy", 1))
        if not np.allclose(m, np.eye(3), rtol=0, atol=1e-12):
            x = _augment.apply_affine(x, m, self.fill_mode, self.cval, self.interpolation_order)
        if p.get("channel_shift_intensity") is not None:
            x = _augment.channel_shift(x, p["channel_shift_intensity"])
        if p.get("flip_horizontal"):
            x = x[:, ::-1, :]
        if p.get("flip_vertical"):
            x = x[::-1, :, :]
        if p.get("brightness") is not None:
            x = _augment.brightness(x, p["brightness"])
        return np.ascontiguousarray(x)

    def random_transform(self, x, seed=None):
        """One image with a random transform applied (reproducible with ``seed``)."""
        return self.apply_transform(x, self.get_random_transform(np.shape(x), seed))

    # --------------------------------------------------- standardisation
    def standardize(self, x):
        """Normalise one image or a batch; returns a new array (``x`` is left as it was)."""
        if self.preprocessing_function is not None:
            x = self.preprocessing_function(x)
        x = np.array(x, dtype=self.dtype)
        if self.rescale:
            x *= self.rescale
        if self.samplewise_center:
            x -= np.mean(x, keepdims=True)
        if self.samplewise_std_normalization:
            x /= np.std(x, keepdims=True) + 1e-6
        if self.featurewise_center:
            if self.mean is None:
                warnings.warn("ImageDataGenerator specifies featurewise_center but was not fit on any data; "
                              "call .fit(x_train) first")
            else:
                x -= self.mean
        if self.featurewise_std_normalization:
            if self.std is None:
                warnings.warn("ImageDataGenerator specifies featurewise_std_normalization but was not fit on "
                              "any data; call .fit(x_train) first")
            else:
                x /= self.std + 1e-6
        if self.zca_whitening and self.zca_whitening_matrix is not None:
            flat = x.reshape(-1, np.prod(x.shape[-3:]))
            x = (flat @ self.zca_whitening_matrix).reshape(x.shape).astype(self.dtype)
        return x

    def fit(self, x, augment=False, rounds=1, seed=None):
        """Compute the feature-wise mean/std (per channel) and the ZCA matrix from x (n, h, w, c)."""
        x = np.asarray(x, dtype=self.dtype)
        if x.ndim != 4:
            raise ValueError(f"ImageDataGenerator.fit: expected images (n, h, w, c), got shape {x.shape}")
        if x.shape[3] not in (1, 3, 4):
            warnings.warn(f"ImageDataGenerator.fit: images have {x.shape[3]} channels; expected 1, 3 or 4")
        if augment:
            rng = np.random.default_rng(seed)
            x = np.stack([self.apply_transform(img, self._draw(img.shape, rng))
                          for _ in range(int(rounds)) for img in x]).astype(self.dtype)
        else:
            x = x.copy()
        if self.rescale:
            x *= self.rescale
        if self.featurewise_center:
            self.mean = np.mean(x, axis=(0, 1, 2)).reshape(1, 1, -1).astype(self.dtype)
            x -= self.mean
        if self.featurewise_std_normalization:
            self.std = np.std(x, axis=(0, 1, 2)).reshape(1, 1, -1).astype(self.dtype)
            x /= self.std + 1e-6
        if self.zca_whitening:
            flat = x.reshape(x.shape[0], -1).astype(np.float64)
            cov = flat.T @ flat / flat.shape[0]
            u, s, _ = np.linalg.svd(cov)
            self.zca_whitening_matrix = ((u / np.sqrt(s + self.zca_epsilon)) @ u.T).astype(self.dtype)
