"""fastnn.keras saving: weights, whole models (resuming training exactly in a new
process), JSON architecture, atomic writes, and files that try to run code."""
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from child import NEUTRAL_CWD, child_env

from fastnn import keras
from fastnn.keras import layers as L

ROOT = Path(__file__).resolve().parents[1]


def small_cnn():
    return keras.Sequential([
        L.Conv2D(4, 3, activation="relu", padding="same", input_shape=(8, 8, 1)),
        L.BatchNormalization(),
        L.MaxPooling2D(),
        L.Flatten(),
        L.Dense(16, activation="relu"),
        L.Dropout(0.3),
        L.Dense(3, activation="softmax"),
    ])


def data(n=96, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    x = rng.standard_normal((n, 8, 8, 1)).astype(np.float32)
    x[np.arange(n), y * 2, y * 2, 0] += 3             # a learnable cue per class
    return x, y


def test_save_and_load_weights_roundtrip(tmp_path):
    keras.utils.set_random_seed(0)
    model = small_cnn()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    x, y = data()
    model.fit(x, y, epochs=1, verbose=0)
    path = tmp_path / "cnn.weights.h5"
    model.save_weights(str(path))
    assert zipfile.is_zipfile(path)                     # an .npz archive whatever the name
    other = small_cnn()
    other.load_weights(str(path))
    for a, b in zip(model.get_weights(), other.get_weights()):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(model.predict(x, verbose=0), other.predict(x, verbose=0))
    wrong = keras.Sequential([L.Dense(3, input_shape=(4,))])
    with pytest.raises(ValueError, match="the file has weights for 7 layers, the model has 1"):
        wrong.load_weights(str(path))


def test_json_architecture_roundtrip():
    model = small_cnn()
    text = model.to_json()
    clone = keras.models.model_from_json(text)
    assert [type(l).__name__ for l in clone.layers] == [type(l).__name__ for l in model.layers]
    assert [l.output_shape for l in clone.layers] == [l.output_shape for l in model.layers]
    clone.set_weights(model.get_weights())
    x, _ = data(10)
    np.testing.assert_allclose(clone.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6)
    # Functional, two inputs.
    a, b = keras.Input(shape=(3,), name="a"), keras.Input(shape=(2,), name="b")
    out = L.Dense(1)(L.Concatenate()([a, L.Dense(4, activation="relu")(b)]))
    f = keras.Model(inputs=[a, b], outputs=out)
    g = keras.models.model_from_json(f.to_json())
    g.set_weights(f.get_weights())
    xa, xb = np.ones((2, 3)), np.ones((2, 2))
    np.testing.assert_allclose(g.predict((xa, xb), verbose=0), f.predict((xa, xb), verbose=0), rtol=1e-6)
    bad = json.loads(text)
    bad["config"]["layers"][0]["class_name"] = "os.system"
    with pytest.raises(ValueError, match="unknown layer class 'os.system'"):
        keras.models.model_from_json(json.dumps(bad))


RESUME = r"""
import sys, json
import numpy as np
from fastnn import keras
sys.path.insert(0, {tests!r})
from test_keras_saving import data
model = keras.models.load_model({path!r})
x, y = data()
h = model.fit(x, y, epochs=4, initial_epoch=2, batch_size=16, verbose=0, validation_split=0.25)
print(json.dumps(h.history))
"""


def test_load_model_resumes_training_exactly_in_a_new_process(tmp_path):
    keras.utils.set_random_seed(1)
    model = small_cnn()
    model.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    x, y = data()
    model.fit(x, y, epochs=2, batch_size=16, verbose=0, validation_split=0.25)
    path = tmp_path / "model.keras"
    model.save(str(path))
    # Continue here ...
    h = model.fit(x, y, epochs=4, initial_epoch=2, batch_size=16, verbose=0, validation_split=0.25)
    # ... and in a fresh interpreter from the file.
    code = RESUME.format(tests=str(ROOT / "tests"), path=str(path))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=child_env(),
                         cwd=NEUTRAL_CWD, timeout=120)
    assert out.returncode == 0, out.stderr
    resumed = json.loads(out.stdout.strip().splitlines()[-1])
    assert resumed.keys() == h.history.keys()
    for key in h.history:
        assert resumed[key] == h.history[key], key       # same floats: same data order, dropout masks, state


def test_load_model_restores_compile_and_optimizer_state(tmp_path):
    keras.utils.set_random_seed(2)
    model = small_cnn()
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.003), loss="sparse_categorical_crossentropy",
                  metrics=["acc"])
    x, y = data()
    model.fit(x, y, epochs=1, verbose=0)
    model.save(str(tmp_path / "m.npz"))
    loaded = keras.models.load_model(str(tmp_path / "m.npz"))
    assert isinstance(loaded.optimizer, keras.optimizers.Adam)
    assert loaded.optimizer.learning_rate == pytest.approx(0.003)
    assert loaded.optimizer.iterations == model.optimizer.iterations == 3
    for key, slots in model.optimizer.slots.items():
        for name, value in slots.items():
            np.testing.assert_array_equal(loaded.optimizer.slots[key][name], value)
    assert loaded.evaluate(x, y, verbose=0) == model.evaluate(x, y, verbose=0)
    assert loaded.metrics_names == ["loss", "acc"]


def test_writes_are_atomic(tmp_path, monkeypatch):
    model = keras.Sequential([L.Dense(2, input_shape=(3,))])
    path = tmp_path / "w.weights.h5"
    model.save_weights(str(path))
    before = path.read_bytes()
    model.set_weights([np.ones((3, 2)), np.ones(2)])

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr("fastnn.io.os.replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        model.save_weights(str(path))
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["w.weights.h5"]   # no temporary file left


def test_loading_refuses_pickled_objects(tmp_path):
    path = tmp_path / "evil.keras"
    meta = json.dumps({"format": "fastnn.keras", "version": 1, "kind": "weights", "layers": []})
    np.savez(path.open("wb"), __fastnn_keras__=np.array(meta), payload=np.array([object()], dtype=object))
    model = keras.Sequential([L.Dense(2, input_shape=(3,))])
    with pytest.raises(ValueError, match="is not a fastnn.keras .npz file"):
        model.load_weights(str(path))
    (tmp_path / "plain.npz").write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="is not a fastnn.keras .npz file"):
        keras.models.load_model(str(tmp_path / "plain.npz"))
