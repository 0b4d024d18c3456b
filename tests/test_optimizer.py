"""fastnn.optimizer: each update equals its formula computed by hand, for two steps."""
import numpy as np
import pytest

from fastnn.optimizer import SGD, AdaGrad, Adam, Momentum, Nesterov, RMSprop

OPTIMIZERS = {cls.__name__: cls for cls in (SGD, Momentum, Nesterov, AdaGrad, RMSprop, Adam)}


@pytest.fixture
def problem(rng):
    """Parameters and two rounds of gradients, float64."""
    params = {"W": rng.standard_normal((3, 4)), "b": rng.standard_normal(4)}
    grads = [{k: rng.standard_normal(v.shape) for k, v in params.items()} for _ in range(2)]
    return params, grads


def run(opt, params, grads):
    p = {k: v.copy() for k, v in params.items()}
    for g in grads:
        opt.update(p, g)
    return p


def assert_params(actual, expected):
    for k in expected:
        np.testing.assert_allclose(actual[k], expected[k], rtol=1e-12, atol=1e-14)


def test_sgd(backend, problem):
    params, grads = problem
    got = run(SGD(lr=0.1), params, grads)
    assert_params(got, {k: params[k] - 0.1 * grads[0][k] - 0.1 * grads[1][k] for k in params})


def test_momentum(backend, problem):
    params, grads = problem
    lr, mu = 0.05, 0.8
    expected = {}
    for k in params:
        v1 = -lr * grads[0][k]
        v2 = mu * v1 - lr * grads[1][k]
        expected[k] = params[k] + v1 + v2
    assert_params(run(Momentum(lr=lr, momentum=mu), params, grads), expected)


def test_nesterov(backend, problem):
    params, grads = problem
    lr, mu = 0.05, 0.8
    expected = {}
    for k in params:
        w, v = params[k].copy(), np.zeros_like(params[k])
        for g in (grads[0][k], grads[1][k]):
            w = w + mu * mu * v - (1 + mu) * lr * g      # the velocity from before the step
            v = mu * v - lr * g
        expected[k] = w
    assert_params(run(Nesterov(lr=lr, momentum=mu), params, grads), expected)


def test_adagrad(backend, problem):
    params, grads = problem
    lr = 0.1
    expected = {}
    for k in params:
        g1, g2 = grads[0][k], grads[1][k]
        w1 = params[k] - lr * g1 / (np.sqrt(g1 ** 2) + 1e-7)
        expected[k] = w1 - lr * g2 / (np.sqrt(g1 ** 2 + g2 ** 2) + 1e-7)
    assert_params(run(AdaGrad(lr=lr), params, grads), expected)


def test_rmsprop(backend, problem):
    params, grads = problem
    lr, rho = 0.1, 0.9
    expected = {}
    for k in params:
        g1, g2 = grads[0][k], grads[1][k]
        h1 = (1 - rho) * g1 ** 2
        h2 = rho * h1 + (1 - rho) * g2 ** 2
        expected[k] = params[k] - lr * g1 / (np.sqrt(h1) + 1e-7) - lr * g2 / (np.sqrt(h2) + 1e-7)
    assert_params(run(RMSprop(lr=lr, decay_rate=rho), params, grads), expected)


def test_adam(backend, problem):
    params, grads = problem
    lr, b1, b2 = 0.01, 0.9, 0.999
    expected = {}
    for k in params:
        w, m, v = params[k].copy(), 0.0, 0.0
        for i, g in enumerate((grads[0][k], grads[1][k]), start=1):
            m = b1 * m + (1 - b1) * g
            v = b2 * v + (1 - b2) * g ** 2
            lr_t = lr * np.sqrt(1 - b2 ** i) / (1 - b1 ** i)
            w = w - lr_t * m / (np.sqrt(v) + 1e-7)
        expected[k] = w
    opt = Adam(lr=lr, beta1=b1, beta2=b2)
    assert_params(run(opt, params, grads), expected)
    assert opt.iter == 2


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_float32_params_stay_float32(backend, name, problem):
    params, grads = problem
    p32 = {k: v.astype(np.float32) for k, v in params.items()}
    g32 = [{k: v.astype(np.float32) for k, v in g.items()} for g in grads]
    opt = OPTIMIZERS[name]()
    got = run(opt, p32, g32)
    assert all(v.dtype == np.float32 for v in got.values())
    for state in ("v", "h", "m"):
        if getattr(opt, state, None) is not None:
            assert all(a.dtype == np.float32 for a in getattr(opt, state).values())
    ref = run(OPTIMIZERS[name](), params, grads)     # same numbers as float64, to float32 precision
    for k in params:
        np.testing.assert_allclose(got[k], ref[k], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_scalar_params_like_the_books_ch06_comparison(backend, name):
    # f(x, y) = x**2 / 20 + y**2 from (-7, 2); params are plain floats, as in the book.
    params = {"x": -7.0, "y": 2.0}
    arrays = {"x": np.array([-7.0]), "y": np.array([2.0])}
    opt, ref = OPTIMIZERS[name](lr=0.1), OPTIMIZERS[name](lr=0.1)
    for _ in range(3):
        opt.update(params, {"x": params["x"] / 10.0, "y": 2.0 * params["y"]})
        ref.update(arrays, {"x": arrays["x"] / 10.0, "y": 2.0 * arrays["y"]})
    assert type(params["x"]) is float and type(params["y"]) is float
    assert params["x"] == pytest.approx(arrays["x"][0], rel=1e-14)
    assert params["y"] == pytest.approx(arrays["y"][0], rel=1e-14)
    assert abs(params["y"]) < 2.0                  # moving towards the minimum


def test_sgd_scalar_step_by_hand():
    params = {"x": -7.0, "y": 2.0}
    SGD(lr=0.95).update(params, {"x": -0.7, "y": 4.0})
    assert params == pytest.approx({"x": -7.0 + 0.95 * 0.7, "y": 2.0 - 0.95 * 4.0}, rel=1e-15)


def test_update_is_in_place(backend, problem):
    params, grads = problem
    W = params["W"]
    before = W.copy()
    SGD(lr=1.0).update(params, grads[0])
    assert params["W"] is W
    np.testing.assert_allclose(W, before - grads[0]["W"], rtol=1e-12)


@pytest.mark.parametrize("make, match", [
    (lambda: SGD(lr=0), "SGD: lr must be in \\(0.0, inf\\), got 0"),
    (lambda: SGD(lr=-0.1), "SGD: lr must be in"),
    (lambda: Momentum(momentum=1.0), "Momentum: momentum must be in \\[0.0, 1.0\\)"),
    (lambda: RMSprop(decay_rate=1.5), "RMSprop: decay_rate must be in"),
    (lambda: Adam(beta2=1.0), "Adam: beta2 must be in"),
])
def test_bad_hyper_parameters(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_bad_hyper_parameter_type():
    with pytest.raises(TypeError, match="AdaGrad: lr must be a finite number, got 'fast'"):
        AdaGrad(lr="fast")
    with pytest.raises(TypeError, match="Adam: lr must be a finite number"):
        Adam(lr=float("nan"))


def test_mismatched_params_and_grads(backend):
    params = {"W": np.ones((2, 2)), "b": np.zeros(2)}
    with pytest.raises(ValueError, match="Adam.update: params and grads must have the same keys; "
                                         "missing in grads: \\['b'\\]"):
        Adam().update(params, {"W": np.ones((2, 2))})
    with pytest.raises(ValueError, match="SGD.update: grads\\['b'\\] has shape \\(3,\\) but params\\['b'\\] has \\(2,\\)"):
        SGD().update(params, {"W": np.ones((2, 2)), "b": np.ones(3)})
    with pytest.raises(TypeError, match="Momentum.update: params\\['W'\\] must be a float32/float64 array"):
        Momentum().update({"W": np.ones((2, 2), dtype=int)}, {"W": np.ones((2, 2))})
    with pytest.raises(TypeError, match="SGD.update: params\\['x'\\] must be a float array or a number, got str"):
        SGD().update({"x": "a"}, {"x": 1.0})
