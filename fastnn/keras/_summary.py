"""model.summary(): the Keras 3 table, drawn with box characters.

    Model: "sequential"
    ┏━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━┓
    ┃ Layer (type)                    ┃ Output Shape           ┃       Param # ┃
    ┡━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━┩
    │ dense (Dense)                   │ (None, 512)            │       401,920 │
    ...
     Total params: 407,050 (1.55 MB)

Functional models get a fourth column, "Connected to".
"""
import numpy as np

from ._subclassing import is_subclassed
from .layers.base import shape_str


def readable_size(n_bytes):
    for unit in ("B", "KB", "MB", "GB"):
        if n_bytes < 1024 or unit == "GB":
            return f"{n_bytes:.2f} {unit}"
        n_bytes /= 1024


def _rows(model):
    """(cells per row) for each layer: name (type), output shape, params[, connected to]."""
    # Subclassed models list the layers they hold, like Sequential ones (no "Connected to").
    functional = type(model).__name__ != "Sequential" and not is_subclassed(model)
    rows = []
    producers = {id(t.layer): t for t in model._graph.inputs + model._graph.nodes}
    for layer in model.layers:
        t = producers.get(id(layer))
        shape = "?" if t is None else shape_str(t.shape)
        cells = [f"{layer.name} ({type(layer).__name__})", shape, f"{layer.count_params():,}"]
        if functional:
            cells.append([f"{src.layer.name}[0][0]" for src in t.inbound] or ["-"])
        rows.append(cells)
    return rows, functional


def summary_text(model, line_length=None):
    rows, functional = _rows(model)
    headers = ["Layer (type)", "Output Shape", "Param #"] + (["Connected to"] if functional else [])
    widths = [33, 24, 15] if not functional else [31, 22, 13, 22]
    for cells in rows:
        for i, c in enumerate(cells):
            lines = c if isinstance(c, list) else [c]
            widths[i] = max(widths[i], max(len(s) for s in lines) + 2)

    def fmt(cells):
        lines = [c if isinstance(c, list) else [c] for c in cells]
        height = max(len(x) for x in lines)
        out = []
        for k in range(height):
            parts = []
            for i, col in enumerate(lines):
                text = col[k] if k < len(col) else ""
                inner = widths[i] - 2
                parts.append(" " + (text.rjust(inner) if i == 2 else text.ljust(inner)) + " ")
            out.append(parts)
        return out

    def border(left, fill, mid, right):
        return left + mid.join(fill * w for w in widths) + right

    text = [f'Model: "{model.name}"', border("┏", "━", "┳", "┓")]
    text += ["┃" + "┃".join(p) + "┃" for p in fmt(headers)]
    text.append(border("┡", "━", "╇", "┩"))
    for i, cells in enumerate(rows):
        text += ["│" + "│".join(p) + "│" for p in fmt(cells)]
        text.append(border("├", "─", "┼", "┤") if i < len(rows) - 1 else border("└", "─", "┴", "┘"))
    itemsize = np.dtype(model.dtype).itemsize
    total = model.count_params()
    trainable = int(sum(w.size for w in {id(w): w for w in model.trainable_weights}.values()))
    non_trainable = total - trainable
    text.append(f" Total params: {total:,} ({readable_size(total * itemsize)})")
    text.append(f" Trainable params: {trainable:,} ({readable_size(trainable * itemsize)})")
    text.append(f" Non-trainable params: {non_trainable:,} ({readable_size(non_trainable * itemsize)})")
    if model.compiled and model.optimizer is not None:
        slots = int(sum(a.size for s in model.optimizer.slots.values() for a in s.values()))
        if slots:
            text.append(f" Optimizer params: {slots:,} ({readable_size(slots * itemsize)})")
    return "\n".join(text)
