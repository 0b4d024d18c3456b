"""Callback hooks as Keras calls them, the learning-rate finder, TerminateOnNaN,
LambdaCallback, BackupAndRestore, ProgbarLogger, keras.backend.get_value/set_value."""
import io
import json
import os

import numpy as np
import pytest

from fastnn import keras
from fastnn.keras import layers as L

K = keras.backend


def blobs(n=240, seed=0):
    rng = np.random.default_rng(seed)
    centers = np.array([[2, 0, 0, 1, 0, 0], [0, 2, 0, 0, 1, 0], [0, 0, 2, 0, 0, 1]], dtype=np.float32)
    y = rng.integers(0, 3, n)
    x = centers[y] + 0.5 * rng.standard_normal((n, 6)).astype(np.float32)
    return x, y


def mlp(optimizer="sgd", dropout=False):
    layers = [L.Dense(16, activation="relu", input_shape=(6,))]
    if dropout:
        layers.append(L.Dropout(0.3))
    layers.append(L.Dense(3, activation="softmax"))
    model = keras.Sequential(layers)
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


class Recorder(keras.callbacks.Callback):
    """Records (hook, index, sorted log keys) for every hook; on_batch_* are Keras 2's names."""

    def __init__(self):
        super().__init__()
        self.calls = []

    def _rec(self, name, index, logs):
        assert isinstance(logs, dict), f"{name} got logs={logs!r}"
        self.calls.append((name, index, tuple(sorted(logs))))

    def on_train_begin(self, logs=None): self._rec("train_begin", None, logs)
    def on_train_end(self, logs=None): self._rec("train_end", None, logs)
    def on_epoch_begin(self, epoch, logs=None): self._rec("epoch_begin", epoch, logs)
    def on_epoch_end(self, epoch, logs=None): self._rec("epoch_end", epoch, logs)
    def on_batch_begin(self, batch, logs=None): self._rec("batch_begin", batch, logs)
    def on_batch_end(self, batch, logs=None): self._rec("batch_end", batch, logs)
    def on_test_begin(self, logs=None): self._rec("test_begin", None, logs)
    def on_test_end(self, logs=None): self._rec("test_end", None, logs)
    def on_test_batch_begin(self, batch, logs=None): self._rec("test_batch_begin", batch, logs)
    def on_test_batch_end(self, batch, logs=None): self._rec("test_batch_end", batch, logs)
    def on_predict_begin(self, logs=None): self._rec("predict_begin", None, logs)
    def on_predict_end(self, logs=None): self._rec("predict_end", None, logs)
    def on_predict_batch_begin(self, batch, logs=None): self._rec("predict_batch_begin", batch, logs)
    def on_predict_batch_end(self, batch, logs=None): self._rec("predict_batch_end", batch, logs)


M = ("accuracy", "loss")
VM = ("accuracy", "loss", "val_accuracy", "val_loss")
EXPECTED_FIT = [
    ("train_begin", None, ()),
    ("epoch_begin", 0, ()),
    ("batch_begin", 0, ()), ("batch_end", 0, M), ("batch_begin", 1, ()), ("batch_end", 1, M),
    ("test_begin", None, ()), ("test_batch_begin", 0, ()), ("test_batch_end", 0, M), ("test_end", None, M),
    ("epoch_end", 0, VM),
    ("epoch_begin", 1, ()),
    ("batch_begin", 0, ()), ("batch_end", 0, M), ("batch_begin", 1, ()), ("batch_end", 1, M),
    ("test_begin", None, ()), ("test_batch_begin", 0, ()), ("test_batch_end", 0, M), ("test_end", None, M),
    ("epoch_end", 1, VM),
    ("train_end", None, VM),
]
EXPECTED_EVALUATE = [("test_begin", None, ()), ("test_batch_begin", 0, ()), ("test_batch_end", 0, M),
                     ("test_batch_begin", 1, ()), ("test_batch_end", 1, M), ("test_end", None, M)]
EXPECTED_PREDICT = [("predict_begin", None, ()), ("predict_batch_begin", 0, ()),
                    ("predict_batch_end", 0, ("outputs",)), ("predict_end", None, ())]


def test_every_hook_is_called_in_keras_order_with_keras_logs():
    x, y = blobs(40)
    model = mlp()
    rec = Recorder()
    model.fit(x[:20], y[:20], batch_size=10, epochs=2, verbose=0, validation_data=(x[20:30], y[20:30]),
              callbacks=[rec])
    assert rec.calls == EXPECTED_FIT
    rec.calls.clear()
    model.evaluate(x[:20], y[:20], batch_size=10, verbose=0, callbacks=[rec])
    assert rec.calls == EXPECTED_EVALUATE
    rec.calls.clear()
    model.predict(x[:5], verbose=0, callbacks=[rec])
    assert rec.calls == EXPECTED_PREDICT


@pytest.mark.filterwarnings("ignore::DeprecationWarning")     # Keras' torch backend and NumPy 2
def test_hook_order_matches_real_keras():
    """The same recorder on real Keras 3 (PyTorch backend) sees the same calls."""
    os.environ.setdefault("KERAS_BACKEND", "torch")
    rk = pytest.importorskip("keras")
    x, y = blobs(40)

    class RealRecorder(rk.callbacks.Callback):
        pass

    for name, fn in vars(Recorder).items():
        if name.startswith("on_") or name == "_rec":
            setattr(RealRecorder, name, fn)
    model = rk.Sequential([rk.Input((6,)), rk.layers.Dense(3, activation="softmax")])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    rec = RealRecorder()
    rec.calls = []
    model.fit(x[:20], y[:20], batch_size=10, epochs=2, verbose=0, validation_data=(x[20:30], y[20:30]),
              callbacks=[rec], shuffle=False)
    assert rec.calls == EXPECTED_FIT
    rec.calls.clear()
    model.evaluate(x[:20], y[:20], batch_size=10, verbose=0, callbacks=[rec])
    assert rec.calls == EXPECTED_EVALUATE


class ExponentialLearningRate(keras.callbacks.Callback):
    """Hands-On ML (2nd ed.), chapter 10: no super().__init__(), Keras 2's on_batch_end, K.get/set_value."""

    def __init__(self, factor):
        self.factor = factor
        self.rates = []
        self.losses = []

    def on_batch_end(self, batch, logs):
        self.rates.append(K.get_value(self.model.optimizer.learning_rate))
        self.losses.append(logs["loss"])
        K.set_value(self.model.optimizer.learning_rate, self.model.optimizer.learning_rate * self.factor)


def test_learning_rate_finder_records_rates_and_losses():
    keras.utils.set_random_seed(3)
    x, y = blobs(320)
    model = mlp(keras.optimizers.SGD(learning_rate=1e-3))
    expon = ExponentialLearningRate(factor=1.2)
    model.fit(x, y, epochs=1, batch_size=32, verbose=0, callbacks=[expon])
    assert len(expon.rates) == len(expon.losses) == 10
    np.testing.assert_allclose(expon.rates, 1e-3 * 1.2 ** np.arange(10), rtol=1e-6)
    assert all(np.isfinite(expon.losses))
    assert float(model.optimizer.learning_rate) == pytest.approx(1e-3 * 1.2 ** 10)


def test_learning_rate_assignment_takes_effect_at_the_next_step():
    x, y = blobs(32)
    a, b = mlp(keras.optimizers.SGD(learning_rate=0.5)), mlp(keras.optimizers.SGD(learning_rate=0.5))
    b.set_weights(a.get_weights())
    K.set_value(a.optimizer.learning_rate, 0.0)          # Keras 2 spelling
    a.train_on_batch(x, y)
    b.optimizer.lr = 0.0                                  # old attribute name
    b.train_on_batch(x, y)
    c = mlp(keras.optimizers.SGD(learning_rate=0.5))
    c.set_weights(b.get_weights())
    c.optimizer.learning_rate.assign(0.0)                 # Keras 3 spelling
    w0 = c.get_weights()
    c.train_on_batch(x, y)
    for before, after in zip(w0, c.get_weights()):
        np.testing.assert_array_equal(before, after)      # lr 0: nothing moved
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(wa, wb)
    c.optimizer.learning_rate = 0.5
    c.train_on_batch(x, y)
    assert any(np.any(p != q) for p, q in zip(w0, c.get_weights()))
    lr = c.optimizer.learning_rate
    assert isinstance(lr, float) and json.loads(json.dumps({"lr": lr})) == {"lr": 0.5}
    assert K.get_value(lr) == np.float32(0.5) and K.get_value(lr).dtype == np.float32


def test_get_value_set_value_on_arrays_and_errors():
    w = np.zeros((2, 3), np.float32)
    K.set_value(w, np.ones((2, 3)))
    np.testing.assert_array_equal(K.get_value(w), np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"shape \(2, 3\)"):
        K.set_value(w, np.ones(4))
    with pytest.raises(TypeError, match="plain number cannot be changed"):
        K.set_value(0.1, 0.2)
    with pytest.raises(TypeError, match="get_value"):
        K.get_value("lr")
    with pytest.raises(ValueError, match="learning_rate must be >= 0"):
        K.set_value(mlp().optimizer.learning_rate, -1.0)


def test_stop_training_from_a_batch_hook():
    x, y = blobs(64)
    model = mlp()

    class StopAt(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if batch == 2:
                self.model.stop_training = True

    seen = []
    h = model.fit(x, y, batch_size=8, epochs=5, verbose=0,
                  callbacks=[StopAt(), keras.callbacks.LambdaCallback(on_batch_end=lambda b, logs: seen.append(b))])
    assert h.epoch == [0] and seen == [0, 1, 2]


def test_terminate_on_nan_stops_at_the_first_bad_batch(capsys):
    x, y = blobs(64)
    x = x.copy()
    x[20] = np.nan                                         # batch 2 of size 8 holds it
    model = mlp()
    h = model.fit(x, y, batch_size=8, epochs=3, shuffle=False, verbose=0,
                  callbacks=[keras.callbacks.TerminateOnNaN()])
    assert "Batch 2: Invalid loss, terminating training" in capsys.readouterr().out
    assert h.epoch == [0] and np.isnan(h.history["loss"][0])
    with pytest.raises(RuntimeError, match="NaN or Inf loss at batch 2"):
        mlp().fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0,
                  callbacks=[keras.callbacks.TerminateOnNaN(raise_error=True)])


def test_model_checkpoint_never_writes_non_finite_weights(tmp_path):
    x, y = blobs(64)
    model = mlp()
    path = tmp_path / "best.npz"
    model.fit(x, y, epochs=1, verbose=0, callbacks=[keras.callbacks.ModelCheckpoint(str(path))])
    good = path.read_bytes()
    model.layers[0].params["kernel" if "kernel" in model.layers[0].params else next(iter(model.layers[0].params))][:] = np.nan
    with pytest.warns(RuntimeWarning, match="not finite"):
        model.fit(x, y, epochs=1, verbose=0, callbacks=[keras.callbacks.ModelCheckpoint(str(path))])
    assert path.read_bytes() == good


def test_lambda_callback_hooks_and_errors():
    x, y = blobs(32)
    events = []
    cb = keras.callbacks.LambdaCallback(
        on_train_begin=lambda logs: events.append("begin"),
        on_epoch_end=lambda epoch, logs: events.append(("epoch", epoch, round(logs["loss"], 6))),
        on_train_end=lambda logs: events.append("end"),
        on_test_end=lambda logs: events.append("test"),
        note="kept")
    h = mlp().fit(x, y, epochs=2, batch_size=16, verbose=0, callbacks=[cb], validation_split=0.25)
    assert events == ["begin", "test", ("epoch", 0, round(h.history["loss"][0], 6)), "test",
                      ("epoch", 1, round(h.history["loss"][1], 6)), "end"]
    assert cb.note == "kept"
    with pytest.raises(TypeError, match="on_epoch_end must be callable"):
        keras.callbacks.LambdaCallback(on_epoch_end=3)


def test_history_keys_in_keras_order():
    x, y = blobs(64)
    model = mlp()
    h = model.fit(x, y, epochs=2, verbose=0, validation_split=0.25,
                  callbacks=[keras.callbacks.LearningRateScheduler(lambda e, lr: lr)])
    assert list(h.history) == ["loss", "accuracy", "val_loss", "val_accuracy", "learning_rate"]
    model2 = keras.Sequential([L.Dense(1, input_shape=(6,))])
    model2.compile("sgd", "mse", metrics=["mae", "mse"])
    h2 = model2.fit(x, y.astype(np.float32), epochs=1, verbose=0, validation_data=(x, y.astype(np.float32)))
    assert list(h2.history) == ["loss", "mae", "mse", "val_loss", "val_mae", "val_mse"]


def test_progbar_logger_once_and_silent_when_asked(capsys):
    x, y = blobs(64)
    buf = io.StringIO()
    model = mlp()
    model.fit(x, y, epochs=2, batch_size=32, verbose=1,
              callbacks=[keras.callbacks.ProgbarLogger(verbose=2, stream=buf)])
    text = buf.getvalue()
    assert text.count("Epoch 1/2") == 1 and text.count("Epoch 2/2") == 1
    assert text.count("2/2 - ") == 2 and "loss: " in text
    assert "Epoch" not in capsys.readouterr().out          # fit's own logger was replaced by the user's
    model.fit(x, y, epochs=1, verbose=0, callbacks=[keras.callbacks.ProgbarLogger()])
    assert capsys.readouterr().out == ""                    # follows fit's verbose=0
    with pytest.raises(ValueError, match="count_mode"):
        keras.callbacks.ProgbarLogger(count_mode="epochs")


# ------------------------------------------------------------ BackupAndRestore
class InterruptAt(keras.callbacks.Callback):
    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.epoch:
            raise KeyboardInterrupt("interrupted")


def _run(optimizer, backup_dir=None, interrupt=None, seed=5):
    keras.utils.set_random_seed(seed)
    x, y = blobs(96)
    model = mlp(optimizer(), dropout=True)
    cbs = []
    if backup_dir is not None:
        cbs.append(keras.callbacks.BackupAndRestore(backup_dir))
    if interrupt is not None:
        cbs.append(InterruptAt(interrupt))
    h = model.fit(x, y, epochs=5, batch_size=16, verbose=0, callbacks=cbs)
    return model, h


@pytest.mark.parametrize("optimizer", [lambda: keras.optimizers.Adam(1e-2),
                                       lambda: keras.optimizers.SGD(0.05, momentum=0.9)])
def test_backup_and_restore_resumes_exactly(tmp_path, optimizer):
    reference, _ = _run(optimizer)
    backup = str(tmp_path / "backup")
    with pytest.raises(KeyboardInterrupt):
        _run(optimizer, backup, interrupt=3)               # the same run as the reference, cut at epoch 3
    assert os.path.exists(os.path.join(backup, "backup.npz"))
    resumed, h = _run(optimizer, backup, seed=123)         # other initial weights: the backup must win
    assert h.epoch == [3, 4]                               # only the unfinished epochs run
    for a, b in zip(reference.get_weights(), resumed.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert resumed.optimizer.iterations == reference.optimizer.iterations
    assert not os.path.exists(backup)                      # deleted after a finished fit


def test_backup_and_restore_mid_epoch_and_bad_files(tmp_path):
    x, y = blobs(64)
    backup = tmp_path / "b"
    model = mlp()
    with pytest.raises(KeyboardInterrupt):
        model.fit(x, y, epochs=3, batch_size=16, verbose=0,
                  callbacks=[keras.callbacks.BackupAndRestore(str(backup), save_freq=3, double_checkpoint=True),
                             InterruptAt(2)])                # saved at batches 3 and 6: mid epoch 0, mid epoch 1
    assert (backup / "backup.npz").exists()
    h = mlp().fit(x, y, epochs=3, batch_size=16, verbose=0,
                  callbacks=[keras.callbacks.BackupAndRestore(str(backup), save_freq=3, delete_checkpoint=False)])
    assert h.epoch == [1, 2]
    other = keras.Sequential([L.Dense(4, input_shape=(6,)), L.Dense(3, activation="softmax")])
    other.compile("sgd", "sparse_categorical_crossentropy")
    with pytest.raises(ValueError, match=r"member 'w:0' has shape \(6, 16\), the model needs \(6, 4\)"):
        other.fit(x, y, epochs=1, verbose=0, callbacks=[keras.callbacks.BackupAndRestore(str(backup))])
    (backup / "backup.npz").write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(ValueError, match="backup.npz is not a readable backup"):
        mlp().fit(x, y, epochs=1, verbose=0, callbacks=[keras.callbacks.BackupAndRestore(str(backup))])
    with pytest.raises(ValueError, match="save_freq"):
        keras.callbacks.BackupAndRestore(str(backup), save_freq=0)
    with pytest.raises(ValueError, match="backup_dir"):
        keras.callbacks.BackupAndRestore("")


def test_backup_falls_back_to_the_previous_checkpoint(tmp_path):
    x, y = blobs(64)
    backup = tmp_path / "b"
    with pytest.raises(KeyboardInterrupt):
        mlp().fit(x, y, epochs=4, batch_size=16, verbose=0,
                  callbacks=[keras.callbacks.BackupAndRestore(str(backup), double_checkpoint=True), InterruptAt(2)])
    assert (backup / "backup.prev.npz").exists()
    (backup / "backup.npz").write_bytes(b"garbage")
    h = mlp().fit(x, y, epochs=4, batch_size=16, verbose=0,
                  callbacks=[keras.callbacks.BackupAndRestore(str(backup), double_checkpoint=True)])
    assert h.epoch == [1, 2, 3]                            # the previous backup was after epoch 0


def test_backup_headers_are_checked_before_any_data_is_read(tmp_path):
    """A member claiming 4 GB is refused from its header (the file itself is tiny)."""
    import zipfile
    x, y = blobs(32)
    backup = tmp_path / "b"
    backup.mkdir()
    with zipfile.ZipFile(backup / "backup.npz", "w") as zf:
        with zf.open("w:0.npy", "w") as fh:
            np.lib.format.write_array_header_2_0(fh, {"descr": "<f4", "fortran_order": False, "shape": (10**9,)})
    assert (backup / "backup.npz").stat().st_size < 1000
    with pytest.raises(ValueError, match=r"member 'w:0' has shape \(1000000000,\), the model needs \(6, 16\)"):
        mlp().fit(x, y, epochs=1, verbose=0, callbacks=[keras.callbacks.BackupAndRestore(str(backup))])
    with zipfile.ZipFile(backup / "backup.npz", "w") as zf:
        zf.writestr("evil.npy", b"")
    with pytest.raises(ValueError, match="unexpected member 'evil.npy'"):
        mlp().fit(x, y, epochs=1, verbose=0, callbacks=[keras.callbacks.BackupAndRestore(str(backup))])


def test_callback_list_keras_signature_and_as_fit_argument():
    x, y = blobs(32)
    model = mlp()
    rec = Recorder()
    cbl = keras.callbacks.CallbackList([rec], add_history=True, model=model, epochs=3, steps=2, verbose=0)
    assert cbl.params == {"epochs": 3, "steps": 2, "verbose": 0} and rec.model is model
    assert any(isinstance(cb, keras.callbacks.History) for cb in cbl.callbacks)
    cbl.on_epoch_end(0, {"loss": 1.0})
    assert rec.calls == [("epoch_end", 0, ("loss",))]
    rec.calls.clear()
    model.fit(x, y, batch_size=16, epochs=1, verbose=0, callbacks=keras.callbacks.CallbackList([rec]))
    assert rec.calls[0] == ("train_begin", None, ()) and rec.calls[-1][0] == "train_end"
    with pytest.raises(TypeError, match="Callback instances, got int"):
        keras.callbacks.CallbackList([3])
