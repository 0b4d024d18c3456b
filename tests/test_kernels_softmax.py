"""Softmax with cross-entropy: the compiled kernel against NumPy, and gradients."""
import numpy as np
import pytest

import fastnn
from fastnn import kernels

from kernel_helpers import on_both_backends


def tolerance(dtype):
    return dict(rtol=1e-4, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-14)


def make_targets(kind, labels, K, dtype, rng):
    if kind == "labels":
        return labels
    if kind == "one_hot":
        return np.eye(K, dtype=dtype)[labels]
    soft = rng.random((labels.size, K)).astype(dtype)            # soft targets, rows sum to 1
    return soft / soft.sum(axis=1, keepdims=True)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kind", ["labels", "one_hot", "soft"])
@pytest.mark.parametrize("N, K", [(100, 10), (10000, 10), (1, 1), (1, 5), (7, 3), (33, 130)])
def test_forward_and_backward_match_numpy(N, K, kind, dtype, rng):
    x = (rng.standard_normal((N, K)) * 5).astype(dtype)
    t = make_targets(kind, rng.integers(0, K, N), K, dtype, rng)
    (loss_ref, y_ref), (loss, y) = on_both_backends("softmax_cross_entropy_forward", x, t)
    assert isinstance(loss, float) and y.dtype == dtype and y.shape == (N, K)
    np.testing.assert_allclose(y, y_ref, **tolerance(dtype))
    np.testing.assert_allclose(loss, loss_ref, **tolerance(dtype))
    for dout in (1.0, 0.37):
        dx_ref, dx = on_both_backends("softmax_cross_entropy_backward", y_ref, t, dout)
        assert dx.dtype == dtype
        np.testing.assert_allclose(dx, dx_ref, **tolerance(dtype))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("N, K", [(32, 10), (10000, 10), (1, 1), (7, 3), (33, 130), (5, 3000)])
@pytest.mark.parametrize("threaded", [False, True])
def test_softmax_matches_numpy_and_the_forward_pass(N, K, dtype, threaded, rng, monkeypatch):
    """kernels.softmax: the NumPy twin's rows, and the same rows as the loss's forward pass,
    on one thread or (threaded: even small calls) over blocks of rows."""
    from fastnn._ext import softmax
    if threaded:
        monkeypatch.setattr(softmax, "PARALLEL_MIN_WORK", 0)
    x = (rng.standard_normal((N, K)) * 5).astype(dtype)
    x[0, 0] = -1e4                                    # below the fast exp's range: libm's exp
    y_ref, y = on_both_backends("softmax", x)
    assert y.dtype == dtype and y.shape == (N, K)
    np.testing.assert_allclose(y, y_ref, **tolerance(dtype))
    np.testing.assert_allclose(y.sum(axis=1), 1, rtol=1e-5 if dtype == np.float32 else 1e-12)
    with fastnn.use_backend("cython"):           # the loss kernel's softmax rows, bit for bit
        _, y_loss = kernels.softmax_cross_entropy_forward(x, rng.integers(0, K, N))
    np.testing.assert_array_equal(y, y_loss)


def test_softmax_rows_with_nan_or_inf(backend):
    x = np.array([[1.0, np.nan, 0.0], [np.inf, 0.0, 1.0], [-np.inf, 0.0, 0.0], [1e308, -1e308, 0.0]])
    with np.errstate(over="ignore", invalid="ignore"):      # NumPy's x - max overflows; so be it
        y = kernels.softmax(x)
    assert np.isnan(y[0]).all() and np.isnan(y[1]).all()
    np.testing.assert_array_equal(y[2], [0.0, 0.5, 0.5])
    np.testing.assert_array_equal(y[3], [1.0, 0.0, 0.0])


def test_one_hot_targets_with_ties_use_the_first_maximum(rng):
    # The forward pass reduces (N, K) targets with argmax; a row with two equal
    # maxima must pick the first one on both backends.
    x = rng.standard_normal((3, 4))
    t = np.array([[0.5, 0.5, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0], [0.1, 0.4, 0.4, 0.1]])
    (loss_ref, _), (loss, y) = on_both_backends("softmax_cross_entropy_forward", x, t)
    expected = -np.mean(np.log(y[[0, 1, 2], [0, 0, 1]] + 1e-7))
    np.testing.assert_allclose(loss, expected, rtol=1e-12)
    np.testing.assert_allclose(loss_ref, expected, rtol=1e-12)


def test_large_scores_do_not_overflow(backend):
    x = np.array([[1000.0, 0.0, -1000.0], [-5e300, 5e300, 0.0]])
    loss, y = kernels.softmax_cross_entropy_forward(x, np.array([0, 1]))
    np.testing.assert_allclose(y, [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    np.testing.assert_allclose(loss, -np.log(1 + 1e-7))


def test_known_values(backend):
    # Equal scores: y = 1/K everywhere and the loss is log(K) (up to the 1e-7).
    x = np.zeros((2, 4))
    loss, y = kernels.softmax_cross_entropy_forward(x, np.array([3, 1]))
    np.testing.assert_allclose(y, np.full((2, 4), 0.25))
    np.testing.assert_allclose(loss, -np.log(0.25 + 1e-7), rtol=1e-14)
    dx = kernels.softmax_cross_entropy_backward(y, np.array([3, 1]))
    np.testing.assert_allclose(dx, [[0.125, 0.125, 0.125, -0.375], [0.125, -0.375, 0.125, 0.125]])


def test_non_contiguous_scores_and_other_label_dtypes(rng):
    x = rng.standard_normal((10, 12))[:, ::2]               # (10, 6), strided
    for labels in (rng.integers(0, 6, 10).astype(np.int32), rng.integers(0, 6, 10).astype(np.uint8)):
        (loss_ref, y_ref), (loss, y) = on_both_backends("softmax_cross_entropy_forward", x, labels)
        np.testing.assert_allclose(loss, loss_ref, rtol=1e-10)
        np.testing.assert_allclose(y, y_ref, rtol=1e-10)
        dx_ref, dx = on_both_backends("softmax_cross_entropy_backward", y_ref, labels, 1.0)
        np.testing.assert_allclose(dx, dx_ref, rtol=1e-10, atol=1e-15)


@pytest.mark.parametrize("kind", ["labels", "one_hot"])
def test_gradient_matches_numerical_gradient(backend, kind, rng):
    N, K = 4, 5
    x = rng.standard_normal((N, K))
    t = make_targets(kind, rng.integers(0, K, N), K, np.float64, rng)
    _, y = kernels.softmax_cross_entropy_forward(x, t)
    dx = kernels.softmax_cross_entropy_backward(y, t, 1.0)
    h = 1e-5
    numerical = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        saved = x[i]
        x[i] = saved + h
        plus = kernels.softmax_cross_entropy_forward(x, t)[0]
        x[i] = saved - h
        minus = kernels.softmax_cross_entropy_forward(x, t)[0]
        x[i] = saved
        numerical[i] = (plus - minus) / (2 * h)
    # The 1e-7 inside the log makes the analytic gradient differ by ~1e-7 relative.
    np.testing.assert_allclose(dx, numerical, rtol=1e-5, atol=1e-7)
