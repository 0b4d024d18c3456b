"""Time max pooling, affine, softmax-cross-entropy, ReLU and the optimizer
updates: NumPy backend vs compiled, through ``fastnn.kernels`` (argument
checks included, as the layers call them).

    python bench/_kernel_timing.py               # float64 and float32, batch 100
    python bench/_kernel_timing.py --threads 1   # compiled kernels on one thread
    python bench/_kernel_timing.py --split       # elementwise kernels: 1 thread vs 2, by size

Each figure is the best of several rounds (milliseconds). The two backends
are measured one after the other in two fresh interpreters started by the same
run: NumPy's matrix products use NumPy's OpenBLAS, the compiled ones SciPy's,
and two OpenBLAS thread pools in one process spin against each other (the
affine timings then jump by 10x from run to run).
"""
import argparse
import json
import subprocess
import sys
import time

import numpy as np

import fastnn
from fastnn import kernels


def best_ms(fn, repeat=7, min_time=0.3):
    """Best time of one call of fn(), in ms: `repeat` rounds of enough calls to last min_time/repeat."""
    fn()
    t0 = time.perf_counter()
    fn()
    one = max(time.perf_counter() - t0, 1e-7)
    number = max(1, int(min_time / repeat / one))
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        best = min(best, (time.perf_counter() - t0) / number)
    return best * 1e3


def pool_cases(rng, dtype):
    # (name, x shape) with the book's 2x2, stride 2 pooling
    for name, shape in [
        ("SimpleConvNet pool (100,30,24,24)", (100, 30, 24, 24)),
        ("DeepConvNet pool1 (100,16,28,28)", (100, 16, 28, 28)),
        ("DeepConvNet pool2 (100,32,14,14)", (100, 32, 14, 14)),
        ("DeepConvNet pool3 (100,64,7,7)", (100, 64, 7, 7)),
    ]:
        x = rng.standard_normal(shape).astype(dtype)
        out, arg = kernels.numpy_kernels.maxpool_forward(x, 2, 2, 2, 0)
        dout = rng.standard_normal(out.shape).astype(dtype)
        yield name + " fwd", lambda x=x: kernels.maxpool_forward(x, 2, 2, 2, 0)
        yield name + " bwd", lambda d=dout, a=arg, s=shape: kernels.maxpool_backward(d, a, s, 2, 2, 2, 0)


def affine_cases(rng, dtype):
    for name, (N, D, M) in [
        ("TwoLayerNet affine1 784->50", (100, 784, 50)),
        ("SimpleConvNet affine1 4320->100", (100, 4320, 100)),
        ("SimpleConvNet affine2 100->10", (100, 100, 10)),
        ("DeepConvNet affine1 576->50", (100, 576, 50)),
    ]:
        x = rng.standard_normal((N, D)).astype(dtype)
        W = rng.standard_normal((D, M)).astype(dtype)
        b = rng.standard_normal(M).astype(dtype)
        dout = rng.standard_normal((N, M)).astype(dtype)
        yield name + " fwd", lambda x=x, W=W, b=b: kernels.affine_forward(x, W, b)
        yield name + " bwd", lambda d=dout, x=x, W=W: kernels.affine_backward(d, x, W)


def softmax_cases(rng, dtype):
    for N in (100, 10000):
        x = rng.standard_normal((N, 10)).astype(dtype)
        labels = rng.integers(0, 10, N)
        one_hot = np.eye(10, dtype=dtype)[labels]
        for kind, t in (("labels", labels), ("one-hot", one_hot)):
            def both(x=x, t=t):
                _, y = kernels.softmax_cross_entropy_forward(x, t)
                return kernels.softmax_cross_entropy_backward(y, t, 1.0)
            yield f"softmax-CE ({N},10) {kind} fwd+bwd", both


def relu_cases(rng, dtype):
    for name, shape in [("ReLU (100,30,24,24)", (100, 30, 24, 24)), ("ReLU (100,100)", (100, 100)),
                        ("ReLU (100,16,28,28)", (100, 16, 28, 28))]:
        x = rng.standard_normal(shape).astype(dtype)
        out = np.maximum(x, 0)
        yield name + " fwd", lambda x=x: kernels.relu_forward(x)
        yield name + " bwd", lambda d=x, o=out: kernels.relu_backward(d, o)


def update_cases(rng, dtype):
    # All parameters of SimpleConvNet (W1, b1, W2, b2, W3, b3), as one optimizer step updates them.
    shapes = [(30, 1, 5, 5), (30,), (4320, 100), (100,), (100, 10), (10,)]
    params = [rng.standard_normal(s).astype(dtype) for s in shapes]
    grads = [rng.standard_normal(s).astype(dtype) for s in shapes]
    vel = [np.zeros(s, dtype) for s in shapes]
    m = [np.zeros(s, dtype) for s in shapes]
    v = [np.zeros(s, dtype) for s in shapes]

    def sgd():
        for p, g in zip(params, grads):
            kernels.sgd_update(p, g, 1e-6)

    def momentum():
        for p, g, u in zip(params, grads, vel):
            kernels.momentum_update(p, g, u, 1e-6, 0.9)

    def adam():
        for p, g, mm, vv in zip(params, grads, m, v):
            kernels.adam_update(p, g, mm, vv, 1e-6, 0.9, 0.999)

    yield "SGD step, SimpleConvNet params", sgd
    yield "Momentum step, SimpleConvNet params", momentum
    yield "Adam step, SimpleConvNet params", adam


GROUPS = [pool_cases, affine_cases, softmax_cases, relu_cases, update_cases]


def measure(backend, dtypes):
    """{dtype: [(name, ms), ...]} for one backend, in this process."""
    results = {}
    with fastnn.use_backend(backend):
        for dtype in dtypes:
            rows = results[dtype] = []
            for group in GROUPS:
                rng = np.random.default_rng(0)
                for name, fn in group(rng, np.dtype(dtype)):
                    rows.append((name, best_ms(fn)))
    return results


def measure_in_subprocess(backend, args):
    """Run this script with --only BACKEND in a fresh interpreter; return its results."""
    cmd = [sys.executable, __file__, "--only", backend, "--dtype", args.dtype]
    if args.threads:
        cmd += ["--threads", str(args.threads)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def split(dtype=np.float32):
    """Compiled SGD, Adam and ReLU updates on one thread and on all, by size: where
    elementwise.PARALLEL_MIN_SIZE should lie (time in microseconds, best of rounds)."""
    from fastnn._ext import elementwise
    threads = fastnn.get_num_threads()
    rng = np.random.default_rng(0)
    print(f"elementwise kernels, {np.dtype(dtype).name}, 1 thread vs {threads} (microseconds)")
    print(f"{'elements':>10}{'SGD':>16}{'Adam':>16}{'ReLU':>16}")
    saved = elementwise.PARALLEL_MIN_SIZE
    elementwise.PARALLEL_MIN_SIZE = 0           # a call uses get_num_threads() threads
    try:
        for size in (1 << 16, 1 << 18, 1 << 19, 1 << 20, 1 << 21, 1 << 22, 1 << 24):
            p, g = rng.random(size, dtype=dtype), rng.random(size, dtype=dtype)
            m, v = np.zeros_like(p), np.zeros_like(p)
            calls = (lambda: kernels.sgd_update(p, g, 0.01),
                     lambda: kernels.adam_update(p, g, m, v, 0.001, 0.9, 0.999),
                     lambda: kernels.relu_forward(g))
            cells = []
            for fn in calls:
                times = []
                for n in (1, threads):
                    fastnn.set_num_threads(n)
                    times.append(best_ms(fn, min_time=0.1) * 1e3)
                cells.append(f"{times[0]:.0f} / {times[1]:.0f}")
            print(f"{size:>10}" + "".join(f"{c:>16}" for c in cells))
    finally:
        elementwise.PARALLEL_MIN_SIZE = saved
        fastnn.set_num_threads(threads)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=None, help="threads of the compiled kernels")
    parser.add_argument("--dtype", choices=["float64", "float32", "both"], default="both")
    parser.add_argument("--only", choices=["numpy", "cython"], help=argparse.SUPPRESS)
    parser.add_argument("--split", action="store_true",
                        help="only the elementwise kernels on 1 thread vs all, by size")
    args = parser.parse_args()
    if args.threads:
        fastnn.set_num_threads(args.threads)
    if args.split:
        split()
        return
    dtypes = ["float64", "float32"] if args.dtype == "both" else [args.dtype]
    if args.only:                       # the child process: print JSON and stop
        print(json.dumps(measure(args.only, dtypes)))
        return
    info = fastnn.backend_info()
    print(f"fastnn {info['version']}, compiled threads {info['threads']}, OpenMP {info['openmp']}, "
          f"numpy {np.__version__}")
    if info["numpy_only"]:
        print("WARNING: not compiled (both columns are NumPy):", ", ".join(info["numpy_only"]))
    numpy_ms = measure_in_subprocess("numpy", args)
    cython_ms = measure_in_subprocess("cython", args)
    for dtype in dtypes:
        print(f"\n{dtype}   {'kernel':<46}{'numpy ms':>10}{'cython ms':>11}{'speed-up':>10}")
        for (name, t_np), (_, t_c) in zip(numpy_ms[dtype], cython_ms[dtype]):
            print(f"{'':10}{name:<46}{t_np:>10.3f}{t_c:>11.3f}{t_np / t_c:>9.1f}x")


if __name__ == "__main__":
    main()
