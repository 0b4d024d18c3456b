"""Image resampling as a sparse linear map, so that its backward is its transpose.

Every resampling the image layers do (resize, rotate, zoom, translate) reads
each output pixel as a weighted sum of a few input pixels (1 for 'nearest',
4 for 'bilinear') plus, in 'constant' fill mode, a weight times the fill
value for neighbours that fall outside the image. The weights depend only on
the geometry, not on the pixel values, so one batch is

    out (N*OH*OW, C) = M @ x (N*H*W, C) + fill_value * outside (N*OH*OW, 1)

with M a sparse matrix (``scipy.sparse``), and the gradient w.r.t. the input
is ``M.T @ dout``: exact, and as cheap as the forward pass.

Conventions (those of Keras 3's image ops):

* Resize (``resize_matrix``): half-pixel centres, as
  ``torch.nn.functional.interpolate(align_corners=False)`` and
  ``tf.image.resize``: the source of output row i is (i + 0.5) * H/OH - 0.5,
  clamped at 0 below; neighbours beyond the last row repeat the last row.
  'nearest' takes row floor((i + 0.5) * H/OH) (torch's 'nearest-exact').
* Affine transforms (``affine_matrix``): a transform ``[a0, a1, a2, b0, b1, b2]``
  maps output pixel (row r, column c) to the input point
  (row b0*c + b1*r + b2, column a0*c + a1*r + a2), pixel centres at integer
  coordinates. 'bilinear' mixes the 4 neighbours, 'nearest' takes the
  rounded point (half to even). A neighbour outside the image is read through
  the fill mode: 'reflect' (d c b a | a b c d | d c b a), 'wrap'
  (a b c d | a b c d), 'nearest' (a a a a | a b c d | d d d d) or 'constant'
  (the fill value).
"""
import numpy as np
from scipy import sparse

FILL_MODES = ("reflect", "wrap", "constant", "nearest")
INTERPOLATIONS = ("bilinear", "nearest")


# ------------------------------------------------------------------ resize
def resize_matrix(size_in, size_out, interpolation):
    """Dense (size_out, size_in) matrix of one axis' 1-D resize."""
    R = np.zeros((size_out, size_in))
    scale = size_in / size_out
    rows = np.arange(size_out)
    if interpolation == "nearest":
        src = np.minimum(np.floor((rows + 0.5) * scale).astype(np.int64), size_in - 1)
        R[rows, src] = 1.0
        return R
    src = np.maximum((rows + 0.5) * scale - 0.5, 0.0)
    i0 = np.minimum(np.floor(src).astype(np.int64), size_in - 1)
    i1 = np.minimum(i0 + 1, size_in - 1)
    frac = src - i0
    np.add.at(R, (rows, i0), 1.0 - frac)
    np.add.at(R, (rows, i1), frac)
    return R


def resize_forward(x, Rh, Rw):
    """x (N, H, W, C) -> (N, OH, OW, C): out[n,i,j] = sum Rh[i,h] Rw[j,w] x[n,h,w]."""
    Rh, Rw = Rh.astype(x.dtype, copy=False), Rw.astype(x.dtype, copy=False)
    t = np.einsum("ih,nhwc->niwc", Rh, x, optimize=True)
    return np.ascontiguousarray(np.einsum("jw,niwc->nijc", Rw, t, optimize=True))


def resize_backward(dout, Rh, Rw):
    """The transpose of ``resize_forward``: (N, OH, OW, C) -> (N, H, W, C)."""
    Rh, Rw = Rh.astype(dout.dtype, copy=False), Rw.astype(dout.dtype, copy=False)
    t = np.einsum("jw,nijc->niwc", Rw, dout, optimize=True)
    return np.ascontiguousarray(np.einsum("ih,niwc->nhwc", Rh, t, optimize=True))


# --------------------------------------------------------------- fill modes
def _fix_index(index, size, fill_mode):
    """Integer indices (any value) -> indices inside [0, size), and which were inside."""
    inside = (index >= 0) & (index < size)
    if fill_mode == "wrap":
        fixed = np.mod(index, size)
    elif fill_mode == "reflect":
        # Period 2*size: 0..size-1 forwards, then size-1..0 backwards (edge repeated).
        m = np.mod(index, 2 * size)
        fixed = np.where(m < size, m, 2 * size - 1 - m)
    else:                                   # 'nearest', and 'constant' (which masks instead)
        fixed = np.clip(index, 0, size - 1)
    return fixed, inside


def _nodes(coord, interpolation):
    """1-D interpolation nodes of real coordinates: [(integer index, weight), ...]."""
    if interpolation == "nearest":
        return [(np.round(coord).astype(np.int64), np.ones_like(coord))]
    lower = np.floor(coord)
    upper_w = coord - lower
    idx = lower.astype(np.int64)
    return [(idx, 1.0 - upper_w), (idx + 1, upper_w)]


# ----------------------------------------------------------- affine warps
def affine_matrix(transforms, H, W, interpolation, fill_mode):
    """The sparse map of a batch of affine warps.

    transforms: (N, 6) rows [a0, a1, a2, b0, b1, b2] (output -> input, see the
    module docstring). Returns (M, outside): M is a CSR matrix
    (N*H*W, N*H*W) taking the flattened input pixels to the output pixels,
    ``outside`` (N*H*W,) the total weight of neighbours read as the fill
    value (all zeros unless fill_mode is 'constant').
    """
    t = np.asarray(transforms, dtype=np.float64)
    N = t.shape[0]
    r, c = np.meshgrid(np.arange(H, dtype=np.float64), np.arange(W, dtype=np.float64), indexing="ij")
    a0, a1, a2, b0, b1, b2 = (t[:, k, None, None] for k in range(6))
    src_r = b0 * c + b1 * r + b2                         # (N, H, W)
    src_c = a0 * c + a1 * r + a2
    out_idx = np.arange(N * H * W).reshape(N, H, W)
    base = (np.arange(N) * (H * W))[:, None, None]
    rows, cols, vals = [], [], []
    outside = np.zeros(N * H * W)
    for ir, wr in _nodes(src_r, interpolation):
        fr, in_r = _fix_index(ir, H, fill_mode)
        for ic, wc in _nodes(src_c, interpolation):
            fc, in_c = _fix_index(ic, W, fill_mode)
            w = wr * wc
            if fill_mode == "constant":
                ok = in_r & in_c
                outside += np.where(ok, 0.0, w).reshape(-1)
                w = np.where(ok, w, 0.0)
            keep = w != 0
            rows.append(out_idx[keep])
            cols.append((base + fr * W + fc)[keep])
            vals.append(w[keep])
    M = sparse.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                          shape=(N * H * W, N * H * W))
    return M, outside


def warp_forward(x, M, outside, fill_value):
    """x (N, H, W, C) through the map of ``affine_matrix``."""
    N, H, W, C = x.shape
    out = M.astype(x.dtype) @ x.reshape(N * H * W, C)
    if fill_value != 0 and outside.any():
        out += (fill_value * outside).astype(x.dtype)[:, None]
    return np.ascontiguousarray(out.reshape(N, H, W, C), dtype=x.dtype)


def warp_backward(dout, M):
    """The transpose: dout (N, H, W, C) -> gradient w.r.t. the input."""
    N, H, W, C = dout.shape
    dx = M.T.astype(dout.dtype) @ dout.reshape(N * H * W, C)
    return np.ascontiguousarray(dx.reshape(N, H, W, C), dtype=dout.dtype)
