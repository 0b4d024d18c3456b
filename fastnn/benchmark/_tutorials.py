"""The Keras tutorials' programs as whole runs, beside real Keras on PyTorch and on JAX.

Three programs, each written once against a Keras module (``fastnn.keras``
or real ``keras``) and timed from building the model to the end of
``evaluate`` (build, compile, ``fit``, ``evaluate``; not the imports or the
data loading):

* Fashion-MNIST MLP (Hands-On ML, chapter 10): Flatten - Dense(300, relu) -
  Dense(100, relu) - Dense(10, softmax), SGD, 55,000 training images with
  5,000 for validation, 5 epochs of batch 32;
* small CNN (Deep Learning with Python, 5.1, with BatchNormalization and
  Dropout as examples/keras_cnn.py): Conv2D(32) - BN - MaxPooling2D -
  Conv2D(64) - MaxPooling2D - Dense(64) - Dropout(0.5) - Dense(10), Adam,
  3 epochs of batch 64 on the 5,000-image MNIST sample;
* MNIST MLP (the Keras seed program): Dense(512, relu) - Dense(10, softmax),
  RMSprop, 5 epochs of batch 128 on the MNIST sample.

Every implementation runs in a fresh child process of its own, one after
the other (so none competes with another for the cores, and each Keras
backend is chosen before ``keras`` is imported): ``fastnn`` (compiled),
``keras-torch`` (``KERAS_BACKEND=torch``, PyTorch on the same thread count)
and ``keras-jax`` (``KERAS_BACKEND=jax``), the last two when ``keras`` and
the backend are installed. All read the same arrays through fastnn's
dataset loaders (real Keras would download them). Each child prints its
time and test accuracy as JSON.
"""
import importlib.util
import json
import os
import subprocess
import sys
import time

import numpy as np

IMPLEMENTATIONS = ("fastnn", "keras-torch", "keras-jax")
#: Goal of issue 18: the whole run in at most this share of the faster Keras backend's time.
GOAL = 0.5


def _fashion_data(quick):
    from fastnn.keras.datasets import fashion_mnist
    (x_full, y_full), (x_test, y_test) = fashion_mnist.load_data()
    x_full = x_full.astype(np.float32) / 255.0
    x_test = x_test.astype(np.float32) / 255.0
    if quick:
        x_full, y_full, x_test, y_test = x_full[:6000], y_full[:6000], x_test[:1000], y_test[:1000]
    n_valid = len(x_full) // 12
    return (x_full[n_valid:], y_full[n_valid:]), (x_full[:n_valid], y_full[:n_valid]), (x_test, y_test)


def _mnist_sample(quick):
    import warnings
    from fastnn.keras.datasets import mnist
    with warnings.catch_warnings():          # the "sample, not the full MNIST" notice
        warnings.simplefilter("ignore")
        (x_train, y_train), (x_test, y_test) = mnist.load_data()
    if quick:
        x_train, y_train, x_test, y_test = x_train[:1000], y_train[:1000], x_test[:1000], y_test[:1000]
    return (x_train.astype(np.float32) / 255.0, y_train), (x_test.astype(np.float32) / 255.0, y_test)


def fashion_mlp(keras, quick):
    """Hands-On ML's Fashion-MNIST classifier -> (seconds, test accuracy)."""
    (x_train, y_train), valid, (x_test, y_test) = _fashion_data(quick)
    start = time.perf_counter()
    model = keras.models.Sequential([
        keras.layers.Flatten(input_shape=[28, 28]),
        keras.layers.Dense(300, activation="relu"),
        keras.layers.Dense(100, activation="relu"),
        keras.layers.Dense(10, activation="softmax"),
    ])
    model.compile(loss="sparse_categorical_crossentropy", optimizer="sgd", metrics=["accuracy"])
    model.fit(x_train, y_train, epochs=1 if quick else 5, batch_size=32, validation_data=valid, verbose=0)
    _, accuracy = model.evaluate(x_test, y_test, verbose=0)
    return time.perf_counter() - start, accuracy


def small_cnn(keras, quick):
    """The small convnet with BatchNormalization and Dropout -> (seconds, test accuracy)."""
    (x_train, y_train), (x_test, y_test) = _mnist_sample(quick)
    x_train, x_test = x_train.reshape(-1, 28, 28, 1), x_test.reshape(-1, 28, 28, 1)
    y_train, y_test = keras.utils.to_categorical(y_train), keras.utils.to_categorical(y_test)
    L = keras.layers
    start = time.perf_counter()
    model = keras.models.Sequential([
        L.Conv2D(32, (3, 3), activation="relu", input_shape=(28, 28, 1)),
        L.BatchNormalization(),
        L.MaxPooling2D((2, 2)),
        L.Conv2D(64, (3, 3), activation="relu"),
        L.MaxPooling2D((2, 2)),
        L.Flatten(),
        L.Dense(64, activation="relu"),
        L.Dropout(0.5),
        L.Dense(10, activation="softmax"),
    ])
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    model.fit(x_train, y_train, epochs=1 if quick else 3, batch_size=64, verbose=0)
    _, accuracy = model.evaluate(x_test, y_test, verbose=0)
    return time.perf_counter() - start, accuracy


def mnist_mlp(keras, quick):
    """The Keras MNIST seed program -> (seconds, test accuracy)."""
    (x_train, y_train), (x_test, y_test) = _mnist_sample(quick)
    x_train, x_test = x_train.reshape(-1, 784), x_test.reshape(-1, 784)
    y_train, y_test = keras.utils.to_categorical(y_train), keras.utils.to_categorical(y_test)
    start = time.perf_counter()
    model = keras.models.Sequential([
        keras.layers.Dense(512, activation="relu", input_shape=(784,)),
        keras.layers.Dense(10, activation="softmax"),
    ])
    model.compile(optimizer="rmsprop", loss="categorical_crossentropy", metrics=["accuracy"])
    model.fit(x_train, y_train, epochs=1 if quick else 5, batch_size=128, verbose=0)
    _, accuracy = model.evaluate(x_test, y_test, verbose=0)
    return time.perf_counter() - start, accuracy


PROGRAMS = {
    "fashion_mlp": ("Fashion-MNIST MLP (784-300-100-10, SGD, 5 epochs of batch 32)", fashion_mlp),
    "small_cnn": ("small CNN (conv-BN-pool-conv-pool-dense-dropout, Adam, 3 epochs of batch 64, 5k MNIST)",
                  small_cnn),
    "mnist_mlp": ("MNIST MLP (784-512-10, RMSprop, 5 epochs of batch 128, 5k MNIST)", mnist_mlp),
}


def available(which):
    """Whether an implementation can run here (without importing anything)."""
    if which == "fastnn":
        return True
    backend = which.split("-")[1]
    return all(importlib.util.find_spec(m) is not None for m in ("keras", backend))


def _child(which, program, quick, threads):
    """Run in the child process: one program on one implementation; print JSON."""
    if which == "fastnn":
        from fastnn import keras
    else:
        import keras
        if which == "keras-torch":
            import torch
            torch.set_num_threads(threads)
    keras.utils.set_random_seed(0)
    seconds, accuracy = PROGRAMS[program][1](keras, quick)
    print(json.dumps({"seconds": seconds, "accuracy": float(accuracy)}))


def run_program(which, program, quick, threads):
    """{'seconds', 'accuracy'} of one whole run in a fresh child process, or {'error': text}."""
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")])))
    if which != "fastnn":
        env["KERAS_BACKEND"] = which.split("-")[1]
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    code = (f"from fastnn.benchmark._tutorials import _child; "
            f"_child({which!r}, {program!r}, {bool(quick)!r}, {int(threads)})")
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    try:
        return json.loads(proc.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return {"error": f"exit {proc.returncode}: {last}"}


def tutorial_runs(quick, threads, with_keras=True, progress=print):
    """{program: {implementation: result}} for every program and available implementation
    (fastnn alone when ``with_keras`` is false)."""
    runs = {}
    for program, (title, _) in PROGRAMS.items():
        runs[program] = {}
        for which in IMPLEMENTATIONS if with_keras else ("fastnn",):
            if not available(which):
                continue
            result = run_program(which, program, quick, threads)
            runs[program][which] = result
            shown = (f"{result['seconds']:.2f} s, accuracy {result['accuracy']:.4f}" if "seconds" in result
                     else result["error"])
            progress(f"fastnn bench: {title}: {which}: {shown}")
    return runs


def ratio(results):
    """fastnn's time / the faster Keras backend's time, or None."""
    keras_times = [r["seconds"] for w, r in results.items() if w != "fastnn" and "seconds" in r]
    mine = results.get("fastnn", {}).get("seconds")
    return mine / min(keras_times) if mine and keras_times else None


def tutorial_section(runs, quick):
    """Markdown lines for the report."""
    def cell(result):
        if result is None:
            return "not run"
        if "seconds" not in result:
            return f"failed ({result['error']})"
        return f"{result['seconds']:.2f} s ({result['accuracy']:.4f})"

    lines = ["", "## Keras tutorial programs, whole runs", "",
             "Build, compile, `fit` and `evaluate` of each program, timed in a fresh process per "
             "implementation, one after the other; in brackets the test accuracy; \"not run\": not installed, "
             "or `--no-torch`. "
             + ("Quick mode: 1 epoch on at most 6,000 images. " if quick else "")
             + f"Goal (issue 18): fastnn in at most {GOAL:g}× the time of the faster Keras backend.", "",
             "| program | fastnn (compiled) | Keras 3 + PyTorch | Keras 3 + JAX | fastnn / faster Keras | met |",
             "|---|---:|---:|---:|---:|---|"]
    for program, (title, _) in PROGRAMS.items():
        res = runs.get(program, {})
        r = ratio(res)
        met = "—" if r is None else ("yes" if r <= GOAL else "**no**")
        lines.append(f"| {title} | {cell(res.get('fastnn'))} | {cell(res.get('keras-torch'))} | "
                     f"{cell(res.get('keras-jax'))} | {'—' if r is None else f'{r:.2f}×'} | {met} |")
    return lines
