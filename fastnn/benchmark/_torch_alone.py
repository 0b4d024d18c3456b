"""PyTorch's network train steps again, in a process of its own.

The PyTorch column of the main tables is timed in fastnn's process, turn by
turn with fastnn. There the two share one OpenMP runtime, which reads its
settings once, when it loads: fastnn has set ``OMP_WAIT_POLICY=PASSIVE`` by
then (see ``fastnn._backend``), so PyTorch's idle threads sleep at once too,
which slows PyTorch's short steps most (on 2 cores: its TwoLayerNet step took
3.2 ms against 1.0-1.1 ms with its own defaults, a DeepConvNet-sized step
101-105 ms against 81-92 ms). This section times the same PyTorch steps in a
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

#: The rows re-timed: the network train steps of the main tables.
TAG_PREFIX = "train:"


def _child(rows, threads):
    """In the child: time each (name, dtype, batch) PyTorch train step; print JSON.

    The child imports torch before this module (see torch_alone): importing
    fastnn sets fastnn's OpenMP environment, which the runtime would read."""
    import torch
    torch.set_num_threads(threads)
    from ._networks import NETWORKS, SEED
    from ._timing import TimingPlan, time_call
    from ._torch_nets import torch_module, torch_train_step

    rng = np.random.default_rng(SEED)
    out = {}
    for name, dtype, batch in rows:
        build, in_shape, _ = NETWORKS[name]
        x = rng.random((batch,) + in_shape).astype(dtype)
        t = rng.integers(0, 10, batch)
        step = torch_train_step(torch_module(build(dtype), dtype), x, t)
        step()
        out[f"{name}|{dtype}|{batch}"] = time_call(step, TimingPlan()).median
    print(json.dumps(out))


def _rows(results):
    """(name, dtype, batch, Result) of the network train steps that have a PyTorch time."""
    rows = []
    for r in results:
        name = r.case.name
        if r.torch is None or not name.endswith(" train step") or not any(
                t.startswith(TAG_PREFIX) for t in r.case.tags):
            continue
        net = name[:-len(" train step")]
        if not r.case.detail.startswith("batch ") or "gradient" not in r.case.detail:
            continue                     # the Keras rows: not the book's networks
        batch = int(r.case.detail.split()[1].rstrip(","))
        rows.append((net, r.case.dtype, batch, r))
    return rows


def torch_alone(results, threads):
    """{(name, dtype, batch): seconds} from a child process, or {'error': text}."""
    rows = _rows(results)
    if not rows:
        return {}
    env = dict(os.environ)
    for key in _backend.OPENMP_ENV_SET_BY_FASTNN:
        env.pop(key, None)           # PyTorch's own defaults, unless the user chose
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, env.get("PYTHONPATH")]))
    spec = [(n, d, b) for n, d, b, _ in rows]
    # torch first: its OpenMP runtime reads the environment when it loads, and
    # importing fastnn (this module) would set fastnn's OMP_WAIT_POLICY first
    code = (f"import torch; from fastnn.benchmark._torch_alone import _child; _child({spec!r}, {int(threads)})")
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    try:
        times = json.loads(proc.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return {"error": f"exit {proc.returncode}: {last}"}
    return {(n, d, b): times[f"{n}|{d}|{b}"] for n, d, b in spec}


def torch_alone_section(results, alone):
    """Markdown lines: fastnn's compiled time against PyTorch in fastnn's process and alone."""
    if not alone:
        return []
    lines = ["", "## PyTorch in a process of its own", "",
             "The network train steps' PyTorch time again, in a fresh process that loads PyTorch "
             "(and with it the OpenMP runtime) before fastnn, with PyTorch's own OpenMP settings; "
             "in the tables above it runs in fastnn's process, under fastnn's "
             "`OMP_WAIT_POLICY=PASSIVE`, which slows its short steps. Same network, batch and "
             "dtype; random images. fastnn's time is the compiled one of the tables above.", ""]
    if "error" in alone:
        return lines + [f"Not measured: the child process failed ({alone['error']})."]
    lines += ["| operation | dtype | fastnn ms | PyTorch in fastnn's process ms | PyTorch alone ms "
              "| fastnn/PyTorch alone |", "|---|---|---:|---:|---:|---:|"]
    for name, dtype, batch, r in _rows(results):
        seconds = alone.get((name, dtype, batch))
        if seconds is None:
            continue
        lines.append(f"| {name} train step, batch {batch} | {dtype} | {r.compiled.median * 1e3:.3g} | "
                     f"{r.torch.median * 1e3:.3g} | {seconds * 1e3:.3g} | "
                     f"{r.compiled.median / seconds:.2f}× |")
    return lines
