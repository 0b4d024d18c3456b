"""ReLU and optimizer update kernels: compiled vs NumPy, and vs their formulas."""
import numpy as np
import pytest

import fastnn
from fastnn import kernels

SHAPES = [(), (1,), (7,), (100, 100), (3, 4, 5, 6), (300_000,)]   # the last one runs threaded


@pytest.fixture(autouse=True)
def threaded_from_100k(monkeypatch):
    """Let (300_000,) run threaded (its sizes are below the measured thresholds)."""
    from fastnn._ext import elementwise
    monkeypatch.setattr(elementwise, "PARALLEL_MIN_SIZE", 100_000)
    monkeypatch.setattr(elementwise, "PARALLEL_MIN_SIZE_HEAVY", 100_000)


def require_compiled(name):
    assert name in kernels.compiled_kernels(), f"{name} has no compiled version: {kernels.missing_modules()}"


def tolerance(dtype):
    return dict(rtol=1e-5, atol=1e-7) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", SHAPES)
def test_relu_matches_numpy(shape, dtype, rng):
    require_compiled("relu_forward")
    require_compiled("relu_backward")
    x = rng.standard_normal(shape).astype(dtype)
    if x.size >= 4:
        x.flat[:4] = [-0.0, 0.0, np.nan, -np.inf]
    dout = rng.standard_normal(shape).astype(dtype)
    with fastnn.use_backend("numpy"):
        out_ref = kernels.relu_forward(x)
        dx_ref = kernels.relu_backward(dout, out_ref)
    with fastnn.use_backend("cython"):
        out = kernels.relu_forward(x)
        dx = kernels.relu_backward(dout, out_ref)
    assert out.shape == x.shape and out.dtype == dtype and dx.dtype == dtype
    np.testing.assert_array_equal(out, out_ref)          # NaN stays NaN on both
    np.testing.assert_array_equal(np.signbit(out), np.signbit(out_ref))   # -0.0 -> +0.0
    np.testing.assert_array_equal(dx, dx_ref)


def test_relu_values(backend):
    x = np.array([[-2.0, -0.5, 0.0], [0.5, 3.0, np.nan]])
    np.testing.assert_array_equal(kernels.relu_forward(x), [[0.0, 0.0, 0.0], [0.5, 3.0, np.nan]])
    out = kernels.relu_forward(x)
    dx = kernels.relu_backward(np.full_like(x, 7.0), out)
    np.testing.assert_array_equal(dx, [[0.0, 0.0, 0.0], [7.0, 7.0, 0.0]])


def test_relu_non_contiguous(rng, backend):
    x = rng.standard_normal((6, 8)).T[::2]
    np.testing.assert_array_equal(kernels.relu_forward(x), np.maximum(x, 0))


def run_update(backend_name, name, arrays, *scalars):
    """Apply update ``name`` to copies of ``arrays``; return the copies."""
    work = [a.copy() for a in arrays]
    with fastnn.use_backend(backend_name):
        getattr(kernels, name)(*work, *scalars)
    return work


UPDATES = {
    "sgd_update": (2, (0.01,)),
    "momentum_update": (3, (0.01, 0.9)),
    "adam_update": (4, (0.001 * np.sqrt(1 - 0.999 ** 3) / (1 - 0.9 ** 3), 0.9, 0.999, 1e-7)),
    "nesterov_update": (3, (0.01, 0.9)),
    "rmsprop_update": (3, (0.001, 0.9, 1e-7)),
    "adagrad_update": (3, (0.01, 1e-7)),
}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("name", sorted(UPDATES))
def test_updates_match_numpy(name, shape, dtype, rng):
    require_compiled(name)
    n_arrays, scalars = UPDATES[name]
    arrays = [rng.standard_normal(shape).astype(dtype) for _ in range(n_arrays)]
    if name == "adam_update":
        arrays[3] = np.abs(arrays[3])            # v, the second moment, is >= 0
    if name in ("rmsprop_update", "adagrad_update"):
        arrays[2] = np.abs(arrays[2])            # the mean square / sum of squares is >= 0
    ref = run_update("numpy", name, arrays, *scalars)
    got = run_update("cython", name, arrays, *scalars)
    for g, r in zip(got, ref):
        assert g.dtype == dtype
        np.testing.assert_allclose(g, r, **tolerance(dtype))


def test_updates_follow_their_formulas(backend, rng):
    p, g, v, m, s = (rng.standard_normal((5, 4)) for _ in range(5))
    s = np.abs(s)

    p1 = p.copy()
    kernels.sgd_update(p1, g, 0.1)
    np.testing.assert_allclose(p1, p - 0.1 * g, rtol=1e-14)

    p2, v2 = p.copy(), v.copy()
    kernels.momentum_update(p2, g, v2, 0.1, 0.9)
    v_new = 0.9 * v - 0.1 * g
    np.testing.assert_allclose(v2, v_new, rtol=1e-14)
    np.testing.assert_allclose(p2, p + v_new, rtol=1e-14)

    p3, m3, s3 = p.copy(), m.copy(), s.copy()
    kernels.adam_update(p3, g, m3, s3, 0.01, 0.9, 0.999, 1e-7)
    m_new = m + 0.1 * (g - m)
    s_new = s + 0.001 * (g * g - s)
    np.testing.assert_allclose(m3, m_new, rtol=1e-12)
    np.testing.assert_allclose(s3, s_new, rtol=1e-12)
    np.testing.assert_allclose(p3, p - 0.01 * m_new / (np.sqrt(s_new) + 1e-7), rtol=1e-12)


def test_keras_updates_follow_their_formulas(backend, rng):
    """Nesterov SGD, RMSprop and Adagrad as Keras 3 writes them (keras/src/optimizers)."""
    p, g, v = (rng.standard_normal((5, 4)) for _ in range(3))
    s = np.abs(v)

    p1, v1 = p.copy(), v.copy()
    kernels.nesterov_update(p1, g, v1, 0.1, 0.9)
    v_new = 0.9 * v - 0.1 * g
    np.testing.assert_allclose(v1, v_new, rtol=1e-14)
    np.testing.assert_allclose(p1, p + 0.9 * v_new - 0.1 * g, rtol=1e-13)

    p2, s2 = p.copy(), s.copy()
    kernels.rmsprop_update(p2, g, s2, 0.01, 0.9, 1e-7)
    s_new = 0.9 * s + 0.1 * g * g
    np.testing.assert_allclose(s2, s_new, rtol=1e-14)
    np.testing.assert_allclose(p2, p - 0.01 * g / np.sqrt(s_new + 1e-7), rtol=1e-13)

    p3, a3 = p.copy(), s.copy()
    kernels.adagrad_update(p3, g, a3, 0.01, 1e-7)
    np.testing.assert_allclose(a3, s + g * g, rtol=1e-14)
    np.testing.assert_allclose(p3, p - 0.01 * g / np.sqrt(s + g * g + 1e-7), rtol=1e-13)


def test_updates_write_through_non_contiguous_and_float32_params(backend, rng):
    # A strided float32 parameter with a float64 gradient: the update must land
    # in the caller's array (not in a hidden copy) and stay float32.
    storage = rng.standard_normal((6, 10)).astype(np.float32)
    param = storage[:, ::2]
    before = param.astype(np.float64)
    untouched = storage[:, 1::2].copy()
    grad = rng.standard_normal(param.shape)
    velocity = np.zeros(param.shape, dtype=np.float32)
    kernels.momentum_update(param, grad, velocity, 0.5, 0.0)
    assert param.dtype == np.float32 and velocity.dtype == np.float32
    np.testing.assert_allclose(storage[:, ::2], before - 0.5 * grad, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(velocity, -0.5 * grad, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(storage[:, 1::2], untouched)   # the other columns stay
