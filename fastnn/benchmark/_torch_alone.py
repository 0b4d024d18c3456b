"""PyTorch's network rows (train steps, inference) again, in a process of its own.

The PyTorch column of the main tables is timed in fastnn's process, turn by
turn with fastnn. There the two share one OpenMP runtime, which reads its
settings once, when it loads: fastnn has set ``OMP_WAIT_POLICY=PASSIVE`` by
then (see ``fastnn._backend``), so PyTorch's idle threads sleep at once too,
which slows PyTorch's short steps most (on 2 cores: its TwoLayerNet step took
3.2 ms against 1.0-1.1 ms with its own defaults, a DeepConvNet-sized step
101-105 ms against 81-92 ms). This section times the same PyTorch work in a
fresh interpreter that imports torch before anything of fastnn's, with the
OpenMP environment the user started with, and compares fastnn's compiled
time from the main run with that.
"""
import json
import os
import subprocess
import sys

import numpy as np

from .. import _backend

#: The rows re-timed: train steps and inference of the networks (book, Keras-style and
#: the AlexNet-style network, whose twin is real Keras 3 on PyTorch).
KINDS = {" train step": "train", " inference": "infer", " predict": "infer"}
ALEXNET = "AlexNet-style 224x224x3"


def _child(rows, threads):
    """In the child: time each row's PyTorch twin; print {key: seconds} as JSON.

    rows: (key, kind, network, dtype, batch, images). The child imports torch
    before this module (see torch_alone): importing fastnn sets fastnn's
    OpenMP environment, which the runtime would read."""
    import torch
    torch.set_num_threads(threads)
    from ._keras_models import MODELS
    from ._networks import NETWORKS, SEED
    from ._timing import TimingPlan, time_call
    from ._torch_nets import torch_inference, torch_module, torch_train_step

    rng = np.random.default_rng(SEED)
    out = {}
    for key, kind, name, dtype, batch, images in rows:
        if name == ALEXNET:
            fn = _alexnet_call(kind, batch)
            if fn is None:
                continue
            fn()
            out[key] = time_call(fn, TimingPlan()).median
            continue
        if name in NETWORKS:
            build, in_shape, _ = NETWORKS[name]
            make = lambda: torch_module(build(dtype), dtype)        # noqa: E731
        else:                        # a Keras-style model: its twin takes NCHW
            _, in_shape, build_torch, _ = MODELS[name]
            in_shape = (1, 28, 28) if len(in_shape) == 3 else in_shape
            make = build_torch
        x = rng.random((images,) + in_shape).astype(dtype)
        t = rng.integers(0, 10, images)
        fn = torch_train_step(make(), x, t) if kind == "train" else torch_inference(make(), x, batch)
        fn()
        out[key] = time_call(fn, TimingPlan()).median
    print(json.dumps(out))


def _alexnet_call(kind, batch):
    """The AlexNet-style network's train step or predict in real Keras 3 on PyTorch, or None."""
    from ._alexnet import _keras_model, batch_data, real_keras
    keras = real_keras()
    if keras is None:
        return None
    x, y = batch_data(batch)
    model = _keras_model(keras, compiled=kind == "train")
    if kind == "train":
        return lambda: model.train_on_batch(x, y)
    return lambda: model.predict(x, batch_size=batch, verbose=0)


def _rows(results):
    """(key, kind, network, dtype, batch, images, Result) of the network rows with a PyTorch time."""
    from ._keras_models import MODELS
    from ._networks import NETWORKS
    rows = []
    for r in results:
        if r.torch is None:
            continue
        for suffix, kind in KINDS.items():
            name = r.case.name
            if not name.endswith(suffix) or name[:-len(suffix)] not in {**NETWORKS, **MODELS, ALEXNET: 0}:
                continue
            if r.case.batch is None:
                continue
            key = f"{name}|{r.case.detail}|{r.case.dtype}"
            rows.append((key, kind, name[:-len(suffix)], r.case.dtype, r.case.batch, r.case.images, r))
    return rows


def torch_alone(results, threads):
    """{row key: seconds} from a child process, or {'error': text}; each timed row's
    Result gets the time as ``torch_alone`` (the targets table compares with it)."""
    rows = _rows(results)
    if not rows:
        return {}
    env = dict(os.environ)
    for key in _backend.OPENMP_ENV_SET_BY_FASTNN:
        env.pop(key, None)           # PyTorch's own defaults, unless the user chose
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, env.get("PYTHONPATH")]))
    spec = [row[:-1] for row in rows]
    # torch first: its OpenMP runtime reads the environment when it loads, and
    # importing fastnn (this module) would set fastnn's OMP_WAIT_POLICY first
    code = (f"import torch; from fastnn.benchmark._torch_alone import _child; _child({spec!r}, {int(threads)})")
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    try:
        times = json.loads(proc.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return {"error": f"exit {proc.returncode}: {last}"}
    for key, *_, r in rows:
        r.torch_alone = times.get(key)
    return {key: times[key] for key, *_ in spec}


def torch_alone_section(results, alone):
    """Markdown lines: fastnn's compiled time against PyTorch in fastnn's process and alone."""
    if not alone:
        return []
    lines = ["", "## PyTorch in a process of its own", "",
             "The networks' PyTorch times again (book and Keras-style rows), in a fresh process that loads PyTorch "
             "(and with it the OpenMP runtime) before fastnn, with PyTorch's own OpenMP settings; "
             "in the tables above it runs in fastnn's process, under fastnn's "
             "`OMP_WAIT_POLICY=PASSIVE`, which slows its short steps. Same network, batch and "
             "dtype; random images (the Keras-style models' twins with PyTorch's own initial weights; "
             "the AlexNet-style network's twin is real Keras 3 on PyTorch, as above). "
             "fastnn's time is the compiled one of the tables above.", ""]
    if "error" in alone:
        return lines + [f"Not measured: the child process failed ({alone['error']})."]
    lines += ["| operation | shapes | dtype | fastnn ms | PyTorch in fastnn's process ms | PyTorch alone ms "
              "| fastnn/PyTorch alone |", "|---|---|---|---:|---:|---:|---:|"]
    for key, _, _, dtype, _, _, r in _rows(results):
        seconds = alone.get(key)
        if seconds is None:
            continue
        lines.append(f"| {r.case.name} | {r.case.detail} | {dtype} | {_ms(r.compiled.median)} | "
                     f"{_ms(r.torch.median)} | {_ms(seconds)} | {r.compiled.median / seconds:.2f}× |")
    return lines


def _ms(seconds):
    ms = seconds * 1e3
    return f"{ms:,.0f}" if ms >= 1000 else f"{ms:.3g}"
