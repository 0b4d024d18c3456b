"""keras.callbacks.TensorBoard: event files read back with TensorBoard's own EventAccumulator."""
import glob
import os
import sys

import numpy as np
import pytest

from fastnn import keras
from fastnn.keras import layers as L

event_accumulator = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")


def read(run_dir):
    ea = event_accumulator.EventAccumulator(run_dir, size_guidance={event_accumulator.SCALARS: 0,
                                                                    event_accumulator.HISTOGRAMS: 0,
                                                                    event_accumulator.IMAGES: 0})
    ea.Reload()
    return ea


def scalars(ea, tag):
    return [(e.step, e.value) for e in ea.Scalars(tag)]


def data(n=96, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    x = (np.eye(3)[y] @ rng.standard_normal((3, 6)) + 0.3 * rng.standard_normal((n, 6))).astype(np.float32)
    return x, y


def model_():
    m = keras.Sequential([L.Dense(8, activation="relu", input_shape=(6,), name="hidden"),
                          L.Dense(3, activation="softmax", name="out")])
    m.compile(keras.optimizers.SGD(0.05), "sparse_categorical_crossentropy", metrics=["accuracy"])
    return m


def test_epoch_scalars_histograms_and_graph_in_keras_layout(tmp_path):
    x, y = data()
    model = model_()
    tb = keras.callbacks.TensorBoard(str(tmp_path), histogram_freq=1)
    h = model.fit(x[:64], y[:64], epochs=3, batch_size=16, verbose=0, validation_data=(x[64:], y[64:]),
                  callbacks=[tb])
    assert sorted(os.listdir(tmp_path)) == ["train", "validation"]
    assert glob.glob(str(tmp_path / "train" / "events.out.tfevents.*"))
    train, val = read(str(tmp_path / "train")), read(str(tmp_path / "validation"))
    assert {"epoch_loss", "epoch_accuracy", "epoch_learning_rate"} <= set(train.Tags()["scalars"])
    assert not any(t.startswith("batch_") for t in train.Tags()["scalars"])     # update_freq='epoch'
    for tag, key in [("epoch_loss", "loss"), ("epoch_accuracy", "accuracy")]:
        got = scalars(train, tag)
        assert [s for s, _ in got] == [0, 1, 2]
        np.testing.assert_allclose([v for _, v in got], h.history[key], rtol=1e-6)
        got = scalars(val, tag)
        np.testing.assert_allclose([v for _, v in got], h.history["val_" + key], rtol=1e-6)
    np.testing.assert_allclose([v for _, v in scalars(train, "epoch_learning_rate")], [0.05] * 3, rtol=1e-6)
    # evaluation_*_vs_iterations after each validation pass, step = optimizer steps (4 per epoch)
    assert [s for s, _ in scalars(val, "evaluation_loss_vs_iterations")] == [4, 8, 12]
    # weight histograms: one per weight per epoch, counts add up to the weight's size
    hist_tags = set(train.Tags()["histograms"])
    assert hist_tags == {"hidden/kernel/histogram", "hidden/bias/histogram", "out/kernel/histogram",
                         "out/bias/histogram"}
    events = train.Histograms("hidden/kernel/histogram")
    assert [e.step for e in events] == [0, 1, 2]
    last = events[-1].histogram_value
    kernel = model.get_layer("hidden").get_weights()[0]
    assert last.num == kernel.size and sum(last.bucket) == kernel.size
    assert last.min == pytest.approx(kernel.min()) and last.max == pytest.approx(kernel.max())
    assert last.sum == pytest.approx(kernel.sum(), rel=1e-5, abs=1e-5)
    # the layer graph
    graph = train.Graph()
    nodes = {n.name: n for n in graph.node}
    input_name = model.inputs[0].layer.name
    assert set(nodes) == {input_name, "hidden", "out"}
    assert nodes[input_name].op == "InputLayer" and list(nodes["hidden"].input) == [input_name]
    assert nodes["hidden"].op == "Dense" and list(nodes["out"].input) == ["hidden"]
    dims = [d.size for d in nodes["hidden"].attr["_output_shapes"].list.shape[0].dim]
    assert dims == [-1, 8]


def test_batch_level_scalars_every_n_batches(tmp_path):
    x, y = data(64)
    seen = []
    rec = keras.callbacks.LambdaCallback(on_train_batch_end=lambda b, logs: seen.append(logs["loss"]))
    model_().fit(x, y, epochs=2, batch_size=16, verbose=0, shuffle=False,
                 callbacks=[keras.callbacks.TensorBoard(str(tmp_path / "every"), update_freq="batch",
                                                        write_graph=False), rec])
    ea = read(str(tmp_path / "every" / "train"))
    got = scalars(ea, "batch_loss")
    assert [s for s, _ in got] == list(range(1, 9))
    np.testing.assert_allclose([v for _, v in got], seen, rtol=1e-6)
    assert "batch_accuracy" in ea.Tags()["scalars"]
    assert ea.Tags()["graph"] is False

    model_().fit(x, y, epochs=2, batch_size=16, verbose=0,
                 callbacks=[keras.callbacks.TensorBoard(str(tmp_path / "three"), update_freq=3,
                                                        write_steps_per_second=True)])
    ea = read(str(tmp_path / "three" / "train"))
    assert [s for s, _ in scalars(ea, "batch_loss")] == [3, 6]
    assert [s for s, _ in scalars(ea, "batch_steps_per_second")] == [3, 6]
    assert all(v > 0 for _, v in scalars(ea, "epoch_steps_per_second"))
    assert not os.path.exists(tmp_path / "three" / "validation")   # no validation data, no folder


def test_weight_images_and_evaluate_alone(tmp_path):
    x, y = data(48)
    model = model_()
    model.fit(x, y, epochs=1, verbose=0,
              callbacks=[keras.callbacks.TensorBoard(str(tmp_path), histogram_freq=1, write_images=True)])
    ea = read(str(tmp_path / "train"))
    assert "hidden/kernel/image" in ea.Tags()["images"]
    img = ea.Images("hidden/kernel/image")[0]
    assert (img.width, img.height) == (8, 6)          # (6, 8) kernel, smaller side first
    model.evaluate(x, y, verbose=0, callbacks=[keras.callbacks.TensorBoard(str(tmp_path / "ev"))])
    ea = read(str(tmp_path / "ev" / "validation"))
    assert [s for s, _ in scalars(ea, "evaluation_loss_vs_iterations")] == [model.optimizer.iterations]


def test_bad_arguments_and_missing_package(tmp_path, monkeypatch):
    with pytest.raises(ValueError, match="update_freq"):
        keras.callbacks.TensorBoard(str(tmp_path), update_freq="sometimes")
    with pytest.raises(ValueError, match="histogram_freq"):
        keras.callbacks.TensorBoard(str(tmp_path), histogram_freq=-1)
    with pytest.raises(ValueError, match="profiling"):
        keras.callbacks.TensorBoard(str(tmp_path), profile_batch=2)
    monkeypatch.setitem(sys.modules, "tensorboard.summary.writer.event_file_writer", None)
    with pytest.raises(ImportError, match=r"fastnn\[tensorboard\]"):
        keras.callbacks.TensorBoard(str(tmp_path))
