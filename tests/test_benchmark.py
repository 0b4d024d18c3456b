"""The benchmark report (fastnn.benchmark): its table, its agreement check, its FLOP counts.

No timing is asserted here (speed is shown in bench/); a tiny run checks that
the report has the rows and columns it should and that its numbers are
consistent with each other.
"""
import re
import subprocess

import numpy as np
import pytest

import fastnn
from fastnn import kernels
from fastnn.benchmark import Case, ResultsDisagree, TimingPlan, assert_agree, main, run_case
from fastnn.benchmark._book_im2col import book_col2im, book_im2col
from fastnn.benchmark._networks import forward_flops
from fastnn.nets import SimpleConvNet

TINY = ["--batch", "2", "--images", "4", "--repeats", "1", "--min-time", "0", "--peak-size", "32", "--no-torch",
        "--no-tutorials"]
KERNEL_HEADER = ["operation", "shapes", "dtype", "NumPy ms", "compiled ms", "speedup", "GFLOP/s", "% of peak"]


def _tables(text):
    """{section title: list of rows (lists of cells)} for every '## ' section with a table."""
    tables, title = {}, None
    for line in text.splitlines():
        if line.startswith("## "):
            title = line[3:]
        elif line.startswith("|") and title is not None:
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if set("".join(cells)) <= set("-:"):
                continue                                  # the |---|---| line
            tables.setdefault(title, []).append(cells)
    return tables


def _ms(cell):
    return float(cell.replace(",", ""))


@pytest.fixture(scope="module")
def full_report(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench") / "RESULTS.md"
    assert main(TINY + ["--output", str(out)]) == 0
    return out.read_text(encoding="utf-8")


def test_report_has_every_kernel_and_network_row(full_report):
    tables = _tables(full_report)
    for dt in ("float64", "float32"):
        rows = tables[f"Kernels, {dt}, batch 2"]
        assert rows[0] == KERNEL_HEADER
        names = {r[0].rstrip(" †") for r in rows[1:]}
        assert names == {
            "im2col", "col2im", "conv forward", "conv backward", "conv forward+backward",
            "maxpool forward", "maxpool backward", "affine forward", "affine backward",
            "softmax-CE forward", "softmax-CE backward", "softmax-CE forward+backward",
            "relu forward", "relu backward",
        }
        assert all(r[2] == dt for r in rows[1:])
        # the six DeepConvNet convolutions and SimpleConvNet's, forward and backward
        assert sum(r[0].startswith("conv forward") and "+" not in r[0] for r in rows[1:]) == 7
    nets = tables["Networks"]
    assert nets[0] == KERNEL_HEADER
    book_rows = {(r[0], r[2]) for r in nets[1:]}
    for net in ("TwoLayerNet (784-50-10)", "SimpleConvNet", "DeepConvNet"):
        for dt in ("float64", "float32"):
            assert (f"{net} train step", dt) in book_rows
            assert (f"{net} inference", dt) in book_rows
    for model in ("Keras-style MLP (784-512-10)", "Keras-style CNN (conv32-pool-100-10)"):
        assert (f"{model} train step", "float32") in book_rows
        assert (f"{model} inference", "float32") in book_rows


def test_report_numbers_are_consistent(full_report):
    tables = _tables(full_report)
    rows = [r for title, t in tables.items() if title.startswith(("Kernels", "Networks")) for r in t[1:]]
    assert len(rows) > 50
    for r in rows:
        numpy_ms, compiled_ms = _ms(r[3]), _ms(r[4])
        assert numpy_ms > 0 and compiled_ms > 0
        speedup = float(r[5].rstrip("×"))
        # the cells are rounded to 3 significant digits
        assert speedup == pytest.approx(numpy_ms / compiled_ms, rel=0.02, abs=0.01)
        if r[0].startswith(("im2col", "col2im", "maxpool", "relu", "softmax")):
            assert r[6] == "—"                      # no GEMM, no GFLOP/s
        if r[0].startswith(("conv", "affine")) or "train step" in r[0] or "inference" in r[0]:
            assert float(r[6]) > 0


def test_report_machine_targets_and_baseline(full_report):
    tables = _tables(full_report)
    machine = dict((r[0], r[1]) for r in tables["Machine"])
    assert "CPU" in machine and "GEMM peak" in " ".join(machine)
    assert re.search(r"float32 [\d.]+ GFLOP/s, float64 [\d.]+ GFLOP/s", full_report)
    targets = tables["Targets (issues 6, 8 and 18)"]
    assert targets[0] == ["issue", "target", "goal", "measured", "met"]
    by_text = {r[1]: r for r in targets[1:]}
    assert by_text["col2im, compiled vs NumPy (float64)"][4] in ("yes", "**no**")
    # without PyTorch the PyTorch targets say so instead of inventing a figure
    assert by_text["SimpleConvNet train step float32, fastnn/PyTorch time"][3] == "not measured in this run"
    assert by_text["AlexNet-style train step, fastnn/(Keras on PyTorch) time"][3] == "not measured in this run"
    issue18 = [r for r in targets[1:] if r[0] == "18"]
    assert len(issue18) == 8 and by_text["every Keras-style row, compiled vs NumPy"][2] == "≥ 1×"
    # --batch 2 is below 32: one train row per dtype, no extra batch-32 row
    assert by_text["TwoLayerNet train step (batch 32 and 100), compiled vs NumPy"][3].endswith(
        "(worst of 2: batch 2, gradient + Adam)")
    baseline = tables["The NumPy fallback is a fair baseline"]
    assert baseline[0][3:6] == ["book's method ms", "fastnn NumPy fallback ms", "book/fallback"]
    assert {r[0] for r in baseline[1:]} == {"im2col", "col2im"}


def test_report_breaks_the_compiled_train_steps_down_by_layer(full_report):
    section = full_report.split("## Where a compiled train step spends its time")[1].split("\n## ")[0]
    tables = _tables("## x\n" + section)["x"]
    assert tables[0][0] == "layer"
    layers = [r[0] for r in tables[1:] if r[0] != "layer"]
    # SimpleConvNet's 6 layers + loss + Adam, then DeepConvNet's 20 + loss + Adam
    assert len(layers) == 8 + 22
    assert layers[:4] == ["1 Convolution", "2 Relu", "3 Pooling", "4 Affine"]
    assert layers.count("Adam update") == 2 and layers.count("SoftmaxWithLoss") == 2
    previous = ""
    for r in tables[1:]:
        if r[0].endswith("Relu") and previous.endswith(("Convolution", "Affine")):
            # runs inside the convolution's (the affine layer's) kernels: no time of its own
            host = previous.split()[-1]
            assert r[1] == r[2] == r[4] == r[5] == f"in {host}"
        elif r[0] not in ("layer", "Adam update"):
            assert float(r[1]) > 0 and float(r[2]) > 0 and float(r[4]) > 0 and float(r[5]) > 0
        previous = r[0]


def test_quick_mode_and_only(tmp_path):
    out = tmp_path / "quick.md"
    assert main(TINY + ["--quick", "--only", "conv forward+backward", "--output", str(out)]) == 0
    tables = _tables(out.read_text(encoding="utf-8"))
    rows = tables["Kernels, float64, batch 2"][1:]
    assert [r[0].rstrip(" †") for r in rows] == ["conv forward+backward"]
    assert "Kernels, float32, batch 2" not in tables
    with pytest.raises(SystemExit):
        main(TINY + ["--only", "no such row", "--output", str(tmp_path / "none.md")])
    assert not (tmp_path / "none.md").exists()
    with pytest.raises(SystemExit):
        main(TINY + ["--data", str(tmp_path), "--output", str(tmp_path / "none.md")])   # no MNIST files there
    assert not (tmp_path / "none.md").exists()


def test_report_names_the_command_that_made_it(full_report):
    assert "Generated by `fastnn bench --batch 2 --images 4 --repeats 1" in full_report
    assert "--output" not in full_report.splitlines()[2]


# --------------------------------------------------------------------------
# The agreement check
# --------------------------------------------------------------------------
PLAN = TimingPlan(repeats=1, min_repeats=1, min_time=0.0, budget=0.0)


def _case(make, dtype="float64", **kw):
    return Case("Kernels, test", "test row", "x (3,)", dtype, make, **kw)


def test_run_case_raises_when_backends_differ():
    def make(backend):
        value = 1.0 if backend == "numpy" else 1.0 + 1e-6
        return lambda: (np.full(3, 2.0), np.full((2, 2), value))

    with pytest.raises(ResultsDisagree, match=r"test row.*result\[1\] differs between NumPy and compiled"):
        run_case(_case(make), PLAN)


def test_run_case_switches_the_backend_it_checks():
    # The function reads the active backend when called: the harness must set it.
    def make(backend):
        return lambda: np.full(3, 1.0 if fastnn.get_backend() == "numpy" else 2.0)

    with pytest.raises(ResultsDisagree, match="max |difference| 1"):
        run_case(_case(make), PLAN)


def test_run_case_accepts_round_off_and_times_both():
    def make(backend):
        eps = 0.0 if backend == "numpy" else 1e-13
        return lambda: {"W": np.full((2, 3), 1.0 + eps), "loss": 0.5}

    result = run_case(_case(make, flops=1e6), PLAN)
    assert result.numpy.median > 0 and result.compiled.median > 0
    assert result.gflops == pytest.approx(1e6 / result.compiled.median / 1e9)
    assert result.torch is None and result.book is None


def test_run_case_checks_the_books_method_too():
    x = np.arange(24.0).reshape(1, 2, 3, 4)
    case = _case(lambda backend: (lambda: kernels.im2col(x, 2, 2)),
                 make_book=lambda: (lambda: kernels.im2col(x, 2, 2) + 1e-3))
    with pytest.raises(ResultsDisagree, match="between the book's method and the NumPy fallback"):
        run_case(case, PLAN)


def test_assert_agree_reports_structure_dtype_and_nan():
    with pytest.raises(ResultsDisagree, match="different structure"):
        assert_agree("row", (np.zeros(2),), (np.zeros(2), np.zeros(2)), 1e-10)
    with pytest.raises(ResultsDisagree, match="shape"):
        assert_agree("row", np.zeros(2), np.zeros(3), 1e-10)
    with pytest.raises(ResultsDisagree, match="1 of 4 integer entries"):
        assert_agree("row", np.arange(4), np.array([0, 1, 2, 4]), 1e-10)
    with pytest.raises(ResultsDisagree, match="NaN or inf"):
        assert_agree("row", np.zeros(2), np.array([0.0, np.nan]), 1e-10)
    # float32 round-off passes at the float32 tolerance, not at the float64 one
    a = np.linspace(-1, 1, 50).astype(np.float32)
    b = a * np.float32(1 + 3e-7)
    assert_agree("row", a, b, 1e-4)
    with pytest.raises(ResultsDisagree):
        assert_agree("row", a, a + np.float32(1e-3), 1e-4)


# --------------------------------------------------------------------------
# The baseline and the FLOP count
# --------------------------------------------------------------------------
@pytest.mark.parametrize("shape, k, stride, pad", [
    ((2, 3, 7, 7), 3, 1, 1), ((2, 1, 8, 6), 2, 2, 0), ((1, 2, 9, 9), 3, 2, 2), ((3, 2, 5, 5), 5, 1, 0),
])
def test_books_im2col_matches_the_numpy_fallback(rng, shape, k, stride, pad):
    x = rng.standard_normal(shape)
    col = kernels.numpy_kernels.im2col(x, k, k, stride, pad)
    np.testing.assert_array_equal(book_im2col(x, k, k, stride, pad), col)
    dcol = rng.standard_normal(col.shape)
    np.testing.assert_allclose(book_col2im(dcol, shape, k, k, stride, pad),
                               kernels.numpy_kernels.col2im(dcol, shape, k, k, stride, pad), rtol=1e-14)


def test_forward_flops_counts_the_gemms_of_simple_convnet():
    net = SimpleConvNet(rng=np.random.default_rng(0))
    x = np.zeros((3, 1, 28, 28))
    conv = 2 * 3 * 24 * 24 * 30 * 25            # out (3,30,24,24), 1*5*5 per output
    affine = 2 * 3 * 4320 * 100 + 2 * 3 * 100 * 10
    assert forward_flops(net, x) == conv + affine
    # the counting wrappers are gone again
    assert all("forward" not in vars(layer) for layer in net.layers.values())


def test_torch_twins_compute_the_same_scores():
    """The PyTorch column times the same networks: same layers, same weights, same scores."""
    torch = pytest.importorskip("torch")        # an optional extra
    from fastnn.benchmark._torch_nets import torch_module
    from fastnn.nets import DeepConvNet

    x = np.random.default_rng(0).random((3, 1, 28, 28))
    for net, scale in ((SimpleConvNet(rng=np.random.default_rng(1)), 1.0),
                       (DeepConvNet(rng=np.random.default_rng(1)), 0.25)):
        model = torch_module(net, "float64").eval()
        with torch.no_grad():
            scores = model(torch.from_numpy(x)).numpy()
        # the book scales by (1 - 0.5) at each of DeepConvNet's two dropouts at test time; PyTorch does not
        np.testing.assert_allclose(scores * scale, net.predict(x), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("blocks", [False, True])
def test_time_implementations_times_each_entry_under_its_context(blocks):
    from contextlib import contextmanager

    from fastnn.benchmark._timing import time_implementations

    calls = {"a": 0, "b": 0}
    inside = []

    @contextmanager
    def marked():
        inside.append(True)
        yield
        inside.pop()

    def make(key, needs_context):
        def fn():
            assert bool(inside) == needs_context
            calls[key] += 1
        return fn

    plan = TimingPlan(repeats=3, min_repeats=3, min_time=0.0, budget=0.0, blocks=blocks)
    ta, tb = time_implementations([(make("a", True), 0.01, marked), (make("b", False), None, None)], plan)
    assert (ta.repeats, tb.repeats) == (3, 3) and ta.number == tb.number == 1
    assert calls == {"a": 1 + 3, "b": 1 + 3}       # one warm-up each, then the repeats
    assert ta.best <= ta.median and tb.best <= tb.median


@pytest.mark.parametrize("blocks", [False, True])
def test_time_implementations_waits_after_a_threaded_blas_entry(blocks, monkeypatch):
    """OpenBLAS' workers spin ~0.1 s after a product: the other implementation waits plan.settle first."""
    from fastnn.benchmark import _timing

    order = []
    monkeypatch.setattr(_timing.time, "sleep", lambda s: order.append(f"sleep {s}"))
    plan = TimingPlan(repeats=2, min_repeats=2, min_time=0.0, budget=0.0, blocks=blocks, settle=0.25)
    _timing.time_implementations([(lambda: order.append("blas"), 0.01, None, True),
                                  (lambda: order.append("own"), 0.01, None)], plan)
    if blocks:                           # each block: a warm-up call, then the repeats
        assert order == ["blas"] * 3 + ["sleep 0.25"] + ["own"] * 3
    else:                                # the warm-up calls, then the repeats take turns
        assert order == ["blas", "own"] + ["blas", "sleep 0.25", "own"] * 2


def test_default_output_never_touches_the_tracked_results(tmp_path, monkeypatch, capsys):
    # a checkout: bench/RESULTS.md is the file the README quotes
    (tmp_path / "bench").mkdir()
    tracked = tmp_path / "bench" / "RESULTS.md"
    tracked.write_text("the full run\n")
    monkeypatch.chdir(tmp_path)
    assert main(TINY + ["--quick", "--only", "softmax-CE forward"]) == 0
    assert tracked.read_text() == "the full run\n"
    report = (tmp_path / "fastnn-output" / "benchmark.md").read_text()
    assert "softmax-CE forward" in report
    assert "wrote fastnn-output/benchmark.md" in capsys.readouterr().out
    assert main(TINY + ["--quick", "--only", "softmax-CE forward", "--output", "-"]) == 0
    assert "softmax-CE forward" in capsys.readouterr().out      # '-': the report on stdout

def test_report_has_the_alexnet_rows_and_their_peak_memory(full_report):
    from fastnn.benchmark._alexnet import SECTION
    tables = _tables(full_report)
    rows = tables[SECTION]
    assert [r[0] for r in rows[1:]] == ["AlexNet-style 224x224x3 train step", "AlexNet-style 224x224x3 predict"]
    assert all(r[1].startswith(("batch 2,", "2 images")) for r in rows[1:])   # --batch 2 < 100
    assert all(_ms(r[3]) > 0 and _ms(r[4]) > 0 for r in rows[1:])
    memory = tables["Peak memory of the AlexNet-style train step"]
    fastnn_mb = float(memory[1][0].replace(",", "").split()[0])
    assert 50 < fastnn_mb < 20_000
    assert memory[1][1] == "—"                                                 # --no-torch: no Keras child


def test_alexnet_is_the_tutorials_network():
    from fastnn import keras
    from fastnn.benchmark._alexnet import build_alexnet
    model = build_alexnet(keras)
    shapes = [layer.output_shape for layer in model.layers]
    assert shapes[0] == (54, 54, 6) and shapes[2] == (26, 26, 6) and shapes[3] == (26, 26, 256)
    assert shapes[12] == (2, 2, 356) and shapes[-1] == (2,)
    assert sum(w.size for w in model.trainable_weights) == model.count_params() - 2 * (6 + 256 + 384 + 384 + 356)


def test_tutorial_programs_run_whole_and_learn(tmp_path):
    """The whole-run section: each program trains for real (quick mode: 1 epoch on 1,000-6,000
    images), well above chance, and the report gives its time and accuracy."""
    out = tmp_path / "tutorials.md"
    assert main(TINY[:-1] + ["--quick", "--only", "softmax-CE forward", "--tutorials", "--output", str(out)]) == 0
    rows = _tables(out.read_text(encoding="utf-8"))["Keras tutorial programs, whole runs"]
    assert rows[0][:2] == ["program", "fastnn (compiled)"]
    assert [r[0].split(" (")[0] for r in rows[1:]] == ["Fashion-MNIST MLP", "small CNN", "MNIST MLP"]
    for row in rows[1:]:
        seconds, accuracy = row[1].split(" s (")
        assert float(seconds) > 0 and float(accuracy.rstrip(")")) > 0.4, row
        assert row[2] == row[3] == "not run", row           # --no-torch: fastnn alone


def _train_result(name="TwoLayerNet (784-50-10)", dtype="float32", batch=2, suffix=" train step", detail=None,
                  images=None):
    """A Result of a network row, as run_case returns it (times made up)."""
    from fastnn.benchmark._run import Result
    from fastnn.benchmark._timing import Timing
    case = Case("Networks", f"{name}{suffix}", detail or f"batch {batch}, gradient + Adam", dtype,
                lambda backend: None, None, (), None, batch=batch, images=images or batch)
    t = Timing(0.001, 0.001, 1, 1)
    return Result(case, t, t, Timing(0.002, 0.002, 1, 1), None, ())


def test_pytorch_alone_child_starts_without_fastnns_openmp_setting(monkeypatch):
    """The child that re-times PyTorch gets the user's environment: without the
    OMP_WAIT_POLICY that fastnn set itself, and it imports torch before fastnn."""
    from fastnn import _backend
    from fastnn.benchmark import _torch_alone
    seen = {}

    def fake_run(cmd, env, **kwargs):
        seen["env"], seen["code"] = env, cmd[-1]
        return subprocess.CompletedProcess(
            cmd, 0, '{"TwoLayerNet (784-50-10) train step|batch 2, gradient + Adam|float32": 0.004}\n', "")
    monkeypatch.setattr(_torch_alone.subprocess, "run", fake_run)
    monkeypatch.setattr(_backend, "OPENMP_ENV_SET_BY_FASTNN", ("OMP_WAIT_POLICY",))
    monkeypatch.setenv("OMP_WAIT_POLICY", "PASSIVE")
    results = [_train_result()]
    alone = _torch_alone.torch_alone(results, 2)
    assert "OMP_WAIT_POLICY" not in seen["env"]
    assert seen["code"].startswith("import torch;")
    assert alone == {"TwoLayerNet (784-50-10) train step|batch 2, gradient + Adam|float32": 0.004}
    lines = _torch_alone.torch_alone_section(results, alone)
    assert lines[-1] == ("| TwoLayerNet (784-50-10) train step | batch 2, gradient + Adam | float32 | 1 | 2 | 4 "
                         "| 0.25× |")
    # the targets table compares with the time alone
    assert results[0].torch_alone == 0.004 and results[0].vs_torch_fair == 0.25
    # a user's own setting is kept
    monkeypatch.setattr(_backend, "OPENMP_ENV_SET_BY_FASTNN", ())
    _torch_alone.torch_alone(results, 2)
    assert seen["env"]["OMP_WAIT_POLICY"] == "PASSIVE"


def test_pytorch_alone_times_the_real_steps():
    """Book, Keras-style and AlexNet-style rows, train steps and inference, in the child."""
    import importlib.util
    pytest.importorskip("torch")        # optional extras; keras is imported in the child only
    if importlib.util.find_spec("keras") is None:
        pytest.skip("keras is not installed")
    from fastnn.benchmark._torch_alone import torch_alone
    results = [_train_result(dtype="float64", batch=3),
               _train_result("Keras-style CNN (conv32-pool-100-10)", detail="batch 2, train_on_batch with Adam"),
               _train_result("SimpleConvNet", suffix=" inference", detail="4 images in batches of 2", images=4),
               _train_result("Keras-style MLP (784-512-10)", suffix=" inference",
                             detail="5 images, predict(batch_size=2)", images=5),
               _train_result("AlexNet-style 224x224x3", suffix=" predict", detail="1 images, predict(batch_size=1)",
                             batch=1)]
    alone = torch_alone(results, 1)
    assert "error" not in alone and len(alone) == 5
    assert all(0 < seconds < 5 for seconds in alone.values())
