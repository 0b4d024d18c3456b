"""Time the im2col, col2im and convolution kernels: NumPy backend vs compiled.

    python bench/_conv_timing.py             # wall time, fastnn.get_num_threads() threads
    python bench/_conv_timing.py --cpu-time  # CPU time of one thread (both backends)
    python bench/_conv_timing.py --explore   # also: the workspace size

Each figure is the best of several runs (milliseconds), both backends measured
in the same run, so the ratios are meaningful even when absolute times drift.
Convolution rows also give the compiled kernel's GFLOP/s (2 flops per
multiply-add of the three matrix products: forward, dW, dx).

--cpu-time runs everything on one thread (fastnn and NumPy's BLAS) and counts
the process' CPU time: it measures the work each backend does and is robust
when other jobs share the machine; the wall-time table shows the threading.
"""
import argparse
import time

import numpy as np

import fastnn
from fastnn import kernels


CLOCK = time.perf_counter     # time.process_time under --cpu-time


def best_ms(fn, repeat=7, min_time=0.2):
    """Best time of one call of fn(), in ms: `repeat` rounds of enough calls to last min_time/repeat."""
    fn()
    t0 = CLOCK()
    fn()
    one = max(CLOCK() - t0, 1e-6)
    number = max(1, int(min_time / repeat / one))
    best = float("inf")
    for _ in range(repeat):
        t0 = CLOCK()
        for _ in range(number):
            fn()
        best = min(best, (CLOCK() - t0) / number)
    return best * 1e3


# name, x shape, W shape, stride, pad  (batch 100, the book's nets)
CONV_CASES = [
    ("SimpleConvNet conv 1->30 k5", (100, 1, 28, 28), (30, 1, 5, 5), 1, 0),
    ("DeepConvNet conv1 1->16", (100, 1, 28, 28), (16, 1, 3, 3), 1, 1),
    ("DeepConvNet conv2 16->16", (100, 16, 28, 28), (16, 16, 3, 3), 1, 1),
    ("DeepConvNet conv3 16->32", (100, 16, 14, 14), (32, 16, 3, 3), 1, 1),
    ("DeepConvNet conv4 32->32 p2", (100, 32, 14, 14), (32, 32, 3, 3), 1, 2),
    ("DeepConvNet conv5 32->64", (100, 32, 8, 8), (64, 32, 3, 3), 1, 1),
    ("DeepConvNet conv6 64->64", (100, 64, 8, 8), (64, 64, 3, 3), 1, 1),
]


def conv_flops(xs, ws, stride, pad):
    N, C, H, W = xs
    FN, _, FH, FW = ws
    OH = (H + 2 * pad - FH) // stride + 1
    OW = (W + 2 * pad - FW) // stride + 1
    return 2.0 * N * OH * OW * FN * C * FH * FW      # one of the three products


def both(fn):
    """(numpy ms, compiled ms) of fn() under each backend."""
    out = []
    for name in ("numpy", "cython"):
        with fastnn.use_backend(name):
            out.append(best_ms(fn))
    return out


def row(label, t_np, t_c, extra=""):
    print(f"{label:44s} {t_np:9.2f} {t_c:9.2f} {t_np / t_c:7.1f}x  {extra}")


def table(dtype):
    rng = np.random.default_rng(0)
    print(f"\n--- {np.dtype(dtype).name}, threads={fastnn.get_num_threads()} ---")
    print(f"{'kernel':44s} {'numpy ms':>9s} {'compiled':>9s} {'speedup':>8s}")
    x = rng.standard_normal((100, 16, 28, 28)).astype(dtype)
    col = kernels.im2col(x, 3, 3, 1, 1)
    row("im2col (100,16,28,28) k3 p1", *both(lambda: kernels.im2col(x, 3, 3, 1, 1)))
    row("col2im (100,16,28,28) k3 p1", *both(lambda: kernels.col2im(col, x.shape, 3, 3, 1, 1)))
    total = {"numpy": 0.0, "cython": 0.0}
    for name, xs, ws, s, p in CONV_CASES:
        x = rng.standard_normal(xs).astype(dtype)
        W = (0.1 * rng.standard_normal(ws)).astype(dtype)
        b = rng.standard_normal(ws[0]).astype(dtype)
        out, _ = kernels.conv_forward(x, W, b, s, p)
        dout = rng.standard_normal(out.shape).astype(dtype)
        flops = conv_flops(xs, ws, s, p)
        f_np, f_c = both(lambda: kernels.conv_forward(x, W, b, s, p))
        b_np, b_c = both(lambda: kernels.conv_backward(dout, x, W, s, p))
        row(f"{name} fwd", f_np, f_c, f"{flops / f_c / 1e6:6.1f} GFLOP/s")
        row(f"{name} bwd", b_np, b_c, f"{2 * flops / b_c / 1e6:6.1f} GFLOP/s")
        row(f"{name} fwd+bwd", f_np + b_np, f_c + b_c, f"{3 * flops / (f_c + b_c) / 1e6:6.1f} GFLOP/s")
        if name.startswith("DeepConvNet"):
            total["numpy"] += f_np + b_np
            total["cython"] += f_c + b_c
    row("DeepConvNet all six convs fwd+bwd", total["numpy"], total["cython"])


def explore(dtype):
    """The workspace sizes on three of the layers."""
    from fastnn._ext import conv

    rng = np.random.default_rng(1)
    print(f"\n--- explore, {np.dtype(dtype).name} ---")
    for name, xs, ws, s, p in (CONV_CASES[0], CONV_CASES[2], CONV_CASES[4]):
        x = rng.standard_normal(xs).astype(dtype)
        W = rng.standard_normal(ws).astype(dtype)
        b = rng.standard_normal(ws[0]).astype(dtype)
        dout = rng.standard_normal(kernels.conv_forward(x, W, b, s, p)[0].shape).astype(dtype)
        # OpenMP threads over images, BLAS single-threaded (the only strategy
        # left: a threaded BLAS made OpenBLAS' workers spin, see fastnn/_blas.py)
        print(name)
        saved_ws = conv.WORKSPACE_BYTES
        try:
            for kb in (32, 64, 128, 256, 512, 1024, 4096):
                conv.WORKSPACE_BYTES = kb * 1024
                t = best_ms(lambda: conv.conv_forward(x, W, b, s, p)) + best_ms(lambda: conv.conv_backward(dout, x, W, s, p))
                print(f"    workspace {kb:5d} KB: fwd+bwd {t:.2f} ms")
        finally:
            conv.WORKSPACE_BYTES = saved_ws
    from fastnn._blas import one_blas_thread

    def enter_exit():
        with one_blas_thread():
            pass
    print(f"one_blas_thread() enter+exit: {best_ms(enter_exit, repeat=5) * 1e3:.1f} us")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--explore", action="store_true", help="also compare threading and workspace sizes")
    ap.add_argument("--cpu-time", action="store_true", help="one thread, CPU time (robust on a busy machine)")
    args = ap.parse_args()
    print("compiled kernels:", kernels.compiled_kernels())
    if args.cpu_time:
        global CLOCK
        from threadpoolctl import threadpool_limits

        CLOCK = time.process_time
        fastnn.set_num_threads(1)
        with threadpool_limits(1):
            for dtype in (np.float64, np.float32):
                table(dtype)
        return
    for dtype in (np.float64, np.float32):
        table(dtype)
    if args.explore:
        for dtype in (np.float64, np.float32):
            explore(dtype)


if __name__ == "__main__":
    main()
