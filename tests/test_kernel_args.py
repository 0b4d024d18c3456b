"""Arguments the kernels once handled differently per backend (issue #12, item 9):
read-only arrays, huge strides and pads, mixed float dtypes and aliased state in
the in-place optimizer updates. Each case gives the same result or the same
clear error on both backends."""
import numpy as np
import pytest

import fastnn
from fastnn import kernels
from fastnn.nets import SimpleConvNet, TwoLayerNet
from fastnn.optimizer import SGD, Adam, Momentum


def _read_only(a):
    a = np.array(a)
    a.flags.writeable = False
    return a


def test_read_only_inputs_and_parameters_work_in_forward_and_backward(backend, rng):
    net = SimpleConvNet(input_dim=(1, 8, 8), conv_param={"filter_num": 3, "filter_size": 3, "pad": 1, "stride": 1},
                        hidden_size=5, output_size=4, rng=rng)
    for value in net.params.values():
        value.flags.writeable = False
    x = _read_only(rng.standard_normal((2, 1, 8, 8)))
    t = _read_only(np.array([1, 3]))
    grads = net.gradient(x, t)
    with fastnn.use_backend("numpy"):
        ref = net.gradient(x, t)
    for key in grads:
        np.testing.assert_allclose(grads[key], ref[key], rtol=1e-10, atol=1e-12)
    assert net.accuracy(x, t) in (0.0, 0.5, 1.0)


@pytest.mark.parametrize("make", [lambda: SGD(), lambda: Momentum(), lambda: Adam()])
def test_a_read_only_parameter_is_a_clear_error_when_updated(backend, rng, make):
    opt = make()
    params = {"W": _read_only(rng.standard_normal((3, 2)))}
    with pytest.raises(ValueError, match=r"\.update: the parameters array is read-only; the update writes it in place"):
        opt.update(params, {"W": rng.standard_normal((3, 2))})


def test_a_read_only_gradient_is_fine(backend, rng):
    net = TwoLayerNet(4, 3, 2, rng=rng)
    grads = {k: _read_only(np.ones_like(v)) for k, v in net.params.items()}
    before = {k: v.copy() for k, v in net.params.items()}
    Adam(lr=0.1).update(net.params, grads)
    for k in before:
        assert not np.allclose(net.params[k], before[k])


_GEOMETRY = [
    ("stride 2**63", lambda x: kernels.conv_forward(x, np.ones((2, 3, 3, 3)), np.zeros(2), stride=2**63),
     r"Convolution.forward: stride must be at most 2\*\*31 - 1, got 9223372036854775808"),
    ("pad 2**63", lambda x: kernels.conv_forward(x, np.ones((2, 3, 3, 3)), np.zeros(2), pad=2**63),
     r"Convolution.forward: pad must be at most 2\*\*31 - 1, got 9223372036854775808"),
    ("pool pad 2**62", lambda x: kernels.maxpool_forward(x, 2, 2, 2, pad=2**62),
     r"Pooling.forward: pad must be at most 2\*\*31 - 1, got 4611686018427387904"),
    ("im2col stride 2**63", lambda x: kernels.im2col(x, 3, 3, stride=2**63),
     r"im2col: stride must be at most 2\*\*31 - 1"),
    ("col2im pad 2**63", lambda x: kernels.col2im(np.ones((2, 27)), (1, 3, 6, 6), 3, 3, pad=2**63),
     r"col2im: pad must be at most 2\*\*31 - 1"),
    ("filter 2**40", lambda x: kernels.maxpool_forward(x, 2**40, 2, 2),
     r"Pooling.forward: filter height must be at most 2\*\*31 - 1"),
    ("padded side", lambda x: kernels.maxpool_forward(x, 2, 2, 2, pad=2**30),
     r"Pooling.forward: pad 1073741824 makes the padded input 2147483654x2147483654; each side must be at most"),
    ("pool backward pad", lambda x: kernels.maxpool_backward(np.ones((1, 3, 1, 1)), np.zeros((1, 3, 1, 1), np.int64),
                                                             (1, 3, 6, 6), 2, 2, 2, pad=2**62),
     r"Pooling.backward: pad must be at most 2\*\*31 - 1"),
]


@pytest.mark.parametrize("case", _GEOMETRY, ids=[c[0] for c in _GEOMETRY])
def test_huge_stride_and_pad_are_the_same_clear_error_on_both_backends(backend, rng, case):
    _, call, match = case
    x = rng.standard_normal((1, 3, 6, 6))
    with pytest.raises(ValueError, match=match):
        call(x)


def test_a_stride_larger_than_the_input_but_representable_still_works(backend, rng):
    x = rng.standard_normal((1, 3, 6, 6))
    out, _ = kernels.conv_forward(x, np.ones((2, 3, 3, 3)), np.zeros(2), stride=2**31 - 1)
    assert out.shape == (1, 2, 1, 1)
    np.testing.assert_allclose(out[0, :, 0, 0], x[0, :, :3, :3].sum())


def _momentum_steps(backend, p_dtype, v_dtype, g_dtype, rng_seed=0):
    rng = np.random.default_rng(rng_seed)
    p = rng.standard_normal((7, 5)).astype(p_dtype)
    v = rng.standard_normal((7, 5)).astype(v_dtype)
    with fastnn.use_backend(backend):
        for _ in range(5):
            kernels.momentum_update(p, rng.standard_normal((7, 5)).astype(g_dtype), v, 0.1, 0.9)
    return p, v


@pytest.mark.parametrize("p_dtype, v_dtype, g_dtype", [
    (np.float64, np.float32, np.float64), (np.float64, np.float64, np.float32),
    (np.float32, np.float64, np.float64), (np.float32, np.float32, np.float64),
])
def test_mixed_dtypes_in_a_momentum_update_give_the_same_numbers_on_both_backends(p_dtype, v_dtype, g_dtype):
    p_np, v_np = _momentum_steps("numpy", p_dtype, v_dtype, g_dtype)
    p_c, v_c = _momentum_steps("cython", p_dtype, v_dtype, g_dtype)
    assert p_np.dtype == p_c.dtype == p_dtype and v_np.dtype == v_c.dtype == v_dtype
    np.testing.assert_array_equal(p_np, p_c)
    np.testing.assert_array_equal(v_np, v_c)
    # computed in the parameters' dtype: the same as a velocity of that dtype, rounded back
    p_ref, v_ref = _momentum_steps("numpy", p_dtype, p_dtype, p_dtype)
    np.testing.assert_allclose(p_np, p_ref, rtol=1e-5, atol=1e-6)


def test_mixed_dtypes_in_an_adam_update_give_the_same_numbers_on_both_backends(rng):
    results = []
    for backend in ("numpy", "cython"):
        p = np.linspace(-1, 1, 12)
        m = np.full(12, 0.1, dtype=np.float32)
        v = np.full(12, 0.2, dtype=np.float32)
        with fastnn.use_backend(backend):
            for i in range(3):
                kernels.adam_update(p, np.sin(p + i).astype(np.float32), m, v, 0.01, 0.9, 0.999)
        results.append((p, m, v))
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)


def test_aliased_optimizer_state_is_rejected_on_both_backends(backend, rng):
    p = rng.standard_normal((4, 3))
    g = rng.standard_normal((4, 3))
    m = np.zeros((4, 3))
    with pytest.raises(ValueError, match=r"Adam.update: m and v share memory; each must be an array of its own"):
        kernels.adam_update(p, g, m, m, 0.01, 0.9, 0.999)
    with pytest.raises(ValueError, match=r"Momentum.update: parameters and velocity share memory"):
        kernels.momentum_update(p, g, p, 0.1, 0.9)
    with pytest.raises(ValueError, match=r"Momentum.update: grad and velocity share memory"):
        kernels.momentum_update(p, g, g, 0.1, 0.9)
    both = np.zeros((2, 4, 3))
    with pytest.raises(ValueError, match=r"Adam.update: parameters and m share memory"):
        kernels.adam_update(both[0], g, both[0][::1], np.zeros((4, 3)), 0.01, 0.9, 0.999)
    halves = np.zeros((8, 3))                                 # disjoint views of one buffer are fine
    kernels.adam_update(p, g, halves[:4], halves[4:], 0.01, 0.9, 0.999)
    assert np.all(halves[:4] != 0)
    with pytest.raises(ValueError, match=r"SGD.update: parameters and grad share memory"):
        kernels.sgd_update(p, p, 0.1)
