"""Helpers of the book's ``common/util.py``: im2col/col2im, sizes, smoothing, shuffling."""
import numbers

import numpy as np

from . import kernels


def im2col(input_data, filter_h, filter_w, stride=1, pad=0):
    """Unfold the filter-sized patches of a batch of images into rows.

    input_data: (N, C, H, W) -> col: (N*OH*OW, C*filter_h*filter_w), one row
    per output position (n, oy, ox), its entries in (c, fy, fx) order.
    A convolution then becomes one matrix product: col @ W.reshape(FN, -1).T.
    """
    return kernels.im2col(input_data, filter_h, filter_w, stride, pad)


def col2im(col, input_shape, filter_h, filter_w, stride=1, pad=0):
    """Fold rows of ``col`` back into (N, C, H, W) images, adding overlapping patches.

    col: (N*OH*OW, C*filter_h*filter_w), input_shape: (N, C, H, W).
    The transpose of im2col: it maps the gradient w.r.t. col to the
    gradient w.r.t. the image.
    """
    return kernels.col2im(col, input_shape, filter_h, filter_w, stride, pad)


def conv_output_size(input_size, filter_size, stride=1, pad=0):
    """Output length of a convolution or pooling: (input + 2*pad - filter) // stride + 1.

    Returns an int, rounded down like the layers do when the stride does not
    tile the input evenly (the book's version divides with ``/`` and returns
    a float). Raises ValueError when the filter does not fit in the padded input.
    """
    where = "conv_output_size"
    for name, value in (("input_size", input_size), ("filter_size", filter_size), ("stride", stride),
                        ("pad", pad)):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise TypeError(f"{where}: {name} must be an int, got {value!r}")
    if input_size < 1 or filter_size < 1 or stride < 1 or pad < 0:
        raise ValueError(
            f"{where}: need input_size, filter_size, stride >= 1 and pad >= 0, "
            f"got {input_size}, {filter_size}, {stride}, {pad}"
        )
    span = input_size + 2 * pad - filter_size
    if span < 0:
        raise ValueError(f"{where}: filter {filter_size} is larger than the padded input {input_size + 2 * pad}")
    return span // stride + 1


def smooth_curve(x):
    """Smooth a 1-D curve (e.g. a loss history) for plotting.

    A moving weighted average with an 11-point Kaiser window (beta 2). The
    curve is extended at both ends by reflection, as in the book, so the
    result has the length of x. x needs at least 11 points.
    """
    x = np.asarray(x, dtype=float)
    window_len = 11
    if x.ndim != 1 or x.size < window_len:
        raise ValueError(f"smooth_curve: expected a 1-D curve of at least {window_len} points, got shape {x.shape}")
    half = window_len // 2
    # Extend by window_len - 1 reflected points at each end: x[10], ..., x[1]
    # before and x[-1], ..., x[-10] after (the book's choice of points).
    padded = np.concatenate([x[window_len - 1:0:-1], x, x[-1:-window_len:-1]])
    w = np.kaiser(window_len, 2)
    smoothed = np.convolve(w / w.sum(), padded, mode="valid")
    # The valid convolution has len(x) + window_len - 1 points; drop the
    # half-window at each end.
    return smoothed[half:len(smoothed) - half]


def shuffle_dataset(x, t):
    """Shuffle samples and their targets with the same permutation.

    x: (N, ...) of any rank (e.g. (N, D) or (N, C, H, W)), t: (N,) or (N, K).
    Uses ``np.random.permutation``, so ``np.random.seed`` makes it
    reproducible as in the book. Returns new arrays (x, t).
    """
    x = np.asarray(x)
    t = np.asarray(t)
    if x.ndim == 0 or t.ndim == 0 or x.shape[0] != t.shape[0]:
        raise ValueError(
            f"shuffle_dataset: x and t need the same number of samples, got shapes {x.shape} and {t.shape}"
        )
    permutation = np.random.permutation(x.shape[0])
    return x[permutation], t[permutation]


# ``np`` too, as ``from common.util import *`` gives it.
__all__ = ["np", "im2col", "col2im", "conv_output_size", "smooth_curve", "shuffle_dataset"]
