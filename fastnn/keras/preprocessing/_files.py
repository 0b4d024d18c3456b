"""Image files <-> arrays with Pillow: ``load_img``, ``img_to_array``, ``array_to_img``, ``save_img``.

Arrays are channels-last ``(height, width, channels)``, float32 by default,
pixel values 0..255 as stored in the file. A file Pillow cannot decode (not
an image, truncated, corrupt) raises ``ValueError`` naming it.
"""
import io
import os

import numpy as np

from .. import backend

try:
    from PIL import Image
except ImportError:                     # pragma: no cover - Pillow is a runtime dependency
    Image = None

# Keras' white lists: ImageDataGenerator (tf.keras 2) and image_dataset_from_directory (Keras 3).
GENERATOR_FORMATS = (".png", ".jpg", ".jpeg", ".bmp", ".ppm", ".tif", ".tiff")
DATASET_FORMATS = (".bmp", ".gif", ".jpeg", ".jpg", ".png")

COLOR_MODES = {"grayscale": "L", "rgb": "RGB", "rgba": "RGBA"}
CHANNELS = {"grayscale": 1, "rgb": 3, "rgba": 4}


def _pil():
    if Image is None:
        raise ImportError("fastnn.keras.preprocessing.image needs Pillow: pip install Pillow")
    return Image


def resample_filter(interpolation, where):
    pil = _pil()
    filters = {"nearest": pil.Resampling.NEAREST, "bilinear": pil.Resampling.BILINEAR,
               "bicubic": pil.Resampling.BICUBIC, "hamming": pil.Resampling.HAMMING,
               "box": pil.Resampling.BOX, "lanczos": pil.Resampling.LANCZOS}
    if interpolation not in filters:
        raise ValueError(f"{where}: interpolation must be one of {sorted(filters)}, got {interpolation!r}")
    return filters[interpolation]


def check_color_mode(color_mode, where):
    if color_mode not in COLOR_MODES:
        raise ValueError(f"{where}: color_mode must be 'grayscale', 'rgb' or 'rgba', got {color_mode!r}")
    return color_mode


def check_size(size, where, what):
    if (not isinstance(size, (tuple, list)) or len(size) != 2
            or not all(isinstance(s, (int, np.integer)) and not isinstance(s, bool) and s > 0 for s in size)):
        raise ValueError(f"{where}: {what} must be (height, width) with positive ints, got {size!r}")
    return int(size[0]), int(size[1])


def _crop_box(width, height, target_h, target_w):
    """The centred box of the target's aspect ratio inside a width x height image."""
    aspect = target_w / target_h
    crop_w = min(width, int(round(height * aspect)))
    crop_h = min(height, int(round(width / aspect)))
    left = (width - crop_w) // 2
    top = (height - crop_h) // 2
    return left, top, left + crop_w, top + crop_h


def load_img(path, grayscale=False, color_mode="rgb", target_size=None, interpolation="nearest",
             keep_aspect_ratio=False):
    """A ``PIL.Image`` from ``path`` (or a file object) in ``color_mode``, resized to
    ``target_size=(height, width)`` when given (centre-cropped to its aspect ratio first
    with ``keep_aspect_ratio=True``)."""
    pil = _pil()
    where = "load_img"
    if grayscale:
        color_mode = "grayscale"
    check_color_mode(color_mode, where)
    resample = resample_filter(interpolation, where)
    if target_size is not None:
        target_size = check_size(target_size, where, "target_size")
    name = getattr(path, "name", path)
    if hasattr(path, "read"):
        data = path.read()
    else:
        path = os.fspath(path)
        if not os.path.exists(path):
            raise FileNotFoundError(f"{where}: no such file: {path!r}")
        with open(path, "rb") as fh:
            data = fh.read()
    try:
        img = pil.open(io.BytesIO(data))
        img.load()                                   # decode now: truncated files fail here
        mode = COLOR_MODES[color_mode]
        if color_mode == "grayscale":
            if img.mode not in ("L", "I;16", "I"):
                img = img.convert("L")
        elif img.mode != mode:
            img = img.convert(mode)
        if target_size is not None:
            th, tw = target_size
            if img.size != (tw, th):
                box = _crop_box(img.width, img.height, th, tw) if keep_aspect_ratio else None
                img = img.resize((tw, th), resample, box=box)
    except (pil.UnidentifiedImageError, pil.DecompressionBombError) as exc:
        raise ValueError(f"{where}: cannot read {name!r} as an image: {exc}") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise ValueError(f"{where}: cannot decode {name!r} (corrupt or truncated image file): {exc}") from None
    return img


def img_to_array(img, data_format=None, dtype=None):
    """A ``PIL.Image`` -> array ``(height, width, channels)`` (``channels_first``: ``(c, h, w)``)."""
    dtype = dtype or backend.floatx()
    x = np.asarray(img, dtype=dtype)
    if x.ndim == 2:
        x = x[:, :, None]
    elif x.ndim != 3:
        raise ValueError(f"img_to_array: unsupported image shape {x.shape}")
    if (data_format or "channels_last") == "channels_first":
        x = x.transpose(2, 0, 1)
    return x


def array_to_img(x, data_format=None, scale=True, dtype=None):
    """Array ``(h, w, c)`` with c in 1, 3, 4 -> ``PIL.Image`` ('L', 'RGB', 'RGBA').

    ``scale=True`` maps the array's min..max onto 0..255 (as Keras does);
    otherwise values are clipped to 0..255.
    """
    pil = _pil()
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 3:
        raise ValueError(f"array_to_img: expected an image array of rank 3 (height, width, channels), "
                         f"got shape {x.shape}")
    if (data_format or "channels_last") == "channels_first":
        x = x.transpose(1, 2, 0)
    if scale:
        x = x - np.min(x)
        top = np.max(x)
        if top != 0:
            x = x / top
        x = x * 255.0
    x = np.clip(np.rint(x), 0, 255).astype(np.uint8)
    channels = x.shape[2]
    if channels == 1:
        return pil.fromarray(x[:, :, 0], "L")
    if channels == 3:
        return pil.fromarray(x, "RGB")
    if channels == 4:
        return pil.fromarray(x, "RGBA")
    raise ValueError(f"array_to_img: expected 1, 3 or 4 channels, got {channels} (shape {x.shape})")


def save_img(path, x, data_format=None, file_format=None, scale=True, **kwargs):
    """Write an image array (or ``PIL.Image``) to ``path`` atomically; the format from
    ``file_format`` or the file name's extension."""
    from .._atomic import write_bytes
    img = x if Image is not None and isinstance(x, Image.Image) else array_to_img(x, data_format, scale)
    fmt = file_format
    if fmt is None:
        ext = os.path.splitext(os.fspath(path))[1].lower()
        fmt = _pil().registered_extensions().get(ext)
        if fmt is None:
            raise ValueError(f"save_img: cannot tell the image format of {os.fspath(path)!r}; "
                             f"give file_format='png' or a known extension")
    if fmt.upper() in ("JPEG", "JPG") and img.mode == "RGBA":
        img = img.convert("RGB")
    buf = io.BytesIO()
    img.save(buf, format=fmt, **kwargs)
    write_bytes(path, buf.getvalue())


def list_image_files(directory, class_dirs, formats, follow_links, where):
    """(relative paths, class index per file) of the image files under each class folder,
    folders in the given order, files sorted within each folder tree (Keras' order)."""
    paths, labels = [], []
    for k, cls in enumerate(class_dirs):
        root_dir = os.path.join(directory, cls)
        for root, dirs, files in sorted(os.walk(root_dir, followlinks=follow_links), key=lambda t: t[0]):
            for fname in sorted(files):
                if fname.lower().endswith(formats):
                    paths.append(os.path.relpath(os.path.join(root, fname), directory))
                    labels.append(k)
    return paths, np.asarray(labels, dtype=np.int32)


def check_directory(directory, where):
    directory = os.fspath(directory)
    if not os.path.isdir(directory):
        if os.path.exists(directory):
            raise NotADirectoryError(f"{where}: {directory!r} is not a directory")
        raise FileNotFoundError(f"{where}: directory not found: {directory!r}")
    return directory


def subdirectories(directory):
    return sorted(d for d in os.listdir(directory) if os.path.isdir(os.path.join(directory, d)))
