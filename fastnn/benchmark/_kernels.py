"""Kernel rows: each hot kernel at the layer shapes of the book's networks.

Shapes (batch N, 100 in the report):

* SimpleConvNet: x (N,1,28,28), W (30,1,5,5) -> (N,30,24,24); 2x2 pool;
  affine 4320 -> 100 -> 10; softmax with cross-entropy over 10 classes.
* DeepConvNet: 3x3 convolutions, pad 1 (pad 2 for the fourth),
  1->16 and 16->16 on 28x28, 16->32 and 32->32 on 14x14, 32->64 and 64->64
  on 8x8; 2x2 pools after every second convolution; affine 1024 -> 50 -> 10.

The rows call ``fastnn.kernels`` (so the argument checks are timed too, as a
layer pays them). The PyTorch twin of each row is the same operation in
``torch.nn.functional`` (or the ATen backward it runs), on tensors that share
the NumPy arrays' memory.
"""
import numpy as np

from .. import kernels
from ._cases import Case
from ._book_im2col import book_col2im, book_im2col


def _out(size, k, stride, pad):
    return (size + 2 * pad - k) // stride + 1


def _torch():
    import torch
    import torch.nn.functional as F
    return torch, F


class _Data:
    """Random inputs of one dtype, reproducible (seeded per array)."""

    def __init__(self, dtype):
        self.dtype = np.dtype(dtype)
        self._seed = 0

    def normal(self, shape, scale=1.0):
        self._seed += 1
        rng = np.random.default_rng(self._seed)
        return (scale * rng.standard_normal(shape)).astype(self.dtype)

    def labels(self, n, classes):
        self._seed += 1
        return np.random.default_rng(self._seed).integers(0, classes, size=n).astype(np.int64)


# --------------------------------------------------------------------------
# Convolution (and its im2col / col2im)
# --------------------------------------------------------------------------
def _conv_rows(section, data, N, C, H, FN, K, pad, net, with_fwd_bwd, tags):
    dt = data.dtype.name
    stride = 1
    OH = OW = _out(H, K, stride, pad)
    x = data.normal((N, C, H, H))
    W = data.normal((FN, C, K, K), 0.1)
    b = data.normal((FN,), 0.1)
    dout = data.normal((N, FN, OH, OW))
    gemm = 2.0 * N * OH * OW * FN * C * K * K        # one GEMM of the convolution
    detail = f"{net} {C}->{FN}, x ({N},{C},{H},{H}), {K}x{K} pad {pad}"

    def forward(backend):
        return lambda: kernels.conv_forward(x, W, b, stride, pad)[0]

    def backward(backend):
        _, col = kernels.conv_forward(x, W, b, stride, pad)   # the layer keeps col (NumPy only)
        return lambda: kernels.conv_backward(dout, x, W, stride, pad, col)

    def forward_backward(backend):
        def step():
            out, col = kernels.conv_forward(x, W, b, stride, pad)
            return (out,) + tuple(kernels.conv_backward(dout, x, W, stride, pad, col))
        return step

    def t_tensors():
        torch, F = _torch()
        return torch, F, torch.from_numpy(x), torch.from_numpy(W), torch.from_numpy(b), torch.from_numpy(dout)

    def torch_forward():
        torch, F, tx, tW, tb, _ = t_tensors()
        return lambda: F.conv2d(tx, tW, tb, stride, pad)

    def _t_backward(torch, tx, tW, tdout):
        return torch.ops.aten.convolution_backward(
            tdout, tx, tW, [FN], [stride, stride], [pad, pad], [1, 1], False, [0, 0], 1, [True, True, True])

    def torch_backward():
        torch, F, tx, tW, tb, tdout = t_tensors()
        return lambda: _t_backward(torch, tx, tW, tdout)

    def torch_forward_backward():
        torch, F, tx, tW, tb, tdout = t_tensors()

        def step():
            out = F.conv2d(tx, tW, tb, stride, pad)
            return out, _t_backward(torch, tx, tW, tdout)
        return step

    rows = [
        Case(section, "conv forward", detail, dt, forward, gemm, ("conv_forward",), torch_forward,
             tags=tags.get("fwd", ())),
        Case(section, "conv backward", detail, dt, backward, 2 * gemm, ("conv_backward",), torch_backward,
             tags=tags.get("bwd", ())),
    ]
    if with_fwd_bwd:
        rows.append(Case(section, "conv forward+backward", detail, dt, forward_backward, 3 * gemm,
                         ("conv_forward", "conv_backward"), torch_forward_backward,
                         tags=tags.get("fwd+bwd", ())))
    return rows


def _im2col_rows(section, data, N, C, H, K, pad, net, tags):
    dt = data.dtype.name
    stride = 1
    OH = _out(H, K, stride, pad)
    x = data.normal((N, C, H, H))
    col = data.normal((N * OH * OH, C * K * K))
    detail = f"{net}, x ({N},{C},{H},{H}), {K}x{K} pad {pad}"

    def torch_im2col():
        torch, F = _torch()
        tx = torch.from_numpy(x)
        return lambda: F.unfold(tx, (K, K), padding=pad, stride=stride)

    def torch_col2im():
        torch, F = _torch()
        # unfold's layout is (N, C*K*K, L); fold takes the same.
        tcol = torch.from_numpy(col.reshape(N, OH * OH, C * K * K).transpose(0, 2, 1).copy())
        return lambda: F.fold(tcol, (H, H), (K, K), padding=pad, stride=stride)

    return [
        Case(section, "im2col", detail, dt, lambda backend: (lambda: kernels.im2col(x, K, K, stride, pad)),
             None, ("im2col",), torch_im2col, tags=tags.get("im2col", ()),
             make_book=lambda: (lambda: book_im2col(x, K, K, stride, pad))),
        Case(section, "col2im", detail, dt,
             lambda backend: (lambda: kernels.col2im(col, x.shape, K, K, stride, pad)),
             None, ("col2im",), torch_col2im, tags=tags.get("col2im", ()),
             make_book=lambda: (lambda: book_col2im(col, x.shape, K, K, stride, pad))),
    ]


# --------------------------------------------------------------------------
# Pooling, affine, softmax with loss, ReLU
# --------------------------------------------------------------------------
def _pool_rows(section, data, N, C, H, net, tags):
    dt = data.dtype.name
    size = stride = 2
    x = data.normal((N, C, H, H))
    OH = _out(H, size, stride, 0)
    dout = data.normal((N, C, OH, OH))
    detail = f"{net}, x ({N},{C},{H},{H}), 2x2 stride 2"

    def backward(backend):
        _, argmax = kernels.maxpool_forward(x, size, size, stride)
        return lambda: kernels.maxpool_backward(dout, argmax, x.shape, size, size, stride)

    def torch_forward():
        torch, F = _torch()
        tx = torch.from_numpy(x)
        return lambda: F.max_pool2d(tx, size, stride, return_indices=True)

    def torch_backward():
        torch, F = _torch()
        tx, tdout = torch.from_numpy(x), torch.from_numpy(dout)
        _, idx = F.max_pool2d(tx, size, stride, return_indices=True)
        return lambda: torch.ops.aten.max_pool2d_with_indices_backward(
            tdout, tx, [size, size], [stride, stride], [0, 0], [1, 1], False, idx)

    return [
        Case(section, "maxpool forward", detail, dt,
             lambda backend: (lambda: kernels.maxpool_forward(x, size, size, stride)),
             None, ("maxpool_forward",), torch_forward, tags=tags.get("fwd", ())),
        Case(section, "maxpool backward", detail, dt, backward, None, ("maxpool_backward",),
             torch_backward, tags=tags.get("bwd", ())),
    ]


def _affine_rows(section, data, N, D, M, net, tags=()):
    dt = data.dtype.name
    x = data.normal((N, D))
    W = data.normal((D, M), 0.1)
    b = data.normal((M,), 0.1)
    dout = data.normal((N, M))
    gemm = 2.0 * N * D * M
    detail = f"{net} {D}->{M}, x ({N},{D})"

    def torch_forward():
        torch, F = _torch()
        tx, tWt, tb = torch.from_numpy(x), torch.from_numpy(np.ascontiguousarray(W.T)), torch.from_numpy(b)
        return lambda: F.linear(tx, tWt, tb)          # torch keeps W as (out, in)

    def torch_backward():
        torch, F = _torch()
        tx, tWt, tdout = torch.from_numpy(x), torch.from_numpy(np.ascontiguousarray(W.T)), torch.from_numpy(dout)
        return lambda: (tdout.mm(tWt), tdout.t().mm(tx), tdout.sum(0))

    return [
        Case(section, "affine forward", detail, dt,
             lambda backend: (lambda: kernels.affine_forward(x, W, b)), gemm, ("affine_forward",),
             torch_forward, tags=tags),
        Case(section, "affine backward", detail, dt,
             lambda backend: (lambda: kernels.affine_backward(dout, x, W)), 2 * gemm, ("affine_backward",),
             torch_backward, tags=tags),
    ]


def _softmax_rows(section, data, N, K, tags):
    dt = data.dtype.name
    x = data.normal((N, K), 3.0)
    t = data.labels(N, K)
    detail = f"scores ({N},{K}), integer labels"

    def backward(backend):
        _, y = kernels.softmax_cross_entropy_forward(x, t)
        return lambda: kernels.softmax_cross_entropy_backward(y, t, 1.0)

    def forward_backward(backend):
        def step():
            loss, y = kernels.softmax_cross_entropy_forward(x, t)
            return loss, kernels.softmax_cross_entropy_backward(y, t, 1.0)
        return step

    def torch_forward():
        torch, F = _torch()
        tx, tt = torch.from_numpy(x), torch.from_numpy(t)
        return lambda: F.cross_entropy(tx, tt)

    def torch_forward_backward():
        torch, F = _torch()
        tx, tt = torch.from_numpy(x).clone().requires_grad_(True), torch.from_numpy(t)

        def step():
            loss = F.cross_entropy(tx, tt)
            return torch.autograd.grad(loss, tx)
        return step

    fwd = ("softmax_cross_entropy_forward",)
    bwd = ("softmax_cross_entropy_backward",)
    return [
        Case(section, "softmax-CE forward", detail, dt,
             lambda backend: (lambda: kernels.softmax_cross_entropy_forward(x, t)), None, fwd, torch_forward),
        Case(section, "softmax-CE backward", detail, dt, backward, None, bwd, None),
        Case(section, "softmax-CE forward+backward", detail, dt, forward_backward, None, fwd + bwd,
             torch_forward_backward, tags=tags),
    ]


def _relu_rows(section, data, shape, net):
    dt = data.dtype.name
    x = data.normal(shape)
    dout = data.normal(shape)
    out = np.maximum(x, 0)
    detail = f"{net}, x ({','.join(map(str, shape))})"

    def torch_forward():
        torch, F = _torch()
        tx = torch.from_numpy(x)
        return lambda: F.relu(tx)

    def torch_backward():
        torch, F = _torch()
        tdout, tout = torch.from_numpy(dout), torch.from_numpy(out)
        return lambda: torch.ops.aten.threshold_backward(tdout, tout, 0)

    return [
        Case(section, "relu forward", detail, dt, lambda backend: (lambda: kernels.relu_forward(x)),
             None, ("relu_forward",), torch_forward),
        Case(section, "relu backward", detail, dt, lambda backend: (lambda: kernels.relu_backward(dout, out)),
             None, ("relu_backward",), torch_backward),
    ]


# --------------------------------------------------------------------------
# All kernel rows
# --------------------------------------------------------------------------
def kernel_cases(batch=100, dtypes=("float64", "float32"), quick=False):
    """The kernel rows for each dtype in ``dtypes``.

    ``quick``: only the rows the targets of issue 6 are stated on (DeepConvNet's
    16->16 convolution and its im2col/col2im, SimpleConvNet's pool, softmax).
    """
    cases = []
    for dt in dtypes:
        data = _Data(dt)
        section = f"Kernels, {dt}"
        target = dt == "float64"        # the targets of issue 6 are stated for float64

        def tag(**kw):
            return {k: (v,) for k, v in kw.items()} if target else {}

        N = batch
        rows = []
        rows += _im2col_rows(section, data, N, 16, 28, 3, 1, "DeepConvNet conv2",
                             tag(im2col="im2col", col2im="col2im"))
        if not quick:
            rows += _im2col_rows(section, data, N, 1, 28, 5, 0, "SimpleConvNet conv1", {})
        # SimpleConvNet
        if not quick:
            rows += _conv_rows(section, data, N, 1, 28, 30, 5, 0, "SimpleConvNet", True, {})
        rows += _pool_rows(section, data, N, 30, 24, "SimpleConvNet",
                           tag(fwd="maxpool_fwd", bwd="maxpool_bwd"))
        if not quick:
            rows += _affine_rows(section, data, N, 4320, 100, "SimpleConvNet")
            rows += _affine_rows(section, data, N, 100, 10, "SimpleConvNet")
        rows += _softmax_rows(section, data, N, 10, ("softmax_ce",) if target else ())
        if not quick:
            rows += _relu_rows(section, data, (N, 30, 24, 24), "SimpleConvNet")
        # DeepConvNet: (C_in, H, C_out, pad) of its six convolutions
        deep = [(1, 28, 16, 1), (16, 28, 16, 1), (16, 14, 32, 1), (32, 14, 32, 2), (32, 8, 64, 1), (64, 8, 64, 1)]
        for i, (C, H, FN, pad) in enumerate(deep, start=1):
            key = C == 16 and FN == 16
            if quick and not key:
                continue
            rows += _conv_rows(section, data, N, C, H, FN, 3, pad, f"DeepConvNet conv{i}", key,
                               tag(**{"fwd+bwd": "conv_16_16"}) if key else {})
        if not quick:
            for C, H in ((16, 28), (32, 16), (64, 8)):
                rows += _pool_rows(section, data, N, C, H, "DeepConvNet",
                                   tag(fwd="maxpool_fwd", bwd="maxpool_bwd"))
            rows += _affine_rows(section, data, N, 1024, 50, "DeepConvNet")
            rows += _affine_rows(section, data, N, 50, 10, "DeepConvNet")
            rows += _relu_rows(section, data, (N, 16, 28, 28), "DeepConvNet")
        cases += rows
    return cases
