"""Softmax with cross-entropy: what the compiled fast path must keep from the NumPy one.

The compiled kernel checks the label range in its own loop, computes exp with
a polynomial (softmax_exp.h) instead of libm, works on blocks of rows and
shares large batches out over threads; each test pins one of those against
the NumPy reference.
"""
import numpy as np
import pytest

import fastnn
from fastnn import kernels

from kernel_helpers import on_both_backends

FORWARD, BACKWARD = "softmax_cross_entropy_forward", "softmax_cross_entropy_backward"


# --------------------------------------------------------------------------
# Labels outside [0, K): the same ValueError on both backends
# --------------------------------------------------------------------------
@pytest.mark.parametrize("labels, message", [
    (np.array([0, 2, 3, 1]), r"labels must lie in \[0, 3\), got values in \[0, 3\]"),
    (np.array([0, -1, 2, 1]), r"labels must lie in \[0, 3\), got values in \[-1, 2\]"),
    (np.array([7, 0, -4, 1], dtype=np.int8), r"labels must lie in \[0, 3\), got values in \[-4, 7\]"),
    # above the int64 range: the message gives the value as passed, not wrapped to int64
    (np.array([0, 1, 2**63 + 5, 2], dtype=np.uint64),
     r"labels must lie in \[0, 3\), got values in \[0, 9223372036854775813\]"),
])
def test_bad_labels_give_the_same_message_on_both_backends(backend, labels, message):
    x = np.zeros((4, 3))
    with pytest.raises(ValueError, match=r"SoftmaxWithLoss.forward: " + message):
        kernels.softmax_cross_entropy_forward(x, labels)
    with pytest.raises(ValueError, match=r"SoftmaxWithLoss.backward: " + message):
        kernels.softmax_cross_entropy_backward(np.full((4, 3), 1 / 3), labels)


def test_bad_label_in_a_threaded_batch(backend):
    # Large enough for threads on the compiled path; the bad label is the last one.
    labels = np.zeros(4000, dtype=np.int64)
    labels[-1] = 10
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 10\), got values in \[0, 10\]"):
        kernels.softmax_cross_entropy_forward(np.zeros((4000, 10), np.float32), labels)


def test_compiled_kernel_called_directly_refuses_a_bad_label():
    # fastnn._ext.softmax runs without bounds checks; a bad label must not be read past.
    softmax = pytest.importorskip("fastnn._ext.softmax")
    with pytest.raises(ValueError, match=r"label 5 of row 1 is outside \[0, 3\)"):
        softmax.softmax_cross_entropy_forward(np.zeros((2, 3)), np.array([0, 5]))
    with pytest.raises(ValueError, match=r"label -2 of row 0 is outside \[0, 3\)"):
        softmax.softmax_cross_entropy_backward(np.zeros((2, 3)), np.array([-2, 0]), 1.0)


def test_scores_without_classes_are_refused(backend):
    # (N, 0) scores: nothing to take a softmax over (the compiled kernel would divide by K = 0)
    for t in (np.zeros(2, dtype=np.int64), np.zeros((2, 0))):
        with pytest.raises(ValueError, match=r"SoftmaxWithLoss.forward: scores must have at least one class, got shape \(2, 0\)"):
            kernels.softmax_cross_entropy_forward(np.zeros((2, 0)), t)
        with pytest.raises(ValueError, match=r"SoftmaxWithLoss.backward: y must have at least one class"):
            kernels.softmax_cross_entropy_backward(np.zeros((2, 0)), t)
    softmax = pytest.importorskip("fastnn._ext.softmax")
    with pytest.raises(ValueError, match=r"expected N >= 1 and K >= 1"):
        softmax.softmax_cross_entropy_forward(np.zeros((2, 0)), np.zeros((2, 0)))
    with pytest.raises(ValueError, match=r"expected N >= 1 and K >= 1"):
        softmax.softmax_cross_entropy_backward(np.zeros((0, 3)), np.zeros(0, np.int64), 1.0)


def test_strided_labels(rng):
    x = rng.standard_normal((6, 4))
    labels = rng.integers(0, 4, 12)[::2]
    (loss_ref, y_ref), (loss, y) = on_both_backends(FORWARD, x, labels)
    np.testing.assert_allclose(loss, loss_ref, rtol=1e-12)
    dx_ref, dx = on_both_backends(BACKWARD, y_ref, labels, 0.5)
    np.testing.assert_allclose(dx, dx_ref, rtol=1e-12, atol=1e-16)


# --------------------------------------------------------------------------
# exp: the polynomial against NumPy's, over the whole range a softmax meets
# --------------------------------------------------------------------------
@pytest.mark.parametrize("dtype, lowest, rtol", [(np.float64, -760.0, 1e-15), (np.float32, -110.0, 1e-6)])
def test_exp_matches_numpy_down_to_underflow(dtype, lowest, rtol):
    # Rows (0, d): y[:, 1] = exp(d) / (1 + exp(d)), d from 0 down past the
    # subnormal numbers (where the kernel hands over to libm) to exp(d) == 0.
    d = np.linspace(lowest, 0.0, 20001).astype(dtype)
    x = np.stack([np.zeros_like(d), d], axis=1)
    labels = np.zeros(d.size, dtype=np.int64)
    (loss_ref, y_ref), (loss, y) = on_both_backends(FORWARD, x, labels)
    info = np.finfo(dtype)
    normal = y_ref[:, 1] >= info.tiny
    assert normal.any() and not normal.all()
    np.testing.assert_allclose(y[normal], y_ref[normal], rtol=rtol, atol=0)
    np.testing.assert_allclose(y[~normal], y_ref[~normal], rtol=0, atol=4 * info.smallest_subnormal)
    assert (y[:, 1][d < lowest + 5] == 0).all()
    np.testing.assert_allclose(loss, loss_ref, rtol=rtol)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_special_scores_as_numpy(dtype):
    big = np.finfo(dtype).max * 0.75
    x = np.array([
        [0.0, -np.inf, 1.0, -np.inf],      # -inf scores: probability exactly 0
        [0.0, np.nan, 1.0, 2.0],           # a NaN: the whole row is NaN
        [np.nan, 0.0, 1.0, 2.0],           # ... wherever it is
        [np.inf, 0.0, 1.0, 2.0],           # +inf: inf - inf is NaN, as in NumPy
        [-np.inf, -np.inf, -np.inf, -np.inf],
        [-big, big, 0.0, 3.0],             # x - max overflows to -inf
    ], dtype=dtype)
    finite_rows = [0, 5]
    for labels in (np.array([2, 0, 1, 3, 0, 1]), np.eye(4, dtype=dtype)[[2, 0, 1, 3, 0, 1]]):
        with np.errstate(over="ignore", invalid="ignore"):   # NumPy's warnings for inf - inf etc.
            (loss_ref, y_ref), (loss, y) = on_both_backends(FORWARD, x, labels)
            (finite_ref, _), (finite, _) = on_both_backends(FORWARD, x[finite_rows], labels[finite_rows])
        np.testing.assert_array_equal(np.isnan(y), np.isnan(y_ref))
        np.testing.assert_allclose(y, y_ref, rtol=1e-6, equal_nan=True)
        assert y[0, 1] == 0 and y[0, 3] == 0 and y[5, 0] == 0
        assert np.isnan(loss) and np.isnan(loss_ref)
        np.testing.assert_allclose(finite, finite_ref, rtol=1e-6)


# --------------------------------------------------------------------------
# Blocks of rows and threads
# --------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("N, K", [(4001, 10), (129, 3000), (65, 32), (3, 2049)])
def test_threads_and_blocks_match_numpy_and_one_thread(N, K, dtype, rng):
    # Sizes around the block size (64 rows, 2048 scores) and above the
    # threading threshold (32768 scores); the loss must not depend on threads.
    x = (rng.standard_normal((N, K)) * 4).astype(dtype)
    labels = rng.integers(0, K, N)
    tol = dict(rtol=1e-5, atol=1e-7) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-15)
    with fastnn.use_backend("numpy"):
        loss_ref, y_ref = kernels.softmax_cross_entropy_forward(x, labels)
        dx_ref = kernels.softmax_cross_entropy_backward(y_ref, labels, 2.0)
    results = []
    previous = fastnn.set_num_threads(1)
    try:
        for threads in (1, 2, 3):
            fastnn.set_num_threads(threads)
            with fastnn.use_backend("cython"):
                loss, y = kernels.softmax_cross_entropy_forward(x, labels)
                dx = kernels.softmax_cross_entropy_backward(y, labels, 2.0)
            results.append((loss, y))
            np.testing.assert_allclose(y, y_ref, **tol)
            np.testing.assert_allclose(loss, loss_ref, **tol)
            np.testing.assert_allclose(dx, dx_ref, **tol)
    finally:
        fastnn.set_num_threads(previous)
    for loss, y in results[1:]:
        assert loss == results[0][0]
        np.testing.assert_array_equal(y, results[0][1])
