"""Where the Keras-style progress bar is live (redrawn with '\\r') and where it prints plain lines."""
import io

import numpy as np
import pytest

from fastnn import keras
from fastnn.keras._progbar import Progbar, is_live


def kernel_stream():
    """A stream of the class Jupyter's kernel gives a notebook cell (ipykernel.iostream.OutStream)."""
    cls = type("OutStream", (io.StringIO,), {"__module__": "ipykernel.iostream"})
    return cls()


def run_bar(stream, steps=4):
    bar = Progbar(steps, stream=stream, interval=0)
    for i in range(1, steps):
        bar.update(i, {"loss": 1.0 / i})
    bar.update(steps, {"loss": 0.1}, finalize=True)
    return stream.getvalue()


def test_a_notebook_cell_gets_a_live_bar(monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    stream = kernel_stream()
    assert is_live(stream)
    text = run_bar(stream)
    assert text.startswith("\r1/4 ") and text.count("\r") == 4 and text.endswith("\n")
    assert text.count("\n") == 1          # one line, redrawn in place, ended once


def test_files_pipes_and_ci_get_plain_lines(monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    plain = io.StringIO()                  # a file or a pipe: not a terminal, not a kernel
    assert not is_live(plain)
    text = run_bar(plain)
    assert "\r" not in text and text.endswith("\n")
    monkeypatch.setenv("CI", "true")       # a notebook run by CI for its log
    stream = kernel_stream()
    assert not is_live(stream)
    assert "\r" not in run_bar(stream)


def test_fit_in_a_notebook_moves_the_bar_during_the_epoch(monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    stream = kernel_stream()
    import sys
    monkeypatch.setattr(sys, "stdout", stream)
    x = np.random.default_rng(0).standard_normal((64, 4)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64)
    model = keras.Sequential([keras.layers.Dense(2, activation="softmax", input_shape=(4,))])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, y, epochs=1, batch_size=8, verbose=1)
    text = stream.getvalue()
    assert "\r" in text and "8/8" in text


def test_a_closed_or_odd_stream_is_not_live():
    closed = io.StringIO()
    closed.close()
    assert not is_live(closed)
    assert not is_live(object())


def test_plot_figures_display_inline_without_pyplot():
    pytest.importorskip("matplotlib")
    from fastnn import plot
    fig = plot.plot_learning_curves({"train_loss_list": [1.0, 0.5, 0.25],
                                     "train_acc_list": [0.5, 0.8], "test_acc_list": [0.4, 0.7]})
    png = fig._repr_png_()                 # what IPython shows for the returned figure
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 1000
