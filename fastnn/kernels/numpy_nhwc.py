"""NumPy reference of the channels_last (NHWC) kernels: depthwise convolution
and average pooling. Their compiled twins live in ``src_c/depthwise.pyx`` and
``src_c/avgpool.pyx`` and compute the same numbers.

Geometry, shared by all four: the window is (kh, kw), the strides (sh, sw),
the input is padded with zeros by ``pad_top`` rows on top and ``pad_left``
columns on the left (and as many as needed at the bottom/right for the
output size (OH, OW) asked for). Output cell (i, j) reads input rows
i*sh - pad_top + 0..kh-1 and columns j*sw - pad_left + 0..kw-1.

Each function is a loop over the kh*kw window taps: every tap is one
strided slice of the padded input, so the arithmetic is whole-array NumPy.
"""
import numpy as np


def _padded(x, kh, kw, sh, sw, pad_top, pad_left, OH, OW):
    """x (N, H, W, C) zero-padded so that every window of the OH x OW output fits."""
    N, H, W, C = x.shape
    bottom = max((OH - 1) * sh + kh - H - pad_top, 0)
    right = max((OW - 1) * sw + kw - W - pad_left, 0)
    if pad_top or pad_left or bottom or right:
        x = np.pad(x, [(0, 0), (pad_top, bottom), (pad_left, right), (0, 0)])
    return x


def _tap(xp, i, j, sh, sw, OH, OW):
    """The input cells that tap (i, j) of every window reads: (N, OH, OW, C)."""
    return xp[:, i:i + sh * (OH - 1) + 1:sh, j:j + sw * (OW - 1) + 1:sw]


def depthwise_conv_forward(x, K, sh, sw, pad_top, pad_left, OH, OW):
    """x (N, H, W, C), K (kh, kw, C, M) -> (N, OH, OW, C*M).

    Output channel c*M + m is input channel c convolved (cross-correlated)
    with its own filter K[:, :, c, m].
    """
    kh, kw, C, M = K.shape
    xp = _padded(x, kh, kw, sh, sw, pad_top, pad_left, OH, OW)
    out = np.zeros((x.shape[0], OH, OW, C, M), dtype=x.dtype)
    for i in range(kh):
        for j in range(kw):
            out += _tap(xp, i, j, sh, sw, OH, OW)[..., None] * K[i, j]
    return out.reshape(x.shape[0], OH, OW, C * M)


def depthwise_conv_backward(dout, x, K, sh, sw, pad_top, pad_left):
    """dout (N, OH, OW, C*M) -> (dx (N, H, W, C), dK (kh, kw, C, M))."""
    kh, kw, C, M = K.shape
    N, H, W, _ = x.shape
    OH, OW = dout.shape[1], dout.shape[2]
    xp = _padded(x, kh, kw, sh, sw, pad_top, pad_left, OH, OW)
    d5 = dout.reshape(N, OH, OW, C, M)
    dxp = np.zeros_like(xp)
    dK = np.empty_like(K)
    for i in range(kh):
        for j in range(kw):
            dK[i, j] = np.einsum("nhwc,nhwcm->cm", _tap(xp, i, j, sh, sw, OH, OW), d5)
            _tap(dxp, i, j, sh, sw, OH, OW)[...] += (d5 * K[i, j]).sum(-1)
    return np.ascontiguousarray(dxp[:, pad_top:pad_top + H, pad_left:pad_left + W]), dK


def _counts(H, W, kh, kw, sh, sw, pad_top, pad_left, OH, OW, dtype):
    """(OH, OW, 1) number of window cells inside the unpadded input."""
    rows = np.arange(OH) * sh - pad_top
    cols = np.arange(OW) * sw - pad_left
    nr = np.minimum(rows + kh, H) - np.maximum(rows, 0)
    nc = np.minimum(cols + kw, W) - np.maximum(cols, 0)
    return (nr[:, None] * nc[None, :]).astype(dtype)[:, :, None]


def avgpool_forward(x, kh, kw, sh, sw, pad_top, pad_left, OH, OW):
    """x (N, H, W, C) -> (N, OH, OW, C): the mean of each window over the cells
    inside the input (padding is not counted, as in Keras/TensorFlow)."""
    N, H, W, C = x.shape
    xp = _padded(x, kh, kw, sh, sw, pad_top, pad_left, OH, OW)
    out = np.zeros((N, OH, OW, C), dtype=x.dtype)
    for i in range(kh):
        for j in range(kw):
            out += _tap(xp, i, j, sh, sw, OH, OW)
    return out / _counts(H, W, kh, kw, sh, sw, pad_top, pad_left, OH, OW, x.dtype)


def avgpool_backward(dout, input_shape, kh, kw, sh, sw, pad_top, pad_left):
    """dout (N, OH, OW, C) -> dx of ``input_shape`` (N, H, W, C): each window
    spreads its gradient evenly over its cells inside the input."""
    N, H, W, C = input_shape
    OH, OW = dout.shape[1], dout.shape[2]
    g = dout / _counts(H, W, kh, kw, sh, sw, pad_top, pad_left, OH, OW, dout.dtype)
    dxp = _padded(np.zeros(input_shape, dtype=dout.dtype), kh, kw, sh, sw, pad_top, pad_left, OH, OW)
    for i in range(kh):
        for j in range(kw):
            _tap(dxp, i, j, sh, sw, OH, OW)[...] += g
    return np.ascontiguousarray(dxp[:, pad_top:pad_top + H, pad_left:pad_left + W])
