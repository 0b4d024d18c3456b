"""The ``fastnn`` command (also ``python -m fastnn``).

    fastnn train                       # SimpleConvNet on MNIST (the bundled sample if the full set is absent)
    fastnn train --net two_layer --epochs 5 --optimizer sgd --lr 0.1
    fastnn evaluate fastnn-output/simple_convnet.npz
    fastnn evaluate deep_convnet_params.pkl      # the book's pretrained parameters
    fastnn evaluate --pretrained deep_convnet    # ... fetched into the user cache on request
    fastnn info                        # version, backend, compiled kernels, BLAS, threads
    fastnn bench --quick               # the benchmark report (fastnn.benchmark)

Bad input (a missing file, an unknown network, a negative learning rate, a
parameter file that does not fit, not enough memory) ends with a one-line
message on stderr naming the file and the problem, and exit status 2
(``FASTNN_TRACEBACK=1`` shows the traceback instead).
"""
import argparse
import contextlib
import csv
import io as _stdio
import json
import math
import os
import pickle
import signal
import sys
import time
import warnings

import numpy as np

import fastnn

from . import runner

__all__ = ["main", "build_parser"]

DEFAULT_OUTPUT = "fastnn-output"
_DATASET_TITLES = {"mnist": "MNIST", "fashion_mnist": "Fashion-MNIST"}


def pretrained_names():
    """Names ``fastnn evaluate --pretrained`` accepts (the book's published parameter files)."""
    from .pretrained import PRETRAINED
    return PRETRAINED.keys()


class CommandError(Exception):
    """A user error: reported as one line on stderr, exit status 2."""


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (plus where to find help)."""

    def error(self, message):
        sys.stderr.write(f"{self.prog}: error: {message} (see '{self.prog} --help')\n")
        raise SystemExit(2)


# --------------------------------------------------------------------------
# Argument types: bad numbers are usage errors (exit 2) with a clear message
# --------------------------------------------------------------------------
def _int_at_least(low):
    """An argparse type: a whole number >= ``low``."""
    def convert(text):
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < low:
            raise argparse.ArgumentTypeError(f"expected a whole number >= {low}, got {text!r}")
        return value
    return convert


_positive_int = _int_at_least(1)
_non_negative_int = _int_at_least(0)


def _positive_float(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


# --------------------------------------------------------------------------
# The parser
# --------------------------------------------------------------------------
def build_parser():
    parser = _Parser(
        prog="fastnn",
        description="Train and evaluate the networks of 'Deep Learning from Scratch' on fastnn's "
                    "compiled kernels.",
    )
    parser.add_argument("--version", action="version", version=f"fastnn {fastnn.__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    train = sub.add_parser(
        "train", help="train a network on MNIST or Fashion-MNIST",
        description="Train one of the book's networks (or a Keras-style one) with a progress bar; "
                    "save its parameters (.npz), the history (.csv) and the learning curves (.png).",
    )
    train.add_argument("--net", default="simple_convnet", choices=runner.NET_NAMES,
                       help="network to train (default: %(default)s)")
    _add_data_arguments(train)
    train.add_argument("--epochs", type=_positive_int, default=None,
                       help=f"passes over the training data (default: {runner.DEFAULT_EPOCHS})")
    train.add_argument("--batch-size", type=_positive_int, default=100,
                       help="mini-batch size (default: %(default)s)")
    train.add_argument("--optimizer", default="adam", type=str.lower, choices=runner.OPTIMIZER_NAMES,
                       help="update rule (default: %(default)s)")
    train.add_argument("--lr", type=_positive_float, default=None,
                       help="learning rate (default: 0.003 for adam, 0.001 for rmsprop, 0.01 otherwise)")
    train.add_argument("--schedule", default="cosine", choices=runner.SCHEDULES,
                       help="learning rate over the epochs: constant, or lowered along half a cosine "
                            "(default: %(default)s)")
    train.add_argument("--dtype", default="float32", choices=("float32", "float64"),
                       help="floating-point type of parameters and data (default: %(default)s; "
                            "the book uses float64)")
    _add_backend_argument(train)
    train.add_argument("--seed", type=_non_negative_int, default=0,
                       help="seed of the initial weights and the mini-batch order (default: %(default)s)")
    train.add_argument("--output", default=DEFAULT_OUTPUT, metavar="DIR",
                       help="directory for the parameters, history and plot (default: %(default)s)")
    train.add_argument("--overwrite", action="store_true",
                       help="replace the files of an earlier run of the same network in --output "
                            "(without it, such files are kept and the command stops before training)")
    train.add_argument("--eval-samples", type=_positive_int, default=2000, metavar="N",
                       help="measure the per-epoch accuracies on the first N training and test "
                            "images (default: %(default)s; the final test accuracy uses all)")
    train.add_argument("--train-samples", type=_positive_int, default=None, metavar="N",
                       help="train on the first N training images only")
    train.add_argument("--quick", action="store_true",
                       help="a smoke run on 1,000 training and 1,000 test images (1 epoch unless --epochs)")
    train.add_argument("--no-plot", action="store_true", help="do not draw the learning curves")
    train.set_defaults(func=cmd_train)

    evaluate = sub.add_parser(
        "evaluate", help="test accuracy and confusion matrix of saved parameters",
        description="Accuracy of saved parameters (.npz from 'fastnn train', or the book's .pkl) "
                    "on a test set, with the confusion matrix.",
    )
    evaluate.add_argument("params", metavar="PARAMS", nargs="?", default=None,
                          help="a .npz or .pkl parameter file")
    evaluate.add_argument("--pretrained", choices=tuple(sorted(pretrained_names())), default=None,
                          help="evaluate the book's published parameters of this network instead "
                               "(downloaded once into the user cache, SHA-256 checked)")
    evaluate.add_argument("--net", choices=runner.EVAL_NET_NAMES, default=None,
                          help="network the parameters belong to (default: read from the file "
                               "beside it written by 'fastnn train', else inferred from the "
                               "parameters' names and shapes)")
    _add_data_arguments(evaluate, default_help="the one 'fastnn train' used, else mnist")
    evaluate.add_argument("--dtype", default=None, choices=("float32", "float64"),
                          help="compute in this type (default: the parameters' own)")
    _add_backend_argument(evaluate)
    evaluate.add_argument("--limit", type=_positive_int, default=None, metavar="N",
                          help="evaluate on the first N test images only")
    evaluate.set_defaults(func=cmd_evaluate)

    info = sub.add_parser("info", help="version, backend, compiled kernels, BLAS, threads")
    info.add_argument("--json", action="store_true", help="print the information as JSON")
    info.set_defaults(func=cmd_info)

    # 'fastnn bench ARGS...' hands ARGS to fastnn.benchmark.main untouched (see main()).
    bench = sub.add_parser("bench", help="benchmark report (arguments go to fastnn.benchmark)",
                           add_help=False)
    bench.set_defaults(func=cmd_bench, bench_args=[])
    return parser


def _add_data_arguments(parser, default_help="mnist"):
    parser.add_argument("--dataset", default=None, choices=tuple(_DATASET_TITLES),
                        help=f"dataset (default: {default_help})")
    parser.add_argument("--data-dir", default=None, metavar="DIR",
                        help="read the dataset's four IDX files from DIR")
    parser.add_argument("--download", action="store_true",
                        help="download the full dataset if it is not found (default: use what is "
                             "on this machine, and for MNIST the sample bundled with fastnn)")


def _add_backend_argument(parser):
    parser.add_argument("--backend", default=None, choices=fastnn.BACKENDS,
                        help="kernels: compiled ('cython', the default when built) or 'numpy'")


# --------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------
def main(argv=None):
    """Run the command line ``argv`` (default ``sys.argv[1:]``); return the exit status."""
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["bench"]:  # every later argument belongs to the benchmark's own parser
        args = parser.parse_args(["bench"])
        args.bench_args = argv[1:]
    else:
        args = parser.parse_args(argv)
    where = f"fastnn {args.command}"
    try:
        with warnings.catch_warnings():
            if getattr(args, "backend", None):
                fastnn.set_backend(args.backend)
            _note_fallback(args)
            return args.func(args) or 0
    except BrokenPipeError:  # e.g. 'fastnn evaluate ... | head': the reader left; stop quietly
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141
    except CommandError as exc:
        _error(where, exc)
    except (FileNotFoundError, IsADirectoryError, PermissionError) as exc:
        _error(where, f"{exc.strerror or exc}: {exc.filename}" if exc.filename else exc)
    except (ValueError, TypeError, OSError, pickle.UnpicklingError, ImportError) as exc:
        _error(where, _about_file(args, exc))
    except MemoryError as exc:
        if _traceback_wanted():
            raise
        _error(where, _about_file(args, "not enough memory (MemoryError"
                                        + (f": {exc})" if str(exc) else ")")))
    except KeyboardInterrupt:
        sys.stderr.write(f"\n{where}: interrupted\n")
        return 130
    except Exception as exc:  # a file that fits none of the checks above: still one line, exit 2
        if _traceback_wanted():
            raise
        _error(where, _about_file(args, f"{type(exc).__name__}: {exc}"))
    return 2


def _traceback_wanted():
    return os.environ.get("FASTNN_TRACEBACK", "").strip().lower() in ("1", "true", "yes", "on")


def _about_file(args, problem):
    """``problem``, prefixed with the file the command read when the text does not name it."""
    text = " ".join(str(problem).split()) if "\n" not in str(problem).strip() else str(problem).strip()
    path = getattr(args, "params", None) if args.command == "evaluate" else None
    if path and path not in text:
        return f"{path}: {text}"
    return text


def _error(where, message):
    message = str(message).strip() or "failed"
    sys.stderr.write(f"{where}: error: {message}\n")


def _note_fallback(args):
    """On the NumPy fallback, say so in one plain line (instead of a Python warning)."""
    from .kernels import KernelFallbackWarning, fallback_message

    warnings.simplefilter("ignore", KernelFallbackWarning)
    if args.command in ("train", "evaluate", "bench") and fastnn.get_backend() == "cython":
        if not fastnn.kernels.compiled_kernels():
            sys.stderr.write(fallback_message() + "\n")


# --------------------------------------------------------------------------
# fastnn train
# --------------------------------------------------------------------------
def cmd_train(args):
    net_name = args.net
    lr = args.lr if args.lr is not None else runner.default_lr(args.optimizer)
    epochs = args.epochs if args.epochs is not None else (1 if args.quick else runner.DEFAULT_EPOCHS)
    dtype = np.dtype(args.dtype)
    out_dir = args.output
    args.dataset = args.dataset or "mnist"
    _prepare_output(out_dir, net_name, args.overwrite)

    data = _load_data(args, flatten=runner.wants_flat_input(net_name))
    (x_train, t_train), (x_test, t_test) = data
    if args.quick:
        x_train, t_train, x_test, t_test = x_train[:1000], t_train[:1000], x_test[:1000], t_test[:1000]
    if args.train_samples:
        x_train, t_train = x_train[:args.train_samples], t_train[:args.train_samples]
    x_train, x_test = x_train.astype(dtype, copy=False), x_test.astype(dtype, copy=False)

    model = runner.build(net_name, dtype=dtype, seed=args.seed, input_shape=x_train.shape[1:])
    print(f"fastnn train: {model.title} on {_describe_data(args.dataset, data, len(x_train), len(x_test))}")
    print(f"  {args.optimizer} lr={lr:g} ({args.schedule}), batch {args.batch_size}, {epochs} epoch(s), "
          f"{dtype.name}, "
          f"{_describe_backend()}, seed {args.seed}")
    if args.eval_samples < max(len(x_train), len(x_test)):
        print(f"  accuracies per epoch on the first {args.eval_samples:,} training and test images; "
              f"the final one on all {len(x_test):,} test images")

    run = runner.Run(model, x_train, t_train, x_test, t_test, optimizer=args.optimizer, lr=lr,
                     batch_size=args.batch_size, seed=args.seed, eval_samples=args.eval_samples,
                     schedule=args.schedule, epochs=epochs)
    bar = ProgressBar(sys.stdout)
    start = time.perf_counter()
    test_acc = None
    try:
        # A diverging run is reported once, as TrainingDiverged, not as NumPy's overflow warnings.
        with _stop_between_steps() as stop_requested, np.errstate(over="ignore", invalid="ignore"):
            def on_step(step, loss, images_per_s):
                bar.update(step, loss, images_per_s)
                if stop_requested():
                    raise KeyboardInterrupt

            for epoch in range(1, epochs + 1):
                bar.start(f"epoch {epoch}/{epochs}", run.steps_per_epoch)
                bar.finish(run.train_epoch(on_step=on_step))
            train_time = time.perf_counter() - start
        # The final test pass runs with Python's own Ctrl-C: it stops at once.
        test_acc = run.accuracy(x_test, t_test)
    except KeyboardInterrupt:
        bar.interrupt()
        print(f"interrupted after {run.steps_done} step(s); saving what was trained")
    except runner.TrainingDiverged as exc:
        bar.interrupt()
        raise CommandError(f"{exc}; stopped, and {_nothing_saved(out_dir, net_name)}") from None
    if not model.params_finite():      # e.g. Ctrl-C right after the update that diverged
        raise CommandError(f"the parameters hold NaN or infinite values after {run.steps_done} step(s); "
                           f"{_nothing_saved(out_dir, net_name)}")

    files = _save_run(out_dir, net_name, model, run, args, lr, epochs, dtype, data, test_acc=test_acc)
    if test_acc is not None:
        print(f"test accuracy {test_acc:.4f} on {len(x_test):,} test images; "
              f"training {train_time:.1f} s, total {time.perf_counter() - start:.1f} s")
    for path in files:
        print(f"  saved {path}")
    return 0 if test_acc is not None else 130


def _run_files(out_dir, net_name):
    stem = os.path.join(out_dir, net_name)
    return [stem + suffix for suffix in (".npz", ".json", "_history.csv", "_curves.png")]


def _prepare_output(out_dir, net_name, overwrite):
    """Create ``out_dir`` and check, before any training, that the run's files can be written
    there and would not replace an earlier run's (unless ``overwrite``)."""
    created = not os.path.isdir(out_dir)
    try:
        os.makedirs(out_dir, exist_ok=True)
    except OSError as exc:
        raise CommandError(f"--output {out_dir}: cannot create the directory ({exc.strerror or exc})") from None
    try:  # a real write: permissions, read-only file systems, a full disk
        import tempfile
        with tempfile.TemporaryFile(dir=out_dir):
            pass
    except OSError as exc:
        raise CommandError(f"--output {out_dir}: cannot write there ({exc.strerror or exc})") from None
    finally:
        if created:  # made again when the files are saved: a failed run leaves no empty folder
            with contextlib.suppress(OSError):
                os.rmdir(out_dir)
    earlier = [path for path in _run_files(out_dir, net_name) if os.path.exists(path)]
    if earlier and not overwrite:
        raise CommandError(
            f"{earlier[0]} is from an earlier run; it is kept. Add --overwrite to replace that run's "
            f"files, or choose a new folder with --output DIR")


@contextlib.contextmanager
def _stop_between_steps():
    """Turn the first Ctrl-C (or SIGTERM) into a request checked after each training step.

    Yields a function that says whether a stop was requested. A stop
    requested this way never cuts an optimizer update in half; a second
    Ctrl-C interrupts at once.
    """
    requested = []

    def handler(signum, frame):
        if requested:
            raise KeyboardInterrupt
        requested.append(signum)

    try:
        previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    except ValueError:  # not the main thread: leave the signals alone
        previous = {}
    try:
        yield lambda: bool(requested)
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def _params_path(out_dir, net_name):
    return os.path.join(out_dir, net_name) + ".npz"


def _nothing_saved(out_dir, net_name):
    path = _params_path(out_dir, net_name)
    return f"nothing was saved ({path} is left as it was)" if os.path.exists(path) else "nothing was saved"


def _save_run(out_dir, net_name, model, run, args, lr, epochs, dtype, data, test_acc=None):
    """Write the parameters, a description of the run, the history and the curves.

    Only finite parameters reach here (cmd_train checks): a diverged run
    never replaces a good parameter file.
    """
    os.makedirs(out_dir, exist_ok=True)
    stem = os.path.join(out_dir, net_name)
    files = [model.save(_params_path(out_dir, net_name))]
    meta = {
        "net": net_name, "config": model.config, "dataset": args.dataset,
        "sample": bool(getattr(data, "is_sample", False)),
        "optimizer": args.optimizer, "lr": lr, "schedule": args.schedule,
        "batch_size": args.batch_size, "epochs": epochs, "epochs_done": len(run.history),
        "dtype": dtype.name, "seed": args.seed, "backend": fastnn.get_backend(),
        "test_accuracy": test_acc, "fastnn": fastnn.__version__,
    }
    files.append(_write_text(stem + ".json", json.dumps(meta, indent=2) + "\n"))
    files.append(_write_text(stem + "_history.csv", _history_csv(run.history)))
    if run.history and not args.no_plot:
        try:
            from . import plot
            title = f"{model.title} on {_DATASET_TITLES[args.dataset]}"
            if getattr(data, "is_sample", False):
                title += f" (the {len(data[0][0]):,}-image sample)"
            if test_acc is not None:
                title += f": test accuracy {test_acc:.4f}"
            n = args.eval_samples
            labels = (f"train (first {min(n, len(run.x_train)):,})",
                      f"test (first {min(n, len(run.x_test)):,})")
            plot.plot_learning_curves(run.curves(), stem + "_curves.png", first_epoch=1, title=title,
                                      accuracy_labels=labels)
            files.append(stem + "_curves.png")
        except ImportError:
            print("  (matplotlib is not installed: no learning-curve plot; pip install 'fastnn[plot]')")
    return files


def _history_csv(history):
    buf = _stdio.StringIO()
    writer = csv.DictWriter(buf, fieldnames=runner.HISTORY_FIELDS, lineterminator="\n")
    writer.writeheader()
    for row in history:
        writer.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items()})
    return buf.getvalue()


def _write_text(path, text):
    from .io import atomic_write
    atomic_write(path, lambda f: f.write(text.encode("utf-8")))
    return path


# --------------------------------------------------------------------------
# The progress bar
# --------------------------------------------------------------------------
class ProgressBar:
    """One line per epoch: redrawn with '\\r' on a terminal, printed once otherwise.

        epoch 3/10 [==============================] 50/50 loss 0.1523 | train acc 0.9612
        test acc 0.9511 | 4,210 img/s | 1.2 s
    """

    WIDTH = 30

    def __init__(self, stream):
        self.stream = stream
        self.tty = hasattr(stream, "isatty") and stream.isatty()
        self.label = ""
        self.total = 0
        self._last_draw = 0.0

    def start(self, label, total):
        self.label, self.total = label, total
        self._last_draw = 0.0

    def _bar(self, done):
        filled = int(self.WIDTH * done / max(self.total, 1))
        arrow = ">" if filled < self.WIDTH else ""
        return "[" + "=" * filled + arrow + "." * (self.WIDTH - filled - len(arrow)) + "]"

    def update(self, done, loss, images_per_s):
        """Redraw (at most 10 times a second) after step ``done`` of ``total``."""
        if not self.tty:
            return
        now = time.perf_counter()
        if done < self.total and now - self._last_draw < 0.1:
            return
        self._last_draw = now
        self.stream.write(f"\r{self.label} {self._bar(done)} {done}/{self.total} "
                          f"loss {loss:.4f} | {images_per_s:,.0f} img/s ")
        self.stream.flush()

    def finish(self, record):
        text = (f"{self.label} {self._bar(self.total)} {self.total}/{self.total} "
                f"loss {record['loss']:.4f} | train acc {record['train_acc']:.4f} | "
                f"test acc {record['test_acc']:.4f} | {record['images_per_s']:,.0f} img/s | "
                f"{record['seconds']:.1f} s")
        self.stream.write(("\r" + text + "\033[K\n") if self.tty else text + "\n")
        self.stream.flush()

    def interrupt(self):
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()


# --------------------------------------------------------------------------
# fastnn evaluate
# --------------------------------------------------------------------------
def cmd_evaluate(args):
    if (args.params is None) == (args.pretrained is None):
        raise CommandError("give a parameter file (PARAMS) or --pretrained NAME, not both"
                           if args.params else "give a parameter file (PARAMS) or --pretrained NAME")
    if args.pretrained:
        from .pretrained import fetch
        args.params = str(fetch(args.pretrained))
        args.net = args.net or args.pretrained
    path = args.params
    if not os.path.isfile(path):
        raise CommandError(f"no such parameter file: {path}")
    net_name, config = args.net, None
    sidecar = os.path.splitext(path)[0] + ".json"
    if net_name is None and os.path.isfile(sidecar):
        meta = runner.read_sidecar(sidecar)  # every value checked; ValueError naming the file
        net_name, config = meta["net"], meta["config"]
        args.dataset = args.dataset or meta["dataset"]
    args.dataset = args.dataset or "mnist"
    if args.dataset not in _DATASET_TITLES:
        raise CommandError(f"{sidecar} names an unknown dataset {args.dataset[:40]!r}")
    # Shapes from the file's headers are checked against the config before any data is
    # read or any network is built.
    model, dtype = runner.load_model(path, net_name, config=config,
                                     dtype=np.dtype(args.dtype) if args.dtype else None,
                                     config_source=sidecar)
    net_name = model.name

    data = _load_data(args, flatten=runner.wants_flat_input(net_name))
    _, (x_test, t_test) = data
    if args.limit:
        x_test, t_test = x_test[:args.limit], t_test[:args.limit]
    x_test = x_test.astype(dtype, copy=False)
    print(f"fastnn evaluate: {path} as {model.title} ({dtype.name}, {_describe_backend()})")
    print(f"  on {_describe_data(args.dataset, data, None, len(x_test))}")
    start = time.perf_counter()
    predictions = model.predict_labels(x_test)
    seconds = time.perf_counter() - start
    labels = np.asarray(t_test).reshape(-1)
    accuracy = float(np.mean(predictions == labels))
    print(f"accuracy {accuracy:.4f} ({int(np.sum(predictions == labels)):,}/{len(labels):,}) "
          f"in {seconds:.1f} s")
    from .plot import confusion_matrix
    print(format_confusion_matrix(confusion_matrix(labels, predictions, num_classes=10)))
    return 0


def format_confusion_matrix(cm):
    """The confusion matrix as text: rows true classes, columns predicted, plus per-class recall."""
    k = cm.shape[0]
    width = max(len(f"{cm.max():d}"), 3) + 1
    lines = ["confusion matrix (rows: true class, columns: predicted)",
             " " * 6 + "".join(f"{j:>{width}d}" for j in range(k)) + "   recall"]
    for i in range(k):
        total = cm[i].sum()
        recall = f"{cm[i, i] / total:8.4f}" if total else "       -"
        lines.append(f"{i:>5d} " + "".join(f"{cm[i, j]:>{width}d}" for j in range(k)) + " " + recall)
    return "\n".join(lines)


# --------------------------------------------------------------------------
# fastnn info / fastnn bench
# --------------------------------------------------------------------------
def cmd_info(args):
    info = fastnn.backend_info()
    if args.json:
        print(json.dumps(info, indent=2, default=str))
        return 0
    print(f"fastnn {info['version']} (Python {sys.version.split()[0]}, NumPy {np.__version__})")
    selected = "" if info["running"] == info["backend"] else f" (selected: {info['backend']})"
    print(f"backend:  {info['running']}{selected} -- {info['why']}")
    compiled = info.get("compiled") or []
    print(f"compiled kernels ({len(compiled)}): {', '.join(compiled) if compiled else 'none'}")
    if info.get("numpy_only"):
        print(f"NumPy-only kernels ({len(info['numpy_only'])}): {', '.join(info['numpy_only'])}")
    for module, why in (info.get("missing_modules") or {}).items():
        print(f"  not loaded: fastnn._ext.{module} ({why})")
    print(f"OpenMP:   {'yes' if info.get('openmp') else 'no'}")
    print(f"threads:  {info['threads']}")
    blas = info.get("blas") or []
    if not blas:
        print("BLAS:     unknown (threadpoolctl found none)")
    for lib in blas:
        print(f"BLAS:     {lib.get('internal_api')} {lib.get('version')} "
              f"({lib.get('num_threads')} threads) {lib.get('filepath')}")
    return 0


def cmd_bench(args):
    try:
        from . import benchmark
    except ImportError as exc:
        raise CommandError(f"the benchmark module is not available ({exc})") from None
    if not hasattr(benchmark, "main"):
        raise CommandError("fastnn.benchmark has no main(argv)")
    return benchmark.main(list(args.bench_args))


# --------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------
@contextlib.contextmanager
def _offline_unless(download):
    """Set FASTNN_OFFLINE=1 for the block unless downloading was asked for."""
    if download or "FASTNN_OFFLINE" in os.environ:
        yield
        return
    os.environ["FASTNN_OFFLINE"] = "1"
    try:
        yield
    finally:
        del os.environ["FASTNN_OFFLINE"]


def _load_data(args, flatten):
    from . import datasets
    loader = datasets.load_mnist if args.dataset == "mnist" else datasets.load_fashion_mnist
    if args.data_dir is not None and not os.path.isdir(args.data_dir):
        raise CommandError(f"--data-dir: no such directory: {args.data_dir}")
    user_offline = os.environ.get("FASTNN_OFFLINE")
    with _offline_unless(args.download), warnings.catch_warnings():
        # The CLI says itself when the bundled sample is used.
        warnings.simplefilter("ignore", datasets.SampleDataWarning)
        try:
            return loader(normalize=True, flatten=flatten, path=args.data_dir)
        except datasets.DatasetNotFoundError as exc:
            # The whole message: where fastnn looked, why each place failed, how to provide the files.
            text = str(exc)
            if not args.download and user_offline is None:  # the CLI itself kept it offline
                text = text.replace("download: skipped because FASTNN_OFFLINE is set",
                                    "download: not tried (fastnn downloads only with --download)")
            details = text.split(": ", 1)[-1].split("\n", 1)
            rest = details[1] if len(details) > 1 else ""
            hint = "" if args.download else " (add --download to fetch it)"
            raise CommandError(
                f"{_DATASET_TITLES[args.dataset]} not found{hint}. Looked at:\n{rest}"
                if rest.startswith("  - ") else f"{_DATASET_TITLES[args.dataset]} not found{hint}: {str(exc)}"
            ) from None


def _describe_data(dataset, data, n_train, n_test):
    """Where the images came from and how many are used, for the first lines of output."""
    title = _DATASET_TITLES[dataset]
    (x_train, _), (x_test, _) = data
    if getattr(data, "is_sample", False) and n_train is None:
        where = f"the {len(x_test):,} test images bundled with fastnn"
    elif getattr(data, "is_sample", False):
        where = (f"the sample bundled with fastnn ({len(x_train):,} training + {len(x_test):,} test "
                 "images; the full training set was not found, --download fetches it)")
    else:
        where = f"{getattr(data, 'source', '?')} ({len(x_train):,} training + {len(x_test):,} test images)"
    used = f"{n_test:,} test images" if n_train is None else f"{n_train:,} training + {n_test:,} test images"
    return f"{title} from {where}; using {used}"


def _describe_backend():
    backend = fastnn.get_backend()
    if backend == "numpy":
        return "NumPy kernels"
    info = fastnn.backend_info()
    n_compiled = len(info.get("compiled") or [])
    n_all = n_compiled + len(info.get("numpy_only") or [])
    if n_compiled == 0:
        return "NumPy kernels (the compiled ones are not built: see 'fastnn info')"
    if n_compiled < n_all:
        return (f"compiled kernels ({n_compiled}/{n_all}; the others on NumPy: see 'fastnn info'), "
                f"{info['threads']} threads")
    return f"compiled kernels, {info['threads']} threads"


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
