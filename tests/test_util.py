"""fastnn.util: im2col/col2im, conv_output_size, smooth_curve, shuffle_dataset."""
import numpy as np
import pytest

from fastnn.util import col2im, conv_output_size, im2col, shuffle_dataset, smooth_curve


def test_im2col_shapes_and_rows(backend, rng):
    x = rng.standard_normal((2, 3, 5, 4))
    col = im2col(x, 3, 2, stride=2, pad=1)
    OH, OW = conv_output_size(5, 3, 2, 1), conv_output_size(4, 2, 2, 1)
    assert col.shape == (2 * OH * OW, 3 * 3 * 2)
    xp = np.pad(x, [(0, 0), (0, 0), (1, 1), (1, 1)])
    # row (n, oy, ox) is the patch at (2*oy, 2*ox) of the padded input, in (c, fy, fx) order
    n, oy, ox = 1, 2, 1
    row = col[(n * OH + oy) * OW + ox]
    np.testing.assert_array_equal(row, xp[n, :, 2 * oy:2 * oy + 3, 2 * ox:2 * ox + 2].ravel())


def test_col2im_is_adjoint_of_im2col(backend, rng):
    # <im2col(x), c> == <x, col2im(c)> for all x, c
    x = rng.standard_normal((2, 3, 6, 5))
    col = im2col(x, 3, 3, stride=1, pad=1)
    c = rng.standard_normal(col.shape)
    lhs = np.sum(col * c)
    rhs = np.sum(x * col2im(c, x.shape, 3, 3, stride=1, pad=1))
    assert lhs == pytest.approx(rhs, rel=1e-12)


def test_im2col_errors(backend):
    with pytest.raises(ValueError, match="im2col: input must be 4-D"):
        im2col(np.zeros((3, 5, 5)), 3, 3)
    with pytest.raises(ValueError, match="col2im: col must have shape"):
        col2im(np.zeros((5, 9)), (1, 1, 5, 5), 3, 3)


def test_conv_output_size():
    assert conv_output_size(28, 5) == 24
    assert conv_output_size(28, 3, stride=1, pad=1) == 28
    assert conv_output_size(24, 2, stride=2) == 12
    assert conv_output_size(7, 2, stride=2) == 3          # rounded down like the layers
    with pytest.raises(ValueError, match="conv_output_size: filter 7 is larger than the padded input 5"):
        conv_output_size(5, 7)
    with pytest.raises(TypeError, match="conv_output_size: stride must be an int"):
        conv_output_size(5, 3, stride=1.5)


def test_smooth_curve():
    x = np.linspace(0.0, 1.0, 40) ** 2
    y = smooth_curve(x)
    assert y.shape == x.shape
    # A constant stays constant; a linear ramp is unchanged away from the ends.
    np.testing.assert_allclose(smooth_curve(np.full(20, 3.0)), 3.0, rtol=1e-14)
    ramp = np.arange(30.0)
    np.testing.assert_allclose(smooth_curve(ramp)[5:-5], ramp[5:-5], rtol=1e-12)
    # Noise shrinks.
    noisy = np.random.default_rng(0).standard_normal(200)
    assert smooth_curve(noisy).std() < 0.6 * noisy.std()
    # One interior value: the normalized Kaiser(11, 2) weights around it.
    w = np.kaiser(11, 2)
    assert y[20] == pytest.approx(np.dot(w / w.sum(), x[15:26]), rel=1e-12)
    with pytest.raises(ValueError, match="smooth_curve: expected a 1-D curve of at least 11 points"):
        smooth_curve([1.0, 2.0])


@pytest.mark.parametrize("shape", [(10, 3), (10, 1, 2, 2)])
def test_shuffle_dataset(shape):
    x = np.arange(np.prod(shape), dtype=float).reshape(shape)
    t = np.arange(10)
    np.random.seed(0)
    xs, ts = shuffle_dataset(x, t)
    np.random.seed(0)
    perm = np.random.permutation(10)
    np.testing.assert_array_equal(ts, perm)
    np.testing.assert_array_equal(xs, x[perm])
    assert sorted(ts) == list(range(10))
    with pytest.raises(ValueError, match="shuffle_dataset: x and t need the same number of samples"):
        shuffle_dataset(x, np.arange(9))
