"""Model.fit/evaluate/predict on iterators, Sequences, generators and Datasets (real images)."""
import os
import signal
import threading
import time

import numpy as np
import pytest

from fastnn import keras
from fastnn.data import AUTOTUNE, Dataset
from fastnn.keras.preprocessing.image import ImageDataGenerator

from image_folders import real_images, write_folder


def fastnn_threads():
    return [t for t in threading.enumerate() if t.name.startswith("fastnn-")]


def no_threads_left(timeout=5.0):
    end = time.monotonic() + timeout
    while fastnn_threads() and time.monotonic() < end:
        time.sleep(0.01)
    return not fastnn_threads()


@pytest.fixture(scope="module")
def three_classes():
    """Fashion-MNIST (or MNIST) classes 0, 1, 7: training and test images."""
    xtr, ytr = real_images(200, classes=(0, 1, 7), split="train")
    xte, yte = real_images(100, classes=(0, 1, 7), split="t10k")
    return xtr, ytr, xte, yte


def small_cnn(seed=1, classes=3):
    keras.utils.set_random_seed(seed)
    m = keras.Sequential([
        keras.layers.Conv2D(8, 3, activation="relu", input_shape=(28, 28, 1)),
        keras.layers.MaxPooling2D(2),
        keras.layers.Flatten(),
        keras.layers.Dense(classes, activation="softmax"),
    ])
    m.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    return m


def test_training_from_a_folder_matches_training_from_arrays(tmp_path, three_classes, backend):
    xtr, ytr, xte, yte = three_classes
    root = tmp_path / "train"
    write_folder(root, xtr, ytr, ["c0_tshirt", "c1_trouser", "c7_sneaker"])
    gen = ImageDataGenerator(rescale=1 / 255)
    flow = gen.flow_from_directory(root, target_size=(28, 28), color_mode="grayscale", batch_size=32, seed=3)
    m_folder = small_cnn()
    h = m_folder.fit(flow, epochs=3, verbose=0)
    assert h.params["steps"] == len(flow) == 19
    xte_f = xte[..., None].astype(np.float32) / 255
    acc_folder = m_folder.evaluate(xte_f, keras.utils.to_categorical(yte), verbose=0)[1]
    # the same images as arrays through flow() with the same seed: the same batches, the same weights
    xs = np.stack([np.asarray(keras.utils.load_img(root / f, color_mode="grayscale"))
                   for f in flow.filenames])[..., None]
    m_flow = small_cnn()
    m_flow.fit(gen.flow(xs, keras.utils.to_categorical(flow.classes), batch_size=32, seed=3), epochs=3, verbose=0)
    for a, b in zip(m_folder.get_weights(), m_flow.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    # plain arrays in memory (own shuffling): the same test accuracy within 1%
    m_arrays = small_cnn()
    m_arrays.fit(xs.astype(np.float32) / 255, keras.utils.to_categorical(flow.classes), batch_size=32, epochs=3,
                 verbose=0)
    acc_arrays = m_arrays.evaluate(xte_f, keras.utils.to_categorical(yte), verbose=0)[1]
    assert acc_folder > 0.85
    assert abs(acc_folder - acc_arrays) <= 0.01 + 1e-9, (acc_folder, acc_arrays)


def test_image_dataset_from_directory(tmp_path, three_classes, capsys):
    xtr, ytr, *_ = three_classes
    x, y = xtr[::10], ytr[::10]
    root = tmp_path / "ds"
    sizes = [(28 + i % 5, 30 + i % 3) for i in range(len(x))]
    write_folder(root, x, y, ["a", "b", "c"], fmt="jpg", mode="RGB", sizes=sizes)
    ds = keras.utils.image_dataset_from_directory(root, image_size=(20, 24), batch_size=16, seed=1)
    assert "Found 60 files belonging to 3 classes." in capsys.readouterr().out
    assert ds.class_names == ["a", "b", "c"] and len(ds) == 4
    xb, yb = next(iter(ds))
    assert xb.shape == (16, 20, 24, 3) and xb.dtype == np.float32 and yb.dtype == np.int32
    labels = np.concatenate([b for _, b in ds])
    assert sorted(labels.tolist()) == sorted(y.tolist())
    cat = keras.utils.image_dataset_from_directory(root, image_size=(8, 8), label_mode="categorical",
                                                   color_mode="grayscale", shuffle=False, batch_size=None)
    first = next(iter(cat))
    assert first[0].shape == (8, 8, 1) and first[1].tolist() == [1, 0, 0]
    train, val = keras.utils.image_dataset_from_directory(root, image_size=(8, 8), validation_split=0.25,
                                                          subset="both", seed=7, batch_size=8)
    out = capsys.readouterr().out
    assert "Using 45 files for training." in out and "Using 15 files for validation." in out
    assert not set(train.file_paths) & set(val.file_paths)
    assert len(set(train.file_paths) | set(val.file_paths)) == 60
    m = keras.Sequential([keras.layers.Flatten(input_shape=(8, 8, 3)), keras.layers.Dense(3, activation="softmax")])
    m.compile("adam", "sparse_categorical_crossentropy", ["accuracy"])
    h = m.fit(train.map(lambda a, b: (a / 255, b)), validation_data=val.map(lambda a, b: (a / 255, b)),
              epochs=2, verbose=0)
    assert len(h.history["val_accuracy"]) == 2
    with pytest.raises(ValueError, match="seed"):
        keras.utils.image_dataset_from_directory(root, validation_split=0.2, subset="training")
    with pytest.raises(ValueError, match="binary"):
        keras.utils.image_dataset_from_directory(root, label_mode="binary")
    with pytest.raises(FileNotFoundError):
        keras.utils.image_dataset_from_directory(tmp_path / "none")


class Batches(keras.utils.PyDataset):
    def __init__(self, x, y, batch_size, log, **kwargs):
        super().__init__(**kwargs)
        self.x, self.y, self.batch_size, self.log = x, y, batch_size, log

    def __len__(self):
        return -(-len(self.x) // self.batch_size)

    def __getitem__(self, idx):
        self.log.append(idx)
        s = slice(idx * self.batch_size, (idx + 1) * self.batch_size)
        return self.x[s], self.y[s]

    def on_epoch_end(self):
        self.log.append("end")


@pytest.fixture(scope="module")
def flat_data(three_classes):
    xtr, ytr, xte, yte = three_classes
    return (xtr.reshape(len(xtr), -1).astype(np.float32) / 255, keras.utils.to_categorical(ytr),
            xte.reshape(len(xte), -1).astype(np.float32) / 255, keras.utils.to_categorical(yte))


def mlp():
    keras.utils.set_random_seed(0)
    m = keras.Sequential([keras.layers.Dense(16, activation="relu", input_shape=(784,)),
                          keras.layers.Dense(3, activation="softmax")])
    m.compile("adam", "categorical_crossentropy", ["accuracy"])
    return m


@pytest.mark.parametrize("workers", [0, 1, 3])
def test_sequence_in_order_with_on_epoch_end(flat_data, workers):
    x, y, xv, yv = flat_data
    log = []
    seq = Batches(x, y, 100, log, workers=workers)
    m = mlp()
    h = m.fit(seq, epochs=2, validation_data=Batches(xv, yv, 100, []), verbose=0)
    assert log == [0, 1, 2, 3, 4, 5, "end"] * 2
    # the same batches as arrays without shuffling: the same weights
    ref = mlp()
    ref.fit(x, y, batch_size=100, epochs=2, shuffle=False, verbose=0)
    for a, b in zip(m.get_weights(), ref.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert h.history["val_loss"][-1] == pytest.approx(ref.evaluate(xv, yv, verbose=0)[0], rel=1e-5)
    assert no_threads_left()


def test_steps_per_epoch_shorter_than_a_sequence_continues_across_epochs(flat_data):
    x, y, *_ = flat_data
    log = []
    mlp().fit(Batches(x, y, 100, log), steps_per_epoch=4, epochs=3, verbose=0)
    assert log == [0, 1, 2, 3, 4, 5, "end", 0, 1, 2, 3, 4, 5, "end"]


def test_generators_steps_and_the_deprecated_aliases(flat_data):
    x, y, xv, yv = flat_data
    rng = np.random.default_rng(0)

    def endless(a, b, bs=50):
        while True:
            i = rng.integers(0, len(a), bs)
            yield a[i], b[i]
    m = mlp()
    with pytest.raises(ValueError, match="steps_per_epoch is required"):
        m.fit(endless(x, y), epochs=1)
    with pytest.raises(ValueError, match="validation_steps is required"):
        m.fit(endless(x, y), steps_per_epoch=2, validation_data=endless(xv, yv))
    with pytest.warns(DeprecationWarning, match="fit_generator"):
        h = m.fit_generator(endless(x, y), steps_per_epoch=12, epochs=3, verbose=0,
                            validation_data=endless(xv, yv), validation_steps=3)
    assert h.history["accuracy"][-1] > 0.8 and len(h.history["val_loss"]) == 3
    with pytest.warns(DeprecationWarning, match="evaluate_generator"):
        loss, acc = m.evaluate_generator(endless(xv, yv), steps=6)
    assert acc > 0.8
    with pytest.warns(DeprecationWarning, match="predict_generator"):
        p = m.predict_generator((xv[i:i + 70] for i in range(0, len(xv), 70)))
    np.testing.assert_allclose(p, m.predict(xv, verbose=0), rtol=1e-5, atol=1e-6)
    # a finite generator runs out: a warning, training stops
    with pytest.warns(UserWarning, match="ran out of data"):
        h = m.fit(((x[i:i + 100], y[i:i + 100]) for i in range(0, 600, 100)), steps_per_epoch=4, epochs=3,
                  verbose=0)
    assert len(h.history["loss"]) == 2
    # (x, y, sample_weight) batches: zero weights leave the loss at zero
    w0 = ((x[:50], y[:50], np.zeros(50)) for _ in range(3))
    assert m.evaluate(w0, verbose=0)[0] == 0.0
    assert no_threads_left()


def test_dataset_pipeline_fit_and_unknown_length_progress(flat_data, capsys):
    x, y, xv, yv = flat_data
    m = mlp()
    train = Dataset.from_tensor_slices((x, y)).cache().shuffle(600, seed=0).repeat().batch(64).prefetch(AUTOTUNE)
    with pytest.raises(ValueError, match="infinite"):
        m.fit(train, epochs=1)
    h = m.fit(train, steps_per_epoch=10, epochs=2, validation_data=Dataset.from_tensor_slices((xv, yv)).batch(100),
              verbose=1)
    out = capsys.readouterr().out
    assert "10/10 ━━━━━━━━━━━━━━━━━━━━" in out and h.history["val_accuracy"][-1] > 0.8
    unknown = Dataset.from_generator(lambda: ((x[i:i + 100], y[i:i + 100]) for i in range(0, 600, 100)))
    m.fit(unknown, epochs=2, verbose=1)
    out = capsys.readouterr().out
    assert "      6/Unknown" in out and "6/6 ━━━━━━━━━━━━━━━━━━━━" in out          # epoch 2 knows the length
    assert m.predict(unknown, verbose=0).shape == (600, 3)
    assert no_threads_left()


def test_errors_in_background_threads_reach_fit_and_threads_stop(flat_data):
    x, y, *_ = flat_data

    def failing():
        for i in range(3):
            yield x[:32], y[:32]
        raise RuntimeError("camera unplugged")
    m = mlp()
    with pytest.raises(RuntimeError, match="camera unplugged"):
        m.fit(failing(), steps_per_epoch=10, epochs=1, verbose=0)
    assert no_threads_left()

    def bad_map(a, b):
        if float(a.sum()) > 1e9 or b[0] == 1:
            raise ValueError("augmentation failed")
        return a, b
    ds = Dataset.from_tensor_slices((x, y)).map(bad_map, num_parallel_calls=3).batch(32).prefetch(2)
    with pytest.raises(ValueError, match="augmentation failed"):
        m.fit(ds, epochs=1, verbose=0)
    assert no_threads_left()

    class Broken(Batches):
        def __getitem__(self, idx):
            if idx == 3:
                raise KeyError("missing record 3")
            return super().__getitem__(idx)
    for workers in (1, 3):
        with pytest.raises(KeyError, match="missing record 3"):
            m.fit(Broken(x, y, 50, [], workers=workers), epochs=1, verbose=0)
        assert no_threads_left()


def test_ctrl_c_during_fit_on_a_prefetching_pipeline_stops_promptly(flat_data):
    x, y, *_ = flat_data
    m = mlp()
    slow = Dataset.from_tensor_slices((x, y)).repeat().map(lambda a, b: (a * 1.0, b),
                                                           num_parallel_calls=2).batch(16).prefetch(4)
    timer = threading.Timer(0.5, lambda: os.kill(os.getpid(), signal.SIGINT))
    start = time.monotonic()
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            m.fit(slow, steps_per_epoch=10**6, epochs=1, verbose=0)
    finally:
        timer.cancel()
    assert time.monotonic() - start < 30
    assert no_threads_left()


def test_bad_batches_and_arguments(flat_data, tmp_path, three_classes):
    x, y, *_ = flat_data
    m = mlp()
    wrong = ((np.zeros((8, 100), np.float32), y[:8]) for _ in range(5))
    with pytest.raises(ValueError, match="layer 'dense.*expected shape \\(None, 784\\)"):
        m.fit(wrong, steps_per_epoch=2, verbose=0)
    with pytest.raises(ValueError, match="y must not be given"):
        m.fit(Batches(x, y, 10, []), y, verbose=0)
    with pytest.raises(ValueError, match="validation_split"):
        m.fit(Batches(x, y, 10, []), validation_split=0.2, verbose=0)
    with pytest.raises(ValueError, match="targets"):
        m.fit(Dataset.from_tensor_slices(x).batch(10), verbose=0)
    with pytest.raises(ValueError, match="steps_per_epoch"):
        m.fit(x, y, steps_per_epoch=3, verbose=0)
    with pytest.raises(TypeError, match="unsupported data type"):
        m.fit(object(), verbose=0)
    xtr, ytr, *_ = three_classes
    root = tmp_path / "rgb"
    write_folder(root, xtr[:20], ytr[:20] * 0, ["x"], mode="RGB")
    cnn = small_cnn(classes=1)
    with pytest.raises(ValueError, match="layer 'conv2d.*got input with shape \\(10, 28, 28, 3\\)"):
        cnn.fit(ImageDataGenerator().flow_from_directory(root, target_size=(28, 28), batch_size=10), verbose=0)
    # a corrupt file met by a background worker: a ValueError naming it, raised by fit; no thread left
    (root / "x" / "zz_corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 40)
    flow = ImageDataGenerator().flow_from_directory(root, target_size=(28, 28), color_mode="grayscale",
                                                    batch_size=7, shuffle=False)
    for workers in (1, 2):
        with pytest.raises(ValueError, match="zz_corrupt.png"):
            cnn.fit(flow, epochs=1, verbose=0, workers=workers)
        assert no_threads_left()
