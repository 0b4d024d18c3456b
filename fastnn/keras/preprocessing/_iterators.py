"""The batch iterators of ``ImageDataGenerator``: ``flow`` and ``flow_from_directory``.

Both are ``keras.utils.Sequence``s: ``len(it)`` batches per pass, ``it[i]`` is
batch i of the current pass, ``on_epoch_end()`` starts the next pass (a new
order when ``shuffle``), and ``next(it)`` walks the passes for ever as in
Keras. Batch i of pass e uses the order ``rng(seed, e)`` and augmentation
draws ``rng(seed, e, i)``, so the same seed gives the same batches whatever
thread computes them and whether the images come from arrays or files.
"""
import os
import threading

import numpy as np

from .._pydataset import PyDataset
from . import _files

CLASS_MODES = ("categorical", "binary", "sparse", "input", None)


class Iterator(PyDataset):
    """Common part: batch bookkeeping over ``n`` samples."""

    def __init__(self, n, batch_size, shuffle, seed):
        super().__init__()
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise ValueError(f"{type(self).__name__}: batch_size must be a positive int, got {batch_size!r}")
        self.n = int(n)
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.seed = int(np.random.default_rng().integers(2**31)) if seed is None else int(seed)
        self.batch_index = 0
        self.total_batches_seen = 0
        self.epoch = 0
        self.index_array = None
        self.lock = threading.Lock()

    def _set_index_array(self):
        if self.shuffle:
            self.index_array = np.random.default_rng([self.seed, self.epoch]).permutation(self.n)
        else:
            self.index_array = np.arange(self.n)

    def __len__(self):
        return -(-self.n // self.batch_size)

    def __getitem__(self, idx):
        if isinstance(idx, bool) or not isinstance(idx, (int, np.integer)):
            raise TypeError(f"{type(self).__name__}: batch index must be an int, got {type(idx).__name__}")
        if not 0 <= idx < len(self):
            raise ValueError(f"Asked to retrieve element {idx}, but the Sequence has length {len(self)}")
        with self.lock:
            if self.index_array is None:
                self._set_index_array()
            rows = self.index_array[self.batch_size * idx:self.batch_size * (idx + 1)]
            epoch = self.epoch
        return self._get_batches_of_transformed_samples(rows, np.random.default_rng([self.seed, epoch, int(idx)]))

    def on_epoch_end(self):
        with self.lock:
            self.epoch += 1
            self._set_index_array()

    def reset(self):
        self.batch_index = 0

    def __iter__(self):
        return self

    def __next__(self):
        with self.lock:
            idx = self.batch_index
            self.batch_index += 1
            self.total_batches_seen += 1
            wrap = self.batch_index >= len(self)
            if wrap:
                self.batch_index = 0
        batch = self[idx]
        if wrap:
            self.on_epoch_end()
        return batch

    def next(self):
        return self.__next__()

    # ------------------------------------------------------------------
    def _image(self, j):
        raise NotImplementedError

    def _transform_batch(self, rows, rng):
        gen = self.image_data_generator
        first = self._image(rows[0])
        out = np.empty((len(rows),) + first.shape, dtype=self.dtype)
        for k, j in enumerate(rows):
            img = first if k == 0 else self._image(j)
            img = gen.apply_transform(img, gen._draw(img.shape, rng))
            out[k] = gen.standardize(img)
        if self.save_to_dir:
            for k, j in enumerate(rows):
                name = f"{self.save_prefix}_{int(j)}_{int(rng.integers(10**4))}.{self.save_format}"
                _files.save_img(os.path.join(self.save_to_dir, name), out[k], scale=True)
        return out


class NumpyArrayIterator(Iterator):
    """``ImageDataGenerator.flow(x, y)``: augmented batches from arrays (n, h, w, c)."""

    def __init__(self, x, y, image_data_generator, batch_size=32, shuffle=False, sample_weight=None, seed=None,
                 save_to_dir=None, save_prefix="", save_format="png", subset=None, dtype=None):
        where = "ImageDataGenerator.flow"
        self.dtype = dtype or image_data_generator.dtype
        x = np.asarray(x)
        if x.dtype.kind not in "iufb":
            raise TypeError(f"{where}: x must be numeric images, got dtype {x.dtype}")
        if x.ndim != 4:
            raise ValueError(f"{where}: x must be images of rank 4 (n, height, width, channels), got shape {x.shape}")
        if y is not None:
            y = np.asarray(y)
            if len(y) != len(x):
                raise ValueError(f"{where}: x and y must have the same length, got {len(x)} and {len(y)}")
        if sample_weight is not None:
            sample_weight = np.asarray(sample_weight)
            if len(sample_weight) != len(x):
                raise ValueError(f"{where}: x and sample_weight must have the same length, "
                                 f"got {len(x)} and {len(sample_weight)}")
        if subset is not None:
            if subset not in ("training", "validation"):
                raise ValueError(f"{where}: subset must be 'training' or 'validation', got {subset!r}")
            split = int(len(x) * image_data_generator.validation_split)
            if split == 0:
                raise ValueError(f"{where}: subset={subset!r} needs ImageDataGenerator(validation_split=...) > 0")
            sl = slice(None, split) if subset == "validation" else slice(split, None)
            x = x[sl]
            y = None if y is None else y[sl]
            sample_weight = None if sample_weight is None else sample_weight[sl]
        if len(x) == 0:
            raise ValueError(f"{where}: no images to iterate over")
        self.x = np.asarray(x, dtype=self.dtype)
        self.y = y
        self.sample_weight = sample_weight
        self.image_data_generator = image_data_generator
        self.save_to_dir, self.save_prefix, self.save_format = save_to_dir, save_prefix, save_format
        super().__init__(len(self.x), batch_size, shuffle, seed)

    def _image(self, j):
        return self.x[j].copy()          # transforms and preprocessing_function never touch self.x

    def _get_batches_of_transformed_samples(self, rows, rng):
        bx = self._transform_batch(rows, rng)
        if self.y is None:
            return bx
        if self.sample_weight is None:
            return bx, self.y[rows]
        return bx, self.y[rows], self.sample_weight[rows]


class DirectoryIterator(Iterator):
    """``ImageDataGenerator.flow_from_directory``: images read from one sub-folder per class.

    Attributes as in Keras: ``class_indices`` (name -> index, folders sorted),
    ``classes`` (index per file), ``filenames`` (relative paths, class by
    class, sorted), ``samples``/``n``, ``image_shape``, ``num_classes``.
    """

    white_list_formats = _files.GENERATOR_FORMATS

    def __init__(self, directory, image_data_generator, target_size=(256, 256), color_mode="rgb", classes=None,
                 class_mode="categorical", batch_size=32, shuffle=True, seed=None, data_format=None,
                 save_to_dir=None, save_prefix="", save_format="png", follow_links=False, subset=None,
                 interpolation="nearest", keep_aspect_ratio=False, dtype=None):
        where = "flow_from_directory"
        self.directory = _files.check_directory(directory, where)
        self.target_size = _files.check_size(target_size, where, "target_size")
        self.color_mode = _files.check_color_mode(color_mode, where)
        _files.resample_filter(interpolation, where)
        if class_mode not in CLASS_MODES:
            raise ValueError(f"{where}: class_mode must be one of {list(CLASS_MODES)}, got {class_mode!r}")
        if subset not in (None, "training", "validation"):
            raise ValueError(f"{where}: subset must be 'training' or 'validation', got {subset!r}")
        self.image_data_generator = image_data_generator
        self.dtype = dtype or image_data_generator.dtype
        self.class_mode = class_mode
        self.interpolation = interpolation
        self.keep_aspect_ratio = keep_aspect_ratio
        self.image_shape = self.target_size + (_files.CHANNELS[color_mode],)
        self.save_to_dir, self.save_prefix, self.save_format = save_to_dir, save_prefix, save_format
        self.subset = subset
        if classes is None:
            classes = _files.subdirectories(self.directory)
        else:
            classes = list(classes)
            for c in classes:
                if not os.path.isdir(os.path.join(self.directory, c)):
                    raise FileNotFoundError(f"{where}: class folder {os.path.join(self.directory, c)!r} not found")
        self.num_classes = len(classes)
        self.class_indices = dict(zip(classes, range(len(classes))))
        paths, labels = _files.list_image_files(self.directory, classes, self.white_list_formats, follow_links, where)
        if subset is not None:
            split = image_data_generator.validation_split
            if not split:
                raise ValueError(f"{where}: subset={subset!r} needs ImageDataGenerator(validation_split=...) > 0")
            keep = []
            for k in range(len(classes)):
                idx = np.flatnonzero(labels == k)
                lo, hi = (0, split) if subset == "validation" else (split, 1)
                keep.extend(idx[int(lo * len(idx)):int(hi * len(idx))])
            keep = np.asarray(keep, dtype=int)
            paths = [paths[i] for i in keep]
            labels = labels[keep]
        self.filenames = paths
        self.classes = labels
        self.samples = len(paths)
        print(f"Found {self.samples} images belonging to {self.num_classes} classes.")
        if self.samples == 0:
            looked = ", ".join(repr(os.path.join(self.directory, c)) for c in classes) or "(no sub-folders)"
            raise ValueError(
                f"{where}: Found 0 images in {self.directory!r}: expected one sub-folder per class holding "
                f"{'/'.join(e.lstrip('.') for e in self.white_list_formats)} files; looked in {looked}"
            )
        super().__init__(self.samples, batch_size, shuffle, seed)

    @property
    def filepaths(self):
        return [os.path.join(self.directory, f) for f in self.filenames]

    @property
    def labels(self):
        return self.classes

    def _image(self, j):
        img = _files.load_img(os.path.join(self.directory, self.filenames[j]), color_mode=self.color_mode,
                              target_size=self.target_size, interpolation=self.interpolation,
                              keep_aspect_ratio=self.keep_aspect_ratio)
        x = _files.img_to_array(img, dtype=self.dtype)
        img.close()
        return x

    def _get_batches_of_transformed_samples(self, rows, rng):
        bx = self._transform_batch(rows, rng)
        if self.class_mode == "input":
            return bx, bx.copy()
        if self.class_mode is None:
            return bx
        cls = self.classes[rows]
        if self.class_mode == "categorical":
            by = np.zeros((len(rows), self.num_classes), dtype=self.dtype)
            by[np.arange(len(rows)), cls] = 1
        else:                                   # sparse, binary
            by = cls.astype(self.dtype)
        return bx, by
