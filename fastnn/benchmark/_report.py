"""The Markdown report: machine, targets, one table per section, the baseline note."""
from dataclasses import dataclass
from pathlib import Path

from ..io import atomic_write

#: How the NumPy fallback is written; printed above the baseline table.
FALLBACK_NOTE = """\
fastnn's NumPy fallback (`fastnn/kernels/numpy_kernels.py`) computes a convolution the
book's way: im2col unfolds the image into a matrix, one row per output pixel, and one
GEMM (`col @ W.T`) does the arithmetic; the backward pass is two GEMMs and col2im.
im2col fills the matrix by filter-offset slicing: for each offset (fy, fx) of the
filter, the pixels it sees are one strided slice of the padded image, copied in one
NumPy operation (FH*FW copies in all, no Python loop over pixels). Unlike the book,
it allocates the matrix directly in its final row layout, so the slices are written
where they belong and the transposed copy the book makes at the end is not needed;
col2im is the book's method (one strided add per filter offset). Max-pooling uses
im2col and an arg-max per row, as the book does. The table times the book's method
(written out in `fastnn/benchmark/_book_im2col.py`) against the fallback on the same
input, after checking that both give the same matrix."""


@dataclass
class Target:
    """A goal of issue 6, 8 or 18, checked on the rows carrying ``tag``."""

    issue: int
    text: str
    tag: str
    metric: str      # "speedup", "vs_torch", "peak", "book"
    goal: float


TARGETS = [
    Target(6, "col2im, compiled vs NumPy (float64)", "col2im", "speedup", 8.0),
    Target(6, "max-pool forward, compiled vs NumPy (float64)", "maxpool_fwd", "speedup", 5.0),
    Target(6, "max-pool backward, compiled vs NumPy (float64)", "maxpool_bwd", "speedup", 5.0),
    Target(6, "im2col, compiled vs NumPy (float64)", "im2col", "speedup", 3.0),
    Target(6, "softmax-CE forward+backward, compiled vs NumPy (float64)", "softmax_ce", "speedup", 2.0),
    Target(6, "conv forward+backward 16->16, compiled vs NumPy (float64)", "conv_16_16", "speedup", 3.0),
    Target(6, "SimpleConvNet train step, compiled vs NumPy (float64)", "train:SimpleConvNet:float64",
           "speedup", 4.0),
    Target(6, "DeepConvNet train step, compiled vs NumPy (float64)", "train:DeepConvNet:float64",
           "speedup", 4.0),
    Target(6, "NumPy fallback im2col vs the book's method (time ratio book/fallback)", "im2col", "book", 1.0),
    Target(6, "NumPy fallback col2im vs the book's method (time ratio book/fallback)", "col2im", "book", 1.0),
    Target(8, "SimpleConvNet train step float32, fastnn/PyTorch time", "train:SimpleConvNet:float32",
           "vs_torch", 1.0),
    Target(8, "DeepConvNet train step float32, fastnn/PyTorch time", "train:DeepConvNet:float32",
           "vs_torch", 1.0),
    Target(8, "SimpleConvNet inference float32, fastnn/PyTorch time", "infer:SimpleConvNet:float32",
           "vs_torch", 0.5),
    Target(8, "SimpleConvNet train step, compiled vs NumPy (float64)", "train:SimpleConvNet:float64",
           "speedup", 10.0),
    Target(8, "DeepConvNet train step, compiled vs NumPy (float64)", "train:DeepConvNet:float64",
           "speedup", 10.0),
    Target(8, "DeepConvNet train step float32, share of the float32 GEMM peak", "train:DeepConvNet:float32",
           "peak", 0.5),
    Target(18, "AlexNet-style train step, fastnn/(Keras on PyTorch) time", "train:alexnet:float32",
           "vs_torch", 0.85),
    Target(18, "AlexNet-style predict, fastnn/(Keras on PyTorch) time", "infer:alexnet:float32",
           "vs_torch", 0.85),
    Target(18, "every Keras-style row, compiled vs NumPy", "keras-style", "speedup", 1.0),
    Target(18, "every Keras-style row, fastnn/PyTorch time", "keras-style", "vs_torch", 0.7),
    Target(18, "TwoLayerNet train step (batch 32 and 100), compiled vs NumPy", "train:TwoLayerNet",
           "speedup", 1.0),
    Target(18, "SimpleConvNet train step float32, fastnn/PyTorch time", "train:SimpleConvNet:float32",
           "vs_torch", 0.5),
    Target(18, "DeepConvNet train step float32, fastnn/PyTorch time", "train:DeepConvNet:float32",
           "vs_torch", 0.8),
    Target(18, "DeepConvNet train step float32, share of the float32 GEMM peak", "train:DeepConvNet:float32",
           "peak", 0.65),
]

#: Timing noise allowed when a goal is "at least as fast as" (ratio 1.0).
PARITY_NOISE = 0.05


def fmt_ms(seconds):
    """Milliseconds with three significant digits (thousands separated)."""
    if seconds is None:
        return "—"
    ms = seconds * 1e3
    if ms >= 1000:
        return f"{ms:,.0f}"
    return f"{ms:.3g}" if ms >= 0.001 else f"{ms:.2g}"


def fmt_gflops(value):
    """GFLOP/s with three significant digits, or a dash for rows without GEMMs."""
    if value is None:
        return "—"
    return f"{value:.0f}" if value >= 100 else f"{value:.3g}"


def _fmt_ratio(value, suffix="×"):
    return "—" if value is None else f"{value:.2f}{suffix}"


def _peak_share(result, peaks):
    g = result.gflops
    return None if g is None else g * 1e9 / peaks[result.case.dtype]


def _metric(result, metric, peaks):
    return {
        "speedup": lambda: result.speedup,
        "vs_torch": lambda: result.vs_torch_fair,
        "peak": lambda: _peak_share(result, peaks),
        "book": lambda: result.book_ratio,
    }[metric]()


def _met(metric, value, goal):
    if metric == "vs_torch":
        return value <= goal
    if metric == "book":
        return value >= goal * (1 - PARITY_NOISE)
    return value >= goal


def _goal_text(t):
    if t.metric == "vs_torch":
        return f"≤ {t.goal:g}×"
    if t.metric == "peak":
        return f"≥ {t.goal:.0%}"
    if t.metric == "book":
        return f"≥ {t.goal:g}× (within {PARITY_NOISE:.0%} timing noise)"
    return f"≥ {t.goal:g}×"


def _value_text(metric, value):
    return f"{value:.0%}" if metric == "peak" else f"{value:.2f}×"


def targets_table(results, peaks):
    """Rows of the targets table: the worst measured value over the rows with the tag."""
    lines = ["| issue | target | goal | measured | met |", "|---|---|---|---|---|"]
    for t in TARGETS:
        values = []
        for r in results:
            if t.tag in r.case.tags:
                v = _metric(r, t.metric, peaks)
                if v is not None:
                    values.append((v, r))
        if not values:
            lines.append(f"| {t.issue} | {t.text} | {_goal_text(t)} | not measured in this run | — |")
            continue
        worst_is_max = t.metric == "vs_torch"
        value, row = (max if worst_is_max else min)(values, key=lambda vr: vr[0])
        where = f" ({row.case.detail})" if len(values) == 1 else f" (worst of {len(values)}: {row.case.detail})"
        if t.metric == "vs_torch" and row.torch_alone:
            where += "; PyTorch in a process of its own"
        met = "yes" if _met(t.metric, value, t.goal) else "**no**"
        lines.append(f"| {t.issue} | {t.text} | {_goal_text(t)} | {_value_text(t.metric, value)}{where} | {met} |")
    return lines


def results_table(results, peaks, with_torch):
    """A Markdown table of rows of one section."""
    head = "| operation | shapes | dtype | NumPy ms | compiled ms | speedup | GFLOP/s | % of peak |"
    sep = "|---|---|---|---:|---:|---:|---:|---:|"
    if with_torch:
        head += " PyTorch ms | fastnn/PyTorch |"
        sep += "---:|---:|"
    lines = [head, sep]
    for r in results:
        name = r.case.name + (" †" if r.not_compiled else "")
        share = _peak_share(r, peaks)
        cells = [name, r.case.detail, r.case.dtype, fmt_ms(r.numpy.median), fmt_ms(r.compiled.median),
                 _fmt_ratio(r.speedup), fmt_gflops(r.gflops),
                 "—" if share is None else f"{share:.0%}"]
        if with_torch:
            cells += [fmt_ms(r.torch.median if r.torch else None), _fmt_ratio(r.vs_torch)]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def baseline_table(results):
    lines = ["| operation | shapes | dtype | book's method ms | fastnn NumPy fallback ms | book/fallback | "
             "compiled ms |", "|---|---|---|---:|---:|---:|---:|"]
    for r in results:
        if r.book is None:
            continue
        lines.append(f"| {r.case.name} | {r.case.detail} | {r.case.dtype} | {fmt_ms(r.book.median)} | "
                     f"{fmt_ms(r.numpy.median)} | {_fmt_ratio(r.book_ratio)} | {fmt_ms(r.compiled.median)} |")
    return lines


def breakdown_section(tables, batch):
    """Per-layer medians of the compiled train steps (see ``_breakdown``)."""
    out = ["", "## Where a compiled train step spends its time", "",
           f"Median milliseconds per layer over several train steps (batch {batch}, compiled backend), "
           "measured by timing each layer's forward and backward in place. The rows above say how fast; "
           "this says where the remaining time goes, for the kernel authors. A Relu right after a "
           "Convolution or an Affine runs inside that layer's kernels (`forward_relu`, "
           "`backward_relu`): its times are counted in that layer's row."]
    for name, (rows, totals) in tables.items():
        out += ["", f"**{name}** — whole step: float64 {totals['float64']:.3g} ms, "
                    f"float32 {totals['float32']:.3g} ms", "",
                "| layer | float64 forward | float64 backward | float64 % of step | float32 forward | "
                "float32 backward | float32 % of step |",
                "|---|---:|---:|---:|---:|---:|---:|"]
        previous = ""
        for part, by_dtype in rows:
            cells = [part.strip()]
            host = previous.split()[-1:]
            fused = part.split()[-1] == "Relu" and host in (["Convolution"], ["Affine"])
            inside = f"in {host[0]}" if fused else None
            for dt in ("float64", "float32"):
                fwd, bwd = by_dtype[dt]
                share = ((fwd or 0) + (bwd or 0)) / totals[dt]
                cells += [inside if fused and fwd is None else _fmt_plain_ms(fwd),
                          inside if fused and bwd is None else _fmt_plain_ms(bwd), f"{share:.0%}"]
            out.append("| " + " | ".join(cells) + " |")
            previous = part
    return out


def _fmt_plain_ms(ms):
    return "—" if ms is None else f"{ms:.3g}"


def render(results, peaks, peak_size, machine, settings, with_torch, breakdown=None, extra=None):
    """The whole report as Markdown text.

    results: list of ``Result``; peaks: {"float32": FLOP/s, "float64": FLOP/s};
    machine: (label, value) pairs; settings: dict of how the run was made;
    extra: Markdown lines of further sections, or None.
    """
    out = ["# fastnn benchmark results", ""]
    out.append(f"Generated by `{settings['command']}` on {settings['when']} ({settings['mode']} mode). "
               "Every ratio below comes from this one run, in one process.")
    out += ["", "## Machine", "", "| | |", "|---|---|"]
    out += [f"| {k} | {v} |" for k, v in machine]
    out.append(f"| GEMM peak (NumPy matmul {peak_size}³, best of 5 at the start and 5 at the end) | "
               f"float32 {peaks['float32'] / 1e9:.1f} GFLOP/s, float64 {peaks['float64'] / 1e9:.1f} GFLOP/s |")
    out += ["", "## How it was measured", ""]
    out += [
        f"- Each row runs once on the NumPy backend and once on the compiled backend, and the results are "
        f"compared (relative tolerance {settings['rtol']}, scaled to the arrays' magnitude) before anything "
        f"is timed; that first call is also the warm-up.",
        f"- A time is the median of {settings['repeats_text']} timed repeats; calls shorter than "
        f"{settings['min_time'] * 1e3:g} ms are looped inside a repeat. "
        + ("Each implementation of a row is timed in its own block of repeats, after one more warm-up call. "
           if settings.get("blocks") else
           "The implementations of a row take turns repeat by repeat (NumPy, compiled, PyTorch, NumPy, ...) "
           "so that changing background load hits them alike; a repeat looping over short calls starts with "
           "one untimed call, so that the previous implementation's thread pools have gone quiet. ")
        + "Times are per call, in milliseconds.",
        "- speedup = NumPy backend time / compiled time. GFLOP/s counts useful floating-point operations "
        "only: 2·M·N·K per matrix product the operation needs (a convolution is one product forward, two "
        "backward; a training step is three times the forward pass), divided by the compiled time; "
        "% of peak compares that with this machine's GEMM peak for the row's dtype.",
        f"- Network rows use {settings['data']}; the batch is {settings['batch']}.",
    ]
    if with_torch:
        out.append("- PyTorch runs the same operation on CPU (`torch.nn.functional` for kernels; the networks "
                   "rebuilt layer by layer as `torch.nn` modules with the same weights and data, Adam with "
                   "eps 1e-7, `inference_mode` for inference) with the same thread count "
                   "(`torch.set_num_threads`). fastnn/PyTorch = compiled time / PyTorch time: below 1 fastnn "
                   "is faster.")
    if any(r.not_compiled for r in results):
        out.append("- † a kernel this row uses has no compiled version in this build, so the compiled "
                   "backend ran it on NumPy: " + ", ".join(sorted({k for r in results for k in r.not_compiled}))
                   + ".")
    out += ["", "## Targets (issues 6, 8 and 18)", ""]
    if any(r.torch_alone for r in results):
        out += ["The fastnn/PyTorch targets compare with PyTorch in a process of its own, where it "
                "was measured (see \"PyTorch in a process of its own\" below).", ""]
    out += targets_table(results, peaks)
    sections = []
    for r in results:
        if r.case.section not in sections:
            sections.append(r.case.section)
    for section in sections:
        rows = [r for r in results if r.case.section == section]
        title = f"{section}, batch {settings['batch']}" if section.startswith("Kernels") else section
        out += ["", f"## {title}", ""]
        out += results_table(rows, peaks, with_torch)
    if extra:                    # more sections (lines), e.g. the AlexNet-style step's peak memory
        out += extra
    if breakdown:
        out += breakdown_section(breakdown, settings["batch"])
    if any(r.book is not None for r in results):
        out += ["", "## The NumPy fallback is a fair baseline", "", FALLBACK_NOTE, ""]
        out += baseline_table(results)
    out.append("")
    return "\n".join(out)


def write_atomically(path, text):
    """Write ``text`` to ``path`` (creating its folder) through fastnn.io.atomic_write."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, lambda f: f.write(text.encode("utf-8")))
