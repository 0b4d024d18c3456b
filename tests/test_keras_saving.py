"""fastnn.keras saving: the formats by extension (.keras, .h5, .weights.h5, .npz),
resuming training exactly, atomic writes, and files that are truncated, foreign,
tampered with, or try to run code or exhaust memory."""
import io
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import h5py
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


def wide_deep():
    a, b = keras.Input(shape=(5,), name="wide_input"), keras.Input(shape=(6,), name="deep_input")
    h1 = L.Dense(8, activation="relu", name="h1")(b)
    h2 = L.Dense(8, activation="relu")(h1)
    out = L.Dense(1, name="main_output")(L.concatenate([a, h2]))
    aux = L.Dense(1, name="aux_output")(h2)
    return keras.Model(inputs=[a, b], outputs=[out, aux])


def data(n=96, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    x = rng.standard_normal((n, 8, 8, 1)).astype(np.float32)
    x[np.arange(n), y * 2, y * 2, 0] += 3             # a learnable cue per class
    return x, y


def trained_cnn(optimizer="adam", seed=0):
    keras.backend.clear_session()                   # layer names conv2d, dense, dense_1, ...
    keras.utils.set_random_seed(seed)
    model = small_cnn()
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    x, y = data()
    model.fit(x, y, epochs=1, batch_size=32, verbose=0)
    return model, x, y


# ------------------------------------------------------------------ formats
@pytest.mark.parametrize("name", ["cnn.weights.h5", "cnn.h5", "cnn.hdf5", "cnn.npz"])
def test_weights_roundtrip_by_extension(tmp_path, name):
    model, x, _ = trained_cnn()
    path = tmp_path / name
    model.save_weights(str(path))
    if name.endswith(".npz"):
        assert zipfile.is_zipfile(path)
    else:
        with h5py.File(path) as f:
            if name.endswith(".weights.h5"):        # Keras 3's layout
                assert f["layers/conv2d/vars"].attrs["name"] == "conv2d"
                assert f["layers/dense_1/vars/0"].shape == (16, 3)
                assert f["optimizer/vars/0"][()] == model.optimizer.iterations
            else:                                   # legacy: layer_names / weight_names
                names = [n.decode() for n in f.attrs["layer_names"]]
                assert names == [l.name for l in model.layers]
                wn = [n.decode() for n in f["batch_normalization"].attrs["weight_names"]]
                assert [w.rsplit("/", 1)[1] for w in wn] == ["gamma", "beta", "moving_mean", "moving_variance"]
    other = small_cnn()
    other.load_weights(str(path))
    for a, b in zip(model.get_weights(), other.get_weights()):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(model.predict(x, verbose=0), other.predict(x, verbose=0))
    wrong = keras.Sequential([L.Dense(3, input_shape=(4,))])
    with pytest.raises(ValueError, match=r"load_weights\(.*(layer|weight)"):
        wrong.load_weights(str(path))


def test_extensions_are_chosen_as_keras_does(tmp_path):
    model, _, _ = trained_cnn()
    with pytest.raises(ValueError, match=r"\*\.keras.*\*\.h5"):
        model.save(str(tmp_path / "model.bin"))
    with pytest.raises(ValueError, match="use model.save_weights"):
        model.save(str(tmp_path / "model.weights.h5"))
    with pytest.raises(ValueError, match="use model.save"):
        model.save_weights(str(tmp_path / "model.keras"))
    model.save(str(tmp_path / "m.keras"))
    with zipfile.ZipFile(tmp_path / "m.keras") as zf:
        assert sorted(zf.namelist()) == ["config.json", "metadata.json", "model.weights.h5"]
        config = json.loads(zf.read("config.json"))
    assert config["class_name"] == "Sequential"
    assert [l["class_name"] for l in config["config"]["layers"]] == [
        "InputLayer", "Conv2D", "BatchNormalization", "MaxPooling2D", "Flatten", "Dense", "Dropout", "Dense"]
    assert config["compile_config"]["optimizer"]["class_name"] == "Adam"
    model.save(str(tmp_path / "m.h5"))
    with h5py.File(tmp_path / "m.h5") as f:
        assert json.loads(f.attrs["model_config"])["class_name"] == "Sequential"
        assert json.loads(f.attrs["training_config"])["optimizer_config"]["class_name"] == "Adam"
        assert "model_weights" in f and "optimizer_weights" in f
    # The weights of a whole-model file load into a model of the same shape.
    other = small_cnn()
    other.load_weights(str(tmp_path / "m.keras"))
    np.testing.assert_array_equal(other.get_weights()[0], model.get_weights()[0])


@pytest.mark.parametrize("ext", ["keras", "h5", "npz"])
def test_load_model_restores_compile_and_optimizer_state(tmp_path, ext):
    keras.utils.set_random_seed(2)
    model = small_cnn()
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.003), loss="sparse_categorical_crossentropy",
                  metrics=["acc"])
    x, y = data()
    model.fit(x, y, epochs=1, verbose=0)
    model.save(str(tmp_path / f"m.{ext}"))
    loaded = keras.models.load_model(str(tmp_path / f"m.{ext}"))
    assert isinstance(loaded.optimizer, keras.optimizers.Adam)
    assert loaded.optimizer.learning_rate == pytest.approx(0.003)
    assert loaded.optimizer.iterations == model.optimizer.iterations == 3
    for key, slots in model.optimizer.slots.items():
        for name, value in slots.items():
            np.testing.assert_array_equal(loaded.optimizer.slots[key][name], value)
    assert loaded.evaluate(x, y, verbose=0) == model.evaluate(x, y, verbose=0)
    assert loaded.metrics_names == ["loss", "acc"]
    # One more step from the file gives the same weights as one more step without the break.
    model.train_on_batch(x[:16], y[:16])
    loaded.train_on_batch(x[:16], y[:16])
    for a, b in zip(model.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("optimizer", [
    keras.optimizers.SGD(0.05), keras.optimizers.SGD(0.05, momentum=0.9, nesterov=True),
    keras.optimizers.SGD(0.05, decay=0.1), keras.optimizers.RMSprop(0.01, momentum=0.5, centered=True),
    keras.optimizers.Adagrad(0.1), keras.optimizers.Adam(0.01)], ids=lambda o: type(o).__name__)
@pytest.mark.parametrize("ext", ["keras", "h5"])
def test_every_optimizer_continues_from_the_file(tmp_path, optimizer, ext):
    keras.utils.set_random_seed(3)
    model = wide_deep()
    model.compile(optimizer=optimizer, loss=["mse", "mse"], loss_weights=[0.9, 0.1], metrics=[["mae"], ["mae"]])
    rng = np.random.default_rng(0)
    xs = (rng.random((32, 5), np.float32), rng.random((32, 6), np.float32))
    y = rng.random((32, 1), np.float32)
    model.fit(xs, (y, y), epochs=2, batch_size=16, verbose=0)
    model.save(str(tmp_path / f"wd.{ext}"))
    loaded = keras.models.load_model(str(tmp_path / f"wd.{ext}"))
    assert loaded.input_names == ["wide_input", "deep_input"]
    assert loaded.output_names == ["main_output", "aux_output"]
    assert loaded.optimizer.get_config() == model.optimizer.get_config()
    model.train_on_batch(xs, (y, y))
    loaded.train_on_batch(xs, (y, y))
    for a, b in zip(model.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_json_architecture_roundtrip():
    model = small_cnn()
    text = model.to_json()
    clone = keras.models.model_from_json(text)
    assert [type(l).__name__ for l in clone.layers] == [type(l).__name__ for l in model.layers]
    assert [l.output_shape for l in clone.layers] == [l.output_shape for l in model.layers]
    clone.set_weights(model.get_weights())
    x, _ = data(10)
    np.testing.assert_allclose(clone.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6)
    f = wide_deep()
    g = keras.models.model_from_json(f.to_json())
    g.set_weights(f.get_weights())
    xa, xb = np.ones((2, 5)), np.ones((2, 6))
    np.testing.assert_allclose(g.predict((xa, xb), verbose=0), f.predict((xa, xb), verbose=0), rtol=1e-6)
    bad = json.loads(text)
    bad["config"]["layers"][1]["class_name"] = "os.system"
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


@pytest.mark.parametrize("ext", ["keras", "npz"])
def test_load_model_resumes_training_exactly_in_a_new_process(tmp_path, ext):
    keras.utils.set_random_seed(1)
    model = small_cnn()
    model.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    x, y = data()
    model.fit(x, y, epochs=2, batch_size=16, verbose=0, validation_split=0.25)
    path = tmp_path / f"model.{ext}"
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


def test_writes_are_atomic(tmp_path, monkeypatch):
    model = keras.Sequential([L.Dense(2, input_shape=(3,))])
    for name in ("w.weights.h5", "m.keras"):
        path = tmp_path / name
        (model.save_weights if name.endswith("weights.h5") else model.save)(str(path))
        before = path.read_bytes()
        model.set_weights([np.ones((3, 2)), np.ones(2)])

        def broken_replace(src, dst):
            raise OSError("disk full")

        with monkeypatch.context() as mp:
            mp.setattr("fastnn.io.os.replace", broken_replace)
            with pytest.raises(OSError, match="disk full"):
                (model.save_weights if name.endswith("weights.h5") else model.save)(str(path))
        assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.keras", "w.weights.h5"]   # no temporary file left


# ------------------------------------------------------------ load_weights
def test_load_weights_by_name_and_skip_mismatch(tmp_path):
    keras.utils.set_random_seed(4)
    src = keras.Sequential([L.Dense(4, input_shape=(3,), name="a"), L.Dense(2, name="b")])
    src.save_weights(str(tmp_path / "w.h5"))
    # by_name: only the layers whose names match are set; order does not matter.
    dst = keras.Sequential([L.Dense(7, input_shape=(3,), name="x"), L.Dense(4, name="c"), L.Dense(2, name="b")])
    before = dst.get_layer("x").get_weights()[0].copy()
    dst.load_weights(str(tmp_path / "w.h5"), by_name=True)
    np.testing.assert_array_equal(dst.get_layer("b").get_weights()[0], src.get_layer("b").get_weights()[0])
    np.testing.assert_array_equal(dst.get_layer("x").get_weights()[0], before)
    # A shape mismatch names the layer and both shapes ...
    other = keras.Sequential([L.Dense(5, input_shape=(3,), name="a"), L.Dense(2, name="b")])
    with pytest.raises(ValueError, match=r"layer 'a' \(Dense\) weight 'kernel' has shape \(3, 5\) in the model "
                                         r"but \(3, 4\) in the file"):
        other.load_weights(str(tmp_path / "w.h5"))
    # ... and skip_mismatch skips that layer with a warning, loading the others.
    narrow = keras.Sequential([L.Dense(4, input_shape=(2,), name="a"), L.Dense(2, name="b")])
    a_before = narrow.get_layer("a").get_weights()[0].copy()
    with pytest.warns(UserWarning, match=r"layer 'a'.*skip_mismatch"):
        narrow.load_weights(str(tmp_path / "w.h5"), skip_mismatch=True)
    np.testing.assert_array_equal(narrow.get_layer("a").get_weights()[0], a_before)
    np.testing.assert_array_equal(narrow.get_layer("b").get_weights()[0], src.get_layer("b").get_weights()[0])
    src.save_weights(str(tmp_path / "w.weights.h5"))
    with pytest.raises(ValueError, match="by_name=True is only supported for legacy '.h5'"):
        other.load_weights(str(tmp_path / "w.weights.h5"), by_name=True)
    with pytest.raises(ValueError, match=r"weight 'kernel' has shape \(3, 5\) in the model but \(3, 4\)"):
        other.load_weights(str(tmp_path / "w.weights.h5"))
    narrow = keras.Sequential([L.Dense(4, input_shape=(2,), name="a"), L.Dense(2, name="b")])
    with pytest.warns(UserWarning, match=r"layer 'a'.*skip_mismatch"):
        narrow.load_weights(str(tmp_path / "w.weights.h5"), skip_mismatch=True)
    np.testing.assert_array_equal(narrow.get_layer("b").get_weights()[0], src.get_layer("b").get_weights()[0])


# --------------------------------------------------- custom objects, registry
class Scale(L.Layer):
    """x * w, one w per feature."""

    def __init__(self, init=1.0, **kwargs):
        super().__init__(**kwargs)
        self.init = float(init)

    def build(self, input_shape):
        self.add_weight("w", (input_shape[-1],), keras.initializers.get("ones"))
        self.params["w"] *= self.init

    def forward(self, x, training=False):
        self._x = x
        return x * self.params["w"]

    def backward(self, dout):
        self.grads = {"w": (dout * self._x).reshape(-1, dout.shape[-1]).sum(0)}
        return dout * self.params["w"]

    def get_config(self):
        return dict(super().get_config(), init=self.init)


def test_custom_layers_need_custom_objects_or_registration(tmp_path):
    model = keras.Sequential([L.Dense(3, input_shape=(2,)), Scale(2.0, name="scale")])
    model.save(str(tmp_path / "c.keras"))
    with pytest.raises(ValueError, match=r"unknown layer class 'Scale'.*custom_objects"):
        keras.models.load_model(str(tmp_path / "c.keras"))
    loaded = keras.models.load_model(str(tmp_path / "c.keras"), custom_objects={"Scale": Scale})
    x = np.ones((2, 2), np.float32)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    with keras.saving.custom_object_scope({"Scale": Scale}):
        assert isinstance(keras.models.load_model(str(tmp_path / "c.keras")).layers[1], Scale)

    @keras.saving.register_keras_serializable(package="Tests")
    class Scale2(Scale):
        pass

    assert keras.saving.get_registered_object("Tests>Scale2") is Scale2
    assert keras.saving.get_registered_name(Scale2) == "Tests>Scale2"
    model = keras.Sequential([L.Dense(3, input_shape=(2,)), Scale2(3.0)])
    model.save(str(tmp_path / "r.keras"))
    with zipfile.ZipFile(tmp_path / "r.keras") as zf:
        assert json.loads(zf.read("config.json"))["config"]["layers"][2]["registered_name"] == "Tests>Scale2"
    loaded = keras.models.load_model(str(tmp_path / "r.keras"))
    assert type(loaded.layers[1]) is Scale2 and loaded.layers[1].init == 3.0


# -------------------------------------------------------------- bad files
def _tamper_keras(src, dst, edit_config=None, edit_metadata=None):
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for name in zin.namelist():
            data = zin.read(name)
            if name == "config.json" and edit_config:
                c = json.loads(data)
                edit_config(c)
                data = json.dumps(c).encode()
            if name == "metadata.json" and edit_metadata:
                m = json.loads(data)
                edit_metadata(m)
                data = json.dumps(m).encode()
            zout.writestr(name, data)


def test_truncated_foreign_and_garbage_files_are_value_errors_naming_the_file(tmp_path):
    model, _, _ = trained_cnn()
    model.save(str(tmp_path / "good.keras"))
    model.save(str(tmp_path / "good.h5"))
    good = (tmp_path / "good.keras").read_bytes()
    cases = {
        "truncated.keras": good[: len(good) // 2],
        "empty.keras": b"",
        "text.keras": b"this is not a zip file at all",
        "truncated.h5": (tmp_path / "good.h5").read_bytes()[:3000],
        "text.h5": b"plain text",
        "plain.npz": b"not a zip",
    }
    foreign = io.BytesIO()
    with zipfile.ZipFile(foreign, "w") as zf:
        zf.writestr("readme.txt", "hello")
    cases["foreign.keras"] = foreign.getvalue()
    cases["foreign.npz"] = foreign.getvalue()
    for name, content in cases.items():
        path = tmp_path / name
        path.write_bytes(content)
        with pytest.raises(ValueError, match=str(path).replace(".", r"\.")):
            keras.models.load_model(str(path))
        with pytest.raises(ValueError):
            model.load_weights(str(path))
    with pytest.raises(ValueError, match="holds only weights"):
        model.save_weights(str(tmp_path / "w.npz"))
        keras.models.load_model(str(tmp_path / "w.npz"))
    with h5py.File(tmp_path / "bare.h5", "w") as f:
        f.create_dataset("x", data=np.zeros(3))
    with pytest.raises(ValueError, match="no 'model_config' attribute"):
        keras.models.load_model(str(tmp_path / "bare.h5"))
    with pytest.raises(ValueError, match="no 'layer_names' attribute"):
        model.load_weights(str(tmp_path / "bare.h5"))


def test_loading_refuses_pickled_objects(tmp_path):
    path = tmp_path / "evil.npz"
    meta = json.dumps({"format": "fastnn.keras", "version": 2, "kind": "weights", "layers": []})
    np.savez(path.open("wb"), __fastnn_keras__=np.array(meta), payload=np.array([object()], dtype=object))
    model = keras.Sequential([L.Dense(2, input_shape=(3,))])
    with pytest.raises(ValueError, match="only numbers are read"):
        model.load_weights(str(path))
    # Object or string datasets in an HDF5 weights file are refused too.
    model.save_weights(str(tmp_path / "w.weights.h5"))
    with h5py.File(tmp_path / "w.weights.h5", "a") as f:
        del f["layers/dense/vars/1"]
        f["layers/dense/vars"].create_dataset("1", data=np.array([b"ab", b"cd"], dtype=object))
    with pytest.raises(ValueError, match="weight 'bias' has shape|expected numbers"):
        model.load_weights(str(tmp_path / "w.weights.h5"))


def test_tampered_configs_are_refused_by_the_allow_lists(tmp_path):
    model, _, _ = trained_cnn()
    model.save(str(tmp_path / "good.keras"))
    edits = {
        "lambda": (lambda c: c["config"]["layers"][5].update(class_name="Lambda"), "Lambda layer.*safe_mode=False"),
        "class": (lambda c: c["config"]["layers"][1].update(class_name="Evil"), "unknown layer class 'Evil'"),
        "activation": (lambda c: c["config"]["layers"][1]["config"].update(activation="os.system"),
                       "unknown activation 'os.system'"),
        "initializer": (lambda c: c["config"]["layers"][1]["config"].update(
            kernel_initializer={"class_name": "builtins.eval", "config": {}}), "unknown initializer"),
        "optimizer": (lambda c: c["compile_config"]["optimizer"].update(class_name="subprocess.run"),
                      "unknown optimizer 'subprocess.run'"),
        "loss": (lambda c: c["compile_config"].update(loss="os.remove"), "unknown loss 'os.remove'"),
        "metric": (lambda c: c["compile_config"].update(metrics=["exec"]), "unknown metric 'exec'"),
        "regularizer": (lambda c: c["config"]["layers"][5]["config"].update(kernel_regularizer={"class_name": "L2"}),
                        "kernel_regularizer.*not supported"),
        "dtype": (lambda c: c["config"]["layers"][5]["config"].update(dtype="object"), "dtype 'object'"),
        "model": (lambda c: c.update(class_name="Evil"), "unknown model class 'Evil'"),
    }
    for name, (edit, message) in edits.items():
        path = tmp_path / f"{name}.keras"
        _tamper_keras(tmp_path / "good.keras", path, edit_config=edit)
        with pytest.raises(ValueError, match=message):
            keras.models.load_model(str(path))
    # safe_mode=False is the opt-in for code, but a class fastnn does not know is still refused.
    with pytest.raises(ValueError, match="unknown layer class 'Lambda'|Lambda"):
        keras.models.load_model(str(tmp_path / "lambda.keras"), safe_mode=False)


@pytest.mark.parametrize("name", ["test", "seed", "bit_generator", "Generator", "os.system"])
def test_a_saved_generator_name_is_never_looked_up_in_numpy(tmp_path, name):
    model, _, _ = trained_cnn()
    model.save(str(tmp_path / "good.keras"))
    path = tmp_path / "evil.keras"
    _tamper_keras(tmp_path / "good.keras", path,
                  edit_metadata=lambda m: m["fastnn"]["rng"]["model"].update(bit_generator=name))
    np.random.seed(123)
    expected = np.random.random()
    np.random.seed(123)
    with pytest.raises(ValueError, match=f"unknown bit generator '{name}'"):
        keras.models.load_model(str(path))
    assert np.random.random() == expected               # the global generator was not reseeded
    assert not (Path.cwd() / ".pytest_cache" / "numpy").exists()


BOMB = r"""
import resource, sys
from fastnn import keras
try:
    keras.models.load_model(sys.argv[1])
except ValueError as exc:
    print("ValueError:", exc)
# VmHWM is this process's own peak; ru_maxrss would also count the parent's peak at fork time.
try:
    peak = [int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM")][0]
except OSError:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print("maxrss_mb", peak / 1024)
"""


@pytest.mark.parametrize("ext", ["keras", "h5", "npz"])
def test_absurd_layer_sizes_in_a_file_are_refused_before_allocating(tmp_path, ext):
    keras.backend.clear_session()
    keras.utils.set_random_seed(0)
    model = keras.Sequential([L.Dense(8, activation="relu", input_shape=(784,)), L.Dense(10)])
    model.compile("sgd", "mse")
    model.save(str(tmp_path / f"good.{ext}"))
    path = tmp_path / f"bomb.{ext}"
    if ext == "keras":
        _tamper_keras(tmp_path / "good.keras", path,
                      edit_config=lambda c: c["config"]["layers"][1]["config"].update(units=10 ** 8))
    elif ext == "h5":
        path.write_bytes((tmp_path / "good.h5").read_bytes())
        with h5py.File(path, "a") as f:
            c = json.loads(f.attrs["model_config"])
            c["config"]["layers"][1]["config"]["units"] = 10 ** 8
            f.attrs["model_config"] = json.dumps(c)
    else:
        with np.load(tmp_path / "good.npz") as z:
            arrays = {k: z[k] for k in z.files}
        meta = json.loads(str(arrays["__fastnn_keras__"]))
        meta["model"]["config"]["layers"][1]["config"]["units"] = 10 ** 8
        arrays["__fastnn_keras__"] = np.array(json.dumps(meta))
        np.savez(path, **arrays)
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    out = subprocess.run([sys.executable, "-c", BOMB, str(path)], capture_output=True, text=True, env=env,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert "ValueError:" in out.stdout and "layer 'dense'" in out.stdout and "(784, 100000000)" in out.stdout
    rss = float(out.stdout.split("maxrss_mb")[1])
    assert rss < 600, out.stdout                         # 784 * 10**8 float32 would be 292 GiB
    with pytest.raises(ValueError, match="refusing to allocate"):
        keras.models.model_from_json(json.dumps(_units(model, 10 ** 8)))


def _units(model, units):
    config = keras.saving.model_config(model)
    config["config"]["layers"][1]["config"]["units"] = units
    return config


def test_hdf5_dataset_shapes_cannot_inflate_memory(tmp_path):
    """A weights file whose datasets claim more than they store is not trusted for sizes."""
    keras.backend.clear_session()
    model = keras.Sequential([L.Dense(2, input_shape=(3,))])
    model.compile("sgd", "mse")
    model.save(str(tmp_path / "m.h5"))
    with h5py.File(tmp_path / "m.h5", "a") as f:
        c = json.loads(f.attrs["model_config"])
        c["config"]["layers"][1]["config"]["units"] = 10 ** 7
        f.attrs["model_config"] = json.dumps(c)
        g = f["model_weights/dense/dense"]
        del g["kernel"]
        g.create_dataset("kernel", shape=(3, 10 ** 7), dtype="f4", chunks=(1, 1024), compression="gzip")
    with pytest.raises(ValueError, match="refusing to allocate"):
        keras.models.load_model(str(tmp_path / "m.h5"))


def test_keras2_style_configs_load(tmp_path):
    """A tf.keras 2 legacy file: Keras 2 config keys, inbound nodes as lists, VarianceScaling-free initializers."""
    keras.utils.set_random_seed(5)
    model = wide_deep()
    model.compile("sgd", ["mse", "mse"])
    model.save(str(tmp_path / "m.h5"))
    with h5py.File(tmp_path / "m.h5", "a") as f:
        c = json.loads(f.attrs["model_config"])
        for layer in c["config"]["layers"]:
            if layer["class_name"] == "InputLayer":
                layer["config"]["batch_input_shape"] = layer["config"].pop("batch_shape")
            else:
                layer["config"]["dtype"] = "float32"
                layer["config"]["kernel_initializer"] = {"class_name": "GlorotUniform", "config": {"seed": None}} \
                    if "kernel_initializer" in layer["config"] else None
                if layer["config"]["kernel_initializer"] is None:
                    del layer["config"]["kernel_initializer"]
            nodes = layer["inbound_nodes"]
            if nodes:
                args = nodes[0]["args"][0]
                refs = args if isinstance(args, list) else [args]
                layer["inbound_nodes"] = [[[r["config"]["keras_history"][0], 0, 0, {}] for r in refs]]
        f.attrs["model_config"] = json.dumps(c)
        f.attrs["training_config"] = json.dumps({"loss": ["mean_squared_error", "mean_squared_error"],
                                                 "metrics": None, "loss_weights": None,
                                                 "optimizer_config": {"class_name": "SGD", "config": {
                                                     "name": "SGD", "learning_rate": 0.01, "decay": 0.0,
                                                     "momentum": 0.0, "nesterov": False}}})
    loaded = keras.models.load_model(str(tmp_path / "m.h5"))
    xs = (np.ones((2, 5), np.float32), np.ones((2, 6), np.float32))
    for a, b in zip(loaded.predict(xs, verbose=0), model.predict(xs, verbose=0)):
        np.testing.assert_array_equal(a, b)
    assert isinstance(loaded.optimizer, keras.optimizers.SGD)


def test_serialize_and_deserialize_keras_object():
    dense = L.Dense(3, activation="relu", kernel_initializer="he_uniform", name="d")
    config = keras.saving.serialize_keras_object(dense)
    assert config["class_name"] == "Dense" and config["config"]["kernel_initializer"]["class_name"] == "HeUniform"
    again = keras.saving.deserialize_keras_object(config)
    assert type(again) is L.Dense and again.units == 3 and again.activation.name == "relu"
    adam = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(keras.optimizers.Adam(0.02)))
    assert isinstance(adam, keras.optimizers.Adam) and adam.learning_rate == pytest.approx(0.02)
    init = keras.saving.deserialize_keras_object({"module": "keras.initializers", "class_name": "GlorotNormal",
                                                  "config": {"seed": 3, "input_axes": None, "output_axes": None}})
    assert isinstance(init, keras.initializers.GlorotNormal) and init.seed == 3
    for evil in ({"class_name": "Popen", "config": {}}, {"module": "os", "class_name": "system", "config": "ls"},
                 "eval"):
        with pytest.raises(ValueError, match="unknown"):
            keras.saving.deserialize_keras_object(evil)


FUZZ = r"""
import io, json, random, sys, warnings, zipfile
warnings.simplefilter("ignore")
import numpy as np
from fastnn import keras
L = keras.layers
keras.utils.set_random_seed(0)
a, b = keras.Input((5,), name="a"), keras.Input((4,), name="b")
h = L.Dense(3, activation="relu")(b)
model = keras.Model([a, b], [L.Dense(1)(L.concatenate([a, h])), L.Dense(2, activation="softmax")(h)])
model.compile("adam", ["mse", "sparse_categorical_crossentropy"], metrics=[["mae"], ["accuracy"]])
folder, n = sys.argv[1], int(sys.argv[2])
rng = random.Random(0)
junk = [None, 0, -1, 10**12, 2.5, "x", "relu", [], [1, 2], {}, {"class_name": "X"}, True, "Dense", [None, 3]]
outcomes = {"ok": 0, "ValueError": 0}


def attempt(path):
    try:
        keras.models.load_model(path)
        outcomes["ok"] += 1
    except ValueError:
        outcomes["ValueError"] += 1      # anything else propagates and fails the test


def leaves(o, p=()):
    yield p
    items = o.items() if isinstance(o, dict) else enumerate(o) if isinstance(o, list) else ()
    for k, v in items:
        yield from leaves(v, p + (k,))


for ext in ("keras", "h5", "npz"):
    good = f"{folder}/good.{ext}"
    model.save(good)
    raw = open(good, "rb").read()
    members = None
    if ext == "keras":
        with zipfile.ZipFile(good) as zf:
            members = {name: zf.read(name) for name in zf.namelist()}
        config = json.loads(members["config.json"])
        paths = list(leaves(config))[1:]
    for i in range(n):
        bad = f"{folder}/bad.{ext}"
        if members is None:                       # flip bytes, maybe truncate
            data = bytearray(raw)
            for _ in range(rng.choice([1, 2, 8, 32])):
                data[rng.randrange(len(data))] = rng.randrange(256)
            open(bad, "wb").write(bytes(data[: rng.randrange(len(data))] if rng.random() < 0.2 else data))
        else:                                      # valid zip, damaged members (CRCs recomputed)
            mem = dict(members)
            if i % 2:
                c = json.loads(members["config.json"])
                for _ in range(rng.choice([1, 2, 3])):
                    p, o = rng.choice(paths), c
                    try:
                        for k in p[:-1]:
                            o = o[k]
                        o[p[-1]] = rng.choice(junk)
                    except (KeyError, IndexError, TypeError):
                        pass
                mem["config.json"] = json.dumps(c)
            else:
                w = bytearray(members["model.weights.h5"])
                for _ in range(rng.choice([1, 4, 16])):
                    w[rng.randrange(len(w))] = rng.randrange(256)
                mem["model.weights.h5"] = bytes(w)
            buf = io.BytesIO()
            with zipfile.ZipFile(buf, "w") as zf:
                for k, v in mem.items():
                    zf.writestr(k, v)
            open(bad, "wb").write(buf.getvalue())
        attempt(bad)
print(json.dumps(outcomes))
"""


def test_damaged_files_only_ever_raise_value_error(tmp_path):
    """Random byte flips, truncations and junk config values, in a subprocess (a crash is seen):
    every load either works or raises ValueError. FASTNN_FUZZ_N sets the count per format."""
    n = int(os.environ.get("FASTNN_FUZZ_N", "40"))
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    out = subprocess.run([sys.executable, "-c", FUZZ, str(tmp_path), str(n)], capture_output=True, text=True,
                         env=env, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    outcomes = json.loads(out.stdout.strip().splitlines()[-1])
    assert outcomes["ok"] + outcomes["ValueError"] == 3 * n
    assert outcomes["ValueError"] > n                   # most damage is noticed
