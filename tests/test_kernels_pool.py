"""Max pooling: the compiled kernel against the NumPy reference, and gradients.

Every comparison goes through ``fastnn.kernels`` (the interface layers use),
once under each backend.
"""
import numpy as np
import pytest
from hypothesis import assume, given, settings, strategies as st

import fastnn
from fastnn import kernels

from kernel_helpers import on_both_backends


def tolerance(dtype):
    return dict(rtol=1e-4, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-12)


def check_pool(x, ph, pw, stride, pad, rng):
    """Forward (out and argmax exactly) and backward (dx to round-off) agree."""
    (out_ref, arg_ref), (out, arg) = on_both_backends("maxpool_forward", x, ph, pw, stride, pad)
    assert out.dtype == x.dtype and arg.dtype == np.int64
    assert out.shape == out_ref.shape and arg.shape == arg_ref.shape
    np.testing.assert_array_equal(arg, arg_ref)
    np.testing.assert_array_equal(out, out_ref)    # a max is a copy: no round-off
    dout = rng.standard_normal(out.shape).astype(x.dtype)
    dx_ref, dx = on_both_backends("maxpool_backward", dout, arg_ref, x.shape, ph, pw, stride, pad)
    assert dx.dtype == x.dtype and dx.shape == x.shape
    np.testing.assert_allclose(dx, dx_ref, **tolerance(x.dtype))


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(1, 3), c=st.integers(1, 3), h=st.integers(1, 9), w=st.integers(1, 9),
    ph=st.integers(1, 4), pw=st.integers(1, 4), stride=st.integers(1, 3), pad=st.integers(0, 2),
    dtype=st.sampled_from([np.float32, np.float64]), seed=st.integers(0, 2**32 - 1),
)
def test_random_geometries_match_numpy(n, c, h, w, ph, pw, stride, pad, dtype, seed):
    # Windows larger than the padded input are refused (see test_kernels_errors.py).
    assume(ph <= h + 2 * pad and pw <= w + 2 * pad)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, c, h, w)).astype(dtype)
    check_pool(x, ph, pw, stride, pad, rng)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape, ph, pw, stride, pad", [
    ((100, 30, 24, 24), 2, 2, 2, 0),   # SimpleConvNet
    ((7, 16, 28, 28), 2, 2, 2, 0),     # DeepConvNet, first pool
    ((1, 3, 11, 13), 3, 2, 1, 1),      # batch 1, non-square window, overlapping windows
    ((2, 2, 10, 10), 3, 3, 2, 2),
])
def test_book_and_odd_shapes_match_numpy(shape, ph, pw, stride, pad, dtype, rng):
    x = rng.standard_normal(shape).astype(dtype)
    check_pool(x, ph, pw, stride, pad, rng)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("values", ["zeros", "signed_zeros", "few_levels", "negative_with_padding", "nan"])
def test_ties_padding_and_nan_give_identical_argmax(values, dtype, rng):
    shape = (2, 3, 8, 7)
    if values == "zeros":
        x = np.zeros(shape)                                    # every cell ties
    elif values == "signed_zeros":
        x = rng.choice([-0.0, 0.0], size=shape)                # ties that differ in sign
    elif values == "few_levels":
        x = rng.integers(0, 3, size=shape).astype(float)       # many ties
    elif values == "negative_with_padding":
        x = -1.0 - rng.random(shape)                           # the padding (0) wins at borders
    else:
        x = rng.standard_normal(shape)
        x[0, 0, 1, 1] = x[1, 2, 4, 3] = x[1, 2, 5, 3] = np.nan
    x = x.astype(dtype)
    for ph, pw, stride, pad in [(2, 2, 2, 0), (3, 2, 1, 1), (3, 3, 2, 2)]:
        (out_ref, arg_ref), (out, arg) = on_both_backends("maxpool_forward", x, ph, pw, stride, pad)
        np.testing.assert_array_equal(arg, arg_ref)
        np.testing.assert_array_equal(out, out_ref)            # NaN == NaN here
        np.testing.assert_array_equal(np.signbit(out), np.signbit(out_ref))
        check_pool(x, ph, pw, stride, pad, rng)
    if values == "zeros":
        assert np.all(arg == 0)                                 # the first maximum wins


def test_window_in_padding_drops_its_gradient(backend):
    # All inputs negative: with pad 1 each corner window is won by a padded zero,
    # so those outputs send no gradient back.
    x = -np.ones((1, 1, 2, 2))
    out, arg = kernels.maxpool_forward(x, 2, 2, stride=2, pad=1)
    np.testing.assert_array_equal(out, np.zeros((1, 1, 2, 2)))
    # The first padded cell of each window wins: (0, 0) in three windows; in the
    # bottom-right window the first cell is x[1, 1] itself and the next one is padding.
    np.testing.assert_array_equal(arg, [[[[0, 0], [0, 1]]]])
    dx = kernels.maxpool_backward(np.ones_like(out), arg, x.shape, 2, 2, stride=2, pad=1)
    np.testing.assert_array_equal(dx, np.zeros_like(x))


def test_overlapping_windows_add_up(backend):
    # Pool 3, stride 1 on a 1x1x3x4 plane whose maximum is in the middle: the
    # maximum wins both windows, so its gradient is the sum of both.
    x = np.array([[[[0., 1., 2., 0.], [0., 9., 8., 0.], [0., 1., 2., 0.]]]])
    out, arg = kernels.maxpool_forward(x, 3, 3, stride=1, pad=0)
    np.testing.assert_array_equal(out, [[[[9., 9.]]]])
    dx = kernels.maxpool_backward(np.array([[[[1.5, 2.0]]]]), arg, x.shape, 3, 3, stride=1, pad=0)
    expected = np.zeros_like(x)
    expected[0, 0, 1, 1] = 3.5
    np.testing.assert_array_equal(dx, expected)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_non_contiguous_input(dtype, rng):
    base = rng.standard_normal((3, 4, 12, 14)).astype(dtype)
    for x in (base[:, :, ::2, 1::2], base.transpose(0, 1, 3, 2), np.asfortranarray(base)):
        assert not x.flags.c_contiguous
        check_pool(x, 2, 3, 2, 1, rng)


def test_float32_stays_float32(rng):
    x = rng.standard_normal((2, 2, 6, 6)).astype(np.float32)
    with fastnn.use_backend("cython"):
        out, arg = kernels.maxpool_forward(x, 2, 2, 2, 0)
        dx = kernels.maxpool_backward(out, arg, x.shape, 2, 2, 2, 0)
    assert out.dtype == np.float32 and dx.dtype == np.float32


@pytest.mark.parametrize("ph, pw, stride, pad", [(2, 2, 2, 0), (3, 2, 1, 1), (2, 3, 2, 1)])
def test_gradient_matches_numerical_gradient(backend, ph, pw, stride, pad, rng):
    # Distinct, well separated values, so that a step of h cannot change a winner.
    shape = (2, 2, 5, 6)
    x = rng.permutation(np.arange(1, np.prod(shape) + 1, dtype=np.float64)).reshape(shape) / 10.0
    x[0, 1] *= -1.0                         # some planes where the padding wins at the border
    out, arg = kernels.maxpool_forward(x, ph, pw, stride, pad)
    weights = rng.standard_normal(out.shape)   # loss = sum(weights * out)
    dx = kernels.maxpool_backward(weights, arg, x.shape, ph, pw, stride, pad)

    h = 1e-4
    numerical = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        saved = x[i]
        x[i] = saved + h
        plus = np.sum(weights * kernels.maxpool_forward(x, ph, pw, stride, pad)[0])
        x[i] = saved - h
        minus = np.sum(weights * kernels.maxpool_forward(x, ph, pw, stride, pad)[0])
        x[i] = saved
        numerical[i] = (plus - minus) / (2 * h)
    np.testing.assert_allclose(dx, numerical, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_backward_is_zeroed_whatever_the_pool_holds(dtype, rng):
    """dx comes from the buffer pool and each plane is zeroed by the thread that fills it:
    a stale NaN-filled buffer of the same shape must not leak into it."""
    from fastnn import _buffers
    x = rng.standard_normal((8, 30, 24, 24)).astype(dtype)          # 1 MB and more: pooled
    with fastnn.use_backend("numpy"):
        out, arg = kernels.maxpool_forward(x, 2, 2, 2, 0)
        dout = rng.standard_normal(out.shape).astype(dtype)
        ref = kernels.maxpool_backward(dout, arg, x.shape, 2, 2, 2, 0)
    with fastnn.use_backend("cython"):
        for _ in range(2):
            stale = _buffers.empty(x.shape, dtype)
            stale[...] = np.nan
            del stale
            dx = kernels.maxpool_backward(dout, arg, x.shape, 2, 2, 2, 0)
            np.testing.assert_array_equal(dx, ref)
            del dx
