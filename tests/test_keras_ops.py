"""keras.ops: values against NumPy, every op's backward against numerical gradients (float64),
the same gradients through a traced graph, Python operators on tensors, and error messages."""
import numpy as np
import pytest

from fastnn import keras
from fastnn.gradient import numerical_gradient
from fastnn.keras import ops
from fastnn.keras import _trace
from fastnn.keras._graph import Graph


@pytest.fixture
def float64():
    old = keras.backend.floatx()
    keras.backend.set_floatx("float64")
    yield
    keras.backend.set_floatx(old)


def _positive(rng, shape):
    return rng.uniform(0.5, 2.0, shape)


def _apart(rng, shape):
    """Values with no ties and away from 0 (max/min/abs/relu are not smooth there)."""
    n = int(np.prod(shape))
    v = (rng.permutation(n) + 1.0) * 0.37 * rng.choice([-1, 1], n)
    return v.reshape(shape)


# name -> (function of the inputs, input makers). Each case is checked input by input.
CASES = {
    "add": (lambda a, b: ops.add(a, b), [(3, 4), (4,)]),
    "subtract": (lambda a, b: ops.subtract(a, b), [(3, 4), (3, 1)]),
    "multiply": (lambda a, b: ops.multiply(a, b), [(2, 3, 4), (3, 4)]),
    "divide": (lambda a, b: ops.divide(a, b), [(3, 4), ("pos", (3, 4))]),
    "power": (lambda a, b: ops.power(a, b), [("pos", (3, 4)), (3, 4)]),
    "maximum": (lambda a, b: ops.maximum(a, b), [("apart", (3, 4)), ("apart", (3, 4))]),
    "minimum": (lambda a, b: ops.minimum(a, b), [("apart", (3, 4)), ("apart", (3, 4))]),
    "matmul": (lambda a, b: ops.matmul(a, b), [(3, 4), (4, 5)]),
    "matmul_batched": (lambda a, b: ops.matmul(a, b), [(2, 3, 4), (4, 5)]),
    "matmul_vector": (lambda a, b: ops.matmul(a, b), [(4,), (2, 4, 3)]),
    "dot": (lambda a, b: ops.dot(a, b), [(3, 4), (4, 5)]),
    "dot_3d": (lambda a, b: ops.dot(a, b), [(2, 4), (3, 4, 5)]),
    "dot_vector": (lambda a, b: ops.dot(a, b), [(2, 3, 4), (4,)]),
    "negative": (lambda a: ops.negative(a), [(3, 4)]),
    "square": (lambda a: ops.square(a), [(3, 4)]),
    "sqrt": (lambda a: ops.sqrt(a), [("pos", (3, 4))]),
    "exp": (lambda a: ops.exp(a), [(3, 4)]),
    "log": (lambda a: ops.log(a), [("pos", (3, 4))]),
    "abs": (lambda a: ops.abs(a), [("apart", (3, 4))]),
    "clip": (lambda a: ops.clip(a, -0.5, 0.6), [("apart", (3, 4))]),
    "where": (lambda a, b: ops.where(np.array([[True], [False], [True]]), a, b), [(3, 4), (4,)]),
    "sum": (lambda a: ops.sum(a, axis=1), [(3, 4, 2)]),
    "sum_all": (lambda a: ops.sum(a), [(3, 4)]),
    "mean": (lambda a: ops.mean(a, axis=(0, 2), keepdims=True), [(3, 4, 2)]),
    "max": (lambda a: ops.max(a, axis=-1), [("apart", (3, 4))]),
    "min": (lambda a: ops.min(a, axis=0, keepdims=True), [("apart", (3, 4))]),
    "reshape": (lambda a: ops.reshape(a, (2, -1)), [(3, 4)]),
    "transpose": (lambda a: ops.transpose(a, (2, 0, 1)), [(2, 3, 4)]),
    "transpose_default": (lambda a: ops.transpose(a), [(2, 3, 4)]),
    "expand_dims": (lambda a: ops.expand_dims(a, 1), [(3, 4)]),
    "squeeze": (lambda a: ops.squeeze(a, axis=1), [(3, 1, 4)]),
    "concatenate": (lambda a, b: ops.concatenate([a, b], axis=1), [(3, 2), (3, 4)]),
    "stack": (lambda a, b: ops.stack([a, b], axis=1), [(3, 4), (3, 4)]),
    "split": (lambda a: ops.split(a, [1, 3], axis=1)[1], [(2, 5)]),
    "getitem": (lambda a: a[1:, ::2], [(3, 4)]),
    "getitem_repeated_index": (lambda a: a[np.array([0, 2, 0])], [(3, 4)]),
    "relu": (lambda a: ops.relu(a), [("apart", (3, 4))]),
    "sigmoid": (lambda a: ops.sigmoid(a), [(3, 4)]),
    "tanh": (lambda a: ops.tanh(a), [(3, 4)]),
    "softplus": (lambda a: ops.softplus(a), [(3, 4)]),
    "softmax": (lambda a: ops.softmax(a), [(3, 4)]),
    "softmax_axis0": (lambda a: ops.softmax(a, axis=0), [(3, 4)]),
    "log_softmax": (lambda a: ops.log_softmax(a), [(3, 4)]),
    "cast": (lambda a: ops.cast(a, "float64") * 2, [(3, 4)]),
    "operators": (lambda a, b: (-a + b * 2 - a / (b * b + 1)) @ ops.transpose(b) ** 2, [(3, 4), (3, 4)]),
}


def _make(rng, spec):
    kind, shape = spec if isinstance(spec[0], str) else ("normal", spec)
    if kind == "pos":
        return _positive(rng, shape)
    if kind == "apart":
        return _apart(rng, shape)
    return rng.standard_normal(shape)


def _analytic(fn, xs, r):
    """Gradients of sum(fn(*xs) * r) from the ops' backward, through a traced graph.

    The inputs are weights of a layer (add_weight), read by the ops while a call()
    is traced: the graph's backward hands their gradients to the layer.
    """
    holder = keras.layers.Layer(name="holder")
    holder.dtype = "float64"
    variables = []
    for i, x in enumerate(xs):
        v = holder.add_weight(name=f"x{i}", shape=x.shape, initializer="zeros")
        v.assign(x)
        variables.append(v)
    with _trace.frame(holder, "layer"):
        out = fn(*variables)
    graph = Graph([], [out])
    y = graph.forward([], training=False)[0]
    np.testing.assert_allclose(y, fn(*xs), rtol=1e-12)     # traced == eager
    graph.backward([r], [False])
    return [holder.grads[f"x{i}"] for i in range(len(xs))]


@pytest.mark.parametrize("name", sorted(CASES))
def test_op_gradient_matches_numerical_gradient(name, float64, rng):
    fn, specs = CASES[name]
    xs = [_make(rng, s) for s in specs]
    y = fn(*xs)
    assert np.asarray(y).dtype == np.float64
    r = rng.standard_normal(y.shape)
    grads = _analytic(fn, xs, r)
    for i, x in enumerate(xs):
        def f(_):
            return float(np.sum(fn(*xs) * r))
        num = numerical_gradient(f, x)
        assert grads[i].shape == x.shape
        np.testing.assert_allclose(grads[i], num, rtol=1e-5, atol=1e-7, err_msg=f"{name}: input {i}")


BATCHED = {
    "add_broadcast": (lambda x: x + np.arange(4.0), (5, 4)),
    "multiply_self": (lambda x: x * x[:, :1], (5, 4)),
    "matmul_constant": (lambda x: ops.matmul(x, np.linspace(-1, 1, 12).reshape(4, 3)), (5, 4)),
    "softmax": (lambda x: ops.softmax(x * 2), (5, 4)),
    "sum_axis": (lambda x: ops.sum(ops.square(x), axis=1, keepdims=True) * x, (5, 4)),
    "batch_statistics": (lambda x: (x - ops.mean(x, axis=0)) / ops.sqrt(ops.mean(ops.square(x), axis=0) + 1), (5, 4)),
    "concatenate_split": (lambda x: ops.concatenate(ops.split(x, 2, axis=1)[::-1], axis=1) * x, (5, 4)),
    "reshape_transpose": (lambda x: ops.transpose(ops.reshape(x, (-1, 2, 2)), (0, 2, 1)) ** 3, (5, 4)),
}


@pytest.mark.parametrize("name", sorted(BATCHED))
def test_gradient_through_graph_on_batched_tensors(name, float64, rng):
    fn, shape = BATCHED[name]
    x = rng.standard_normal(shape)
    inp = keras.Input(shape=shape[1:])
    out = fn(inp)
    assert out.shape == (None,) + fn(x).shape[1:]
    graph = Graph([inp], [out])
    y = graph.forward([x], training=False)[0]
    np.testing.assert_allclose(y, fn(x), rtol=1e-12)
    r = rng.standard_normal(y.shape)
    (gx,) = graph.backward([r], [False])
    num = numerical_gradient(lambda _: float(np.sum(fn(x) * r)), x)
    np.testing.assert_allclose(gx, num, rtol=1e-5, atol=1e-7)


def test_values_match_numpy(rng):
    a, b = rng.standard_normal((3, 4)), rng.uniform(1, 2, (4, 5))
    np.testing.assert_array_equal(ops.matmul(a, b), a @ b)
    np.testing.assert_array_equal(ops.concatenate([a, a]), np.concatenate([a, a], axis=0))   # axis 0 as keras.ops
    np.testing.assert_array_equal(ops.argmax(a, axis=-1), np.argmax(a, axis=-1))
    np.testing.assert_allclose(ops.exp(ops.log_softmax(a)), ops.softmax(a), rtol=1e-6)
    np.testing.assert_allclose(np.sum(ops.softmax(a), axis=-1), 1, rtol=1e-6)
    assert [p.shape for p in ops.split(a, 2, axis=1)] == [(3, 2), (3, 2)]
    assert ops.convert_to_tensor([1, 2], dtype="float32").dtype == np.float32
    assert ops.cast(a, "int64").dtype == np.int64
    assert ops.add(a.astype(np.float32), 2.0).dtype == np.float32          # Python scalars stay weak
    assert ops.sigmoid(np.array([-1000.0, 1000.0])).tolist() == [0.0, 1.0]  # no overflow


def test_argmax_and_comparisons_have_no_gradient(float64, rng):
    x = rng.standard_normal((4, 3))
    inp = keras.Input(shape=(3,))
    out = inp * ops.cast(ops.argmax(inp, axis=-1), "float64")[:, None] + ops.cast(inp > 0, "float64")
    g = Graph([inp], [out])
    y = g.forward([x], False)[0]
    np.testing.assert_allclose(y, x * np.argmax(x, -1)[:, None] + (x > 0))
    gx = g.backward([np.ones_like(y)], [False])[0]
    np.testing.assert_allclose(gx, np.broadcast_to(np.argmax(x, -1)[:, None], x.shape))


def test_symbolic_shapes_and_operators():
    x = keras.Input(shape=(6,))
    assert (x + 1).shape == (None, 6)
    assert (2 * x).shape == (None, 6)
    assert (np.ones(6) - x).shape == (None, 6)            # ndarray on the left: the op, not NumPy's
    assert np.exp(x).shape == (None, 6)
    assert ops.reshape(x, (-1, 2, 3)).shape == (None, 2, 3)
    assert ops.reshape(x, (x.shape[0], 3, 2)).shape == (None, 3, 2)
    assert ops.sum(x, axis=1).shape == (None,)
    assert ops.mean(x, axis=0).shape == (6,) and not ops.mean(x, axis=0).batched
    assert ops.sum(x).shape == ()
    assert x[:, 2:4].shape == (None, 2)
    assert ops.matmul(x, np.ones((6, 3))).shape == (None, 3)
    assert [p.shape for p in ops.split(x, 3, axis=1)] == [(None, 2)] * 3
    assert ops.argmax(x, axis=-1).dtype == "int64"
    assert (x * np.linspace(0, 1, 6)).dtype == "float32"          # float constants follow the tensor


def test_symbolic_misuse_errors():
    x = keras.Input(shape=(3,))
    with pytest.raises(ValueError, match=r"keras.ops.add in the functional API: .*\(None, 3\), array\(4,\)"):
        ops.add(x, np.ones(4))
    with pytest.raises(ValueError, match=r"keras.ops.matmul .*\(None, 3\), array\(4, 2\)"):
        x @ np.ones((4, 2))
    with pytest.raises(TypeError, match=r"Python `if`.*test_keras_ops.py:\d+"):
        if x > 0:
            pass
    with pytest.raises(TypeError, match="converting it to a NumPy array"):
        np.asarray(x)
    with pytest.raises(TypeError, match="iterating"):
        a, b, c = x
    with pytest.raises(TypeError, match="boolean-mask"):
        x[np.array([True, False, True])]
    with pytest.raises(ValueError, match="no fixed size"):
        ops.split(x, 2, axis=0)
