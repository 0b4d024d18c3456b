"""``keras.utils.plot_model`` / ``model_to_dot``: a picture of the layer graph, through pydot and Graphviz.

    keras.utils.plot_model(model, "model.png", show_shapes=True, show_layer_names=True)

One box per layer (``name (Class)`` or just the class, then optionally the
activation, the input and output shapes, the dtype and whether it trains), one
arrow per connection. The file type follows the extension (``.png``, ``.svg``,
``.pdf``, ``.dot``, ...; none means PNG) and the file is written atomically.
Needs the ``pydot`` package and Graphviz's ``dot`` program: ``pip install
"fastnn[plot-model]"`` plus Graphviz from the system (``apt-get install
graphviz``, ``brew install graphviz``, ``conda install graphviz``); when
either is missing the ``ImportError`` says which. In Jupyter the picture is
returned as an ``IPython.display.Image`` (except for PDF).
"""
import html
import os

from . import _atomic

_PYDOT_MISSING = ('plot_model needs the pydot package, which is not installed: pip install "fastnn[plot-model]" '
                  '(or pip install pydot), and Graphviz\'s "dot" program')
_GRAPHVIZ_MISSING = ('plot_model needs Graphviz\'s "dot" program, which was not found on the PATH: install Graphviz '
                     '(apt-get install graphviz, brew install graphviz, conda install graphviz or '
                     'https://graphviz.org/download/)')


def _pydot():
    try:
        import pydot
    except ImportError as exc:
        raise ImportError(_PYDOT_MISSING) from exc
    return pydot


def _check_graphviz(pydot):
    try:
        pydot.Dot().create(format="dot")
    except (OSError, AssertionError, Exception) as exc:   # pydot reports a missing `dot` in several ways
        raise ImportError(f"{_GRAPHVIZ_MISSING} ({type(exc).__name__}: {exc})") from exc


def _shape_text(shape):
    if isinstance(shape, list):
        return "[" + ", ".join(_shape_text(s) for s in shape) + "]"
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + (",)" if len(shape) == 1 else ")")


def _activation_name(layer):
    act = getattr(layer, "activation", None)
    if act is None:
        return None
    return getattr(act, "name", None) or getattr(act, "__name__", None) or str(act)


def _label(layer, in_shape, out_shape, show_shapes, show_dtype, show_layer_names, show_layer_activations,
           show_trainable):
    cls = type(layer).__name__
    e = html.escape
    cells = []
    if show_shapes:
        if in_shape is not None:
            cells.append(f"Input shape: <b>{e(_shape_text(in_shape))}</b>")
        cells.append(f"Output shape: <b>{e(_shape_text(out_shape))}</b>")
    if show_dtype:
        cells.append(f"dtype: <b>{e(str(getattr(layer, 'dtype', None) or 'float32'))}</b>")
    if show_trainable:
        cells.append(f"Trainable: <b>{'Y' if getattr(layer, 'trainable', True) else 'N'}</b>")
    span = max(1, len(cells))
    title = f"<b>{e(layer.name)}</b> ({e(cls)})" if show_layer_names else f"<b>{e(cls)}</b>"
    rows = [f'<tr><td colspan="{span}" bgcolor="black"><font point-size="16" color="white">{title}</font></td></tr>']
    act = _activation_name(layer) if show_layer_activations else None
    if act is not None:
        rows.append(f'<tr><td colspan="{span}" bgcolor="white"><font point-size="14">Activation: <b>{e(act)}</b>'
                    f'</font></td></tr>')
    if cells:
        rows.append("<tr>" + "".join(f'<td bgcolor="white"><font point-size="14">{c}</font></td>' for c in cells)
                    + "</tr>")
    return '<<table border="0" cellborder="1" bgcolor="black" cellpadding="10">' + "".join(rows) + "</table>>"


def model_to_dot(model, show_shapes=False, show_dtype=False, show_layer_names=True, rankdir="TB",
                 expand_nested=False, dpi=200, subgraph=False, show_layer_activations=False, show_trainable=False,
                 **kwargs):
    """The model's layer graph as a ``pydot.Dot``."""
    if kwargs:
        raise ValueError(f"model_to_dot: unknown keyword argument(s) {sorted(kwargs)}")
    if rankdir not in ("TB", "LR"):
        raise ValueError(f"model_to_dot: rankdir must be 'TB' or 'LR', got {rankdir!r}")
    graph = getattr(model, "_graph", None)
    if graph is None:
        raise ValueError(f"plot_model: model '{getattr(model, 'name', model)}' is not built, so it has no layer "
                         f"graph yet: give the first layer input_shape=..., call model.build((None, ...)) or fit it")
    pydot = _pydot()
    dot = pydot.Dot(graph_type="digraph", rankdir=rankdir, concentrate=True, dpi=str(dpi))
    dot.set_node_defaults(shape="plaintext")
    tensors = list(graph.inputs) + list(graph.nodes)
    ids = {id(t): f"layer_{i}" for i, t in enumerate(tensors)}
    for t in tensors:
        if t.inbound:
            shapes = [s.shape for s in t.inbound]
            in_shape = shapes if t.layer_takes_list else shapes[0]
        else:
            in_shape = None
        label = _label(t.layer, in_shape, t.shape, show_shapes, show_dtype, show_layer_names,
                       show_layer_activations, show_trainable)
        dot.add_node(pydot.Node(ids[id(t)], label=label))
    for t in tensors:
        for src in t.inbound:
            dot.add_edge(pydot.Edge(ids[id(src)], ids[id(t)], penwidth="2"))
    return dot


def plot_model(model, to_file="model.png", show_shapes=False, show_dtype=False, show_layer_names=False,
               rankdir="TB", expand_nested=False, dpi=200, show_layer_activations=False, show_trainable=False,
               **kwargs):
    """Draw the model's layer graph into ``to_file`` (format from the extension; Keras 3's arguments)."""
    if kwargs.pop("layer_range", None) is not None:
        raise ValueError("plot_model: layer_range is not supported (it was removed in Keras 3)")
    if kwargs:
        raise ValueError(f"plot_model: unknown keyword argument(s) {sorted(kwargs)}")
    to_file = os.fspath(to_file)
    dot = model_to_dot(model, show_shapes=show_shapes, show_dtype=show_dtype, show_layer_names=show_layer_names,
                       rankdir=rankdir, expand_nested=expand_nested, dpi=dpi,
                       show_layer_activations=show_layer_activations, show_trainable=show_trainable)
    pydot = _pydot()
    ext = os.path.splitext(to_file)[1][1:].lower() or "png"
    formats = getattr(pydot.Dot(), "formats", None)
    if formats and ext not in formats:
        raise ValueError(f"plot_model: cannot write a .{ext} file; Graphviz formats are {sorted(formats)}")
    _check_graphviz(pydot)
    data = dot.create(format=ext)
    _atomic.write_bytes(to_file, data)
    if ext != "pdf":
        try:
            from IPython import display
            from IPython import get_ipython
        except ImportError:
            return None
        if get_ipython() is not None:
            return display.Image(filename=to_file)
    return None
