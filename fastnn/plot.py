"""Pictures of what a network learns: learning curves, digits, filters, confusions.

matplotlib is an optional extra (``pip install fastnn[plot]``); it is imported
inside the functions, so ``import fastnn.plot`` works without it and only a
call to a plotting function needs it.

Every ``plot_*`` function builds a :class:`matplotlib.figure.Figure` with the
object-oriented API (no ``pyplot``, so no window pops up and no global state
changes), returns it, and when given ``path`` also saves it there atomically
(a temporary file in the same directory, then a rename). In Jupyter the
returned figure displays inline; in a script, save it or call
``fig.savefig(...)``.

    from fastnn import plot
    plot.plot_learning_curves(trainer, "curves.png")       # a Trainer or a Keras History
    plot.plot_images(x_test[:20], t_test[:20], y_pred[:20], "digits.png")
    plot.plot_filters(network.params["W1"], "filters.png")  # W (FN, C, FH, FW)
    cm = plot.confusion_matrix(t_test, y_pred)              # NumPy only, no matplotlib
    plot.plot_confusion_matrix(cm, "confusion.png")
    plot.plot_activation_histograms({1: a1, 2: a2}, "activations.png")
"""
import os

import numpy as np

from .io import atomic_write

__all__ = [
    "confusion_matrix",
    "plot_learning_curves",
    "plot_images",
    "plot_filters",
    "plot_confusion_matrix",
    "plot_activation_histograms",
]

_WRONG_COLOR = "tab:red"
_RIGHT_COLOR = "black"


_FIGURE_CLASS = []


def _figure_class():
    """matplotlib's Figure plus ``_repr_png_``: IPython/Jupyter shows a returned figure
    inline as a picture even when pyplot (and its inline backend) was never loaded."""
    if not _FIGURE_CLASS:
        import io

        from matplotlib.figure import Figure

        class InlineFigure(Figure):
            def _repr_png_(self):
                buf = io.BytesIO()
                self.savefig(buf, format="png", dpi=self.dpi)
                return buf.getvalue()

        _FIGURE_CLASS.append(InlineFigure)
    return _FIGURE_CLASS[0]


def _new_figure(where, figsize):
    """A Figure attached to the Agg canvas (renders to files, never opens a window)."""
    try:
        Figure = _figure_class()
        from matplotlib.backends.backend_agg import FigureCanvasAgg
    except ImportError:
        raise ImportError(
            f"fastnn.plot.{where} needs matplotlib, which is not installed; "
            "install the [plot] extra: pip install 'fastnn[plot]'"
        ) from None
    fig = Figure(figsize=figsize, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _finish(fig, path, dpi=100):
    """Save ``fig`` atomically to ``path`` (format from the suffix) if a path is given."""
    if path is not None:
        fmt = os.path.splitext(os.fspath(path))[1].lstrip(".").lower() or "png"
        atomic_write(path, lambda f: fig.savefig(f, format=fmt, dpi=dpi))
    return fig


# --------------------------------------------------------------------------
# Learning curves
# --------------------------------------------------------------------------
def _curves_from(history):
    """(loss_series, acc_series, loss_xlabel) from a Trainer, a Keras History or a dict.

    Each series is a dict name -> list of floats.
    """
    if hasattr(history, "train_loss_list"):  # the book's Trainer (or anything shaped like it)
        loss = {"train loss (per mini-batch)": list(history.train_loss_list)}
        acc = {"train": list(getattr(history, "train_acc_list", [])),
               "test": list(getattr(history, "test_acc_list", []))}
        return loss, acc, "iteration"
    if hasattr(history, "history") and isinstance(history.history, dict):  # a Keras History
        history = history.history
    if not isinstance(history, dict):
        raise TypeError(
            "plot_learning_curves: expected a Trainer (train_loss_list, ...), a Keras History "
            f"(.history) or a dict of lists, got {type(history).__name__}"
        )
    if "train_loss_list" in history:  # a dict with the Trainer's names
        loss = {"train loss (per mini-batch)": list(history["train_loss_list"])}
        acc = {"train": list(history.get("train_acc_list", [])),
               "test": list(history.get("test_acc_list", []))}
        return loss, acc, "iteration"
    # Keras names: 'loss', 'val_loss', 'accuracy'/'acc', 'val_accuracy', other metrics.
    loss = {k: list(v) for k, v in history.items() if k in ("loss", "val_loss")}
    acc = {k: list(v) for k, v in history.items() if k not in ("loss", "val_loss")}
    return loss, acc, "epoch"


def plot_learning_curves(history, path=None, *, title=None, smooth=True, first_epoch=None,
                         accuracy_labels=None):
    """Loss (left) and accuracy (right) during training.

    ``history`` is a :class:`fastnn.trainer.Trainer` after ``train()`` (per
    mini-batch ``train_loss_list``; per-epoch ``train_acc_list`` and
    ``test_acc_list``), a Keras-style ``History`` (its ``.history`` dict:
    ``loss``, ``val_loss``, ``accuracy``, ...), or such a dict. With
    ``smooth=True`` a per-mini-batch loss gets a moving average drawn over it.
    Returns the Figure; saves it to ``path`` when given.
    """
    loss, acc, loss_x = _curves_from(history)
    if accuracy_labels is not None and loss_x == "iteration":
        acc = dict(zip(accuracy_labels, (acc["train"], acc["test"])))
    loss = {k: v for k, v in loss.items() if len(v)}
    acc = {k: v for k, v in acc.items() if len(v)}
    if not loss and not acc:
        raise ValueError("plot_learning_curves: the history is empty (train first)")

    fig = _new_figure("plot_learning_curves", (10, 4))
    ax_loss, ax_acc = fig.subplots(1, 2)

    for name, values in loss.items():
        values = np.asarray(values, dtype=float)
        if loss_x == "iteration":
            ax_loss.plot(np.arange(len(values)), values, lw=0.8, alpha=0.4, label=name)
            if smooth and len(values) >= 11:
                window = max(5, min(len(values) // 10, 50))
                kernel = np.ones(window) / window
                avg = np.convolve(values, kernel, mode="valid")
                ax_loss.plot(np.arange(window - 1, len(values)), avg, lw=1.6,
                             label=f"moving average ({window})")
        else:
            ax_loss.plot(np.arange(1, len(values) + 1), values, marker="o", label=name)
    ax_loss.set_xlabel(loss_x)
    ax_loss.set_ylabel("loss")
    ax_loss.set_title("loss")
    if loss:
        ax_loss.legend()

    if first_epoch is None:
        # The book's Trainer records once after the very first step ("epoch 0").
        first_epoch = 0 if loss_x == "iteration" else 1
    for name, values in acc.items():
        start = first_epoch
        ax_acc.plot(np.arange(start, start + len(values)), values, marker="o", label=name)
    ax_acc.set_xlabel("epoch")
    ax_acc.xaxis.get_major_locator().set_params(integer=True)
    ax_acc.set_ylabel("accuracy")
    ax_acc.set_title("accuracy")
    if acc:
        ax_acc.legend()
    ax_acc.grid(alpha=0.3)
    if title:
        fig.suptitle(title)
    return _finish(fig, path)


# --------------------------------------------------------------------------
# Images with labels
# --------------------------------------------------------------------------
def _as_images(where, images):
    """(N, H, W) or (N, H, W, 3) for imshow from flat, NCHW or NHWC images."""
    x = np.asarray(images)
    if x.ndim == 2:  # (N, H*W): square images such as MNIST's 784
        side = int(round(np.sqrt(x.shape[1])))
        if side * side != x.shape[1]:
            raise ValueError(
                f"{where}: flat images need a square number of pixels, got {x.shape[1]}"
            )
        return x.reshape(-1, side, side)
    if x.ndim == 3:
        return x
    if x.ndim == 4:
        if x.shape[1] in (1, 3) and x.shape[-1] not in (1, 3):  # NCHW
            x = x.transpose(0, 2, 3, 1)
        if x.shape[-1] == 1:
            return x[..., 0]
        if x.shape[-1] == 3:
            return x
    raise ValueError(
        f"{where}: expected images shaped (N, H*W), (N, H, W), (N, C, H, W) or (N, H, W, C) "
        f"with C 1 or 3, got {x.shape}"
    )


def _grid(n, ncols):
    ncols = max(1, min(ncols, n))
    nrows = -(-n // ncols)
    return nrows, ncols


def plot_images(images, labels, predictions=None, path=None, *, ncols=10, class_names=None,
                title=None):
    """A grid of images, each titled with its label.

    ``images``: (N, 784), (N, 28, 28), (N, 1, 28, 28) or (N, 28, 28, 1).
    ``labels``: (N,) true class indices. ``predictions``: (N,) predicted class
    indices or None; when given each title reads ``pred (true)``, in red where
    they differ. ``class_names`` maps an index to a name (e.g. Fashion-MNIST).
    """
    where = "plot_images"
    x = _as_images(where, images)
    labels = np.asarray(labels).reshape(-1)
    if len(x) == 0:
        raise ValueError(f"{where}: no images to plot")
    if len(labels) != len(x):
        raise ValueError(f"{where}: {len(x)} images but {len(labels)} labels")
    if predictions is not None:
        predictions = np.asarray(predictions).reshape(-1)
        if len(predictions) != len(x):
            raise ValueError(f"{where}: {len(x)} images but {len(predictions)} predictions")

    def name(k):
        return str(class_names[int(k)]) if class_names is not None else str(int(k))

    nrows, ncols = _grid(len(x), ncols)
    fig = _new_figure(where, (1.2 * ncols, 1.4 * nrows + (0.4 if title else 0)))
    axes = np.atleast_1d(fig.subplots(nrows, ncols)).reshape(-1)
    for i, ax in enumerate(axes):
        ax.set_axis_off()
        if i >= len(x):
            continue
        ax.imshow(x[i], cmap="gray_r" if x[i].ndim == 2 else None, interpolation="nearest")
        if predictions is None:
            ax.set_title(name(labels[i]), fontsize=9)
        else:
            wrong = predictions[i] != labels[i]
            ax.set_title(f"{name(predictions[i])} ({name(labels[i])})", fontsize=9,
                         color=_WRONG_COLOR if wrong else _RIGHT_COLOR)
    if title:
        fig.suptitle(title)
    return _finish(fig, path)


# --------------------------------------------------------------------------
# Convolution filters
# --------------------------------------------------------------------------
def plot_filters(W, path=None, *, ncols=8, channel=0, title=None):
    """The filters of a convolution layer as small grey images.

    ``W``: (FN, C, FH, FW), the book's layout. Each of the FN filters is drawn
    from input channel ``channel`` (the only one for MNIST), scaled to its own
    min..max. Returns the Figure; saves it to ``path`` when given.
    """
    where = "plot_filters"
    W = np.asarray(W)
    if W.ndim != 4:
        raise ValueError(f"{where}: expected W shaped (FN, C, FH, FW), got shape {W.shape}")
    if not 0 <= channel < W.shape[1]:
        raise ValueError(f"{where}: channel must be in [0, {W.shape[1]}), got {channel}")
    FN = W.shape[0]
    nrows, ncols = _grid(FN, ncols)
    fig = _new_figure(where, (1.0 * ncols, 1.0 * nrows + (0.4 if title else 0)))
    axes = np.atleast_1d(fig.subplots(nrows, ncols)).reshape(-1)
    for i, ax in enumerate(axes):
        ax.set_axis_off()
        if i < FN:
            ax.imshow(W[i, channel], cmap="gray_r", interpolation="nearest")
    if title:
        fig.suptitle(title)
    return _finish(fig, path)


# --------------------------------------------------------------------------
# Confusion matrix
# --------------------------------------------------------------------------
def confusion_matrix(labels, predictions, num_classes=None):
    """Counts ``cm[i, j]`` of samples of true class i predicted as class j.

    ``labels`` and ``predictions``: (N,) integer class indices (or one-hot
    (N, K) labels). NumPy only: no matplotlib needed.
    """
    where = "confusion_matrix"
    labels = np.asarray(labels)
    if labels.ndim == 2:  # one-hot
        labels = labels.argmax(axis=1)
    predictions = np.asarray(predictions).reshape(-1)
    labels = labels.reshape(-1)
    if labels.shape != predictions.shape:
        raise ValueError(f"{where}: {labels.size} labels but {predictions.size} predictions")
    for arr, what in ((labels, "labels"), (predictions, "predictions")):
        if arr.size and (arr.dtype.kind not in "iu" or arr.min() < 0):
            raise ValueError(f"{where}: {what} must be non-negative integer class indices")
    if num_classes is None:
        num_classes = int(max(labels.max(initial=-1), predictions.max(initial=-1))) + 1
    elif labels.size and max(labels.max(), predictions.max()) >= num_classes:
        raise ValueError(f"{where}: a class index is >= num_classes={num_classes}")
    cm = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(cm, (labels, predictions), 1)
    return cm


def plot_confusion_matrix(cm, path=None, *, class_names=None, title=None):
    """A confusion matrix (rows: true class, columns: predicted) as a heat map with counts.

    ``cm``: (K, K) counts such as :func:`confusion_matrix` returns.
    """
    where = "plot_confusion_matrix"
    cm = np.asarray(cm)
    if cm.ndim != 2 or cm.shape[0] != cm.shape[1] or cm.shape[0] == 0:
        raise ValueError(f"{where}: expected a square (K, K) matrix, got shape {cm.shape}")
    K = cm.shape[0]
    names = [str(c) for c in (class_names if class_names is not None else range(K))]
    fig = _new_figure(where, (1.0 + 0.55 * K, 0.8 + 0.5 * K))
    ax = fig.subplots()
    image = ax.imshow(cm, cmap="Blues")
    fig.colorbar(image, ax=ax, shrink=0.8)
    ax.set_xticks(range(K), names, rotation=45 if max(map(len, names)) > 2 else 0)
    ax.set_yticks(range(K), names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    threshold = cm.max() / 2 if cm.size else 0
    for i in range(K):
        for j in range(K):
            ax.text(j, i, f"{cm[i, j]:g}", ha="center", va="center", fontsize=8,
                    color="white" if cm[i, j] > threshold else "black")
    ax.set_title(title or "confusion matrix")
    return _finish(fig, path)


# --------------------------------------------------------------------------
# Activation histograms (chapter 6, weight initialisation)
# --------------------------------------------------------------------------
def plot_activation_histograms(activations, path=None, *, bins=30, value_range=(0, 1),
                               title=None):
    """One histogram per layer of its activation values, side by side.

    ``activations``: a dict ``{layer_name: array}`` (as in the book's
    weight-initialisation experiment, keys 0, 1, ...) or a list of arrays.
    ``value_range``: the histogram range, (0, 1) for sigmoid; None for the data's.
    """
    where = "plot_activation_histograms"
    if isinstance(activations, dict):
        items = list(activations.items())
    else:
        items = [(f"layer {i + 1}", a) for i, a in enumerate(activations)]
    if not items:
        raise ValueError(f"{where}: no activations to plot")
    fig = _new_figure(where, (2.2 * len(items), 2.6))
    axes = np.atleast_1d(fig.subplots(1, len(items), sharey=True)).reshape(-1)
    for ax, (name, a) in zip(axes, items):
        a = np.asarray(a, dtype=float).reshape(-1)
        ax.hist(a, bins=bins, range=value_range)
        # Integer keys count layers from 0 as in the book's experiment; show them from 1.
        is_index = isinstance(name, (int, np.integer)) and not isinstance(name, bool)
        ax.set_title(f"layer {name + 1}" if is_index else str(name))
    if title:
        fig.suptitle(title)
    return _finish(fig, path)
