"""keras.utils.plot_model through pydot + Graphviz, and keras.__version__."""
import shutil
import sys

import pytest

from fastnn import keras
from fastnn.keras import layers as L

pydot = pytest.importorskip("pydot")
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")   # pyparsing names used by pydot's parser
needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot program is not installed")


def wide_and_deep():
    wide = keras.Input(shape=(5,), name="wide_input")
    deep = keras.Input(shape=(6,), name="deep_input")
    h1 = L.Dense(30, activation="relu", name="hidden1")(deep)
    h2 = L.Dense(30, activation="relu", name="hidden2")(h1)
    concat = L.Concatenate(name="concat")([wide, h2])
    out = L.Dense(1, name="main_output")(concat)
    aux = L.Dense(1, name="aux_output")(h2)
    return keras.Model(inputs=[wide, deep], outputs=[out, aux])


def test_dot_graph_has_one_node_per_layer_and_the_right_edges():
    model = wide_and_deep()
    dot = keras.utils.model_to_dot(model, show_shapes=True, show_layer_names=True)
    (parsed,) = pydot.graph_from_dot_data(dot.to_string())
    labels = {n.get_name(): n.get_label() for n in parsed.get_nodes() if n.get_name().startswith("layer_")}
    assert len(labels) == len(model.layers) == 7
    name_of = {}
    for node_id, label in labels.items():
        for layer in model.layers:
            if f"<b>{layer.name}</b> ({type(layer).__name__})" in label:
                name_of[node_id] = layer.name
    assert sorted(name_of.values()) == sorted(l.name for l in model.layers)
    edges = {(name_of[e.get_source()], name_of[e.get_destination()]) for e in parsed.get_edges()}
    assert edges == {("deep_input", "hidden1"), ("hidden1", "hidden2"), ("wide_input", "concat"),
                     ("hidden2", "concat"), ("concat", "main_output"), ("hidden2", "aux_output")}
    concat_label = labels[next(k for k, v in name_of.items() if v == "concat")]
    assert "Input shape: <b>[(None, 5), (None, 30)]</b>" in concat_label
    assert "Output shape: <b>(None, 35)</b>" in concat_label
    plain = keras.utils.model_to_dot(model, show_layer_names=False).to_string()
    assert "hidden1" not in plain and "<b>Dense</b>" in plain and "Output shape" not in plain


@needs_dot
def test_plot_model_writes_png_svg_and_dot(tmp_path):
    from PIL import Image
    model = keras.Sequential([L.Flatten(input_shape=[28, 28]), L.Dense(300, activation="relu"),
                              L.Dense(100, activation="relu"), L.Dense(10, activation="softmax")])
    png = tmp_path / "my_fashion_mnist_model.png"
    assert keras.utils.plot_model(model, str(png), show_shapes=True, show_layer_names=True) is None
    with Image.open(png) as img:
        assert img.format == "PNG" and img.height > img.width > 100    # a vertical chain of 5 boxes
    svg = (tmp_path / "m.svg")
    keras.utils.plot_model(model, svg, show_shapes=True, show_dtype=True, show_trainable=True,
                           show_layer_activations=True)
    text = svg.read_text()
    assert text.lstrip().startswith("<?xml") and "(None, 784)" in text and "softmax" in text
    keras.utils.plot_model(model, tmp_path / "m.dot")
    (parsed,) = pydot.graph_from_dot_file(str(tmp_path / "m.dot"))
    assert len(parsed.get_edges()) == 4
    no_ext = tmp_path / "model"
    keras.utils.plot_model(model, no_ext)
    assert no_ext.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plot_model_errors(tmp_path, monkeypatch):
    model = wide_and_deep()
    with pytest.raises(ValueError, match="cannot write a .xyz file"):
        keras.utils.plot_model(model, str(tmp_path / "m.xyz"))
    with pytest.raises(ValueError, match="is not built"):
        keras.utils.plot_model(keras.Sequential([L.Dense(3)]), str(tmp_path / "m.png"))
    with pytest.raises(ValueError, match="rankdir"):
        keras.utils.plot_model(model, str(tmp_path / "m.png"), rankdir="BT")
    monkeypatch.setenv("PATH", str(tmp_path))                      # no `dot` on the PATH
    with pytest.raises(ImportError, match="Graphviz"):
        keras.utils.plot_model(model, str(tmp_path / "m.png"))
    assert not (tmp_path / "m.png").exists()
    monkeypatch.setitem(sys.modules, "pydot", None)
    with pytest.raises(ImportError, match="pydot"):
        keras.utils.plot_model(model, str(tmp_path / "m.png"))


def test_keras_version_is_a_keras_3_version():
    major, minor, patch = (int(p) for p in keras.__version__.split("."))
    assert major == 3 and keras.__version__ >= "2.0"
