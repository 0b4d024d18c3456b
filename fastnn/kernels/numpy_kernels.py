"""The NumPy implementation of every hot kernel: the reference a learner reads.

Each function here has a compiled twin in ``src_c/`` with the same name,
arguments and results. Arguments arrive already validated by
``fastnn.kernels`` (float32/float64 arrays of the right rank and shapes), so
these functions only compute. They follow the book's methods (im2col + GEMM
for convolution, im2col + argmax for pooling) so that the numbers match the
book's code to round-off.

Shapes use the book's letters: N batch, C channels, H/W height/width,
FN filters, FH/FW filter size, OH/OW output size.
"""
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


def out_size(size, filter_size, stride, pad):
    """Output length of a sliding window: (size + 2*pad - filter_size) // stride + 1."""
    return (size + 2 * pad - filter_size) // stride + 1


# --------------------------------------------------------------------------
# im2col / col2im
# --------------------------------------------------------------------------
def im2col(x, filter_h, filter_w, stride=1, pad=0):
    """Unfold image patches into rows.

    x: (N, C, H, W) -> col: (N*OH*OW, C*FH*FW). Row ``(n, oy, ox)`` holds the
    patch under the filter when its top-left corner is at
    ``(oy*stride - pad, ox*stride - pad)``, in (c, fy, fx) order; padding is 0.
    """
    N, C, H, W = x.shape
    OH = out_size(H, filter_h, stride, pad)
    OW = out_size(W, filter_w, stride, pad)
    img = np.pad(x, [(0, 0), (0, 0), (pad, pad), (pad, pad)]) if pad else x
    # A view, no copy: windows[n, c, y, x, fy, fx] = img[n, c, y + fy, x + fx]
    # for every top-left corner (y, x); keep the corners the stride visits.
    windows = sliding_window_view(img, (filter_h, filter_w), axis=(2, 3))
    windows = windows[:, :, :stride * OH:stride, :stride * OW:stride]     # (N, C, OH, OW, FH, FW)
    # One copy puts each patch in a row: (N, OH, OW, C, FH, FW) -> 2-D.
    return windows.transpose(0, 2, 3, 1, 4, 5).reshape(N * OH * OW, C * filter_h * filter_w)


def col2im(col, input_shape, filter_h, filter_w, stride=1, pad=0):
    """Fold rows back into an image, summing where patches overlap.

    col: (N*OH*OW, C*FH*FW) -> (N, C, H, W) with ``input_shape = (N, C, H, W)``.
    This is the adjoint of ``im2col``: it is the gradient of im2col with
    respect to its input.
    """
    N, C, H, W = input_shape
    OH = out_size(H, filter_h, stride, pad)
    OW = out_size(W, filter_w, stride, pad)
    col6 = col.reshape(N, OH, OW, C, filter_h, filter_w)
    # The extra (stride - 1) rows/columns let every strided slice below have
    # exactly OH (OW) elements, as in the book.
    img = np.zeros((N, C, H + 2 * pad + stride - 1, W + 2 * pad + stride - 1), dtype=col.dtype)
    for fy in range(filter_h):
        y_end = fy + stride * OH
        for fx in range(filter_w):
            x_end = fx + stride * OW
            img[:, :, fy:y_end:stride, fx:x_end:stride] += col6[:, :, :, :, fy, fx].transpose(0, 3, 1, 2)
    return img[:, :, pad:H + pad, pad:W + pad]


# --------------------------------------------------------------------------
# Convolution
# --------------------------------------------------------------------------
def conv_forward(x, W, b, stride=1, pad=0, relu=False):
    """out[n, f] = sum over (c, fy, fx) of W[f, c, fy, fx] * patch + b[f].

    x: (N, C, H, W), W: (FN, C, FH, FW), b: (FN,)
    -> (out (N, FN, OH, OW), col (N*OH*OW, C*FH*FW)).
    ``col`` is the im2col matrix, returned so that the backward pass can reuse
    it (the compiled kernel never builds it whole and returns None).
    relu=True returns relu_forward(out) instead (the compiled kernel applies
    it while the output is in cache).
    """
    FN, C, FH, FW = W.shape
    N, _, H, Wd = x.shape
    OH = out_size(H, FH, stride, pad)
    OW = out_size(Wd, FW, stride, pad)
    col = im2col(x, FH, FW, stride, pad)
    out = col @ W.reshape(FN, -1).T + b                    # (N*OH*OW, FN)
    if relu:
        out = relu_forward(out)
    return out.reshape(N, OH, OW, FN).transpose(0, 3, 1, 2), col


def conv_backward(dout, x, W, stride=1, pad=0, col=None, relu_out=None, need_dx=True):
    """Gradients of ``conv_forward``.

    dout: (N, FN, OH, OW), x: (N, C, H, W), W: (FN, C, FH, FW), col: the
    im2col matrix from the forward pass or None to recompute it.
    relu_out: the output of ``conv_forward(..., relu=True)``, if that was
    called; dout then first goes back through the ReLU.
    need_dx=False skips dx (None is returned in its place): the first layer
    of a network needs no gradient for its input.
    -> (dx (N, C, H, W), dW (FN, C, FH, FW), db (FN,)).
    """
    if relu_out is not None:
        dout = relu_backward(dout, relu_out)
    FN, C, FH, FW = W.shape
    if col is None:
        col = im2col(x, FH, FW, stride, pad)
    dout2 = dout.transpose(0, 2, 3, 1).reshape(-1, FN)       # (N*OH*OW, FN)
    db = np.sum(dout2, axis=0)
    dW = (col.T @ dout2).T.reshape(FN, C, FH, FW)
    if not need_dx:
        return None, dW, db
    dcol = dout2 @ W.reshape(FN, -1)                         # (N*OH*OW, C*FH*FW)
    dx = col2im(dcol, x.shape, FH, FW, stride, pad)
    return dx, dW, db


# --------------------------------------------------------------------------
# Max pooling
# --------------------------------------------------------------------------
def maxpool_forward(x, pool_h, pool_w, stride=2, pad=0):
    """Max over each pooling window.

    x: (N, C, H, W) -> (out (N, C, OH, OW), argmax (N, C, OH, OW) int64).
    ``argmax`` is the winner's position inside its window, ``fy*pool_w + fx``;
    the first maximum wins ties. Padding counts as zeros, as in the book.
    """
    N, C, H, W = x.shape
    OH = out_size(H, pool_h, stride, pad)
    OW = out_size(W, pool_w, stride, pad)
    col = im2col(x, pool_h, pool_w, stride, pad).reshape(-1, pool_h * pool_w)
    argmax = np.argmax(col, axis=1)
    out = col[np.arange(col.shape[0]), argmax]
    # Rows of col are ordered (n, oy, ox, c); bring channels forward.
    out = out.reshape(N, OH, OW, C).transpose(0, 3, 1, 2)
    argmax = argmax.reshape(N, OH, OW, C).transpose(0, 3, 1, 2)
    return out, np.ascontiguousarray(argmax, dtype=np.int64)


def maxpool_backward(dout, argmax, input_shape, pool_h, pool_w, stride=2, pad=0):
    """Route each output gradient to the input that won its window.

    dout, argmax: (N, C, OH, OW) -> dx: (N, C, H, W) with ``input_shape``.
    """
    N, C, OH, OW = dout.shape
    size = pool_h * pool_w
    d = dout.transpose(0, 2, 3, 1).ravel()                   # (n, oy, ox, c) order
    idx = argmax.transpose(0, 2, 3, 1).ravel()
    dcol = np.zeros((d.size, size), dtype=dout.dtype)
    dcol[np.arange(d.size), idx] = d
    dcol = dcol.reshape(N * OH * OW, C * size)
    return col2im(dcol, input_shape, pool_h, pool_w, stride, pad)


# --------------------------------------------------------------------------
# Affine (fully connected)
# --------------------------------------------------------------------------
def affine_forward(x, W, b, relu=False):
    """out = x @ W + b.   x: (N, D), W: (D, M), b: (M,) -> (N, M).

    relu=True: relu_forward(out), the output of a Relu after the layer.
    """
    out = x @ W + b
    return relu_forward(out) if relu else out


def affine_backward(dout, x, W, need_dx=True):
    """dout: (N, M) -> (dx = dout @ W.T (N, D), dW = x.T @ dout (D, M), db (M,)).

    need_dx=False: None in place of dx, which is not computed.
    """
    return (dout @ W.T if need_dx else None), x.T @ dout, dout.sum(axis=0)


# --------------------------------------------------------------------------
# Softmax with cross-entropy
# --------------------------------------------------------------------------
def softmax(x):
    """Row-wise softmax of (N, K) scores; the row max is subtracted first so exp cannot overflow."""
    z = x - np.max(x, axis=1, keepdims=True)
    e = np.exp(z)
    return e / np.sum(e, axis=1, keepdims=True)


def softmax_cross_entropy_forward(x, t):
    """Softmax followed by the mean cross-entropy, as the book's SoftmaxWithLoss.

    x: (N, K) scores; t: (N,) integer labels or (N, K) targets.
    -> (loss: float, y: (N, K) probabilities).
    As in the book, (N, K) targets are reduced to labels with argmax for the
    loss, and 1e-7 is added inside the log.
    """
    y = softmax(x)
    labels = t if t.ndim == 1 else np.argmax(t, axis=1)
    N = x.shape[0]
    loss = -np.sum(np.log(y[np.arange(N), labels] + 1e-7)) / N
    return float(loss), y


def softmax_cross_entropy_backward(y, t, dout=1.0):
    """Gradient of the mean loss w.r.t. the scores: dout * (y - onehot(t)) / N.

    y: (N, K) probabilities from the forward pass; t as in the forward pass
    (for (N, K) targets the targets themselves are used, as in the book).
    """
    N = y.shape[0]
    if t.ndim == 1:
        dx = y.copy()
        dx[np.arange(N), t] -= 1
    else:
        dx = y - t
    return dx * (dout / N)


# --------------------------------------------------------------------------
# Elementwise: ReLU and optimizer updates
# --------------------------------------------------------------------------
def relu_forward(x):
    """max(x, 0), same shape."""
    return np.maximum(x, 0)


def relu_backward(dout, out):
    """Gradient of ReLU given its output: dout where out > 0, else 0."""
    return np.where(out > 0, dout, 0).astype(dout.dtype, copy=False)


def sgd_update(param, grad, lr):
    """In place: param -= lr * grad."""
    param -= lr * grad


def momentum_update(param, grad, velocity, lr, momentum):
    """In place: v = momentum*v - lr*grad; param += v."""
    velocity *= momentum
    velocity -= lr * grad
    param += velocity


def nesterov_update(param, grad, velocity, lr, momentum):
    """In place: v = momentum*v - lr*grad; param += momentum*v - lr*grad (Keras' Nesterov SGD)."""
    velocity *= momentum
    velocity -= lr * grad
    param += momentum * velocity - lr * grad


def rmsprop_update(param, grad, velocity, lr, rho, eps=1e-7):
    """In place: v = rho*v + (1-rho)*grad*grad; param -= lr*grad / sqrt(v + eps) (Keras' RMSprop)."""
    velocity *= rho
    velocity += (1 - rho) * grad * grad
    param -= lr * grad / np.sqrt(velocity + eps)


def adagrad_update(param, grad, accumulator, lr, eps=1e-7):
    """In place: a += grad*grad; param -= lr*grad / sqrt(a + eps) (Keras' Adagrad)."""
    accumulator += grad * grad
    param -= lr * grad / np.sqrt(accumulator + eps)


def adam_update(param, grad, m, v, lr_t, beta1, beta2, eps=1e-7):
    """In place, one Adam step with the bias correction folded into ``lr_t``:

    m += (1-beta1)(g - m);  v += (1-beta2)(g*g - v);  param -= lr_t * m / (sqrt(v) + eps).
    """
    m += (1 - beta1) * (grad - m)
    v += (1 - beta2) * (grad ** 2 - v)
    param -= lr_t * m / (np.sqrt(v) + eps)


# The channels_last kernels (depthwise convolution, average pooling) live in their own file.
from .numpy_nhwc import (avgpool_backward, avgpool_forward, depthwise_conv_backward,  # noqa: E402,F401
                         depthwise_conv_forward)
