"""Where a training step spends its time: median milliseconds per layer, forward and backward.

The layers of a book-style network are timed in place: each layer instance's
``forward``/``backward`` is shadowed by a timing wrapper for the duration of
the measurement (then removed), and so are the loss layer and the optimizer's
``update``. A Convolution followed by a Relu runs as one kernel
(``Convolution.forward_relu``/``backward_relu``): its times include the
ReLU's, and the Relu row stays empty. The median over several steps is reported, so that a step slowed
by another process does not count.
"""
import statistics
import time

import numpy as np

from .._backend import use_backend
from ..layers import is_relu_pair
from ..optimizer import Adam
from ._torch_nets import book_layers


def _loss_layer(net):
    for name in ("last_layer", "lastLayer"):
        if hasattr(net, name):
            return getattr(net, name)
    return None


def step_breakdown(net, x, t, backend="cython", steps=15, warmup=3):
    """[(part, median ms of forward, median ms of backward)] of ``net``'s train step,
    and the median ms of the whole step; parts are the layers, the loss and Adam."""
    labels, samples = [], {}
    parts = book_layers(net)
    loss = _loss_layer(net)
    named = [(f"{i + 1:2d} {type(layer).__name__}", layer) for i, layer in enumerate(parts)]
    if loss is not None:
        named.append(("   " + type(loss).__name__, loss))

    def timing(key, fn):
        def run(*args, **kwargs):
            t0 = time.perf_counter()
            out = fn(*args, **kwargs)
            samples.setdefault(key, []).append(time.perf_counter() - t0)
            return out
        return run

    # the pairs that run as one kernel keep doing so: their forward_relu and
    # backward_relu are timed (wrapping forward/backward would stop the fusion)
    fused = {i for i in range(len(parts) - 1) if is_relu_pair(parts[i], parts[i + 1])}
    for i, (label, layer) in enumerate(named):
        labels.append(label)
        if i in fused:
            layer.forward_relu = timing((label, "fwd"), layer.forward_relu)
            layer.backward_relu = timing((label, "bwd"), layer.backward_relu)
        elif i - 1 not in fused:
            layer.forward = timing((label, "fwd"), layer.forward)
            layer.backward = timing((label, "bwd"), layer.backward)
    opt = Adam()
    update = timing(("   Adam update", "fwd"), opt.update)
    labels.append("   Adam update")
    whole = []
    try:
        with use_backend(backend):
            for i in range(warmup + steps):
                np.random.seed(i)
                if i == warmup:
                    samples.clear()
                t0 = time.perf_counter()
                update(net.params, net.gradient(x, t))
                whole.append(time.perf_counter() - t0)
    finally:
        for _, layer in named:
            for attr in ("forward", "backward", "forward_relu", "backward_relu"):
                layer.__dict__.pop(attr, None)

    def median_ms(key):
        values = samples.get(key)
        return None if not values else statistics.median(values) * 1e3

    rows = [(label, median_ms((label, "fwd")), median_ms((label, "bwd"))) for label in labels]
    return rows, statistics.median(whole[warmup:]) * 1e3


def breakdown_tables(images, labels, batch, steps):
    """{network name: (rows, {dtype: step ms})} for SimpleConvNet and DeepConvNet on the
    compiled backend, float64 and float32; rows are (part, {dtype: (fwd ms, bwd ms)})."""
    from ._networks import NETWORKS

    tables = {}
    for name in ("SimpleConvNet", "DeepConvNet"):
        build = NETWORKS[name][0]
        per_dtype, totals = {}, {}
        for dt in ("float64", "float32"):
            x = np.ascontiguousarray(images[:batch].astype(dt))
            rows, totals[dt] = step_breakdown(build(dt), x, labels[:batch], steps=steps)
            per_dtype[dt] = rows
        parts = [label for label, _, _ in per_dtype["float64"]]
        rows = [(part, {dt: per_dtype[dt][i][1:] for dt in per_dtype}) for i, part in enumerate(parts)]
        tables[name] = (rows, totals)
    return tables
