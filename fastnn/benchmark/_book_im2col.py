"""The book's straightforward im2col/col2im, as the baseline the NumPy fallback must beat.

The book (chapter 7) builds a 6-d array ``col`` of shape (N, C, FH, FW, OH, OW),
fills it one filter offset (fy, fx) at a time with a strided slice of the
padded image, and then transposes it to (N, OH, OW, C, FH, FW) and reshapes it
to rows — the reshape of the transposed array makes a full copy. col2im runs
the same steps backwards: view the rows in the 6-d layout (a transposed view,
no copy), then add each offset's slice into a zero image.

fastnn's NumPy fallback (``fastnn.kernels.numpy_kernels``) uses the same
filter-offset slicing but allocates ``col`` directly in the row layout, so the
slices are written where they belong and no transposed copy is made; its
col2im is the book's method. Both give identical numbers; the benchmark
checks that and times both.
"""
import numpy as np


def _out(size, k, stride, pad):
    return (size + 2 * pad - k) // stride + 1


def book_im2col(x, filter_h, filter_w, stride=1, pad=0):
    """x (N, C, H, W) -> (N*OH*OW, C*FH*FW), the book's way."""
    N, C, H, W = x.shape
    OH, OW = _out(H, filter_h, stride, pad), _out(W, filter_w, stride, pad)
    img = np.pad(x, [(0, 0), (0, 0), (pad, pad), (pad, pad)], "constant")
    col = np.zeros((N, C, filter_h, filter_w, OH, OW), dtype=x.dtype)
    for fy in range(filter_h):
        for fx in range(filter_w):
            col[:, :, fy, fx, :, :] = img[:, :, fy:fy + stride * OH:stride, fx:fx + stride * OW:stride]
    return col.transpose(0, 4, 5, 1, 2, 3).reshape(N * OH * OW, -1)


def book_col2im(col, input_shape, filter_h, filter_w, stride=1, pad=0):
    """col (N*OH*OW, C*FH*FW) -> (N, C, H, W), overlaps summed, the book's way."""
    N, C, H, W = input_shape
    OH, OW = _out(H, filter_h, stride, pad), _out(W, filter_w, stride, pad)
    col6 = col.reshape(N, OH, OW, C, filter_h, filter_w).transpose(0, 3, 4, 5, 1, 2)
    img = np.zeros((N, C, H + 2 * pad + stride - 1, W + 2 * pad + stride - 1), dtype=col.dtype)
    for fy in range(filter_h):
        for fx in range(filter_w):
            img[:, :, fy:fy + stride * OH:stride, fx:fx + stride * OW:stride] += col6[:, :, fy, fx, :, :]
    return img[:, :, pad:H + pad, pad:W + pad]
