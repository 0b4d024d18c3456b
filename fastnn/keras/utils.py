"""``keras.utils``: to_categorical, set_random_seed, Progbar, Sequence/PyDataset, image files
(load_img, img_to_array, array_to_img, save_img) and image_dataset_from_directory."""
import numpy as np

from ._plot_model import model_to_dot, plot_model  # noqa: F401
from ._progbar import Progbar  # noqa: F401
from .backend import set_random_seed  # noqa: F401


def to_categorical(y, num_classes=None, dtype="float32"):
    """Integer class labels (any shape) -> one-hot rows: shape y.shape + (num_classes,).

    A trailing axis of size 1 is dropped first, as in Keras: (N, 1) -> (N, num_classes).
    """
    if hasattr(y, "to_numpy"):
        y = y.to_numpy()
    y = np.asarray(y)
    if y.dtype.kind not in "iuf":
        raise TypeError(f"to_categorical: labels must be integers, got dtype {y.dtype}")
    if y.dtype.kind == "f" and (not np.all(np.isfinite(y)) or np.any(y != np.round(y))):
        raise ValueError("to_categorical: labels must be whole numbers")
    y = y.astype(np.int64)
    if y.ndim > 1 and y.shape[-1] == 1:
        y = y.reshape(y.shape[:-1])
    if y.size and y.min() < 0:
        raise ValueError(f"to_categorical: labels must be >= 0, got {y.min()}")
    if num_classes is None:
        num_classes = int(y.max()) + 1 if y.size else 0
    elif y.size and y.max() >= num_classes:
        raise ValueError(f"to_categorical: label {y.max()} does not fit num_classes={num_classes}")
    out = np.zeros(y.shape + (int(num_classes),), dtype=dtype)
    np.put_along_axis(out, y[..., None], 1, axis=-1)
    return out


# Image files, datasets and Sequences (Keras 3 puts them under keras.utils).
from ._pydataset import PyDataset, Sequence  # noqa: E402,F401
from .preprocessing._dataset_from_directory import image_dataset_from_directory  # noqa: E402,F401
from .preprocessing._files import array_to_img, img_to_array, load_img, save_img  # noqa: E402,F401
