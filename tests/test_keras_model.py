"""fastnn.keras models: summary, compile/fit/evaluate/predict, History, progress
output, callbacks, optimizers' update rules, error messages."""
import csv
import re

import numpy as np
import pytest

from fastnn import keras
from fastnn.keras import layers as L


def mlp(inputs=784, hidden=512, classes=10, **kw):
    return keras.models.Sequential([
        L.Dense(hidden, activation="relu", input_shape=(inputs,)),
        L.Dense(classes, activation="softmax"),
    ], **kw)


def blobs(n=240, d=6, k=3, seed=0):
    """k separable Gaussian blobs: a problem a small MLP learns in a few epochs."""
    rng = np.random.default_rng(seed)
    centers = rng.standard_normal((k, d)) * 3
    y = rng.integers(0, k, n)
    x = (centers[y] + rng.standard_normal((n, d))).astype(np.float32)
    return x, y


# ---------------------------------------------------------------- summary
def test_summary_table_and_param_count(capsys):
    keras.backend.clear_session()
    model = mlp()
    assert model.count_params() == 407_050
    model.summary()
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0] == 'Model: "sequential"'
    assert re.search(r"┃ Layer \(type\)\s+┃ Output Shape\s+┃\s+Param # ┃", out)
    assert re.search(r"│ dense \(Dense\)\s+│ \(None, 512\)\s+│\s+401,920 │", out)
    assert re.search(r"│ dense_1 \(Dense\)\s+│ \(None, 10\)\s+│\s+5,130 │", out)
    assert " Total params: 407,050 (1.55 MB)" in lines
    assert " Trainable params: 407,050 (1.55 MB)" in lines
    assert " Non-trainable params: 0 (0.00 B)" in lines


def test_cnn_param_counts_and_shapes():
    model = keras.Sequential([
        L.Conv2D(32, (3, 3), activation="relu", input_shape=(28, 28, 1)),
        L.BatchNormalization(),
        L.MaxPooling2D((2, 2)),
        L.Conv2D(64, (3, 3), activation="relu", padding="same"),
        L.MaxPooling2D((2, 2)),
        L.Flatten(),
        L.Dense(64, activation="relu"),
        L.Dropout(0.5),
        L.Dense(10, activation="softmax"),
    ])
    shapes = [l.output_shape for l in model.layers]
    assert shapes == [(26, 26, 32), (26, 26, 32), (13, 13, 32), (13, 13, 64), (6, 6, 64), (2304,), (64,),
                      (64,), (10,)]
    counts = [l.count_params() for l in model.layers]
    assert counts == [320, 128, 0, 18_496, 0, 0, 147_520, 0, 650]
    assert model.count_params() == sum(counts)
    assert sum(w.size for w in model.non_trainable_weights) == 64


def test_summary_before_build_is_an_error():
    model = keras.Sequential([L.Dense(3), L.Dense(1)])
    with pytest.raises(ValueError, match="has not been built yet"):
        model.summary()
    model.build((None, 5))
    assert model.count_params() == 5 * 3 + 3 + 3 + 1


# ---------------------------------------------------------------- fit & co.
def test_fit_history_keys_and_learning():
    keras.utils.set_random_seed(1)
    x, y = blobs()
    model = keras.Sequential([L.Dense(16, activation="relu", input_shape=(6,)), L.Dense(3, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x[:200], y[:200], epochs=8, batch_size=16, verbose=0, validation_data=(x[200:], y[200:]))
    assert list(history.history) == ["loss", "accuracy", "val_loss", "val_accuracy"]   # tf.keras order (#16)
    assert history.epoch == list(range(8))
    assert history.params == {"verbose": 0, "epochs": 8, "steps": 13}
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert history.history["val_accuracy"][-1] > 0.9
    loss, acc = model.evaluate(x[200:], y[200:], verbose=0)
    assert loss == pytest.approx(history.history["val_loss"][-1], rel=1e-5)
    assert acc == pytest.approx(history.history["val_accuracy"][-1])
    pred = model.predict(x[200:], verbose=0)
    assert pred.shape == (40, 3) and pred.dtype == np.float32
    np.testing.assert_allclose(pred.sum(axis=1), 1, rtol=1e-5)
    assert np.mean(np.argmax(pred, axis=-1) == y[200:]) == pytest.approx(acc)


def test_metric_keys_follow_user_spelling_and_resolution():
    x, y = blobs(60)
    onehot = keras.utils.to_categorical(y, 3)
    for metric, loss, target, kind in [("acc", "categorical_crossentropy", onehot, "CategoricalAccuracy"),
                                       ("accuracy", "sparse_categorical_crossentropy", y, "SparseCategoricalAccuracy")]:
        model = keras.Sequential([L.Dense(3, activation="softmax", input_shape=(6,))])
        model.compile(optimizer="sgd", loss=loss, metrics=[metric])
        h = model.fit(x, target, epochs=1, verbose=0)
        assert sorted(h.history) == sorted([metric, "loss"])
        assert type(model._metric_objs[0][0][1]).__name__ == kind
    binary = keras.Sequential([L.Dense(1, activation="sigmoid", input_shape=(6,))])
    binary.compile(optimizer="sgd", loss="binary_crossentropy", metrics=["accuracy", "mse"])
    h = binary.fit(x, (y > 0).astype(np.float32), epochs=1, verbose=0)
    assert type(binary._metric_objs[0][0][1]).__name__ == "BinaryAccuracy"
    assert sorted(h.history) == ["accuracy", "loss", "mse"]


def test_reported_loss_is_keras_clipped_crossentropy():
    model = keras.Sequential([L.Dense(3, activation="softmax", input_shape=(2,))])
    model.compile(optimizer="sgd", loss="categorical_crossentropy")
    model.set_weights([np.array([[50.0, 0, 0], [0, 0, 0]], np.float32), np.zeros(3, np.float32)])
    x = np.array([[1.0, 0.0]], np.float32)
    t = np.array([[0.0, 1.0, 0.0]], np.float32)
    # softmax gives p(class 1) = e^-50 < 1e-7: Keras clips it, so the loss is -log(1e-7).
    assert model.evaluate(x, t, verbose=0) == pytest.approx(-np.log(1e-7), rel=1e-5)


def test_validation_split_takes_the_last_samples():
    x, y = blobs(100)
    model = keras.Sequential([L.Dense(3, activation="softmax", input_shape=(6,))])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.0), loss="sparse_categorical_crossentropy")
    h = model.fit(x, y, validation_split=0.2, epochs=1, verbose=0, batch_size=10)
    assert h.params["steps"] == 8
    assert h.history["val_loss"][0] == pytest.approx(model.evaluate(x[80:], y[80:], verbose=0), rel=1e-6)


def test_sample_and_class_weights_scale_the_loss():
    x, y = blobs(40)
    model = keras.Sequential([L.Dense(3, activation="softmax", input_shape=(6,))])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.0), loss="sparse_categorical_crossentropy")
    plain = model.evaluate(x, y, verbose=0, batch_size=40)
    per_sample = keras.losses.sparse_categorical_crossentropy(y, model.predict(x, verbose=0))
    w = np.linspace(0.5, 2, 40)
    got = model.fit(x, y, sample_weight=w, epochs=1, batch_size=40, verbose=0, shuffle=False).history["loss"][0]
    assert got == pytest.approx(np.sum(w * per_sample) / 40, rel=1e-5)
    assert plain == pytest.approx(per_sample.mean(), rel=1e-5)
    cw = {0: 2.0, 1: 0.5, 2: 1.0}
    got = model.fit(x, y, class_weight=cw, epochs=1, batch_size=40, verbose=0).history["loss"][0]
    assert got == pytest.approx(np.sum(np.array([cw[c] for c in y]) * per_sample) / 40, rel=1e-5)


def test_initial_epoch_and_shuffle_false_repeatable():
    x, y = blobs(64)
    results = []
    for _ in range(2):
        keras.utils.set_random_seed(7)
        model = keras.Sequential([L.Dense(8, activation="relu", input_shape=(6,)), L.Dense(3, activation="softmax")])
        model.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy")
        h = model.fit(x, y, epochs=4, initial_epoch=2, verbose=0, batch_size=16)
        assert h.epoch == [2, 3]
        results.append(h.history["loss"])
    assert results[0] == results[1]


def test_train_on_batch_and_test_on_batch():
    x, y = blobs(32)
    model = keras.Sequential([L.Dense(3, activation="softmax", input_shape=(6,))])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    before = model.test_on_batch(x, y)
    loss, acc = model.train_on_batch(x, y)
    assert loss == pytest.approx(before[0], rel=1e-6) and acc == pytest.approx(before[1])
    assert model.test_on_batch(x, y)[0] < loss
    assert model.train_on_batch(x, y, return_dict=True).keys() == {"accuracy", "loss"}


def test_deferred_build_and_model_call():
    model = keras.Sequential()
    model.add(L.Dense(4, activation="relu"))
    model.add(L.Dense(2))
    assert not model.built
    out = model.predict(np.ones((3, 5), np.float32), verbose=0)
    assert model.built and out.shape == (3, 2)
    np.testing.assert_allclose(model(np.ones((3, 5))), out, rtol=1e-6)
    with pytest.raises(TypeError, match="nesting models"):
        model(keras.Input(shape=(5,)))
    with pytest.raises(TypeError, match="add\\(\\) expects a keras layer, got Sequential"):
        keras.Sequential([model])


def test_functional_two_inputs_two_outputs():
    keras.backend.clear_session()
    rng = np.random.default_rng(0)
    a, b = keras.Input(shape=(3,), name="wide"), keras.Input(shape=(4,), name="deep")
    h = L.Dense(8, activation="relu")(b)
    main = L.Dense(1, name="main")(L.Concatenate()([a, h]))
    aux = L.Dense(1, name="aux")(h)
    model = keras.Model(inputs=[a, b], outputs=[main, aux])
    model.compile(loss=["mse", "mse"], loss_weights=[0.9, 0.1], optimizer="sgd", metrics=["mae"])
    xa, xb = rng.standard_normal((50, 3)), rng.standard_normal((50, 4))
    y = rng.standard_normal((50, 1))
    h = model.fit((xa, xb), (y, y), epochs=2, verbose=0, validation_data=({"wide": xa, "deep": xb}, [y, y]))
    assert sorted(h.history) == sorted(["loss", "main_loss", "aux_loss", "main_mae", "aux_mae",
                                        "val_loss", "val_main_loss", "val_aux_loss", "val_main_mae", "val_aux_mae"])
    total, main_loss, aux_loss, *_ = model.evaluate([xa, xb], [y, y], verbose=0)
    assert total == pytest.approx(0.9 * main_loss + 0.1 * aux_loss, rel=1e-5)
    pm, pa = model.predict({"deep": xb, "wide": xa}, verbose=0)
    assert pm.shape == pa.shape == (50, 1)
    with pytest.raises(ValueError, match=r"input dict must have the keys \['wide', 'deep'\]; missing \['deep'\]"):
        model.predict({"wide": xa}, verbose=0)


# ---------------------------------------------------------------- progress
def test_progress_output_verbose_1_and_2(capsys):
    x, y = blobs(100)
    model = keras.Sequential([L.Dense(3, activation="softmax", input_shape=(6,))])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, y, epochs=2, batch_size=25, verbose=1, validation_split=0.2)
    out = capsys.readouterr().out
    assert "\r" not in out                               # captured output is not a terminal
    lines = out.splitlines()
    assert lines[0] == "Epoch 1/2" and lines[2] == "Epoch 2/2"
    pattern = (r"^4/4 ━{20} \d+s \d+(ms|us|s)/step - accuracy: \d\.\d{4} - loss: \d\.\d{4}"
               r" - val_accuracy: \d\.\d{4} - val_loss: \d\.\d{4}$")
    assert re.match(pattern, lines[1]) and re.match(pattern, lines[3])
    model.fit(x, y, epochs=1, batch_size=25, verbose=2)
    lines = capsys.readouterr().out.splitlines()
    assert re.match(r"^4/4 - \d+s - \d+(ms|us|s)/step - accuracy: \d\.\d{4} - loss: \d\.\d{4}$", lines[1])
    model.fit(x, y, epochs=1, verbose=0)
    assert capsys.readouterr().out == ""


def test_progbar_on_a_terminal_redraws_with_carriage_return():
    import io

    class Tty(io.StringIO):
        def isatty(self):
            return True

    stream = Tty()
    bar = keras.utils.Progbar(10, stream=stream, interval=0)
    bar.update(5, {"loss": 0.5})
    bar.update(10, {"loss": 0.25}, finalize=True)
    text = stream.getvalue()
    assert text.startswith("\r 5/10 ") and "\r10/10 " in text and text.endswith("\n")
    assert "loss: 0.2500" in text


# ---------------------------------------------------------------- callbacks
def _fit_with(cb, epochs=20, lr=0.05, **kw):
    keras.utils.set_random_seed(3)
    x, y = blobs(120)
    model = keras.Sequential([L.Dense(8, activation="relu", input_shape=(6,)), L.Dense(3, activation="softmax")])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=lr), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    h = model.fit(x[:90], y[:90], validation_data=(x[90:], y[90:]), epochs=epochs, verbose=0,
                  callbacks=[cb] if cb else None, batch_size=30, **kw)
    return model, h


class WeightRecorder(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        self.saved = getattr(self, "saved", []) + [self.model.get_weights()]


def test_early_stopping_patience_and_restore_best():
    # A learning rate far too large makes val_loss rise: training must stop early.
    rec = WeightRecorder()
    es = keras.callbacks.EarlyStopping(monitor="val_loss", patience=2, restore_best_weights=True)
    keras.utils.set_random_seed(3)
    x, y = blobs(120)
    model = keras.Sequential([L.Dense(8, activation="relu", input_shape=(6,)), L.Dense(3, activation="softmax")])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.05), loss="sparse_categorical_crossentropy")
    model.fit(x[:90], y[:90], validation_data=(x[90:], y[90:]), epochs=4, verbose=0, batch_size=30)
    model.optimizer.learning_rate = 50.0
    h = model.fit(x[:90], y[:90], validation_data=(x[90:], y[90:]), epochs=30, verbose=0, batch_size=30,
                  callbacks=[es, rec])
    val = h.history["val_loss"]
    best = int(np.argmin(val))
    assert len(val) < 30
    assert es.stopped_epoch == len(val) - 1 == best + 2
    for got, want in zip(model.get_weights(), rec.saved[best]):
        np.testing.assert_array_equal(got, want)


def test_learning_rate_scheduler_and_reduce_on_plateau():
    sched = keras.callbacks.LearningRateScheduler(lambda epoch, lr: 0.1 * 0.5 ** epoch)
    model, h = _fit_with(sched, epochs=4)
    np.testing.assert_allclose(h.history["learning_rate"], [0.1, 0.05, 0.025, 0.0125])
    assert model.optimizer.learning_rate == pytest.approx(0.0125)
    # monitor 'loss' with min_delta so large that nothing counts as improvement after the first epoch.
    plateau = keras.callbacks.ReduceLROnPlateau(monitor="loss", factor=0.5, patience=2, min_delta=10.0)
    model, h = _fit_with(plateau, epochs=6, lr=0.08)
    np.testing.assert_allclose(h.history["learning_rate"], [0.08, 0.08, 0.08, 0.04, 0.04, 0.02])


def test_model_checkpoint_best_only_and_csv_logger(tmp_path):
    ck = keras.callbacks.ModelCheckpoint(str(tmp_path / "best.weights.h5"), monitor="val_accuracy",
                                         save_best_only=True, save_weights_only=True)
    every = keras.callbacks.ModelCheckpoint(str(tmp_path / "model_{epoch:02d}.keras"))
    log = keras.callbacks.CSVLogger(str(tmp_path / "log.csv"))
    rec = WeightRecorder()
    keras.utils.set_random_seed(5)
    x, y = blobs(120)
    model = keras.Sequential([L.Dense(8, activation="relu", input_shape=(6,)), L.Dense(3, activation="softmax")])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.05), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    h = model.fit(x[:90], y[:90], validation_data=(x[90:], y[90:]), epochs=5, verbose=0, batch_size=30,
                  callbacks=[ck, every, log, rec])
    acc = h.history["val_accuracy"]
    best = max(range(5), key=lambda i: (acc[i], -i))          # first epoch reaching the max
    model.load_weights(str(tmp_path / "best.weights.h5"))
    for got, want in zip(model.get_weights(), rec.saved[best]):
        np.testing.assert_array_equal(got, want)
    assert sorted(p.name for p in tmp_path.glob("model_*.keras")) == [f"model_{i:02d}.keras" for i in range(1, 6)]
    rows = list(csv.reader(open(tmp_path / "log.csv")))
    assert rows[0] == ["epoch", "accuracy", "loss", "val_accuracy", "val_loss"]
    assert [int(r[0]) for r in rows[1:]] == list(range(5))
    np.testing.assert_allclose([float(r[2]) for r in rows[1:]], h.history["loss"], rtol=1e-6)


# ---------------------------------------------------------------- optimizers
def _one_step(opt, w0, g, steps=2):
    w = w0.copy()
    for _ in range(steps):
        opt.apply(["layer/w"], [w], [g])
    return w


def test_optimizer_update_rules_and_defaults():
    rng = np.random.default_rng(0)
    w0, g = rng.standard_normal(5), rng.standard_normal(5)
    assert keras.optimizers.get("sgd").learning_rate == 0.01
    rms = keras.optimizers.get("rmsprop")
    assert (rms.learning_rate, rms.rho, rms.epsilon) == (0.001, 0.9, 1e-7)
    adam = keras.optimizers.get("adam")
    assert (adam.learning_rate, adam.beta_1, adam.beta_2, adam.epsilon) == (0.001, 0.9, 0.999, 1e-7)
    assert keras.optimizers.get("adagrad").learning_rate == 0.001
    assert keras.optimizers.SGD(lr=0.3).learning_rate == 0.3          # the old spelling

    np.testing.assert_allclose(_one_step(keras.optimizers.SGD(0.1), w0, g), w0 - 0.2 * g)
    v1 = -0.1 * g
    v2 = 0.9 * v1 - 0.1 * g
    np.testing.assert_allclose(_one_step(keras.optimizers.SGD(0.1, momentum=0.9), w0, g), w0 + v1 + v2)
    s1 = 0.1 * g * g
    s2 = 0.9 * s1 + 0.1 * g * g
    want = w0 - 0.01 * g / np.sqrt(s1 + 1e-7) - 0.01 * g / np.sqrt(s2 + 1e-7)
    np.testing.assert_allclose(_one_step(keras.optimizers.RMSprop(0.01), w0, g), want)
    m, v, w = 0, 0, w0.copy()
    for t in (1, 2):
        m = 0.9 * m + 0.1 * g
        v = 0.999 * v + 0.001 * g * g
        w = w - 0.01 * np.sqrt(1 - 0.999 ** t) / (1 - 0.9 ** t) * m / (np.sqrt(v) + 1e-7)
    np.testing.assert_allclose(_one_step(keras.optimizers.Adam(0.01), w0, g), w)
    a1 = 0.1 + g * g
    a2 = a1 + g * g
    want = w0 - 0.01 * g / np.sqrt(a1 + 1e-7) - 0.01 * g / np.sqrt(a2 + 1e-7)
    np.testing.assert_allclose(_one_step(keras.optimizers.Adagrad(0.01), w0, g), want)
    # Keras 2's time-based decay and Nesterov momentum.
    np.testing.assert_allclose(_one_step(keras.optimizers.SGD(lr=0.1, decay=0.5), w0, g), w0 - 0.1 * g - 0.1 / 1.5 * g)
    v1 = -0.1 * g
    w1 = w0 + 0.9 * v1 - 0.1 * g
    v2 = 0.9 * v1 - 0.1 * g
    np.testing.assert_allclose(_one_step(keras.optimizers.SGD(0.1, momentum=0.9, nesterov=True), w0, g),
                               w1 + 0.9 * v2 - 0.1 * g)


# ---------------------------------------------------------------- errors
def test_compile_and_fit_errors():
    x, y = blobs(20)
    model = keras.Sequential([L.Dense(3, activation="softmax", input_shape=(6,))])
    with pytest.raises(ValueError, match=r"unknown loss 'categorical_crossentropyy'; valid losses are \["):
        model.compile(optimizer="sgd", loss="categorical_crossentropyy")
    with pytest.raises(ValueError, match=r"unknown optimizer 'sgdd'; valid optimizers are \['adagrad', 'adam'"):
        model.compile(optimizer="sgdd", loss="mse")
    with pytest.raises(ValueError, match=r"SGD: unknown keyword argument\(s\) \['momentun'\]"):
        keras.optimizers.SGD(momentun=0.9)
    with pytest.raises(RuntimeError, match="must be compiled before fit"):
        model.fit(x, y, verbose=0)
    model.compile(optimizer="sgd", loss="categorical_crossentropy", metrics=["accuracy"])
    with pytest.raises(ValueError, match=r"categorical_crossentropy: output 'dense\w*' expects one-hot targets .*"
                                         r"sparse_categorical_crossentropy"):
        model.fit(x, y, verbose=0)
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 3\) .* got values in \[1, 7\]"):
        model.fit(x, np.where(y == 0, 7, y), verbose=0)
    with pytest.raises(ValueError, match="look one-hot: use loss='categorical_crossentropy'"):
        model.fit(x, keras.utils.to_categorical(y, 3), verbose=0)
    with pytest.raises(ValueError, match=r"20 input samples but targets .* shape \(19,\)"):
        model.fit(x, y[:19], verbose=0)
    with pytest.raises(ValueError, match=r"unknown metric 'accuracyy'"):
        model.compile(optimizer="sgd", loss="mse", metrics=["accuracyy"])
    with pytest.raises(ValueError, match=r"fit: unknown keyword argument\(s\) \['epoch'\]"):
        model.fit(x, y, epoch=3)
    bce = keras.Sequential([L.Dense(1, activation="sigmoid", input_shape=(6,))])
    bce.compile(optimizer="sgd", loss="binary_crossentropy")
    with pytest.raises(ValueError, match=r"binary_crossentropy: targets .* must lie in \[0, 1\]"):
        bce.fit(x, y, verbose=0)


def test_to_categorical():
    out = keras.utils.to_categorical([2, 0, 1])
    np.testing.assert_array_equal(out, np.eye(3, dtype=np.float32)[[2, 0, 1]])
    assert out.dtype == np.float32
    assert keras.utils.to_categorical(np.array([[1], [3]]), num_classes=5).shape == (2, 5)
    with pytest.raises(ValueError, match="label 5 does not fit num_classes=5"):
        keras.utils.to_categorical([5], 5)


def test_backward_skips_input_gradients_nobody_uses(monkeypatch):
    """A training step asks a layer for the gradient of its input only if a layer
    before it has weights: the first Dense (after Flatten) skips it, the second
    (after Dropout, after the first Dense) does not; the weights' gradients stay
    those of a backward pass that computes every input gradient."""
    from fastnn import kernels
    rng = np.random.default_rng(0)
    x = rng.standard_normal((8, 4, 5)).astype(np.float32)
    y = rng.integers(0, 3, 8)

    def build():
        keras.utils.set_random_seed(1)
        model = keras.Sequential([L.Input((4, 5)), L.Flatten(), L.Dense(6, activation="relu"),
                                  L.Dropout(0.0), L.Dense(3, activation="softmax")])
        model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
        return model

    asked = []
    real = kernels.affine_backward

    def spy(*args, need_dx=True, **kwargs):
        asked.append(need_dx)
        return real(*args, need_dx=need_dx, **kwargs)

    monkeypatch.setattr(kernels, "affine_backward", spy)
    skipping, full = build(), build()
    skipping.train_on_batch(x, y)
    assert asked == [True, False]
    # the same step with every input gradient computed gives the same weights
    from fastnn.keras._graph import Graph
    monkeypatch.setattr(Graph, "_wants_grad", lambda self, flag: _all_true(self))
    asked.clear()
    full.train_on_batch(x, y)
    assert asked == [True, True]
    for a, b in zip(skipping.get_weights(), full.get_weights()):
        np.testing.assert_array_equal(a, b)


def _all_true(graph):
    return {id(t): True for t in list(graph.inputs) + list(graph.nodes)}
