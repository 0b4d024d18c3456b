"""BatchNormalization and Dropout in NumPy: the reference for ``src_c/norm.pyx``.

Batch normalization works on a 2-D view (M, C): the channel (or feature) axis
last, as in an NHWC batch reshaped to (N*H*W, C) or a Dense layer's (N, C)
output. For each column c, with m = M values:

    mean = sum(x) / m,  var = sum((x - mean)^2) / m,  inv_std = 1 / sqrt(var + eps)
    xhat = (x - mean) * inv_std,  y = gamma * xhat + beta

and the backward pass, through the batch statistics in training:

    dbeta = sum(d),  dgamma = sum(d * xhat)
    dx = gamma * inv_std / m * (m * d - dbeta - xhat * dgamma)     (training)
    dx = gamma * inv_std * d                                        (inference)

Dropout draws its mask from a counter-based generator: element i of a call
with key k is kept when ``splitmix64(k + (i + 1) * G) >> 11 >= threshold``
(G = 0x9E3779B97F4A7C15, threshold = ceil(rate * 2**53)), i.e. when a uniform
53-bit number is >= rate. Each element depends only on (k, i), so the
compiled twin (any thread split) draws exactly the same mask, and the
backward pass regenerates the mask instead of storing it.
"""
import math

import numpy as np

GOLDEN = 0x9E3779B97F4A7C15
_MASK64 = (1 << 64) - 1


# --------------------------------------------------------------------------
# BatchNormalization
# --------------------------------------------------------------------------
def _r(v, x):
    """A float64 per-column coefficient rounded to x's dtype."""
    return np.asarray(v, dtype=x.dtype)


def batchnorm_forward_train(x, gamma, beta, eps):
    """x (M, C) -> (y (M, C), mean (C,), var (C,), inv_std (C,)), statistics in float64."""
    m = x.shape[0]
    mean = x.sum(axis=0, dtype=np.float64) / m
    xc = x - mean                                        # float64
    var = np.einsum("ij,ij->j", xc, xc) / m
    inv_std = 1.0 / np.sqrt(var + eps)
    y = (x - _r(mean, x)) * _r(gamma * inv_std, x) + _r(beta, x)
    return y, mean, var, inv_std


def batchnorm_forward_infer(x, gamma, beta, mean, var, eps):
    """x (M, C) -> y (M, C) with the given (moving) statistics."""
    inv_std = 1.0 / np.sqrt(var + eps)
    return (x - _r(mean, x)) * _r(gamma * inv_std, x) + _r(beta, x)


def batchnorm_backward(dout, x, gamma, mean, inv_std, training):
    """Gradients -> (dx (M, C), dgamma (C,), dbeta (C,)); mean and inv_std as the forward pass used.

    Written out: with xhat = (x - mean) * inv_std and A = gamma * inv_std,
    dx = A / m * (m * d - dbeta - xhat * dgamma) = d*A + (x - mean)*B + K,
    B = -A * inv_std * dgamma / m, K = -A * dbeta / m.
    """
    m = x.shape[0]
    dbeta = dout.sum(axis=0, dtype=np.float64)
    dgamma = np.einsum("ij,ij->j", dout, x - mean) * inv_std
    A = gamma * inv_std
    if not training:
        return dout * _r(A, x), dgamma, dbeta
    B = -A * inv_std * dgamma / m
    K = -A * dbeta / m
    dx = dout * _r(A, x) + (x - _r(mean, x)) * _r(B, x) + _r(K, x)
    return dx, dgamma, dbeta


# --------------------------------------------------------------------------
# Dropout
# --------------------------------------------------------------------------
def dropout_threshold(rate):
    """The 53-bit integer a draw must reach to be kept: ceil(rate * 2**53)."""
    return math.ceil(rate * 2.0 ** 53)


def splitmix64(z):
    """SplitMix64's output function on a uint64 array (wrapping arithmetic)."""
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def dropout_keep(n, key, rate):
    """The keep mask (bool, n values) of a call with this key."""
    i = np.arange(1, n + 1, dtype=np.uint64)
    z = np.uint64(key & _MASK64) + i * np.uint64(GOLDEN)
    return (splitmix64(z) >> np.uint64(11)) >= np.uint64(dropout_threshold(rate))


def dropout_apply(x, key, rate, scale):
    """x * scale where kept, 0 elsewhere (x any shape, C order): the forward pass,
    and, given the gradient and the same key, the backward pass."""
    keep = dropout_keep(x.size, key, rate).reshape(x.shape)
    return np.where(keep, x * x.dtype.type(scale), x.dtype.type(0))
