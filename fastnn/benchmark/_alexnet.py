"""The Keras tutorial's AlexNet-style cats-vs-dogs network, beside real Keras 3 on PyTorch.

The network (224x224x3 photos, two classes), as the tutorial writes it:

    Conv2D(6, 11x11, strides 4, relu) - BatchNormalization - MaxPooling2D(3x3, 2)
    Conv2D(256, 5x5, same, relu) - BatchNormalization - MaxPooling2D(3x3, 2)
    Conv2D(384, 3x3, relu) - BatchNormalization - Conv2D(384, 3x3, relu) - BatchNormalization
    Conv2D(356, 3x3, relu) - BatchNormalization - MaxPooling2D(3x3, 2) - Flatten
    Dense(4096, relu) - Dropout(0.5) - Dense(4096, relu) - Dropout(0.5)
    Dense(1000, relu) - Dropout(0.5) - Dense(2, softmax)

compiled with SGD and categorical cross-entropy. The same function builds
it with ``fastnn.keras`` and with real Keras, whose rows fill the "PyTorch"
column: real Keras 3 (``keras`` package) on its PyTorch backend, imported
with ``KERAS_BACKEND=torch`` when it is installed and not yet imported with
another backend. Rows: a train step (``train_on_batch``) and ``predict`` of
one batch. The peak memory (RSS) of each runs in a child process of its own
(imports, model, two train steps): ``peak_rss_mb``.
"""
import json
import os
import subprocess
import sys

import numpy as np

from ._cases import Case, ResultsDisagree, assert_agree
from ._keras_models import keras_forward_flops
from ._networks import NET_RTOL

SECTION = "Keras tutorial network (PyTorch column: real Keras 3 on its PyTorch backend)"
SEED = 17
INPUT = (224, 224, 3)


def build_alexnet(keras):
    """The tutorial's network, built with the given Keras module (fastnn.keras or keras)."""
    L = keras.layers
    return keras.Sequential([
        L.Conv2D(6, (11, 11), strides=(4, 4), activation="relu", input_shape=INPUT),
        L.BatchNormalization(),
        L.MaxPooling2D((3, 3), strides=(2, 2)),
        L.Conv2D(256, (5, 5), padding="same", activation="relu"),
        L.BatchNormalization(),
        L.MaxPooling2D((3, 3), strides=(2, 2)),
        L.Conv2D(384, (3, 3), activation="relu"),
        L.BatchNormalization(),
        L.Conv2D(384, (3, 3), activation="relu"),
        L.BatchNormalization(),
        L.Conv2D(356, (3, 3), activation="relu"),
        L.BatchNormalization(),
        L.MaxPooling2D((3, 3), strides=(2, 2)),
        L.Flatten(),
        L.Dense(4096, activation="relu"),
        L.Dropout(0.5),
        L.Dense(4096, activation="relu"),
        L.Dropout(0.5),
        L.Dense(1000, activation="relu"),
        L.Dropout(0.5),
        L.Dense(2, activation="softmax"),
    ])


def batch_data(batch):
    """A batch of float32 images in [0, 1) and one-hot labels of 2 classes (seeded)."""
    rng = np.random.default_rng(SEED)
    x = rng.random((batch,) + INPUT, dtype=np.float32)
    y = np.eye(2, dtype=np.float32)[rng.integers(0, 2, size=batch)]
    return x, y


def _fastnn_model(compiled=True):
    from .. import keras
    keras.utils.set_random_seed(SEED)
    model = build_alexnet(keras)
    if compiled:
        model.compile(optimizer="sgd", loss="categorical_crossentropy")
    return model


def real_keras():
    """Real Keras 3 on its PyTorch backend, or None when it is not available."""
    if "keras" not in sys.modules:
        os.environ.setdefault("KERAS_BACKEND", "torch")
    try:
        import keras
        import torch  # noqa: F401
    except ImportError:
        return None
    if not hasattr(keras, "backend") or keras.backend.backend() != "torch":
        return None
    return keras


def _keras_model(keras, compiled=True):
    keras.utils.set_random_seed(SEED)
    model = build_alexnet(keras)
    if compiled:
        model.compile(optimizer="sgd", loss="categorical_crossentropy")
    return model


#: Agreement of one train step's weight updates, in norm (see updates_agree).
UPDATE_RTOL = 0.05


def updates_agree(label, reference, candidate, rtol):
    """The check of the train-step row: (loss, weights after one step) of both backends.

    The losses agree elementwise (``rtol``). The weights are compared through
    their updates (after - initial, the initial weights being the seeded
    ones both backends start from), each array in norm within ``UPDATE_RTOL``:
    this network max-pools the output of BatchNormalization with 3x3 windows,
    and in float32 two values of a window can be within rounding of each
    other, so either backend may route that window's gradient to the other
    element. Measured at batch 100: 1.0e-2 at most, in layers before a
    pooling; a wrong gradient gives an error of the order of the update (1).
    """
    assert_agree(label, reference[0], candidate[0], rtol)
    initial = _fastnn_model(compiled=False).get_weights()
    for i, (w0, ref, cand) in enumerate(zip(initial, reference[1], candidate[1])):
        d_ref = np.asarray(ref, np.float64) - w0
        d_cand = np.asarray(cand, np.float64) - w0
        err, size = np.linalg.norm(d_cand - d_ref), np.linalg.norm(d_ref)
        if not np.isfinite(err) or err > UPDATE_RTOL * size:
            raise ResultsDisagree(f"{label}: the update of weight {i} {w0.shape} differs between NumPy and "
                                  f"compiled by {err / max(size, 1e-300):.3g} of its norm (allowed {UPDATE_RTOL})")


def alexnet_cases(batch):
    """Train-step and predict rows (float32) of the AlexNet-style network at ``batch``."""
    x, y = batch_data(batch)
    flops = keras_forward_flops(_fastnn_model(compiled=False), x)
    used = ("conv2d_nhwc_forward", "conv2d_nhwc_backward", "batchnorm_forward_train", "batchnorm_backward",
            "batchnorm_forward_infer", "dropout_apply", "maxpool_forward", "maxpool_backward",
            "affine_forward", "affine_backward", "relu_forward", "relu_backward")

    def make_train(backend):
        model = _fastnn_model()

        def step():
            loss = model.train_on_batch(x, y)
            return loss, model.weights
        return step

    def make_predict(backend):
        model = _fastnn_model(compiled=False)
        return lambda: model.predict(x, batch_size=batch, verbose=0)

    keras = real_keras()

    def keras_train():
        model = _keras_model(keras)
        return lambda: model.train_on_batch(x, y)

    def keras_predict():
        model = _keras_model(keras, compiled=False)
        return lambda: model.predict(x, batch_size=batch, verbose=0)

    torch_train, torch_predict = (keras_train, keras_predict) if keras is not None else (None, None)

    dt = "float32"
    return [
        Case(SECTION, "AlexNet-style 224x224x3 train step", f"batch {batch}, train_on_batch with SGD", dt,
             make_train, 3.0 * flops, used, torch_train, rtol=NET_RTOL[dt], tags=("train:alexnet:float32",),
             check=updates_agree, batch=batch, images=batch),
        Case(SECTION, "AlexNet-style 224x224x3 predict", f"{batch} images, predict(batch_size={batch})", dt,
             make_predict, flops, tuple(k for k in used if "backward" not in k and "train" not in k),
             torch_predict, rtol=NET_RTOL[dt], tags=("infer:alexnet:float32",), batch=batch, images=batch),
    ]


# --------------------------------------------------------------------------
# Peak memory, one child process per implementation
# --------------------------------------------------------------------------
def _child(which, batch):
    """Run in the child: build, two train steps, print the peak RSS in MB as JSON."""
    x, y = batch_data(batch)
    if which == "keras-torch":
        keras = real_keras()
        if keras is None:
            print(json.dumps({"rss_mb": None}))
            return
        import torch
        torch.set_num_threads(int(os.environ.get("FASTNN_BENCH_THREADS", "0")) or torch.get_num_threads())
        model = _keras_model(keras)
    else:
        model = _fastnn_model()
    for _ in range(2):
        model.train_on_batch(x, y)
    print(json.dumps({"rss_mb": _peak_rss_kb() / 1024}))


def _peak_rss_kb():
    """This process's peak RSS in kB: VmHWM on Linux (ru_maxrss there keeps the
    parent's peak across fork and exec, so a child of a large process would
    report its parent's size), else ru_maxrss."""
    import resource
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return float(line.split()[1])
    except OSError:
        pass
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kb / 1024 if sys.platform == "darwin" else kb            # bytes on macOS


def peak_rss_mb(batch, threads=None, with_keras=True):
    """{'fastnn': MB, 'keras-torch': MB or None}: peak RSS of a process doing two train steps."""
    out = {"keras-torch": None}
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    for which in ("fastnn", "keras-torch") if with_keras else ("fastnn",):
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")])))
        if which == "keras-torch":
            env["KERAS_BACKEND"] = "torch"
        if threads:
            env["FASTNN_BENCH_THREADS"] = str(threads)
        code = f"from fastnn.benchmark._alexnet import _child; _child({which!r}, {int(batch)})"
        proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
        try:
            out[which] = json.loads(proc.stdout.strip().splitlines()[-1])["rss_mb"]
        except (IndexError, ValueError, KeyError):
            out[which] = None
    return out


def memory_section(rss, batch):
    """Markdown lines for the report."""
    def fmt(v):
        return "—" if v is None else f"{v:,.0f} MB"
    ratio = (f"{rss['fastnn'] / rss['keras-torch']:.2f}" if rss.get("fastnn") and rss.get("keras-torch")
             else "—")
    return ["", "## Peak memory of the AlexNet-style train step", "",
            f"Peak resident memory (VmHWM) of a fresh process that imports, builds the network and runs "
            f"two train steps at batch {batch}; each implementation in its own process.", "",
            "| fastnn (compiled) | Keras 3 on PyTorch | fastnn/Keras |", "|---:|---:|---:|",
            f"| {fmt(rss.get('fastnn'))} | {fmt(rss.get('keras-torch'))} | {ratio} |"]
