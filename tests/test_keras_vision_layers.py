"""The vision layers of fastnn.keras (issue 17, item 4): gradients against
numerical differences (float64, both backends), Keras semantics computed by
hand, configs that rebuild the layer, argument errors, and the keras-io
"image classification from scratch" network (a small Xception) built,
trained and saved.

Comparisons against real Keras 3 live in test_keras_vision_vs_keras.py
(keras imports slowly)."""
import numpy as np
import pytest

import fastnn
from fastnn import keras
from fastnn.gradient import numerical_gradient
from fastnn.keras import backend
from fastnn.keras import layers as L


@pytest.fixture
def float64():
    keras.backend.set_floatx("float64")
    yield
    keras.backend.set_floatx("float32")


def _run(layer, xs, training):
    return layer(xs if isinstance(xs, list) else xs, training=training)


def grad_check(layer, xs, training=False, seed=0, rtol=1e-6, atol=1e-8):
    """Input gradients and weight gradients of ``layer`` vs central differences of sum(out * g)."""
    rng = np.random.default_rng(seed)
    many = isinstance(xs, list)
    xs = [np.array(x, dtype=np.float64) for x in (xs if many else [xs])]
    state = backend.rng_state(layer._rng) if hasattr(layer, "_rng") else None

    def forward():
        if state is not None:                 # the same random draw at every evaluation
            layer._rng = backend.rng_from_state(state)
        return _run(layer, xs if many else xs[0], training)

    out = forward()
    g = rng.standard_normal(out.shape)
    dxs = layer.backward(g)
    dxs = dxs if many else [dxs]
    analytic = {f"w:{k}": v.copy() for k, v in layer.grads.items()} if layer.params else {}

    def f(_):
        return float(np.sum(forward() * g))

    for i, (x, dx) in enumerate(zip(xs, dxs)):
        assert dx.shape == x.shape and dx.dtype == np.float64, (i, dx.shape, dx.dtype)
        np.testing.assert_allclose(dx, numerical_gradient(f, x), rtol=rtol, atol=atol, err_msg=f"input {i}")
    for name in layer.trainable_param_names():
        num = numerical_gradient(f, layer.params[name])
        np.testing.assert_allclose(analytic[f"w:{name}"], num, rtol=rtol, atol=atol, err_msg=f"weight {name}")
    return out


def img(rng, n=2, h=5, w=6, c=3):
    return rng.uniform(-1, 1, (n, h, w, c))


# Layers with an input gradient (and weights, for some): (id, factory, input shapes, training)
GRAD_CASES = [
    ("rescaling", lambda: L.Rescaling(1 / 255.0, offset=-0.5), [(2, 4, 5, 3)], False),
    ("rescaling-per-channel", lambda: L.Rescaling([1.0, 2.0, 3.0]), [(2, 4, 5, 3)], False),
    ("resizing-bilinear-up", lambda: L.Resizing(7, 9), [(2, 4, 5, 2)], False),
    ("resizing-bilinear-down", lambda: L.Resizing(3, 2), [(2, 7, 5, 2)], False),
    ("resizing-nearest", lambda: L.Resizing(6, 3, interpolation="nearest"), [(2, 4, 5, 2)], False),
    ("resizing-crop", lambda: L.Resizing(4, 4, crop_to_aspect_ratio=True), [(2, 5, 8, 2)], False),
    ("resizing-pad", lambda: L.Resizing(4, 4, pad_to_aspect_ratio=True, fill_value=0.5), [(2, 5, 8, 2)], False),
    ("random-flip", lambda: L.RandomFlip(seed=3), [(6, 4, 5, 2)], True),
    ("random-flip-h", lambda: L.RandomFlip("horizontal", seed=3), [(6, 4, 5, 2)], True),
    ("random-rotation", lambda: L.RandomRotation(0.2, seed=1), [(3, 6, 5, 2)], True),
    ("random-rotation-constant", lambda: L.RandomRotation(0.3, fill_mode="constant", fill_value=0.7, seed=1),
     [(3, 6, 5, 2)], True),
    ("random-rotation-wrap-nearest", lambda: L.RandomRotation(0.3, fill_mode="wrap", interpolation="nearest",
                                                              seed=2), [(3, 6, 5, 2)], True),
    ("random-zoom", lambda: L.RandomZoom(0.4, seed=4), [(3, 6, 5, 2)], True),
    ("random-zoom-xy-nearest-fill", lambda: L.RandomZoom((-0.5, 0.5), (0.1, 0.6), fill_mode="nearest", seed=4),
     [(3, 6, 5, 2)], True),
    ("random-translation", lambda: L.RandomTranslation(0.3, 0.3, seed=5), [(3, 6, 5, 2)], True),
    ("random-contrast", lambda: L.RandomContrast(0.5, value_range=(-3, 3), seed=6), [(3, 4, 5, 2)], True),
    ("random-contrast-clipped", lambda: L.RandomContrast(0.9, value_range=(-0.5, 0.5), seed=6), [(3, 4, 5, 2)], True),
    ("avgpool", lambda: L.AveragePooling2D(), [(2, 6, 7, 3)], False),
    ("avgpool-same-3x3-s2", lambda: L.AveragePooling2D(3, strides=2, padding="same"), [(2, 6, 7, 3)], False),
    ("avgpool-strides-2x1", lambda: L.AveragePooling2D((2, 3), strides=(2, 1)), [(2, 6, 7, 3)], False),
    ("global-avgpool", lambda: L.GlobalAveragePooling2D(), [(2, 4, 5, 3)], False),
    ("global-avgpool-keepdims", lambda: L.GlobalAveragePooling2D(keepdims=True), [(2, 4, 5, 3)], False),
    ("global-maxpool", lambda: L.GlobalMaxPooling2D(), [(2, 4, 5, 3)], False),
    ("maxpool-same", lambda: L.MaxPooling2D(3, strides=2, padding="same"), [(2, 6, 7, 3)], False),
    ("zeropad", lambda: L.ZeroPadding2D(((1, 2), (0, 3))), [(2, 3, 4, 2)], False),
    ("crop", lambda: L.Cropping2D(((1, 0), (2, 1))), [(2, 4, 6, 2)], False),
    ("upsample-nearest", lambda: L.UpSampling2D((2, 3)), [(2, 3, 4, 2)], False),
    ("upsample-bilinear", lambda: L.UpSampling2D(2, interpolation="bilinear"), [(2, 3, 4, 2)], False),
    ("relu", lambda: L.ReLU(), [(2, 4, 5, 3)], False),
    ("relu-args", lambda: L.ReLU(max_value=0.6, negative_slope=0.1, threshold=0.2), [(2, 4, 5, 3)], False),
    ("leaky-relu", lambda: L.LeakyReLU(), [(2, 4, 5, 3)], False),
    ("elu", lambda: L.ELU(alpha=0.7), [(2, 4, 5, 3)], False),
    ("softmax", lambda: L.Softmax(), [(2, 4, 5, 3)], False),
    ("softmax-axes", lambda: L.Softmax(axis=[1, 2]), [(2, 4, 5, 3)], False),
    ("add", lambda: L.Add(), [(2, 3, 4, 2)] * 3, False),
    ("add-broadcast", lambda: L.Add(), [(2, 3, 4, 2), (2, 1, 4, 1)], False),
    ("subtract", lambda: L.Subtract(), [(2, 3, 4, 2)] * 2, False),
    ("multiply", lambda: L.Multiply(), [(2, 3, 4, 2)] * 3, False),
    ("average", lambda: L.Average(), [(2, 3, 4, 2)] * 3, False),
    ("maximum", lambda: L.Maximum(), [(2, 3, 4, 2)] * 3, False),
    ("minimum", lambda: L.Minimum(), [(2, 3, 4, 2)] * 2, False),
    ("layernorm", lambda: L.LayerNormalization(), [(3, 4, 5, 6)], False),
    ("layernorm-axes", lambda: L.LayerNormalization(axis=[1, 3], epsilon=1e-5), [(3, 4, 5, 6)], False),
    ("layernorm-no-scale", lambda: L.LayerNormalization(scale=False), [(3, 7)], False),
    ("depthwise", lambda: L.DepthwiseConv2D(3, depth_multiplier=2), [(2, 6, 7, 3)], False),
    ("depthwise-same-s2", lambda: L.DepthwiseConv2D(3, strides=2, padding="same", activation="relu"),
     [(2, 6, 7, 3)], False),
    ("depthwise-4x2-s21", lambda: L.DepthwiseConv2D((4, 2), strides=(2, 1), padding="same", use_bias=False),
     [(2, 7, 5, 2)], False),
    ("separable", lambda: L.SeparableConv2D(4, 3, padding="same"), [(2, 5, 6, 3)], False),
    ("separable-s2-dm2", lambda: L.SeparableConv2D(5, (3, 2), strides=2, depth_multiplier=2,
                                                    activation="tanh"), [(2, 7, 6, 3)], False),
    ("spatial-dropout", lambda: L.SpatialDropout2D(0.5, seed=7), [(3, 4, 5, 6)], True),
]


@pytest.mark.parametrize("case_id, factory, shapes, training", GRAD_CASES, ids=[c[0] for c in GRAD_CASES])
def test_gradients_match_numerical_gradients(float64, backend, case_id, factory, shapes, training):
    rng = np.random.default_rng(1)
    layer = factory()
    xs = [rng.uniform(-1, 1, s) for s in shapes]
    grad_check(layer, xs if len(xs) > 1 else xs[0], training=training)
    if layer.params:
        for name in layer.trainable_param_names():
            assert layer.grads[name].shape == layer.params[name].shape
