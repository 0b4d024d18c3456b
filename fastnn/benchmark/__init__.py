"""Benchmarks: the compiled kernels against the NumPy fallback (and PyTorch, if installed).

``main(argv)`` is the command behind ``fastnn bench`` and ``python bench/report.py``:
it runs every row in one process, checks that the compiled and NumPy backends
agree on each row before timing it, measures this machine's GEMM peak, and
writes a Markdown report (``fastnn-output/benchmark.md`` by default; ``python
bench/report.py`` writes the checkout's ``bench/RESULTS.md``).

The package's parts:

* ``_cases``: a row (``Case``) and the agreement check (``ResultsDisagree``);
* ``_kernels``, ``_networks``, ``_keras_models``: the rows;
* ``_book_im2col``: the book's im2col/col2im, the baseline of the NumPy fallback;
* ``_torch_nets``: the networks as PyTorch modules, for the side-by-side column;
* ``_timing``, ``_run``: timing a call, running a row;
* ``_breakdown``: per-layer times of a compiled train step;
* ``_machine``, ``_report``: what the report says and how it is written.
"""
import argparse
import datetime
import os
import shlex
import sys

from .. import _backend
from ._breakdown import breakdown_tables
from ._cases import DEFAULT_RTOL, Case, ResultsDisagree, assert_agree
from ._data import default_data_dir, load_images
from ._kernels import kernel_cases
from ._machine import machine_rows
from ._networks import NET_RTOL, network_cases
from ._report import render, write_atomically
from ._run import Result, describe, run_case
from ._timing import TimingPlan, gemm_peak

__all__ = ["main", "build_cases", "run_case", "Case", "Result", "ResultsDisagree", "assert_agree", "TimingPlan"]


def _parser():
    p = argparse.ArgumentParser(
        prog="fastnn bench",
        description="Time fastnn's compiled kernels against its NumPy fallback (and PyTorch CPU when "
                    "installed), kernel by kernel and network by network, and write a Markdown report.",
    )
    p.add_argument("--quick", action="store_true",
                   help="fewer rows and repeats and 500 inference images: about a minute")
    p.add_argument("--output", metavar="PATH",
                   help=f"where to write the report; '-' for the standard output (default: "
                        f"{DEFAULT_OUTPUT}, beside the files of 'fastnn train'; the tracked "
                        "bench/RESULTS.md is written only by 'python bench/report.py')")
    p.add_argument("--torch", action=argparse.BooleanOptionalAction, default=None,
                   help="add the PyTorch CPU column (default: when PyTorch is importable)")
    p.add_argument("--batch", type=int, default=100, help="batch size of every row (default 100)")
    p.add_argument("--images", type=int, default=None,
                   help="images in the inference rows (default 10,000; 500 with --quick)")
    p.add_argument("--repeats", type=int, default=None, help="timed repeats per row at most (default 7; 3 with --quick)")
    p.add_argument("--min-time", type=float, default=None,
                   help="seconds one timed repeat lasts at least; shorter calls are looped (default 0.05; 0.01 with --quick)")
    p.add_argument("--peak-size", type=int, default=None,
                   help="matrix size of the GEMM-peak measurement (default 2048; 1024 with --quick)")
    p.add_argument("--blocks", action="store_true",
                   help="time each implementation of a row in one block of repeats (default: their "
                        "repeats take turns, so that changing background load hits them alike)")
    p.add_argument("--data", metavar="DIR",
                   help="folder with t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz "
                        "(default: shared/data/mnist beside the checkout if present, else random images)")
    p.add_argument("--only", action="append", metavar="TEXT",
                   help="run only rows whose name or shapes contain TEXT (may be repeated)")
    p.add_argument("--tutorials", action=argparse.BooleanOptionalAction, default=None,
                   help="time the Keras tutorial programs as whole runs, beside real Keras on PyTorch and "
                        "JAX where installed and --no-torch is not given (default: unless --only is given)")
    p.add_argument("--list", action="store_true", help="list the rows and exit")
    return p


def _check_positive(parser, name, value):
    if value is not None and value < 1:
        parser.error(f"--{name} must be >= 1, got {value}")


def build_cases(quick, batch, images, inference_images, labels, only=None):
    """Every row of a run, in report order: kernels (float64, float32), then networks."""
    kernel_dtypes = ("float64",) if quick else ("float64", "float32")
    cases = kernel_cases(batch, kernel_dtypes, quick=quick)
    cases += network_cases(images, labels, batch, inference_images)
    try:
        from ._keras_models import keras_cases
    except ImportError:             # fastnn.keras not built yet or not importable
        keras_cases = None
    if keras_cases is not None:
        cases += keras_cases(images, labels, batch, inference_images)
        from ._alexnet import alexnet_cases
        cases += alexnet_cases(alexnet_batch(quick, batch))
    if only:
        cases = [c for c in cases if any(t.lower() in f"{c.name} {c.detail} {c.dtype}".lower() for t in only)]
    return cases


def alexnet_batch(quick, batch):
    """Batch of the AlexNet-style rows: the tutorial's 100 (20 in quick mode), or --batch if smaller."""
    return min(batch, 20 if quick else 100)


def _import_torch(wanted):
    """The torch module when the PyTorch column is wanted (None otherwise)."""
    if wanted is False:
        return None
    try:
        import torch
    except ImportError:
        if wanted:
            raise SystemExit("fastnn bench: --torch given but PyTorch is not installed "
                             "(pip install 'fastnn[torch]', or a CPU wheel of torch)")
        return None
    return torch


def _tolerances_text():
    def text(table):
        return ", ".join(f"{k} {v:g}" for k, v in table.items())
    return f"{text(DEFAULT_RTOL)} for kernels; {text(NET_RTOL)} for whole networks"


def _without_output(argv):
    """The arguments minus ``--output PATH``: how the report names the run that made it."""
    kept, skip = [], False
    for a in argv:
        if skip:
            skip = False
        elif a == "--output":
            skip = True
        elif not a.startswith("--output="):
            kept.append(a)
    return kept


#: Where ``fastnn bench`` writes its report unless told otherwise: the folder
#: ``fastnn train`` writes to, never the checkout's bench/RESULTS.md.
DEFAULT_OUTPUT = os.path.join("fastnn-output", "benchmark.md")


def main(argv=None, command="fastnn bench"):
    """Run the benchmark and write the report; returns 0.

    argv: the command-line arguments (default ``sys.argv[1:]``); command: how
    the report names the command that made it. Raises ``ResultsDisagree`` when
    the compiled and NumPy results of a row differ.
    """
    parser = _parser()
    args = parser.parse_args(argv)
    for name in ("batch", "images", "repeats", "peak_size"):
        _check_positive(parser, name.replace("_", "-"), getattr(args, name))
    if args.min_time is not None and args.min_time < 0:
        parser.error(f"--min-time must be >= 0, got {args.min_time}")
    quick = args.quick
    inference_images = args.images or (500 if quick else 10000)
    repeats = args.repeats or (3 if quick else 7)
    plan = TimingPlan(repeats=repeats, min_repeats=min(2 if quick else 3, repeats),
                      min_time=args.min_time if args.min_time is not None else (0.01 if quick else 0.05),
                      budget=0.4 if quick else 1.0, blocks=args.blocks)
    peak_size = args.peak_size or (1024 if quick else 2048)

    data_dir = args.data if args.data is not None else default_data_dir()
    try:
        images, labels, data_source = load_images(max(inference_images, args.batch), data_dir)
    except ValueError as exc:
        parser.error(str(exc))
    cases = build_cases(quick, args.batch, images, inference_images, labels, args.only)
    if args.list:
        for c in cases:
            print(f"{c.section}: {c.name} [{c.detail}, {c.dtype}]")
        return 0
    if not cases:
        parser.error(f"no row matches --only {args.only}")

    torch = _import_torch(args.torch)
    if torch is not None:
        torch.set_num_threads(_backend.get_num_threads())

    print(f"fastnn bench: {len(cases)} rows, measuring the GEMM peak ({peak_size}³) ...", flush=True)
    peaks = {dt: gemm_peak(peak_size, dt) for dt in ("float32", "float64")}
    results = []
    for i, case in enumerate(cases, start=1):
        result = run_case(case, plan, with_torch=torch is not None)
        results.append(result)
        print(f"[{i}/{len(cases)}] {describe(result)}", flush=True)

    settings = {
        "command": " ".join([command, shlex.join(_without_output(argv if argv is not None else sys.argv[1:]))]).strip(),
        "when": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "mode": "quick" if quick else "full",
        "rtol": _tolerances_text(),
        "repeats_text": (f"{plan.repeats}" if plan.min_repeats == plan.repeats
                         else f"{plan.min_repeats} to {plan.repeats} (fewer for slow calls)"),
        "min_time": plan.min_time,
        "blocks": plan.blocks,
        "data": data_source,
        "batch": args.batch,
    }
    # The peak again at the end: the best of both is this machine's peak, the
    # other measurement having been slowed by whatever else was running.
    peaks = {dt: max(peaks[dt], gemm_peak(peak_size, dt)) for dt in peaks}
    breakdown = None
    if not args.only:
        print("fastnn bench: per-layer times of the compiled train steps ...", flush=True)
        breakdown = breakdown_tables(images, labels, args.batch, steps=5 if quick else 15)
    extra = []
    if any("train:alexnet:float32" in r.case.tags for r in results):
        from ._alexnet import memory_section, peak_rss_mb
        print("fastnn bench: peak memory of the AlexNet-style train step ...", flush=True)
        ab = alexnet_batch(quick, args.batch)
        extra += memory_section(peak_rss_mb(ab, _backend.get_num_threads(), with_keras=torch is not None), ab)
    if torch is not None:
        from ._torch_alone import torch_alone, torch_alone_section
        print("fastnn bench: PyTorch's network rows in a process of their own ...", flush=True)
        extra += torch_alone_section(results, torch_alone(results, _backend.get_num_threads()))
    if (args.tutorials if args.tutorials is not None else not args.only):
        from ._tutorials import tutorial_runs, tutorial_section
        print("fastnn bench: the Keras tutorial programs, whole runs ...", flush=True)
        runs = tutorial_runs(quick, _backend.get_num_threads(), with_keras=torch is not None,
                             progress=lambda line: print(line, flush=True))
        extra += tutorial_section(runs, quick)
    text = render(results, peaks, peak_size, machine_rows(torch), settings, torch is not None, breakdown,
                  extra)
    output = args.output or DEFAULT_OUTPUT
    if output == "-":
        sys.stdout.write(text)
        sys.stdout.flush()
        return 0
    write_atomically(output, text)
    print(f"fastnn bench: wrote {output}", flush=True)
    return 0
