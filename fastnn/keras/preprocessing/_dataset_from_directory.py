"""``keras.utils.image_dataset_from_directory`` (Keras 3): a batched ``fastnn.data.Dataset``
of images read from one sub-folder per class.

    train, val = keras.utils.image_dataset_from_directory(
        "flowers", validation_split=0.2, subset="both", seed=123, image_size=(180, 180), batch_size=32)
    train.class_names                        # ['daisy', 'roses', ...]
    for images, labels in train: ...         # (32, 180, 180, 3) float32 0..255, (32,) int32

Files are listed in Keras' order (classes sorted, files sorted), shuffled once
with ``seed`` before the split, then shuffled again every pass; decoding and
resizing run in background threads (``map(num_parallel_calls=AUTOTUNE)`` and
``prefetch``).
"""
import os

import numpy as np

from ...data import AUTOTUNE, Dataset
from . import _files

LABEL_MODES = ("int", "categorical", "binary", None)


def image_dataset_from_directory(directory, labels="inferred", label_mode="int", class_names=None,
                                 color_mode="rgb", batch_size=32, image_size=(256, 256), shuffle=True, seed=None,
                                 validation_split=None, subset=None, interpolation="bilinear", follow_links=False,
                                 crop_to_aspect_ratio=False, pad_to_aspect_ratio=False, data_format=None,
                                 verbose=True):
    where = "image_dataset_from_directory"
    directory = _files.check_directory(directory, where)
    image_size = _files.check_size(image_size, where, "image_size")
    _files.check_color_mode(color_mode, where)
    _files.resample_filter(interpolation, where)
    if label_mode not in LABEL_MODES:
        raise ValueError(f"{where}: label_mode must be one of {list(LABEL_MODES)}, got {label_mode!r}")
    if data_format not in (None, "channels_last"):
        raise ValueError(f"{where}: only data_format='channels_last' is supported, got {data_format!r}")
    if pad_to_aspect_ratio:
        raise ValueError(f"{where}: pad_to_aspect_ratio is not supported; use crop_to_aspect_ratio=True")
    if batch_size is not None and (isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1):
        raise ValueError(f"{where}: batch_size must be a positive int or None, got {batch_size!r}")
    if subset not in (None, "training", "validation", "both"):
        raise ValueError(f"{where}: subset must be 'training', 'validation' or 'both', got {subset!r}")
    if (subset is None) != (not validation_split):
        raise ValueError(f"{where}: give validation_split and subset together (got validation_split="
                         f"{validation_split!r}, subset={subset!r})")
    if validation_split and not 0 < validation_split < 1:
        raise ValueError(f"{where}: validation_split must be in (0, 1), got {validation_split!r}")
    if validation_split and shuffle and seed is None:
        raise ValueError(f"{where}: with validation_split and shuffle=True give a seed, so that the "
                         f"training and validation subsets do not overlap")
    if labels not in ("inferred", None) and not isinstance(labels, (list, tuple, np.ndarray)):
        raise ValueError(f"{where}: labels must be 'inferred', None or a list of labels, got {labels!r}")

    if labels == "inferred":
        found = _files.subdirectories(directory)
        if class_names is not None:
            missing = sorted(set(class_names) - set(found))
            if missing:
                raise ValueError(f"{where}: class_names {missing} have no sub-folder in {directory!r}; "
                                 f"found {found}")
            found = list(class_names)
        class_names = found
        paths, file_labels = _files.list_image_files(directory, class_names, _files.DATASET_FORMATS,
                                                     follow_links, where)
    else:
        paths, _ = _files.list_image_files(directory, ["."], _files.DATASET_FORMATS, follow_links, where)
        if labels is None:
            file_labels = np.zeros(len(paths), dtype=np.int32)
            label_mode = None
        else:
            file_labels = np.asarray(labels)
            if len(file_labels) != len(paths):
                raise ValueError(f"{where}: {len(file_labels)} labels for {len(paths)} image files in {directory!r}")
            file_labels = file_labels.astype(np.int32)
        class_names = None
    n_classes = len(class_names) if class_names is not None else int(file_labels.max(initial=-1)) + 1
    if label_mode == "binary" and n_classes != 2:
        raise ValueError(f"{where}: label_mode='binary' needs exactly 2 classes, found {n_classes}")
    if verbose:
        print(f"Found {len(paths)} files belonging to {n_classes} classes.")
    if not paths:
        raise ValueError(f"{where}: Found 0 images in {directory!r} (looked for "
                         f"{'/'.join(e.lstrip('.') for e in _files.DATASET_FORMATS)} files"
                         f"{' in its class sub-folders' if labels == 'inferred' else ''})")
    full_paths = np.asarray([os.path.join(directory, p) for p in paths])
    if shuffle:
        order = np.random.default_rng(seed).permutation(len(full_paths))
        full_paths, file_labels = full_paths[order], file_labels[order]

    def subset_of(which):
        if not validation_split:
            return full_paths, file_labels
        n_val = int(validation_split * len(full_paths))
        if which == "training":
            p, l = full_paths[:len(full_paths) - n_val], file_labels[:len(full_paths) - n_val]
        else:
            p, l = full_paths[len(full_paths) - n_val:], file_labels[len(full_paths) - n_val:]
        if verbose:
            print(f"Using {len(p)} files for {which}.")
        return p, l

    def build(p, l):
        ds = _make_dataset(p, l, label_mode, n_classes, color_mode, image_size, interpolation,
                           crop_to_aspect_ratio, batch_size, shuffle, seed)
        ds.class_names = class_names
        ds.file_paths = list(p)
        return ds

    if subset == "both":
        return [build(*subset_of("training")), build(*subset_of("validation"))]
    return build(*subset_of(subset))


def _make_dataset(paths, labels, label_mode, n_classes, color_mode, image_size, interpolation, crop, batch_size,
                  shuffle, seed):
    def load(path):
        img = _files.load_img(str(path), color_mode=color_mode, target_size=image_size, interpolation=interpolation,
                              keep_aspect_ratio=crop)
        x = _files.img_to_array(img, dtype=np.float32)
        img.close()
        return x

    def label(k):
        if label_mode == "int":
            return np.int32(k)
        if label_mode == "binary":
            return np.asarray([k], dtype=np.float32)
        one = np.zeros(n_classes, dtype=np.float32)
        one[k] = 1
        return one

    if label_mode is None:
        ds = Dataset.from_tensor_slices(paths)
    else:
        ds = Dataset.from_tensor_slices((paths, labels))
    if shuffle:
        ds = ds.shuffle(max(len(paths), 1) if batch_size is None else max(batch_size * 8, 1), seed=seed)
    if label_mode is None:
        ds = ds.map(load, num_parallel_calls=AUTOTUNE)
    else:
        ds = ds.map(lambda p, k: (load(p), label(int(k))), num_parallel_calls=AUTOTUNE)
    if batch_size is not None:
        ds = ds.batch(batch_size)
    return ds.prefetch(AUTOTUNE)
