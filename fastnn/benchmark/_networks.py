"""Network rows: a training step and inference on a test set, per network and dtype.

* train step: ``grads = net.gradient(x, t)`` then ``Adam().update(net.params, grads)``
  on one batch (the book's loop body);
* inference: ``net.predict`` over the test images in batches (the book's
  ``accuracy`` loop, without the arg-max).

Both backends start from the same weights (same seed), and the global NumPy
random state is seeded before the checked call so that dropout draws the
same masks. Useful FLOPs are counted from the layers actually run: a
convolution producing ``out`` with weights (FN, C, FH, FW) costs
``2 * out.size * C*FH*FW``, an affine layer ``2 * out.size * D``; a training
step costs three times the forward pass (forward, input gradient, weight
gradient), as in the arithmetic limits of issue 8.
"""
import numpy as np

from ..nets import DeepConvNet, SimpleConvNet, TwoLayerNet
from ..optimizer import Adam
from ._cases import Case
from ._torch_nets import book_layers, torch_inference, torch_module, torch_train_step

SEED = 7
SECTION = "Networks"
#: The agreement tolerance of whole networks: errors add up over many layers.
NET_RTOL = {"float64": 1e-9, "float32": 1e-3}
#: TwoLayerNet's train step is also timed at this batch (the book's chapter 5 uses 100, many
#: tutorials 32): small products are where threads cost more than they give.
SMALL_BATCH = 32


def _predict(net, x):
    if isinstance(net, DeepConvNet):
        return net.predict(x, train_flg=False)
    return net.predict(x)


def forward_flops(net, x):
    """Useful FLOPs of one ``predict`` on ``x`` (the GEMMs of convolutions and affine layers)."""
    total = 0.0
    layers = book_layers(net)

    def counting(layer, forward):
        def run(*args, **kwargs):
            nonlocal total
            out = forward(*args, **kwargs)
            W = getattr(layer, "W", None)
            if isinstance(W, np.ndarray) and W.ndim == 4:
                total += 2.0 * out.size * np.prod(W.shape[1:])
            elif isinstance(W, np.ndarray) and W.ndim == 2:
                total += 2.0 * out.size * W.shape[0]
            return out
        return run

    for layer in layers:
        layer.forward = counting(layer, layer.forward)     # shadows the method on this instance
    try:
        _predict(net, x)
    finally:
        for layer in layers:
            del layer.forward
    return total


#: The kernels a book conv net's train step runs (SimpleConvNet and DeepConvNet alike).
CONVNET_KERNELS = ("conv_forward", "conv_backward", "maxpool_forward", "maxpool_backward", "affine_forward",
                   "affine_backward", "relu_forward", "relu_backward", "softmax_cross_entropy_forward",
                   "softmax_cross_entropy_backward", "adam_update")

# name -> (builder(dtype), input shape of one image, the network's kernels)
NETWORKS = {
    "TwoLayerNet (784-50-10)": (
        lambda dtype: TwoLayerNet(784, 50, 10, dtype=dtype, rng=np.random.default_rng(SEED)),
        (784,),
        ("affine_forward", "affine_backward", "relu_forward", "relu_backward",
         "softmax_cross_entropy_forward", "softmax_cross_entropy_backward", "adam_update"),
    ),
    "SimpleConvNet": (
        lambda dtype: SimpleConvNet(dtype=dtype, rng=np.random.default_rng(SEED)),
        (1, 28, 28),
        CONVNET_KERNELS,
    ),
    "DeepConvNet": (
        lambda dtype: DeepConvNet(dtype=dtype, rng=np.random.default_rng(SEED)),
        (1, 28, 28),
        CONVNET_KERNELS,
    ),
}


def _tag(name):
    return name.split(" ")[0]


def network_cases(images, labels, batch=100, inference_images=10000, dtypes=("float64", "float32"),
                  names=None):
    """Train-step and inference rows of the book's networks.

    images (n, 1, 28, 28) float64, labels (n,) int64: the data (see ``_data``);
    the first ``batch`` images are the training batch, the first
    ``inference_images`` the inference set.
    """
    names = list(NETWORKS) if names is None else names
    cases = []
    for name in names:
        build, in_shape, used = NETWORKS[name]
        for dt in dtypes:
            x_all = images[:inference_images].reshape((-1,) + in_shape).astype(dt)
            xb = np.ascontiguousarray(x_all[:batch])
            tb = labels[:batch]
            flops = forward_flops(build(dt), xb)
            n_inf = x_all.shape[0]
            tag = _tag(name)
            cases.append(_train_case(name, dt, build, xb, tb, 3.0 * flops, used, tag))
            if name.startswith("TwoLayerNet") and batch > SMALL_BATCH:      # a tutorial's batch too
                cases.append(_train_case(name, dt, build, xb[:SMALL_BATCH], tb[:SMALL_BATCH],
                                         3.0 * flops * SMALL_BATCH / batch, used, tag, extra=True))
            cases.append(_inference_case(name, dt, build, x_all, batch, flops * n_inf / batch, used, tag))
    return cases


def _train_case(name, dt, build, xb, tb, flops, used, tag, extra=False):
    def make(backend):
        net = build(dt)
        opt = Adam(lr=0.001)

        def step():
            grads = net.gradient(xb, tb)
            opt.update(net.params, grads)
            return grads
        return step

    def make_torch():
        return torch_train_step(torch_module(build(dt), dt), xb, tb)

    tags = (f"train:{tag}",) if extra else (f"train:{tag}:{dt}", f"train:{tag}")
    return Case(SECTION, f"{name} train step", f"batch {xb.shape[0]}, gradient + Adam", dt, make, flops,
                used, make_torch, rtol=NET_RTOL[dt], tags=tags, batch=xb.shape[0], images=xb.shape[0])


def _inference_case(name, dt, build, x_all, batch, flops, used, tag):
    fwd = tuple(k for k in used if "backward" not in k and k != "adam_update")

    def make(backend):
        net = build(dt)

        def infer():
            return np.concatenate([_predict(net, x_all[i:i + batch]) for i in range(0, x_all.shape[0], batch)])
        return infer

    def make_torch():
        return torch_inference(torch_module(build(dt), dt), x_all, batch)

    return Case(SECTION, f"{name} inference", f"{x_all.shape[0]:,} images in batches of {batch}", dt, make,
                flops, fwd, make_torch, rtol=NET_RTOL[dt], tags=(f"infer:{tag}:{dt}",), batch=batch,
                images=x_all.shape[0])
