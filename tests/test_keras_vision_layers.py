"""The vision layers of fastnn.keras (issue 17, item 4): gradients against
numerical differences (float64, both backends), Keras semantics computed by
hand, configs that rebuild the layer, argument errors, and the keras-io
"image classification from scratch" network (a small Xception) built,
trained and saved.

Comparisons against real Keras 3 live in test_keras_vision_vs_keras.py
(keras imports slowly)."""
import json
import os
import re
import subprocess
import sys
from pathlib import Path

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


def grad_check(layer, xs, training=False, seed=0, rtol=1e-6, atol=1e-8):
    """Input gradients and weight gradients of ``layer`` vs central differences of sum(out * g)."""
    rng = np.random.default_rng(seed)
    many = isinstance(xs, list)
    xs = [np.array(x, dtype=np.float64) for x in (xs if many else [xs])]
    state = backend.rng_state(layer._rng) if hasattr(layer, "_rng") else None

    def forward():
        if state is not None:                 # the same random draw at every evaluation
            layer._rng = backend.rng_from_state(state)
        return layer(xs if many else xs[0], training=training)

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
    keras.backend.set_random_seed(0)       # fixed initial weights: no ReLU input lands within h of its kink
    layer = factory()
    xs = [rng.uniform(-1, 1, s) for s in shapes]
    grad_check(layer, xs if len(xs) > 1 else xs[0], training=training)
    if layer.params:
        for name in layer.trainable_param_names():
            assert layer.grads[name].shape == layer.params[name].shape


# --------------------------------------------------------------------------
# Keras semantics, values computed by hand
# --------------------------------------------------------------------------
def test_rescaling_values():
    x = np.array([[[[0.0, 255.0]]]], dtype=np.float32)
    out = L.Rescaling(1 / 127.5, offset=-1)(x)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, [[[[-1.0, 1.0]]]])


def test_resizing_bilinear_uses_half_pixel_centres(float64):
    x = np.array([0.0, 1.0]).reshape(1, 1, 2, 1)
    out = L.Resizing(1, 4)(x)
    # sources (i + 0.5) / 2 - 0.5 = -0.25 (clamped to 0), 0.25, 0.75, 1.25 (last pixel repeated)
    np.testing.assert_allclose(out.ravel(), [0.0, 0.25, 0.75, 1.0])
    x = np.arange(4.0).reshape(1, 1, 4, 1)
    np.testing.assert_allclose(L.Resizing(1, 2)(x).ravel(), [0.5, 2.5])            # 2x down: pair means
    np.testing.assert_allclose(L.Resizing(1, 2, interpolation="nearest")(x).ravel(), [1.0, 3.0])


def test_resizing_crop_and_pad_to_aspect_ratio(float64):
    x = np.arange(2 * 4 * 8 * 1, dtype=np.float64).reshape(2, 4, 8, 1)
    out = L.Resizing(4, 4, crop_to_aspect_ratio=True)(x)      # the centred 4x4 window, unchanged
    np.testing.assert_allclose(out, x[:, :, 2:6])
    out = L.Resizing(8, 8, pad_to_aspect_ratio=True, fill_value=-1.0)(x)   # 4x8 padded to 8x8
    np.testing.assert_allclose(out[:, 2:6], x)
    assert (out[:, :2] == -1).all() and (out[:, 6:] == -1).all()


def test_image_layers_take_images_of_any_size(float64, rng):
    """keras.Input(shape=(None, None, 3)) then Resizing: the usual start of a vision model."""
    inputs = keras.Input(shape=(None, None, 3))
    x = L.Rescaling(1 / 255)(inputs)
    x = L.RandomFlip(seed=0)(x)
    x = L.Resizing(6, 5)(x)
    x = L.UpSampling2D(2, interpolation="bilinear")(x)
    outputs = L.GlobalAveragePooling2D()(L.Conv2D(2, 3)(x))
    model = keras.Model(inputs, outputs)
    assert model.output_shape == (None, 2)
    for shape in [(3, 9, 7, 3), (2, 4, 12, 3)]:
        assert model.predict(rng.uniform(0, 255, shape), verbose=0).shape == (shape[0], 2)
    model.compile(optimizer="sgd", loss="mse")
    model.train_on_batch(rng.uniform(0, 255, (2, 8, 8, 3)), np.zeros((2, 2)))
    grad_check(L.Resizing(3, 4), rng.uniform(-1, 1, (2, 5, 7, 2)))
    layer = L.Resizing(3, 4, crop_to_aspect_ratio=True)
    layer(keras.Input(shape=(None, None, 2)))
    for shape in [(2, 5, 7, 2), (1, 9, 4, 2)]:
        grad_check(layer, rng.uniform(-1, 1, shape))


def test_random_layers_are_the_identity_outside_training(rng):
    x = img(rng, n=16).astype(np.float32)          # 16 images: some are always flipped/dropped
    for layer in (L.RandomFlip(seed=0), L.RandomRotation(0.3, seed=0), L.RandomZoom(0.3, seed=0),
                  L.RandomTranslation(0.2, 0.2, seed=0), L.RandomContrast(0.5, seed=0),
                  L.SpatialDropout2D(0.5, seed=0)):
        np.testing.assert_array_equal(layer(x, training=False), x)
        assert not np.array_equal(layer(x, training=True), x), type(layer).__name__
        # Called directly, Keras 3's image augmentation layers augment (training defaults to True);
        # dropout does not.
        assert np.array_equal(layer(x), x) == isinstance(layer, L.SpatialDropout2D), type(layer).__name__
    model = keras.Sequential([keras.Input(shape=x.shape[1:]), L.RandomFlip(seed=0), L.RandomRotation(0.3)])
    np.testing.assert_array_equal(model.predict(x, verbose=0), x)


def test_random_layers_are_seeded(rng):
    x = img(rng, n=8).astype(np.float32)
    for make in (lambda: L.RandomFlip(seed=5), lambda: L.RandomRotation(0.3, seed=5),
                 lambda: L.RandomZoom(0.3, seed=5), lambda: L.RandomTranslation(0.2, 0.2, seed=5),
                 lambda: L.RandomContrast(0.5, seed=5)):
        a, b = make(), make()
        np.testing.assert_array_equal(a(x, training=True), b(x, training=True))
        np.testing.assert_array_equal(a(x, training=True), b(x, training=True))
    keras.utils.set_random_seed(3)
    a = L.RandomRotation(0.3)
    backend.set_random_seed(3)
    b = L.RandomRotation(0.3)
    np.testing.assert_array_equal(a(x, training=True), b(x, training=True))


def test_random_flip_flips_whole_images(rng):
    x = img(rng, n=64).astype(np.float32)
    out = L.RandomFlip("horizontal", seed=0)(x, training=True)
    flipped = np.array([np.array_equal(o, xi[:, ::-1]) for o, xi in zip(out, x)])
    kept = np.array([np.array_equal(o, xi) for o, xi in zip(out, x)])
    assert (flipped ^ kept).all() and 16 < flipped.sum() < 48
    out = L.RandomFlip(seed=0)(x, training=True)                  # one draw decides both flips
    both = np.array([np.array_equal(o, xi[::-1, ::-1]) for o, xi in zip(out, x)])
    kept = np.array([np.array_equal(o, xi) for o, xi in zip(out, x)])
    assert (both ^ kept).all() and both.any()


def test_random_rotation_by_a_quarter_turn_is_rot90(float64, rng):
    x = img(rng, n=3, h=5, w=5)
    out = L.RandomRotation((0.25, 0.25))(x, training=True)
    np.testing.assert_allclose(out, np.rot90(x, 1, axes=(1, 2)), atol=1e-12)


def test_random_translation_fill_modes(float64):
    x = np.arange(1.0, 5.0).reshape(1, 4, 1, 1) * np.ones((1, 1, 3, 1))
    shift_down = dict(height_factor=(0.25, 0.25), width_factor=0.0)            # one row down
    col = lambda out: out[0, :, 0, 0]
    np.testing.assert_allclose(col(L.RandomTranslation(**shift_down, fill_mode="constant", fill_value=9.0)(
        x, training=True)), [9, 1, 2, 3])
    np.testing.assert_allclose(col(L.RandomTranslation(**shift_down, fill_mode="reflect")(x, training=True)),
                               [1, 1, 2, 3])
    np.testing.assert_allclose(col(L.RandomTranslation(**shift_down, fill_mode="wrap")(x, training=True)),
                               [4, 1, 2, 3])
    np.testing.assert_allclose(col(L.RandomTranslation(**shift_down, fill_mode="nearest")(x, training=True)),
                               [1, 1, 2, 3])
    up2 = dict(height_factor=(-0.5, -0.5), width_factor=0.0)                  # two rows up
    np.testing.assert_allclose(col(L.RandomTranslation(**up2, fill_mode="reflect")(x, training=True)),
                               [3, 4, 4, 3])


def test_random_zoom_keeps_the_centre(float64, rng):
    x = img(rng, n=2, h=5, w=5)
    out = L.RandomZoom((-0.5, 0.5), seed=1)(x, training=True)
    np.testing.assert_allclose(out[:, 2, 2], x[:, 2, 2])            # zoom is about the centre pixel
    out = L.RandomZoom((-0.5, -0.5))(x, training=True)              # zoom in 2x: pixel (0, 0) reads (1, 1)
    np.testing.assert_allclose(out[:, 0, 0], x[:, 1, 1])


def test_random_contrast_scales_about_the_mean(float64, rng):
    x = rng.uniform(50, 200, (4, 5, 6, 3))
    out = L.RandomContrast(0.5, seed=2)(x, training=True)
    mean = x.mean(axis=(1, 2), keepdims=True)
    np.testing.assert_allclose(out.mean(axis=(1, 2), keepdims=True), mean)
    c = (out - mean) / (x - mean)
    np.testing.assert_allclose(c, c[:, :1, :1, :1] * np.ones_like(c))         # one factor per image
    assert ((c[:, 0, 0, 0] >= 0.5) & (c[:, 0, 0, 0] <= 1.5)).all() and np.ptp(c[:, 0, 0, 0]) > 0
    out = L.RandomContrast((0.0, 1.0), value_range=(60, 190), seed=2)(x, training=True)
    assert out.min() >= 60 and out.max() <= 190


def test_average_pooling_same_does_not_count_padding(float64):
    x = np.arange(9.0).reshape(1, 3, 3, 1)
    out = L.AveragePooling2D(2, padding="same")(x)[0, :, :, 0]
    np.testing.assert_allclose(out, [[(0 + 1 + 3 + 4) / 4, (2 + 5) / 2], [(6 + 7) / 2, 8]])
    out = L.AveragePooling2D(3, strides=1, padding="same")(x)[0, :, :, 0]
    assert out[0, 0] == (0 + 1 + 3 + 4) / 4 and out[1, 1] == 4


def test_global_pooling(rng):
    x = img(rng)
    np.testing.assert_allclose(L.GlobalAveragePooling2D()(x), x.mean(axis=(1, 2)), rtol=1e-6)
    np.testing.assert_allclose(L.GlobalMaxPooling2D()(x), x.max(axis=(1, 2)), rtol=1e-6)
    assert L.GlobalMaxPooling2D(keepdims=True)(x).shape == (2, 1, 1, 3)


def test_max_pooling_same_padding_never_picks_the_padding(float64):
    x = -np.arange(1.0, 10.0).reshape(1, 3, 3, 1)                  # all negative
    out = L.MaxPooling2D(2, padding="same")(x)[0, :, :, 0]
    np.testing.assert_allclose(out, [[-1, -3], [-7, -9]])


def test_padding_cropping_upsampling_values(rng):
    x = img(rng, h=3, w=4, c=2)
    out = L.ZeroPadding2D(((1, 2), (0, 3)))(x)
    assert out.shape == (2, 6, 7, 2) and out[:, 1:4, :4].tolist() == x.astype(np.float32).tolist()
    assert np.abs(out).sum() == pytest.approx(np.abs(x.astype(np.float32)).sum(), rel=1e-6)
    assert L.ZeroPadding2D(2)(x).shape == (2, 7, 8, 2)
    assert L.ZeroPadding2D((1, 2))(x).shape == (2, 5, 8, 2)
    np.testing.assert_array_equal(L.Cropping2D(((1, 0), (1, 2)))(x), x[:, 1:, 1:2].astype(np.float32))
    np.testing.assert_array_equal(L.Cropping2D(1)(x), x[:, 1:2, 1:3].astype(np.float32))
    up = L.UpSampling2D((2, 3))(x)
    np.testing.assert_array_equal(up, np.repeat(np.repeat(x, 2, 1), 3, 2).astype(np.float32))


def test_activation_layers_values():
    x = np.array([[-2.0, -0.5, 0.1, 0.5, 3.0]], dtype=np.float32)
    np.testing.assert_allclose(L.ReLU()(x), [[0, 0, 0.1, 0.5, 3]])
    np.testing.assert_allclose(L.ReLU(max_value=1.0, negative_slope=0.5, threshold=0.2)(x),
                               [[-1.1, -0.35, -0.05, 0.5, 1.0]], rtol=1e-6)
    np.testing.assert_allclose(L.LeakyReLU()(x), [[-0.6, -0.15, 0.1, 0.5, 3]], rtol=1e-6)
    with pytest.warns(UserWarning, match="alpha"):
        np.testing.assert_allclose(L.LeakyReLU(alpha=0.1)(x)[0, 0], -0.2, rtol=1e-6)
    np.testing.assert_allclose(L.ELU()(x), [[np.expm1(-2), np.expm1(-0.5), 0.1, 0.5, 3]], rtol=1e-6)
    s = L.Softmax()(x)
    np.testing.assert_allclose(s, np.exp(x) / np.exp(x).sum(), rtol=1e-6)


def test_merge_layers_and_their_function_forms(rng):
    a, b, c = (rng.standard_normal((4, 3)).astype(np.float32) for _ in range(3))
    expected = {"add": a + b + c, "multiply": a * b * c, "average": (a + b + c) / 3,
                "maximum": np.maximum(np.maximum(a, b), c), "minimum": np.minimum(np.minimum(a, b), c)}
    for name, want in expected.items():
        ins = [keras.Input(shape=(3,)) for _ in range(3)]
        model = keras.Model(ins, getattr(L, name)(ins))
        np.testing.assert_allclose(model.predict([a, b, c], verbose=0), want, rtol=1e-6)
    ins = [keras.Input(shape=(3,)) for _ in range(2)]
    model = keras.Model(ins, L.subtract(ins))
    np.testing.assert_allclose(model.predict([a, b], verbose=0), a - b, rtol=1e-6)
    with pytest.raises(ValueError, match=r"Subtract '.*': expects exactly 2 inputs, got 3"):
        L.Subtract()([keras.Input(shape=(3,)) for _ in range(3)])
    with pytest.raises(ValueError, match=r"Add '.*': inputs must have the same shape"):
        L.Add()([keras.Input(shape=(3,)), keras.Input(shape=(4,))])
    with pytest.raises(ValueError, match=r"expects at least 2 inputs, got 1"):
        L.Multiply()([keras.Input(shape=(3,))])


def test_layer_normalization_normalises_each_sample(float64, rng):
    x = rng.normal(3, 2, (4, 5, 6))
    out = L.LayerNormalization(epsilon=0.0)(x)
    np.testing.assert_allclose(out.mean(axis=-1), 0, atol=1e-12)
    np.testing.assert_allclose(out.var(axis=-1), 1, rtol=1e-9)
    layer = L.LayerNormalization(axis=[1, 2])
    layer(x)
    assert [w.shape for w in layer.get_weights()] == [(5, 6), (5, 6)]


def _depthwise_loop(x, K, stride, pad):
    """Direct loops: out[n, i, j, c*M + m] = sum K[a, b, c, m] * xpadded[n, i*s + a, j*s + b, c]."""
    kh, kw, C, M = K.shape
    (t, b_), (l, r) = pad
    xp = np.pad(x, [(0, 0), (t, b_), (l, r), (0, 0)])
    OH = (xp.shape[1] - kh) // stride[0] + 1
    OW = (xp.shape[2] - kw) // stride[1] + 1
    out = np.zeros((x.shape[0], OH, OW, C * M))
    for i in range(OH):
        for j in range(OW):
            win = xp[:, i * stride[0]:i * stride[0] + kh, j * stride[1]:j * stride[1] + kw]
            for c in range(C):
                for m in range(M):
                    out[:, i, j, c * M + m] = (win[:, :, :, c] * K[:, :, c, m]).sum(axis=(1, 2))
    return out


def test_depthwise_conv_matches_direct_loops(float64, backend, rng):
    x = img(rng, n=2, h=7, w=6, c=3)
    layer = L.DepthwiseConv2D((3, 2), strides=2, padding="same", depth_multiplier=2)
    out = layer(x)
    K, bias = layer.get_weights()
    assert K.shape == (3, 2, 3, 2) and bias.shape == (6,)
    # 'same', 7 rows stride 2: 4 rows out, pad 1+1; 6 cols stride 2 width 2: 3 cols, pad 0+0... computed:
    want = _depthwise_loop(x, K, (2, 2), ((1, 1), (0, 0))) + bias
    np.testing.assert_allclose(out, want, rtol=1e-12)


def test_separable_conv_is_depthwise_then_pointwise(float64, backend, rng):
    x = img(rng, n=2, h=6, w=6, c=3)
    sep = L.SeparableConv2D(4, 3, padding="same", depth_multiplier=2, activation="relu",
                            bias_initializer="random_normal")
    out = sep(x)
    dk, pk, b = sep.get_weights()
    assert (dk.shape, pk.shape, b.shape) == ((3, 3, 3, 2), (1, 1, 6, 4), (4,))
    dw = L.DepthwiseConv2D(3, padding="same", depth_multiplier=2, use_bias=False)
    dw(x)
    dw.set_weights([dk])
    pw = L.Conv2D(4, 1, activation="relu")
    pw(dw(x))
    pw.set_weights([pk, b])
    np.testing.assert_allclose(out, pw(dw(x)), rtol=1e-12)


def test_spatial_dropout_drops_whole_channels(rng):
    x = np.ones((8, 4, 5, 16), dtype=np.float32)
    out = L.SpatialDropout2D(0.5, seed=0)(x, training=True)
    per_map = out.reshape(8, 20, 16)
    assert set(np.unique(out)) <= {0.0, 2.0}
    assert (per_map == per_map[:, :1]).all()                  # a map is all kept or all dropped
    assert 0.3 < (per_map[:, 0] == 0).mean() < 0.7


# --------------------------------------------------------------------------
# Configs, registration, errors
# --------------------------------------------------------------------------
NEW_CLASSES = ["Rescaling", "Resizing", "RandomFlip", "RandomRotation", "RandomZoom", "RandomTranslation",
               "RandomContrast", "AveragePooling2D", "GlobalAveragePooling2D", "GlobalMaxPooling2D",
               "ZeroPadding2D", "UpSampling2D", "Cropping2D", "ReLU", "LeakyReLU", "ELU", "Softmax", "Add",
               "Subtract", "Multiply", "Average", "Maximum", "Minimum", "LayerNormalization",
               "SeparableConv2D", "DepthwiseConv2D", "SpatialDropout2D"]


def test_every_new_layer_is_registered_and_exported():
    for name in NEW_CLASSES:
        assert L.LAYER_CLASSES[name] is getattr(L, name)
        assert name in L.__all__
    for fn in ("add", "subtract", "multiply", "average", "maximum", "minimum"):
        assert callable(getattr(L, fn)) and fn in L.__all__


@pytest.mark.parametrize("case_id, factory, shapes, training", GRAD_CASES, ids=[c[0] for c in GRAD_CASES])
def test_config_rebuilds_an_equal_layer(case_id, factory, shapes, training):
    rng = np.random.default_rng(2)
    layer = factory()
    xs = [rng.uniform(-1, 1, s).astype(np.float32) for s in shapes]
    xs = xs if len(xs) > 1 else xs[0]
    out = layer(xs, training=False)
    config = layer.get_config()
    config = json.loads(json.dumps(config))                 # the config is plain JSON
    config["name"] = layer.name + "_copy"
    twin = type(layer).from_config(config)
    twin(xs, training=False)
    twin.set_weights(layer.get_weights())
    np.testing.assert_array_equal(twin(xs, training=False), out)
    copy_config = twin.get_config()
    copy_config["name"] = layer.name
    assert copy_config == layer.get_config()


@pytest.mark.parametrize("make, pattern", [
    (lambda: L.Resizing(0, 4), r"Resizing '.*': height must be a positive int, got 0"),
    (lambda: L.Resizing(4, 4, interpolation="lanczos3"), r"interpolation must be one of \['bilinear', 'nearest'\]"),
    (lambda: L.Resizing(4, 4, crop_to_aspect_ratio=True, pad_to_aspect_ratio=True), r"only one of"),
    (lambda: L.RandomFlip("diagonal"), r"RandomFlip '.*': mode must be one of"),
    (lambda: L.RandomRotation(1.5), r"RandomRotation '.*': factor values must lie in \[-1.0, 1.0\]"),
    (lambda: L.RandomRotation(0.1, fill_mode="mirror"), r"fill_mode must be one of"),
    (lambda: L.RandomZoom(-1.0), r"RandomZoom '.*': height_factor values must lie in"),
    (lambda: L.RandomTranslation((0.1, 0.2, 0.3), 0.1), r"must be a number or a pair"),
    (lambda: L.RandomContrast(1.5), r"RandomContrast '.*': factor values must lie in \[0, 1\]"),
    (lambda: L.RandomContrast(0.1, value_range=(1, 0)), r"value_range must have low < high"),
    (lambda: L.AveragePooling2D(0), r"AveragePooling2D '.*': pool_size must be positive"),
    (lambda: L.AveragePooling2D(padding="full"), r"padding must be 'valid' or 'same'"),
    (lambda: L.GlobalAveragePooling2D(data_format="channels_first"), r"only data_format='channels_last'"),
    (lambda: L.ZeroPadding2D(-1), r"ZeroPadding2D '.*': padding must hold non-negative ints"),
    (lambda: L.Cropping2D(((1, 2, 3), (0, 0))), r"cropping must be \(\(top, bottom\), \(left, right\)\)"),
    (lambda: L.UpSampling2D(0), r"UpSampling2D '.*': size must be positive"),
    (lambda: L.ReLU(max_value=-1), r"ReLU '.*': max_value must be a number >= 0"),
    (lambda: L.LeakyReLU(-0.1), r"negative_slope must be a number >= 0"),
    (lambda: L.Softmax(axis="last"), r"Softmax '.*': axis must be an int"),
    (lambda: L.LayerNormalization(axis=1.5), r"LayerNormalization '.*': axis must be"),
    (lambda: L.LayerNormalization(rms_scaling=True), r"rms_scaling=True is not supported"),
    (lambda: L.DepthwiseConv2D(3, depth_multiplier=0), r"DepthwiseConv2D '.*': depth_multiplier must be a positive int"),
    (lambda: L.SeparableConv2D(0, 3), r"SeparableConv2D '.*': filters must be a positive int"),
    (lambda: L.SeparableConv2D(4, 3, dilation_rate=2), r"dilation_rate other than 1 is not supported"),
    (lambda: L.SeparableConv2D(4, 3, pointwise_regularizer="l2"), r"SeparableConv2D: pointwise_regularizer is not"),
    (lambda: L.LayerNormalization(gamma_constraint="non_neg"), r"LayerNormalization: gamma_constraint is not"),
    (lambda: L.SpatialDropout2D(1.0), r"SpatialDropout2D '.*': rate must be a number in \[0, 1\)"),
    (lambda: L.Rescaling("big"), r"Rescaling '.*': scale must be a number"),
    (lambda: L.RandomFlip(foo=1), r"RandomFlip: unknown keyword argument\(s\) \['foo'\]"),
])
def test_bad_arguments_raise_clear_errors(make, pattern):
    with pytest.raises((ValueError, TypeError), match=pattern):
        make()


@pytest.mark.parametrize("layer, shape, pattern", [
    (lambda: L.Resizing(4, 4), (8,), r"Resizing '.*': expects batches of images \(N, height, width, channels\)"),
    (lambda: L.AveragePooling2D(4), (3, 3, 1), r"window 4x4 is larger than the input 3x3"),
    (lambda: L.GlobalMaxPooling2D(), (5, 2), r"GlobalMaxPooling2D '.*': expects samples of shape"),
    (lambda: L.Cropping2D(2), (4, 4, 1), r"Cropping2D '.*': cropping .* leaves nothing"),
    (lambda: L.DepthwiseConv2D(3), (4, 4), r"DepthwiseConv2D '.*': expects samples of shape"),
    (lambda: L.Softmax(axis=3), (4, 4), r"Softmax '.*': axis 3 is out of range"),
    (lambda: L.LayerNormalization(axis=0), (4, 4), r"the batch axis 0 cannot be normalised over"),
    (lambda: L.LayerNormalization(), (4, None), r"LayerNormalization '.*': the normalised axes \[2\] .* known sizes"),
])
def test_bad_input_shapes_raise_clear_errors(layer, shape, pattern):
    with pytest.raises(ValueError, match=pattern):
        layer()(keras.Input(shape=shape))


# --------------------------------------------------------------------------
# The NHWC kernels: compiled vs NumPy, and their checks
# --------------------------------------------------------------------------
NHWC_GEOMETRIES = [((3, 3), (1, 1), (1, 1)), ((3, 3), (2, 2), (0, 0)), ((3, 2), (2, 1), (1, 0)),
                   ((1, 1), (1, 1), (0, 0)), ((4, 4), (3, 2), (2, 1))]


def _out_size(H, k, s, pad):
    return -(-H // s) if pad else (H - k) // s + 1


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("window, strides, pads", NHWC_GEOMETRIES)
def test_nhwc_kernels_compiled_match_numpy(dtype, window, strides, pads):
    from fastnn.kernels import numpy_nhwc
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 9, 8, 5)).astype(dtype)
    K = rng.standard_normal(window + (5, 3)).astype(dtype)
    OH, OW = _out_size(9, window[0], strides[0], pads[0]), _out_size(8, window[1], strides[1], pads[1])
    tol = dict(rtol=1e-5, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)
    with fastnn.use_backend("cython"):
        out = fastnn.kernels.depthwise_conv_forward(x, K, *strides, *pads, OH, OW)
        d = rng.standard_normal(out.shape).astype(dtype)
        dx, dK = fastnn.kernels.depthwise_conv_backward(d, x, K, *strides, *pads)
        pool = fastnn.kernels.avgpool_forward(x, *window, *strides, *pads, OH, OW)
        dp = fastnn.kernels.avgpool_backward(d[..., :5], x.shape, *window, *strides, *pads)
    want = numpy_nhwc.depthwise_conv_forward(x, K, *strides, *pads, OH, OW)
    for got, ref in [(out, want),
                     ((dx, dK), numpy_nhwc.depthwise_conv_backward(d, x, K, *strides, *pads)),
                     (pool, numpy_nhwc.avgpool_forward(x, *window, *strides, *pads, OH, OW)),
                     (dp, numpy_nhwc.avgpool_backward(d[..., :5], x.shape, *window, *strides, *pads))]:
        for g, r in zip(got if isinstance(got, tuple) else (got,), ref if isinstance(ref, tuple) else (ref,)):
            assert g.dtype == dtype and g.shape == r.shape
            np.testing.assert_allclose(g, r, **tol)


def test_nhwc_kernels_do_not_depend_on_the_thread_count():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((16, 20, 18, 32))          # large enough to run threaded
    K = rng.standard_normal((3, 3, 32, 2))
    d = rng.standard_normal((16, 10, 9, 64))
    results = []
    with fastnn.use_backend("cython"):
        for n in (1, 2):
            previous = fastnn.set_num_threads(n)
            try:
                results.append([fastnn.kernels.depthwise_conv_forward(x, K, 2, 2, 0, 0, 10, 9),
                                *fastnn.kernels.depthwise_conv_backward(d, x, K, 2, 2, 0, 0),
                                fastnn.kernels.avgpool_forward(x, 3, 3, 2, 2, 1, 1, 10, 9),
                                fastnn.kernels.avgpool_backward(d[..., :32], x.shape, 3, 3, 2, 2, 1, 1)])
            finally:
                fastnn.set_num_threads(previous)
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("call, exc, pattern", [
    (lambda k: k.depthwise_conv_forward(np.ones((2, 4, 4)), np.ones((3, 3, 1, 1)), 1, 1, 0, 0, 2, 2),
     ValueError, r"DepthwiseConv2D.forward: input must be 4-D"),
    (lambda k: k.depthwise_conv_forward(np.ones((1, 4, 4, 2), np.int64), np.ones((3, 3, 2, 1)), 1, 1, 0, 0, 2, 2),
     TypeError, r"DepthwiseConv2D.forward: input must be float32 or float64"),
    (lambda k: k.depthwise_conv_forward(np.ones((1, 4, 4, 2)), np.ones((3, 3, 3, 1)), 1, 1, 0, 0, 2, 2),
     ValueError, r"kernel must have shape \(kh, kw, 2, M\)"),
    (lambda k: k.depthwise_conv_forward(np.ones((1, 4, 4, 2)), np.ones((3, 3, 2, 1)), 1, 1, 0, 0, 5, 2),
     ValueError, r"windows outside the input"),
    (lambda k: k.depthwise_conv_forward(np.ones((1, 4, 4, 2)), np.ones((3, 3, 2, 1)), 0, 1, 0, 0, 2, 2),
     ValueError, r"stride height must be >= 1"),
    (lambda k: k.depthwise_conv_backward(np.ones((1, 2, 2, 3)), np.ones((1, 4, 4, 2)), np.ones((3, 3, 2, 1)),
                                         1, 1, 0, 0),
     ValueError, r"DepthwiseConv2D.backward: dout must have shape \(1, OH, OW, 2\)"),
    (lambda k: k.avgpool_forward(np.ones((0, 4, 4, 2)), 2, 2, 2, 2, 0, 0, 2, 2),
     ValueError, r"AveragePooling2D.forward: input has a zero dimension"),
    (lambda k: k.avgpool_forward(np.ones((1, 4, 4, 2)), 2, 2, 2, 2, 2, 0, 2, 2),
     ValueError, r"padding \(2, 0\) must be smaller than the window 2x2"),
    (lambda k: k.avgpool_backward(np.ones((1, 2, 2, 2)), (1, 4, 4, 3), 2, 2, 2, 2, 0, 0),
     ValueError, r"AveragePooling2D.backward: dout must have shape \(1, OH, OW, 3\)"),
    (lambda k: k.avgpool_backward(np.ones((1, 2, 2, 2)), "big", 2, 2, 2, 2, 0, 0),
     TypeError, r"AveragePooling2D.backward: input_shape must be a tuple"),
])
def test_nhwc_kernels_check_their_arguments(backend, call, exc, pattern):
    with pytest.raises(exc, match=pattern):
        call(fastnn.kernels)


# --------------------------------------------------------------------------
# keras-io "Image classification from scratch": a small Xception
# --------------------------------------------------------------------------
def make_xception(input_shape, num_classes, augment=True):
    """keras-io's make_model (with its data_augmentation block), imports changed."""
    layers = L
    inputs = keras.Input(shape=input_shape)
    x = inputs
    if augment:
        x = layers.RandomFlip("horizontal")(x)
        x = layers.RandomRotation(0.1)(x)
    x = layers.Rescaling(1.0 / 255)(x)
    x = layers.Conv2D(32, 3, strides=2, padding="same")(x)
    x = layers.BatchNormalization()(x)
    x = layers.Activation("relu")(x)
    previous_block_activation = x  # Set aside residual
    for size in [32, 64]:
        x = layers.Activation("relu")(x)
        x = layers.SeparableConv2D(size, 3, padding="same")(x)
        x = layers.BatchNormalization()(x)
        x = layers.Activation("relu")(x)
        x = layers.SeparableConv2D(size, 3, padding="same")(x)
        x = layers.BatchNormalization()(x)
        x = layers.MaxPooling2D(3, strides=2, padding="same")(x)
        residual = layers.Conv2D(size, 1, strides=2, padding="same")(previous_block_activation)
        x = layers.add([x, residual])  # Add back residual
        previous_block_activation = x  # Set aside next residual
    x = layers.SeparableConv2D(128, 3, padding="same")(x)
    x = layers.BatchNormalization()(x)
    x = layers.Activation("relu")(x)
    x = layers.GlobalAveragePooling2D()(x)
    activation, units = ("sigmoid", 1) if num_classes == 2 else ("softmax", num_classes)
    x = layers.Dropout(0.5)(x)
    outputs = layers.Dense(units, activation=activation)(x)
    return keras.Model(inputs, outputs)


def _fashion_images(n):
    from fastnn.datasets import load_fashion_mnist
    try:
        (x, t), _ = load_fashion_mnist(normalize=False, flatten=False)
    except Exception as exc:                       # noqa: BLE001 - fall back to synthetic data
        pytest.skip(f"Fashion-MNIST not available: {exc}")
    x = x[:n, 0]                                   # (n, 28, 28) uint8 values
    x = np.pad(x, [(0, 0), (2, 2), (2, 2)])        # 32x32, as the tutorial's RGB photos
    x = np.repeat(x[..., None], 3, axis=-1).astype(np.float32)
    return x, t[:n]


def test_xception_from_scratch_builds_trains_and_saves(tmp_path):
    backend.set_random_seed(0)
    x, y = _fashion_images(128)
    model = make_xception((32, 32, 3), 10)
    names = [type(l).__name__ for l in model.layers]
    for cls in ("RandomFlip", "RandomRotation", "Rescaling", "SeparableConv2D", "Add", "GlobalAveragePooling2D"):
        assert cls in names
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    before = model.evaluate(x, y, verbose=0)[0]
    hist = model.fit(x, y, epochs=3, batch_size=32, verbose=0)
    losses = hist.history["loss"]
    assert losses[-1] < losses[0]
    after = model.evaluate(x, y, verbose=0)[0]
    assert after < before
    path = tmp_path / "xception.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    assert [type(l).__name__ for l in loaded.layers] == names
    np.testing.assert_allclose(loaded.predict(x[:16], verbose=0), model.predict(x[:16], verbose=0),
                               rtol=1e-5, atol=1e-6)
    for a, b in zip(loaded.layers, model.layers):
        assert a.get_config() == b.get_config()
    loaded.fit(x[:32], y[:32], epochs=1, batch_size=32, verbose=0)      # and it trains on


@pytest.mark.skipif(not Path("/usr/share/datasets/fashion-mnist").is_dir(),
                    reason="Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)")
def test_image_classification_example_runs():
    root = Path(__file__).resolve().parents[1]
    env = dict(os.environ, PYTHONPATH=str(root) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run([sys.executable, str(root / "examples" / "keras_image_classification_from_scratch.py"),
                           "--quick"], capture_output=True, text=True, env=env, timeout=600, cwd=root)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout
    assert "separable_conv2d" in out and "global_average_pooling2d" in out and "add" in out
    assert "reloaded model gives the same predictions: True" in out
    acc = float(re.search(r"test acc: ([0-9.]+)", out).group(1))
    assert 0.0 <= acc <= 1.0
