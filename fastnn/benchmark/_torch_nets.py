"""The book's networks rebuilt as PyTorch modules, layer for layer, with the same weights.

Used only for the side-by-side column; PyTorch is an optional extra. The
module is built by walking a fastnn network's layers: Convolution ->
``nn.Conv2d``, Pooling -> ``nn.MaxPool2d``, Affine -> ``nn.Flatten`` +
``nn.Linear`` (PyTorch keeps the weight as (out, in), fastnn as (in, out)),
Relu -> ``nn.ReLU``, Dropout -> ``nn.Dropout``, and the softmax-with-loss
layer -> ``F.cross_entropy``. PyTorch's dropout scales during training
(inverted dropout) where the book scales at test time; the work per call is
the same.
"""
import numpy as np

from .. import layers as L


def book_layers(net):
    """The hidden layers of a book-style net, in order (a dict's values or a list)."""
    layers = net.layers
    return list(layers.values()) if isinstance(layers, dict) else list(layers)


def torch_module(net, dtype):
    """An ``nn.Sequential`` computing ``net.predict`` with copies of its weights."""
    import torch
    from torch import nn

    tdtype = {"float32": torch.float32, "float64": torch.float64}[np.dtype(dtype).name]
    modules = []
    for layer in book_layers(net):
        if isinstance(layer, L.Convolution):
            FN, C, FH, FW = layer.W.shape
            m = nn.Conv2d(C, FN, (FH, FW), stride=layer.stride, padding=layer.pad)
            m.weight.data = torch.tensor(layer.W, dtype=tdtype)
            m.bias.data = torch.tensor(layer.b.reshape(-1), dtype=tdtype)
            modules.append(m)
        elif isinstance(layer, L.Pooling):
            modules.append(nn.MaxPool2d((layer.pool_h, layer.pool_w), stride=layer.stride, padding=layer.pad))
        elif isinstance(layer, L.Affine):
            D, M = layer.W.shape
            m = nn.Linear(D, M)
            m.weight.data = torch.tensor(np.ascontiguousarray(layer.W.T), dtype=tdtype)
            m.bias.data = torch.tensor(layer.b, dtype=tdtype)
            modules += [nn.Flatten(), m]
        elif isinstance(layer, L.Relu):
            modules.append(nn.ReLU())
        elif isinstance(layer, L.Dropout):
            modules.append(nn.Dropout(layer.dropout_ratio))
        else:
            raise TypeError(f"benchmark: no PyTorch twin for layer {type(layer).__name__}")
    return nn.Sequential(*modules).to(tdtype)


def torch_train_step(model, x, t, lr=0.001):
    """A function doing one step: forward, cross-entropy, backward, Adam update."""
    import torch
    import torch.nn.functional as F

    tx, tt = torch.from_numpy(x), torch.from_numpy(t)
    model.train()
    # eps as in the book's Adam (1e-7); PyTorch's own default is 1e-8.
    opt = torch.optim.Adam(model.parameters(), lr=lr, eps=1e-7)

    def step():
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(tx), tt)
        loss.backward()
        opt.step()
        return loss
    return step


def torch_inference(model, x, batch_size):
    """A function scoring all of ``x`` in batches of ``batch_size`` (no autograd)."""
    import torch

    tx = torch.from_numpy(x)
    model.eval()

    def infer():
        with torch.inference_mode():
            return torch.cat([model(tx[i:i + batch_size]) for i in range(0, tx.shape[0], batch_size)])
    return infer
