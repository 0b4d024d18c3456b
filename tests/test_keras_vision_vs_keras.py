"""fastnn.keras's vision layers against real Keras 3 (torch backend), given the
same weights and inputs. Skipped when keras or torch is not installed.

One module, because importing keras takes a while."""
import os

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")
pytest.importorskip("torch")
rk = pytest.importorskip("keras")
if rk.backend.backend() != "torch":
    pytest.skip("these comparisons run real Keras on its torch backend", allow_module_level=True)

from fastnn import keras  # noqa: E402

# Keras' torch backend converts tensors with np.array(x, copy=False), which NumPy 2 warns about.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
from fastnn.keras import layers as L  # noqa: E402


def _np(t):
    return rk.ops.convert_to_numpy(t)


def compare(ours, theirs, xs, training=False, rtol=1e-5, atol=1e-5, weights_from="theirs"):
    """Build both on xs, give ours Keras' weights, compare the outputs."""
    many = isinstance(xs, list)
    xs32 = [np.asarray(x, np.float32) for x in (xs if many else [xs])]
    arg = xs32 if many else xs32[0]
    want = _np(theirs(arg, training=training))
    ours(arg)
    theirs_w = [np.asarray(w) for w in theirs.get_weights()]
    assert [w.shape for w in ours.get_weights()] == [w.shape for w in theirs_w]
    ours.set_weights(theirs_w)
    got = ours(arg, training=training)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=rtol, atol=atol)


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def _perturb(layer, rng):
    """Random non-default weights in a Keras layer (so that biases, gamma, beta matter)."""
    layer.set_weights([rng.standard_normal(w.shape).astype(np.float32) * 0.5 for w in layer.get_weights()])


DETERMINISTIC = [
    ("rescaling", lambda m: m.Rescaling(1 / 127.5, offset=-1), [(2, 5, 6, 3)]),
    ("resizing-up", lambda m: m.Resizing(9, 11), [(2, 5, 6, 3)]),
    ("resizing-down", lambda m: m.Resizing(3, 4), [(2, 8, 9, 3)]),
    ("resizing-nearest", lambda m: m.Resizing(7, 4, interpolation="nearest"), [(2, 5, 6, 3)]),
    ("resizing-crop", lambda m: m.Resizing(4, 6, crop_to_aspect_ratio=True), [(2, 7, 5, 3)]),
    ("resizing-pad", lambda m: m.Resizing(4, 6, pad_to_aspect_ratio=True, fill_value=0.25), [(2, 7, 5, 3)]),
    ("avgpool", lambda m: m.AveragePooling2D(2), [(2, 7, 6, 3)]),
    # Symmetric 'same' padding only: for uneven padding Keras' torch backend pads by
    # replicating the edge and counts those cells, unlike its TensorFlow/JAX backends
    # and its documentation, which average over the cells inside the image (as fastnn;
    # see test_average_pooling_same_does_not_count_padding).
    ("avgpool-same", lambda m: m.AveragePooling2D(3, strides=2, padding="same"), [(2, 7, 9, 3)]),
    ("avgpool-same-1x2", lambda m: m.AveragePooling2D(3, strides=(1, 2), padding="same"), [(2, 5, 7, 3)]),
    ("maxpool-same", lambda m: m.MaxPooling2D(3, strides=2, padding="same"), [(2, 7, 6, 3)]),
    ("maxpool-same-2x1", lambda m: m.MaxPooling2D((3, 2), strides=(2, 1), padding="same"), [(2, 8, 5, 4)]),
    ("maxpool-valid-1x3", lambda m: m.MaxPooling2D((2, 3), strides=(1, 3)), [(3, 5, 10, 2)]),
    ("global-avg", lambda m: m.GlobalAveragePooling2D(), [(2, 4, 5, 3)]),
    ("global-max-keepdims", lambda m: m.GlobalMaxPooling2D(keepdims=True), [(2, 4, 5, 3)]),
    ("zeropad", lambda m: m.ZeroPadding2D(((1, 2), (3, 0))), [(2, 4, 5, 3)]),
    ("crop", lambda m: m.Cropping2D(((1, 2), (0, 1))), [(2, 5, 5, 3)]),
    ("upsample", lambda m: m.UpSampling2D((2, 3)), [(2, 3, 4, 2)]),
    ("upsample-bilinear", lambda m: m.UpSampling2D(2, interpolation="bilinear"), [(2, 3, 4, 2)]),
    ("relu-args", lambda m: m.ReLU(max_value=0.8, negative_slope=0.2, threshold=0.1), [(2, 4, 5, 3)]),
    ("leaky", lambda m: m.LeakyReLU(), [(2, 4, 5, 3)]),
    ("elu", lambda m: m.ELU(alpha=0.5), [(2, 4, 5, 3)]),
    ("softmax", lambda m: m.Softmax(), [(2, 4, 5, 3)]),
    ("softmax-axis1", lambda m: m.Softmax(axis=1), [(2, 4, 5, 3)]),
    ("add", lambda m: m.Add(), [(2, 3, 4, 2)] * 3),
    ("subtract", lambda m: m.Subtract(), [(2, 3, 4, 2)] * 2),
    ("multiply", lambda m: m.Multiply(), [(2, 3, 4, 2)] * 2),
    ("average", lambda m: m.Average(), [(2, 3, 4, 2)] * 3),
    ("maximum", lambda m: m.Maximum(), [(2, 3, 4, 2)] * 2),
    ("minimum", lambda m: m.Minimum(), [(2, 3, 4, 2)] * 2),
    ("layernorm", lambda m: m.LayerNormalization(), [(3, 4, 5, 6)]),
    ("layernorm-axes", lambda m: m.LayerNormalization(axis=[2, 3], epsilon=1e-5), [(3, 4, 5, 6)]),
    ("depthwise", lambda m: m.DepthwiseConv2D(3, depth_multiplier=2), [(2, 7, 6, 3)]),
    ("depthwise-same-s2", lambda m: m.DepthwiseConv2D((3, 2), strides=2, padding="same", activation="relu"),
     [(2, 7, 6, 3)]),
    ("separable", lambda m: m.SeparableConv2D(5, 3, padding="same", depth_multiplier=2), [(2, 6, 7, 3)]),
    ("separable-s2", lambda m: m.SeparableConv2D(4, (2, 3), strides=2, activation="tanh"), [(2, 7, 6, 3)]),
    ("spatial-dropout-inference", lambda m: m.SpatialDropout2D(0.5), [(2, 4, 5, 3)]),
    ("random-flip-inference", lambda m: m.RandomFlip(), [(2, 4, 5, 3)]),
    ("random-rotation-inference", lambda m: m.RandomRotation(0.3), [(2, 4, 5, 3)]),
]


@pytest.mark.parametrize("case_id, make, shapes", DETERMINISTIC, ids=[c[0] for c in DETERMINISTIC])
def test_same_outputs_as_keras(case_id, make, shapes, rng):
    xs = [rng.uniform(-1, 1, s) for s in shapes]
    theirs = make(rk.layers)
    xs_arg = xs if len(xs) > 1 else xs[0]
    theirs(np.asarray(xs_arg, np.float32) if len(xs) == 1 else [np.asarray(x, np.float32) for x in xs])
    if theirs.weights:
        _perturb(theirs, rng)
    compare(make(L), theirs, xs_arg)


# Random layers with a range of width 0 draw the same transform every time, so
# the geometry can be compared exactly.
FIXED_RANDOM = [
    ("rotation-reflect", lambda m: m.RandomRotation((0.1, 0.1))),
    ("rotation-constant", lambda m: m.RandomRotation((-0.15, -0.15), fill_mode="constant", fill_value=0.5)),
    ("rotation-wrap", lambda m: m.RandomRotation((0.2, 0.2), fill_mode="wrap")),
    ("rotation-nearest-fill", lambda m: m.RandomRotation((0.3, 0.3), fill_mode="nearest")),
    ("rotation-nearest-interp", lambda m: m.RandomRotation((0.05, 0.05), interpolation="nearest")),
    ("zoom-in", lambda m: m.RandomZoom((-0.3, -0.3))),
    ("zoom-out-constant", lambda m: m.RandomZoom((0.4, 0.4), fill_mode="constant")),
    ("zoom-xy", lambda m: m.RandomZoom((0.2, 0.2), (-0.25, -0.25), fill_mode="wrap")),
    ("translation", lambda m: m.RandomTranslation((0.15, 0.15), (-0.3, -0.3))),
    ("translation-constant", lambda m: m.RandomTranslation((-0.2, -0.2), (0.1, 0.1), fill_mode="constant",
                                                           fill_value=2.0)),
]


@pytest.mark.parametrize("case_id, make", FIXED_RANDOM, ids=[c[0] for c in FIXED_RANDOM])
def test_same_geometric_transforms_as_keras(case_id, make, rng):
    x = rng.uniform(0, 1, (2, 7, 9, 3))
    compare(make(L), make(rk.layers), x, training=True, atol=2e-5)


def test_random_flip_and_contrast_do_what_keras_does(rng):
    x = rng.uniform(0, 255, (64, 4, 5, 3)).astype(np.float32)
    for mode, view in [("horizontal", lambda a: a[:, ::-1]), ("vertical", lambda a: a[::-1]),
                       ("horizontal_and_vertical", lambda a: a[::-1, ::-1])]:
        for impl in (L, rk.layers):
            out = _np(impl.RandomFlip(mode, seed=1)(x, training=True))
            ok = [np.array_equal(o, xi) or np.array_equal(o, view(xi)) for o, xi in zip(out, x)]
            assert all(ok), (mode, impl)
    for impl in (L, rk.layers):             # a pair (lower, upper): c in [1 - lower, 1 + upper], clipped
        out = _np(impl.RandomContrast((0.5, 0.5), seed=1)(x, training=True))
        mean = x.mean(axis=(1, 2), keepdims=True)
        inside = (out > 0) & (out < 255)
        c = ((out - mean) / (x - mean))[inside]
        assert c.min() >= 0.5 - 1e-4 and c.max() <= 1.5 + 1e-4
        assert out.min() >= 0 and out.max() <= 255


def test_layer_gradients_agree_with_torch_autograd(rng):
    """Input and weight gradients of the separable and depthwise convolutions and of
    LayerNormalization, vs real Keras' layers differentiated by torch."""
    import torch
    keras.backend.set_floatx("float64")
    try:
        for make in (lambda m: m.SeparableConv2D(4, 3, strides=2, padding="same", depth_multiplier=2),
                     lambda m: m.DepthwiseConv2D(3, padding="same"),
                     lambda m: m.LayerNormalization(),
                     lambda m: m.AveragePooling2D(3, strides=2, padding="same")):
            x = rng.uniform(-1, 1, (2, 7, 9, 3))
            theirs = make(rk.layers)
            theirs.build((None, 7, 9, 3))
            if theirs.weights:
                _perturb(theirs, rng)
            ours = make(L)
            out = ours(x)
            ours.set_weights([np.asarray(w, np.float64) for w in theirs.get_weights()])
            out = ours(x)
            g = rng.standard_normal(out.shape)
            dx = ours.backward(g)
            xt = torch.tensor(x, dtype=torch.float32, requires_grad=True)
            yt = theirs(xt)
            (yt * torch.tensor(g, dtype=torch.float32)).sum().backward()
            np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=1e-4, atol=1e-4)
            for w in theirs.trainable_weights:
                name = w.path.split("/")[-1]
                np.testing.assert_allclose(ours.grads[name], w.value.grad.numpy(), rtol=1e-4, atol=1e-4)
    finally:
        keras.backend.set_floatx("float32")


def _xception(m, input_shape, num_classes):
    """keras-io's small Xception, for the keras module ``m`` (real Keras or fastnn.keras)."""
    layers = m.layers
    inputs = m.Input(shape=input_shape)
    x = layers.Rescaling(1.0 / 255)(inputs)
    x = layers.Conv2D(128, 3, strides=2, padding="same")(x)
    x = layers.BatchNormalization()(x)
    x = layers.Activation("relu")(x)
    previous = x
    for size in [256, 512, 728]:
        x = layers.Activation("relu")(x)
        x = layers.SeparableConv2D(size, 3, padding="same")(x)
        x = layers.BatchNormalization()(x)
        x = layers.Activation("relu")(x)
        x = layers.SeparableConv2D(size, 3, padding="same")(x)
        x = layers.BatchNormalization()(x)
        x = layers.MaxPooling2D(3, strides=2, padding="same")(x)
        residual = layers.Conv2D(size, 1, strides=2, padding="same")(previous)
        x = layers.add([x, residual])
        previous = x
    x = layers.SeparableConv2D(1024, 3, padding="same")(x)
    x = layers.BatchNormalization()(x)
    x = layers.Activation("relu")(x)
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dropout(0.25)(x)
    outputs = layers.Dense(1 if num_classes == 2 else num_classes, activation=None)(x)
    return m.Model(inputs, outputs)


def test_xception_matches_keras_weight_for_weight(rng):
    theirs = _xception(rk, (32, 32, 3), 2)
    ours = _xception(keras, (32, 32, 3), 2)
    assert ours.count_params() == theirs.count_params()
    assert [w.shape for w in ours.get_weights()] == [tuple(w.shape) for w in theirs.get_weights()]
    weights = [np.asarray(w) for w in theirs.get_weights()]
    weights = [w + rng.uniform(0.0, 0.1, w.shape).astype(np.float32) if w.ndim == 1 else w for w in weights]
    theirs.set_weights(weights)
    ours.set_weights(weights)
    x = rng.uniform(0, 255, (4, 32, 32, 3)).astype(np.float32)
    np.testing.assert_allclose(ours.predict(x, verbose=0), _np(theirs.predict(x, verbose=0)), rtol=1e-3,
                               atol=1e-3)


CONFIG_CASES = [
    lambda m: m.Rescaling(0.5, offset=1.0), lambda m: m.Resizing(4, 6, interpolation="nearest"),
    lambda m: m.RandomFlip("vertical", seed=3), lambda m: m.RandomRotation(0.1, fill_mode="constant"),
    lambda m: m.RandomZoom(0.2, (-0.1, 0.3)), lambda m: m.RandomTranslation(0.1, (0.0, 0.2)),
    lambda m: m.RandomContrast((0.2, 0.3)), lambda m: m.AveragePooling2D(3, strides=1, padding="same"),
    lambda m: m.GlobalAveragePooling2D(keepdims=True), lambda m: m.GlobalMaxPooling2D(),
    lambda m: m.ZeroPadding2D(((1, 2), (3, 4))), lambda m: m.UpSampling2D(3, interpolation="bilinear"),
    lambda m: m.Cropping2D(((1, 0), (0, 2))), lambda m: m.ReLU(max_value=6.0), lambda m: m.LeakyReLU(0.2),
    lambda m: m.ELU(0.5), lambda m: m.Softmax(axis=1), lambda m: m.Add(), lambda m: m.Subtract(),
    lambda m: m.Multiply(), lambda m: m.Average(), lambda m: m.Maximum(), lambda m: m.Minimum(),
    lambda m: m.LayerNormalization(epsilon=1e-5), lambda m: m.SeparableConv2D(4, 3, strides=2, padding="same"),
    lambda m: m.DepthwiseConv2D(3, depth_multiplier=2), lambda m: m.SpatialDropout2D(0.2, seed=1),
    lambda m: m.MaxPooling2D(3, strides=2, padding="same"),
]


@pytest.mark.parametrize("make", CONFIG_CASES)
def test_keras_configs_build_the_same_layer(make):
    """Real Keras' get_config, without what fastnn writes in its own way (dtype policy,
    initializer objects), rebuilds a fastnn layer with the same settings."""
    kc = make(rk.layers).get_config()
    cls = type(make(L))
    config = {k: v for k, v in kc.items() if k not in ("dtype",) and not k.endswith("_initializer")}
    config = {k: (list(v) if isinstance(v, tuple) else v) for k, v in config.items()}
    ours = cls.from_config(config)
    mine = make(L).get_config()
    for key, value in config.items():
        if key in ("name", "trainable"):
            continue
        if key.endswith(("_regularizer", "_constraint")):      # accepted as None, not stored
            assert value is None and key not in mine
            continue
        got = ours.get_config()[key]
        assert _jsonish(got) == _jsonish(value) or _jsonish(got) == _jsonish(mine[key]), key


def _jsonish(v):
    import json
    return json.loads(json.dumps(v))
