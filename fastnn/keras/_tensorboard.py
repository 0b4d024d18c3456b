"""``keras.callbacks.TensorBoard``: event files that TensorBoard reads.

Layout and tags as Keras writes them::

    log_dir/train/events.out.tfevents.*        epoch_loss, epoch_accuracy, epoch_learning_rate, ...
                                               (step = epoch); batch_loss, ... (update_freq='batch'
                                               or N: step = train batch count since fit began);
                                               <layer>/<weight>/histogram (histogram_freq);
                                               the layer graph (write_graph)
    log_dir/validation/events.out.tfevents.*   epoch_loss, epoch_accuracy, ... of the val_ entries;
                                               evaluation_loss_vs_iterations, ... (step = optimizer steps)

The files are written with TensorBoard's own event-file writer
(``tensorboard.summary.writer``, no TensorFlow needed): install the extra with
``pip install "fastnn[tensorboard]"``, then ``tensorboard --logdir log_dir``.
The graph is one node per layer (op = the layer class, inputs = the layers
feeding it, ``_output_shapes`` = its output shape), shown in TensorBoard's
Graphs tab.
"""
import io
import os
import time

import numpy as np

from .callbacks import Callback

_EXTRA = 'pip install "fastnn[tensorboard]"'
HISTOGRAM_BUCKETS = 30


def _tensorboard_modules():
    try:
        from tensorboard.compat.proto import (
            attr_value_pb2,
            event_pb2,
            graph_pb2,
            node_def_pb2,
            summary_pb2,
            tensor_shape_pb2,
        )
        from tensorboard.summary.writer.event_file_writer import EventFileWriter
    except ImportError as exc:
        raise ImportError(
            f"keras.callbacks.TensorBoard needs the 'tensorboard' package, which is not installed "
            f"({exc}); install fastnn's optional extra 'tensorboard': {_EXTRA}"
        ) from exc
    return {"attr": attr_value_pb2, "event": event_pb2, "graph": graph_pb2, "node": node_def_pb2,
            "summary": summary_pb2, "shape": tensor_shape_pb2, "Writer": EventFileWriter}


class TensorBoard(Callback):
    """Log losses, metrics, weight histograms and the model graph for TensorBoard.

    Args:
        log_dir: where ``train/`` and ``validation/`` event files go.
        histogram_freq: every how many epochs to write weight histograms (0: never).
        write_graph: write the layer graph once per fit.
        write_images: also write each weight as an image (with ``histogram_freq``).
        write_steps_per_second: log ``steps_per_second`` (epoch) / ``batch_steps_per_second``.
        update_freq: ``'epoch'``, ``'batch'`` (every batch) or N (every N batches) for the
            ``batch_`` scalars.
        profile_batch, embeddings_freq: must be 0 (no profiler, no Embedding layer in fastnn).
    """

    def __init__(self, log_dir="logs", histogram_freq=0, write_graph=True, write_images=False,
                 write_steps_per_second=False, update_freq="epoch", profile_batch=0, embeddings_freq=0,
                 embeddings_metadata=None):
        super().__init__()
        self._tb = _tensorboard_modules()
        if update_freq == "batch":
            update_freq = 1
        if update_freq != "epoch" and (isinstance(update_freq, bool) or not isinstance(update_freq, (int, np.integer))
                                       or update_freq < 1):
            raise ValueError(f"TensorBoard: update_freq must be 'epoch', 'batch' or a positive int, got {update_freq!r}")
        if isinstance(histogram_freq, bool) or not isinstance(histogram_freq, (int, np.integer)) or histogram_freq < 0:
            raise ValueError(f"TensorBoard: histogram_freq must be an int >= 0, got {histogram_freq!r}")
        if profile_batch not in (0, None, (0, 0)):
            raise ValueError(f"TensorBoard: profiling is not available in fastnn; got profile_batch={profile_batch!r} "
                             f"(must be 0)")
        if embeddings_freq:
            raise ValueError(f"TensorBoard: embeddings_freq={embeddings_freq!r} is not supported "
                             f"(fastnn.keras has no Embedding layer to project); use 0")
        self.log_dir = os.fspath(log_dir)
        self.histogram_freq = int(histogram_freq)
        self.write_graph = bool(write_graph)
        self.write_images = bool(write_images)
        self.write_steps_per_second = bool(write_steps_per_second)
        self.update_freq = update_freq
        self._writers = {}
        self._global_train_batch = 0
        self._in_fit = False

    # ------------------------------------------------------------ writers
    def _writer(self, which):
        if which not in self._writers:
            path = os.path.join(self.log_dir, which)
            os.makedirs(path, exist_ok=True)
            self._writers[which] = self._tb["Writer"](path)
        return self._writers[which]

    def _close_writers(self):
        for w in self._writers.values():
            w.close()
        self._writers = {}

    def _add(self, which, step, summary=None, **event_fields):
        ev = self._tb["event"].Event(wall_time=time.time(), step=int(step), **event_fields)
        if summary is not None:
            ev.summary.CopyFrom(summary)
        self._writer(which).add_event(ev)

    def _scalars(self, which, values, step, prefix):
        s = self._tb["summary"].Summary()
        for name, value in values.items():
            try:
                v = float(value)
            except (TypeError, ValueError):
                continue                      # not a number (e.g. predict outputs): nothing to plot
            s.value.add(tag=prefix + name, simple_value=v)
        if s.value:
            self._add(which, step, s)

    # -------------------------------------------------------------- hooks
    def on_train_begin(self, logs=None):
        self._in_fit = True
        self._global_train_batch = 0
        if self.write_graph:
            self._write_graph()

    def on_train_end(self, logs=None):
        self._in_fit = False
        self._close_writers()

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch_start = time.perf_counter()
        self._epoch_start_step = self._global_train_batch

    def on_train_batch_begin(self, batch, logs=None):
        self._global_train_batch += 1
        self._batch_start = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        if self.update_freq == "epoch" or self._global_train_batch % self.update_freq:
            return
        values = dict(logs or {})
        if self.write_steps_per_second:
            values["steps_per_second"] = 1.0 / max(time.perf_counter() - self._batch_start, 1e-9)
        self._scalars("train", values, self._global_train_batch, "batch_")

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        train = {k: v for k, v in logs.items() if not k.startswith("val_")}
        val = {k[4:]: v for k, v in logs.items() if k.startswith("val_")}
        opt = getattr(self.model, "optimizer", None)
        if opt is not None and "learning_rate" not in train:
            train["learning_rate"] = float(opt.learning_rate)
        if self.write_steps_per_second:
            steps = self._global_train_batch - self._epoch_start_step
            train["steps_per_second"] = steps / max(time.perf_counter() - self._epoch_start, 1e-9)
        self._scalars("train", train, epoch, "epoch_")
        if val:
            self._scalars("validation", val, epoch, "epoch_")
        if self.histogram_freq and epoch % self.histogram_freq == 0:
            self._write_weights(epoch)
        for w in self._writers.values():
            w.flush()

    def on_test_end(self, logs=None):
        opt = getattr(self.model, "optimizer", None)
        if opt is not None and logs:
            self._scalars("validation", {f"evaluation_{k}_vs_iterations": v for k, v in logs.items()},
                          opt.iterations, "")
        if not self._in_fit:                  # model.evaluate on its own: nothing else will close the file
            self._close_writers()

    # ---------------------------------------------------------- histograms
    def _write_weights(self, epoch):
        s = self._tb["summary"].Summary()
        for layer in self.model.layers:
            for pname, w in layer.params.items():
                tag = f"{layer.name}/{pname}"
                s.value.add(tag=f"{tag}/histogram", histo=self._histogram(w))
                if self.write_images:
                    image = self._weight_image(w)
                    if image is not None:
                        s.value.add(tag=f"{tag}/image", image=image)
        if s.value:
            self._add("train", epoch, s)

    def _histogram(self, values):
        v = np.asarray(values, dtype=np.float64).ravel()
        v = v[np.isfinite(v)]
        h = self._tb["summary"].HistogramProto()
        if v.size == 0:
            return h
        lo, hi = float(v.min()), float(v.max())
        h.min, h.max, h.num = lo, hi, float(v.size)
        h.sum, h.sum_squares = float(v.sum()), float(np.dot(v, v))
        if lo == hi:
            h.bucket_limit.append(hi)
            h.bucket.append(float(v.size))
        else:
            counts, edges = np.histogram(v, bins=HISTOGRAM_BUCKETS, range=(lo, hi))
            h.bucket_limit.extend(float(e) for e in edges[1:])
            h.bucket.extend(float(c) for c in counts)
        return h

    def _weight_image(self, w):
        """A weight as a grey image: bias 1 x n, Dense kernel (smaller side first), conv kernel per channel."""
        from PIL import Image
        w = np.squeeze(np.asarray(w, dtype=np.float64))
        if w.ndim == 1:
            img = w[None, :]
        elif w.ndim == 2:
            img = w.T if w.shape[0] > w.shape[1] else w
        elif w.ndim == 3:                      # (kh, kw, channels): side by side
            img = np.concatenate(list(np.moveaxis(w, -1, 0)), axis=1)
        else:
            return None
        lo, hi = np.nanmin(img), np.nanmax(img)
        scaled = np.zeros_like(img) if hi == lo else (img - lo) / (hi - lo)
        pixels = np.nan_to_num(scaled * 255).astype(np.uint8)
        buf = io.BytesIO()
        Image.fromarray(pixels, mode="L").save(buf, format="PNG")
        return self._tb["summary"].Summary.Image(height=pixels.shape[0], width=pixels.shape[1], colorspace=1,
                                                 encoded_image_string=buf.getvalue())

    # --------------------------------------------------------------- graph
    def _write_graph(self):
        graph = getattr(self.model, "_graph", None)
        if graph is None:
            return                              # nothing symbolic to draw (e.g. a subclassed model)
        tb = self._tb
        gd = tb["graph"].GraphDef()
        tensors = list(graph.inputs) + list(graph.nodes)
        for t in tensors:
            node = gd.node.add(name=t.layer.name, op=type(t.layer).__name__)
            node.input.extend(src.layer.name for src in t.inbound)
            shape = tb["shape"].TensorShapeProto(
                dim=[tb["shape"].TensorShapeProto.Dim(size=-1 if d is None else int(d)) for d in t.shape])
            node.attr["_output_shapes"].list.shape.append(shape)
        self._add("train", 0, graph_def=gd.SerializeToString())
