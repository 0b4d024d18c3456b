"""The book's layers (chapters 5, 6 and 7): each has ``forward`` and ``backward``.

A layer keeps what its backward pass needs from the forward pass (the input,
a mask, the output...). Parameters are held by reference, not copied: a
network builds ``Affine(self.params['W1'], self.params['b1'])`` and an
optimizer that updates ``params`` in place updates the layer too. After
``backward`` a layer with parameters holds their gradients (``dW``, ``db``,
``dgamma``, ``dbeta``).

The hot computations (affine, convolution, max pooling, softmax with loss,
ReLU) go through ``fastnn.kernels``, so the same layer runs on the compiled
kernels or on the NumPy reference, whichever backend is selected
(``fastnn.set_backend``); Sigmoid, Dropout and BatchNormalization are a few
NumPy lines. Arrays keep their float dtype: float32
inputs and parameters give float32 outputs and gradients.

Shapes use the book's letters: N batch, C channels, H/W height/width,
FN filters, FH/FW filter size, OH/OW output size.
"""
import numbers

import numpy as np

from . import kernels
from .functions import *  # noqa: F401,F403  (the book's layers module re-exports them)
from .functions import __all__ as _function_names
from .functions import sigmoid
from .kernels import _checks
from .util import col2im, im2col  # noqa: F401  (re-exported, as in the book)


def _param(where, name, a, ndim):
    """Check a parameter array without copying it (layers share it with the net)."""
    if not isinstance(a, np.ndarray):
        raise TypeError(f"{where}: {name} must be a NumPy array, got {type(a).__name__}")
    if a.dtype not in (np.float32, np.float64):
        raise TypeError(f"{where}: {name} must be float32 or float64, got dtype {a.dtype}")
    if ndim is not None and a.ndim != ndim:
        raise ValueError(f"{where}: {name} must be {ndim}-D, got shape {a.shape}")
    return a


def _bias(where, b, n):
    """Check a bias for ``n`` outputs, the way the book's ``x @ W + b`` broadcasts it.

    A float array of shape (n,) is kept as it is (layers share it with the
    network). Like the book, a number (``b = 0`` in ch07/apply_filter.py) or
    an array of shape (), (1,), (1, 1) or (1, n) is accepted too: it is added
    to every row of the (rows, n) output.
    """
    if isinstance(b, np.ndarray) and b.ndim == 1 and b.shape[0] == n and b.dtype in _checks.FLOAT_DTYPE_SET:
        return b
    if isinstance(b, (numbers.Real, np.number)) and not isinstance(b, (bool, np.bool_)):
        return b
    if not isinstance(b, np.ndarray):
        raise TypeError(f"{where}: b must be a NumPy array or a number, got {type(b).__name__}")
    if b.dtype.kind not in "iuf":
        raise TypeError(f"{where}: b must be a float (or integer) array, got dtype {b.dtype}")
    try:
        fits = np.broadcast_shapes(b.shape, (1, n)) == (1, n)
    except ValueError:
        fits = False
    if not fits:
        raise ValueError(
            f"{where}: b must have shape ({n},) (one value per output), or be a number or an "
            f"array that broadcasts to it ((), (1,), (1, {n})); got shape {b.shape}"
        )
    return b


def _bias_values(b, n, dtype):
    """The (n,) bias the kernels take, from a bias checked by ``_bias`` (no copy for (n,) arrays)."""
    if isinstance(b, np.ndarray) and b.ndim == 1 and b.shape[0] == n and b.dtype in _checks.FLOAT_DTYPE_SET:
        return b
    values = np.asarray(b, dtype=np.result_type(dtype, b)).reshape(-1)
    return np.broadcast_to(values, (n,)) if values.size == 1 else values


def _after_forward(where, value):
    """Return what forward stored, or say that backward came first."""
    if value is None:
        raise RuntimeError(f"{where}: call forward before backward")
    return value


# --------------------------------------------------------------------------
# Computational-graph nodes of chapter 5 (work on scalars or arrays)
# --------------------------------------------------------------------------
class MulLayer:
    """out = x * y.  backward(dout) -> (dout * y, dout * x)."""

    def __init__(self):
        self.x = None
        self.y = None

    def forward(self, x, y):
        self.x = x
        self.y = y
        return x * y

    def backward(self, dout):
        # d(xy)/dx = y and d(xy)/dy = x: each input gets the other one.
        dx = dout * self.y
        dy = dout * self.x
        return dx, dy


class AddLayer:
    """out = x + y.  backward(dout) -> (dout, dout)."""

    def __init__(self):
        pass

    def forward(self, x, y):
        return x + y

    def backward(self, dout):
        dx = dout * 1
        dy = dout * 1
        return dx, dy


# --------------------------------------------------------------------------
# Activations
# --------------------------------------------------------------------------
class Relu:
    """out = max(x, 0); the gradient passes where x > 0.

    ``out`` is the last forward output; ``mask`` is True where the input was
    <= 0 (where the gradient is stopped), as in the book.
    """

    def __init__(self):
        self.out = None

    @property
    def mask(self):
        # out == max(x, 0), so out <= 0 exactly where x <= 0.
        return None if self.out is None else self.out <= 0

    def forward(self, x):
        self.out = kernels.relu_forward(x)
        return self.out

    def backward(self, dout):
        return kernels.relu_backward(dout, _after_forward("Relu.backward", self.out))


class Sigmoid:
    """out = 1 / (1 + exp(-x)); backward: dout * out * (1 - out)."""

    def __init__(self):
        self.out = None

    def forward(self, x):
        self.out = sigmoid(x)
        return self.out

    def backward(self, dout):
        out = _after_forward("Sigmoid.backward", self.out)
        return dout * (1.0 - out) * out


# --------------------------------------------------------------------------
# Affine (fully connected)
# --------------------------------------------------------------------------
class Affine:
    """out = x @ W + b, for x of any rank >= 2 (flattened to (N, -1) first).

    W: (D, M), b: (M,). forward(x) with x (N, ...) whose trailing sizes
    multiply to D -> (N, M). backward(dout (N, M)) -> dx in x's original
    shape, and sets ``dW`` (D, M) and ``db`` (M,).
    Attributes as in the book: ``x`` (the flattened input),
    ``original_x_shape``, ``dW``, ``db``.
    """

    def __init__(self, W, b):
        self.W = _param("Affine", "W", W, 2)
        self.b = _bias("Affine", b, W.shape[1])
        self.x = None
        self.original_x_shape = None
        self.dW = None
        self.db = None

    def _input(self, x):
        """Keep x's shape and its (N, D) view; return the view."""
        x = np.asarray(x)
        if x.ndim < 2:
            raise ValueError(
                f"Affine.forward: input must be (N, ...) with a batch axis, got shape {x.shape}"
            )
        self.original_x_shape = x.shape
        self.x = x.reshape(x.shape[0], -1)
        return self.x

    def _b(self):
        return _bias_values(self.b, self.W.shape[1], self.W.dtype)

    def forward(self, x):
        return kernels.affine_forward(self._input(x), self.W, self._b())

    def forward_relu(self, x, relu):
        """``relu.forward(self.forward(x))`` in one kernel: the same numbers, one
        pass over the output fewer. Both layers are left ready for backward."""
        relu.out = kernels.affine_forward(self._input(x), self.W, self._b(), relu=True)
        return relu.out

    def backward_relu(self, dout, relu, need_dx=True):
        """``self.backward(relu.backward(dout), need_dx)`` in one kernel, after forward_relu."""
        return self.backward(dout, need_dx, relu_out=_after_forward("Relu.backward", relu.out))

    def backward(self, dout, need_dx=True, relu_out=None):
        """need_dx=False (fastnn's addition): only dW and db, and None is returned.
        relu_out (used by backward_relu): take dout through that ReLU first."""
        x = _after_forward("Affine.backward", self.x)
        dx, self.dW, self.db = kernels.affine_backward(dout, x, self.W, need_dx=need_dx, relu_out=relu_out)
        return dx.reshape(self.original_x_shape) if need_dx else None


# --------------------------------------------------------------------------
# Output layer
# --------------------------------------------------------------------------
class SoftmaxWithLoss:
    """Softmax followed by the mean cross-entropy loss.

    forward(x, t): x (N, K) scores (or (K,) for one sample); t (N,) integer
    labels (also shaped (N, 1) or (1, N), as the book's cross_entropy_error
    takes them) or (N, K) one-hot targets (for one sample: a label or (K,)).
    Returns the loss (a float). Keeps ``y`` (softmax output, x's shape),
    ``t`` (the targets as given) and ``loss``.
    backward(dout=1) -> dx = dout * (y - t) / N, in x's shape.
    """

    def __init__(self):
        self.loss = None
        self.y = None
        self.t = None
        self._t2 = None  # targets in the (N,) / (N, K) form the kernels take

    def forward(self, x, t):
        x = np.asarray(x)
        t = np.asarray(t)
        if x.ndim not in (1, 2):
            raise ValueError(
                f"SoftmaxWithLoss.forward: scores must be (N, K) or (K,), got shape {x.shape}"
            )
        x2 = x.reshape(1, -1) if x.ndim == 1 else x    # one sample: a batch of one
        if t.size == x2.size and x2.shape[1] > 1:
            t2 = t.reshape(x2.shape)                     # one-hot, as the book decides by size
        elif x.ndim == 1:
            t2 = t.reshape(-1)                           # the label of the one sample
        else:
            t2 = t
        self.loss, y2 = kernels.softmax_cross_entropy_forward(x2, t2)
        self.y = y2.reshape(x.shape)
        self.t = t
        self._t2 = t2
        return self.loss

    def backward(self, dout=1):
        _after_forward("SoftmaxWithLoss.backward", self.y)
        y2 = self.y if self.y.ndim == 2 else self.y.reshape(1, -1)
        dx = kernels.softmax_cross_entropy_backward(y2, self._t2, dout)
        return dx.reshape(self.y.shape)


# --------------------------------------------------------------------------
# Regularisation and normalisation (chapter 6)
# --------------------------------------------------------------------------
class Dropout:
    """Drop each unit with probability ``dropout_ratio`` while training.

    forward(x, train_flg=True): during training keep x where a fresh uniform
    number exceeds the ratio (``mask``) and zero the rest; at test time
    multiply everything by (1 - dropout_ratio) so the expected value matches
    (the book's convention, not the "inverted" dropout of Keras).
    The mask comes from ``np.random.rand``, so ``np.random.seed`` makes it
    reproducible, as with the book's code.
    """

    def __init__(self, dropout_ratio=0.5):
        if not isinstance(dropout_ratio, numbers.Real) or not 0 <= dropout_ratio < 1:
            raise ValueError(f"Dropout: dropout_ratio must be in [0, 1), got {dropout_ratio!r}")
        self.dropout_ratio = dropout_ratio
        self.mask = None

    def forward(self, x, train_flg=True):
        if train_flg:
            self.mask = np.random.rand(*np.shape(x)) > self.dropout_ratio
            return x * self.mask
        return x * (1.0 - self.dropout_ratio)

    def backward(self, dout):
        return dout * _after_forward("Dropout.backward (after a training forward)", self.mask)


class BatchNormalization:
    """Batch normalisation per activation (the book's version).

    gamma, beta: (D,) scale and shift. Input (N, D), or (N, C, H, W) which is
    treated as (N, C*H*W): every activation has its own statistics.

    Training: xn = (x - mean) / sqrt(var + 10e-7) over the batch, and the
    running statistics move towards the batch ones:
    running = momentum * running + (1 - momentum) * batch.
    Test (train_flg=False): the running statistics are used instead.
    Output: gamma * xn + beta. The running statistics start at zero on the
    first forward pass when not given.
    backward(dout) -> dx, and sets ``dgamma`` and ``dbeta``.
    """

    eps = 10e-7  # the book's constant (that is 1e-6)

    def __init__(self, gamma, beta, momentum=0.9, running_mean=None, running_var=None):
        self.gamma = _param("BatchNormalization", "gamma", gamma, None)
        self.beta = _param("BatchNormalization", "beta", beta, None)
        if gamma.shape != beta.shape:
            raise ValueError(
                f"BatchNormalization: gamma {gamma.shape} and beta {beta.shape} must have the same shape"
            )
        if not isinstance(momentum, numbers.Real) or not 0 <= momentum <= 1:
            raise ValueError(f"BatchNormalization: momentum must be in [0, 1], got {momentum!r}")
        self.momentum = momentum
        self.input_shape = None
        self.running_mean = running_mean
        self.running_var = running_var
        # Kept for backward:
        self.batch_size = None
        self.xc = None
        self.xn = None
        self.std = None
        self.dgamma = None
        self.dbeta = None

    def forward(self, x, train_flg=True):
        x = np.asarray(x)
        if x.ndim not in (2, 4):
            raise ValueError(
                f"BatchNormalization.forward: input must be (N, D) or (N, C, H, W), got shape {x.shape}"
            )
        if x.dtype not in (np.float32, np.float64):
            raise TypeError(f"BatchNormalization.forward: input must be float32 or float64, got {x.dtype}")
        self.input_shape = x.shape
        x2 = x.reshape(x.shape[0], -1)
        if x2.shape[1] != self.gamma.size:
            raise ValueError(
                f"BatchNormalization.forward: input has {x2.shape[1]} activations per sample "
                f"but gamma has {self.gamma.size}"
            )
        return self._forward(x2, train_flg).reshape(self.input_shape)

    def _forward(self, x, train_flg):
        N, D = x.shape
        if self.running_mean is None:
            dtype = np.result_type(x, self.gamma)
            self.running_mean = np.zeros(D, dtype=dtype)
            self.running_var = np.zeros(D, dtype=dtype)

        if train_flg:
            if N == 0:
                raise ValueError("BatchNormalization.forward: empty batch")
            mu = x.mean(axis=0)
            xc = x - mu
            var = np.mean(xc ** 2, axis=0)
            std = np.sqrt(var + self.eps)
            xn = xc / std
            self.batch_size = N
            self.xc = xc
            self.xn = xn
            self.std = std
            m = self.momentum
            self.running_mean = m * self.running_mean + (1 - m) * mu
            self.running_var = m * self.running_var + (1 - m) * var
        else:
            xc = x - self.running_mean
            xn = xc / np.sqrt(self.running_var + self.eps)
        return self.gamma * xn + self.beta

    def backward(self, dout):
        _after_forward("BatchNormalization.backward (after a training forward)", self.xn)
        dout = np.asarray(dout)
        if dout.shape != self.input_shape:
            raise ValueError(
                f"BatchNormalization.backward: dout must have shape {self.input_shape}, got {dout.shape}"
            )
        dout2 = dout.reshape(self.batch_size, -1)
        return self._backward(dout2).reshape(self.input_shape)

    def _backward(self, dout):
        # Back through out = gamma*xn + beta, xn = xc/std, std = sqrt(var+eps),
        # var = mean(xc**2), xc = x - mu, mu = mean(x), one step at a time.
        N = self.batch_size
        self.dbeta = dout.sum(axis=0)
        self.dgamma = np.sum(self.xn * dout, axis=0)
        dxn = self.gamma * dout
        dxc = dxn / self.std                                   # through xn = xc / std
        dstd = -np.sum(dxn * self.xc / (self.std * self.std), axis=0)
        dvar = 0.5 * dstd / self.std                           # d sqrt(v) = dv / (2 sqrt(v))
        dxc += (2.0 / N) * self.xc * dvar                      # through var = mean(xc**2)
        dmu = np.sum(dxc, axis=0)
        return dxc - dmu / N                                   # through xc = x - mean(x)


# --------------------------------------------------------------------------
# Convolution and pooling (chapter 7), NCHW layout
# --------------------------------------------------------------------------
class Convolution:
    """2-D convolution (cross-correlation, as in the book) with bias.

    W: (FN, C, FH, FW) filters, b: (FN,). forward(x (N, C, H, W)) ->
    (N, FN, OH, OW) with OH = (H + 2*pad - FH) // stride + 1 (same for OW).
    backward(dout (N, FN, OH, OW)) -> dx (N, C, H, W), and sets ``dW``, ``db``.
    Keeps ``x`` and ``col`` (the im2col matrix (N*OH*OW, C*FH*FW) when the
    kernel builds one; the compiled kernel does not and leaves None).
    """

    def __init__(self, W, b, stride=1, pad=0):
        self.W = _param("Convolution", "W", W, 4)
        self.b = _bias("Convolution", b, W.shape[0])
        self.stride = _checks.positive_int("Convolution", "stride", stride)
        self.pad = _checks.non_negative_int("Convolution", "pad", pad)
        self.x = None
        self.col = None
        self.dW = None
        self.db = None

    def _b(self):
        return _bias_values(self.b, self.W.shape[0], self.W.dtype)

    @property
    def col_W(self):
        """The filters as a (C*FH*FW, FN) matrix, as the book keeps them."""
        return self.W.reshape(self.W.shape[0], -1).T

    def forward(self, x):
        out, self.col = kernels.conv_forward(x, self.W, self._b(), self.stride, self.pad)
        self.x = x
        return out

    def forward_relu(self, x, relu):
        """``relu.forward(self.forward(x))`` in one kernel: the same numbers, one
        pass over the output fewer. Both layers are left ready for backward."""
        out, self.col = kernels.conv_forward(x, self.W, self._b(), self.stride, self.pad, relu=True)
        self.x = x
        relu.out = out
        return out

    def backward_relu(self, dout, relu, need_dx=True):
        """``self.backward(relu.backward(dout), need_dx)`` in one kernel, after forward_relu."""
        x = _after_forward("Convolution.backward", self.x)
        out = _after_forward("Relu.backward", relu.out)
        dx, self.dW, self.db = kernels.conv_backward(
            dout, x, self.W, self.stride, self.pad, col=self.col, relu_out=out, need_dx=need_dx
        )
        return dx

    def backward(self, dout, need_dx=True):
        """dx; sets dW and db. need_dx=False (a network's first layer, whose
        input needs no gradient) skips dx's products and returns None."""
        x = _after_forward("Convolution.backward", self.x)
        dx, self.dW, self.db = kernels.conv_backward(
            dout, x, self.W, self.stride, self.pad, col=self.col, need_dx=need_dx
        )
        return dx


class Pooling:
    """Max pooling over pool_h x pool_w windows.

    forward(x (N, C, H, W)) -> (N, C, OH, OW), OH = (H + 2*pad - pool_h) // stride + 1.
    Keeps ``x`` and ``arg_max`` ((N, C, OH, OW) int64: the winner's index
    fy*pool_w + fx inside its window). backward routes each gradient to it.
    ``stride`` defaults to 1 as in the book's code; the book's networks pass
    stride=2 for their 2x2 pooling.
    """

    def __init__(self, pool_h, pool_w, stride=1, pad=0):
        self.pool_h = _checks.positive_int("Pooling", "pool_h", pool_h)
        self.pool_w = _checks.positive_int("Pooling", "pool_w", pool_w)
        self.stride = _checks.positive_int("Pooling", "stride", stride)
        self.pad = _checks.non_negative_int("Pooling", "pad", pad)
        self.x = None
        self.arg_max = None

    def forward(self, x):
        out, self.arg_max = kernels.maxpool_forward(x, self.pool_h, self.pool_w, self.stride, self.pad)
        self.x = x
        return out

    def backward(self, dout):
        x = _after_forward("Pooling.backward", self.x)
        return kernels.maxpool_backward(
            dout, self.arg_max, np.shape(x), self.pool_h, self.pool_w, self.stride, self.pad
        )


def _plain(layer, cls):
    """Whether layer is a cls whose ``forward``/``backward`` were not replaced on
    the instance (by a hook that expects to be called): then forward_layers and
    backward_layers may run it through a combined kernel instead."""
    return type(layer) is cls and not {"forward", "backward"} & vars(layer).keys()


def is_conv_relu_pair(layer, following):
    """Whether ``forward_layers``/``backward_layers`` run these two layers as
    one kernel: a plain Convolution directly followed by a plain Relu."""
    return _plain(layer, Convolution) and _plain(following, Relu)


def is_relu_pair(layer, following):
    """Whether ``forward_layers``/``backward_layers`` run these two layers as
    one forward kernel: a plain Convolution or Affine directly followed by a
    plain Relu (``forward_relu``/``backward_relu``)."""
    return (_plain(layer, Convolution) or _plain(layer, Affine)) and _plain(following, Relu)


def forward_layers(layers, x, train_flg=False):
    """Run x through ``layers`` in order, as the book's ``predict`` loops do.

    Layers with a training mode (Dropout, BatchNormalization) get
    ``train_flg``. A Convolution or an Affine followed directly by a Relu
    runs as one kernel (``forward_relu``, see ``is_relu_pair``); the result
    and the state of both layers are those of the two forward calls.
    """
    layers = list(layers)
    i = 0
    while i < len(layers):
        layer = layers[i]
        following = layers[i + 1] if i + 1 < len(layers) else None
        if is_relu_pair(layer, following):
            x = layer.forward_relu(x, following)
            i += 2
            continue
        if isinstance(layer, (Dropout, BatchNormalization)):
            x = layer.forward(x, train_flg)
        else:
            x = layer.forward(x)
        i += 1
    return x


def backward_layers(layers, dout, need_input_grad=True):
    """Backpropagate dout through ``layers`` in reverse order, as the book's
    ``gradient`` loops do, and return the gradient w.r.t. the input.

    A Convolution + Relu pair runs as one kernel (``Convolution.backward_relu``;
    an Affine + Relu pair as two, ``Affine.backward_relu``; see ``is_relu_pair``).
    With need_input_grad=False (a network's ``gradient`` needs the parameters'
    gradients only) a Convolution or an Affine in first place skips the input's
    gradient, and None is returned.
    """
    layers = list(layers)
    i = len(layers) - 1
    while i >= 0:
        if i >= 1 and is_relu_pair(layers[i - 1], layers[i]):
            first = i == 1
            dout = layers[i - 1].backward_relu(dout, layers[i], need_dx=need_input_grad or not first)
            i -= 2
        elif i == 0 and (_plain(layers[0], Convolution) or _plain(layers[0], Affine)):
            dout = layers[0].backward(dout, need_dx=need_input_grad)
            i -= 1
        else:
            dout = layers[i].backward(dout)
            i -= 1
    return dout


# ``from fastnn.layers import *`` gives what the book's common/layers.py gives
# (it has no __all__): its layers, ``np``, every function of
# common/functions.py, ``im2col`` and ``col2im``; and fastnn's helpers.
__all__ = [
    "MulLayer", "AddLayer", "Relu", "Sigmoid", "Affine", "SoftmaxWithLoss",
    "Dropout", "BatchNormalization", "Convolution", "Pooling",
    "forward_layers", "backward_layers", "is_conv_relu_pair", "is_relu_pair",
    "im2col", "col2im",
] + list(_function_names)
