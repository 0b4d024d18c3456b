"""The geometric and colour transforms of ``ImageDataGenerator``.

One affine matrix per image, composed as Keras composes it (rotation, then
shift, then shear, then zoom, about the image centre), applied to every
channel by ``scipy.ndimage.affine_transform``. The matrix maps output pixel
coordinates ``(row, col, 1)`` to input coordinates, so ``zx > 1`` samples a
larger region (zooms out) and ``tx`` moves the sampling point down the rows.
"""
import numpy as np
from scipy import ndimage

FILL_MODES = {"nearest": "nearest", "constant": "constant", "reflect": "reflect", "wrap": "grid-wrap"}


def affine_matrix(theta=0.0, tx=0.0, ty=0.0, shear=0.0, zx=1.0, zy=1.0):
    """3x3 matrix (before centring) for rotation/shear in degrees, shifts in pixels, zoom factors."""
    m = np.eye(3)
    if theta:
        t = np.deg2rad(theta)
        m = m @ np.array([[np.cos(t), -np.sin(t), 0], [np.sin(t), np.cos(t), 0], [0, 0, 1]])
    if tx or ty:
        m = m @ np.array([[1, 0, tx], [0, 1, ty], [0, 0, 1]], dtype=float)
    if shear:
        s = np.deg2rad(shear)
        m = m @ np.array([[1, -np.sin(s), 0], [0, np.cos(s), 0], [0, 0, 1]])
    if zx != 1 or zy != 1:
        m = m @ np.array([[zx, 0, 0], [0, zy, 0], [0, 0, 1]], dtype=float)
    return m


def centred(matrix, h, w):
    """The same transform about the image centre ((h-1)/2, (w-1)/2) instead of the origin."""
    ox, oy = h / 2 - 0.5, w / 2 - 0.5
    to_centre = np.array([[1, 0, ox], [0, 1, oy], [0, 0, 1]])
    back = np.array([[1, 0, -ox], [0, 1, -oy], [0, 0, 1]])
    return to_centre @ matrix @ back


def apply_affine(x, matrix, fill_mode="nearest", cval=0.0, order=1):
    """x (h, w, c) resampled through ``centred(matrix)``; one call for all channels."""
    h, w, c = x.shape
    m = centred(matrix, h, w)
    mode = FILL_MODES[fill_mode]
    if order <= 1:
        m3 = np.eye(3)
        m3[:2, :2] = m[:2, :2]
        offset = np.array([m[0, 2], m[1, 2], 0.0])
        return ndimage.affine_transform(x, m3, offset, order=order, mode=mode, cval=cval)
    out = np.empty_like(x)
    for k in range(c):
        out[:, :, k] = ndimage.affine_transform(x[:, :, k], m[:2, :2], m[:2, 2], order=order,
                                                mode=mode, cval=cval)
    return out


def channel_shift(x, intensity):
    """Add ``intensity`` to every channel, clipped to the image's own value range."""
    lo, hi = np.min(x), np.max(x)
    return np.clip(x + intensity, lo, hi).astype(x.dtype, copy=False)


def brightness(x, factor):
    """Multiply by ``factor`` and clip to 0..255, as PIL's ImageEnhance.Brightness does on 8-bit images."""
    return np.clip(x * factor, 0, 255).astype(x.dtype, copy=False)
