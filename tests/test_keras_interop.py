"""Files move both ways between fastnn.keras and real Keras 3 (PyTorch backend).

For the seed programs' models (MLP, CNN with BatchNorm and Dropout, functional
wide & deep with two inputs and an auxiliary output) and for every layer,
optimizer, loss and metric fastnn has: a file saved by one loads in the other
with equal predictions (float32 round-off), and training continues from the
saved optimizer state (one step after loading equals one step without the break).
"""
import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

rk = pytest.importorskip("keras")               # real Keras 3, in the `test` extra
if int(rk.__version__.split(".")[0]) < 3:
    pytest.skip("these tests compare with Keras 3", allow_module_level=True)

from fastnn import keras as fk  # noqa: E402

ATOL = 2e-6
RTOL = 2e-5


# ------------------------------------------------------------ the models
def mlp(K):
    return K.Sequential([K.Input((12,)), K.layers.Dense(16, activation="relu", name="hidden"),
                         K.layers.Dense(3, activation="softmax", name="out")], name="mlp")


def cnn(K):
    L = K.layers
    return K.Sequential([K.Input((8, 8, 1)), L.Conv2D(4, 3, activation="relu", padding="same", name="conv"),
                         L.BatchNormalization(name="bn"), L.MaxPooling2D(name="pool"), L.Flatten(name="flat"),
                         L.Dense(16, activation="relu", name="fc"), L.Dropout(0.3, name="drop"),
                         L.Dense(3, activation="softmax", name="out")], name="cnn")


def wide_deep(K):
    L = K.layers
    a, b = K.Input((5,), name="wide_input"), K.Input((6,), name="deep_input")
    h1 = L.Dense(8, activation="relu", name="h1")(b)
    h2 = L.Dense(8, activation="relu", name="h2")(h1)
    out = L.Dense(1, name="main_output")(L.concatenate([a, h2], name="concat"))
    aux = L.Dense(1, name="aux_output")(h2)
    return K.Model(inputs=[a, b], outputs=[out, aux], name="wide_deep")


def every_layer(K):
    """Every layer class and activation fastnn.keras has, in one model."""
    L = K.layers
    inp = K.Input((9, 9, 2), name="image")
    x = L.Conv2D(3, (3, 3), strides=(2, 2), padding="same", activation="tanh", name="conv_same")(inp)
    y = L.Conv2D(3, 2, padding="valid", activation="sigmoid", kernel_initializer="he_normal", name="conv_valid")(inp)
    y = L.MaxPooling2D((4, 4), strides=(1, 1), padding="valid", name="pool_valid")(y)
    x = L.MaxPooling2D(2, strides=1, padding="same", name="pool_same")(x)
    x = L.concatenate([x, y], name="cat")
    x = L.BatchNormalization(momentum=0.9, epsilon=1e-2, name="bn")(x)
    x = L.Reshape((-1,), name="reshape")(x)
    x = L.Activation("softplus", name="softplus")(x)
    x = L.Dense(7, activation="linear", use_bias=False, kernel_initializer="random_normal", name="dense_nobias")(x)
    x = L.Dropout(0.2, name="drop")(x)
    x = L.Dense(4, kernel_initializer="glorot_normal", bias_initializer="ones", name="logits")(x)
    out = L.Activation("softmax", name="probs")(x)
    return K.Model(inputs=inp, outputs=out, name="every_layer")


def data(name, n=32, seed=0):
    rng = np.random.default_rng(seed)
    if name == "mlp":
        return rng.standard_normal((n, 12), np.float32), rng.integers(0, 3, n)
    if name == "cnn":
        return rng.standard_normal((n, 8, 8, 1), np.float32), rng.integers(0, 3, n)
    if name == "every_layer":
        return rng.standard_normal((n, 9, 9, 2), np.float32), rng.integers(0, 4, n)
    y = rng.standard_normal((n, 1)).astype(np.float32)
    return (rng.standard_normal((n, 5), np.float32), rng.standard_normal((n, 6), np.float32)), (y, y)


BUILD = {"mlp": mlp, "cnn": cnn, "wide_deep": wide_deep, "every_layer": every_layer}
COMPILE = {
    "mlp": dict(optimizer="rmsprop", loss="sparse_categorical_crossentropy", metrics=["accuracy"]),
    "cnn": dict(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"]),
    "every_layer": dict(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"]),
    "wide_deep": dict(optimizer="sgd", loss=["mse", "mse"], loss_weights=[0.9, 0.1], metrics=[["mae"], ["mae"]]),
}
HAS_DROPOUT = {"cnn", "every_layer"}        # a training step draws a random mask: compare predictions only


def trained(K, name, optimizer=None):
    if K is fk:
        fk.utils.set_random_seed(0)
    else:
        rk.utils.set_random_seed(0)
    model = BUILD[name](K)
    kw = dict(COMPILE[name])
    if optimizer is not None:
        kw["optimizer"] = optimizer
    model.compile(**kw)
    x, y = data(name)
    model.fit(x, y, epochs=2, batch_size=16, verbose=0)
    return model, x, y


def predictions(model, x):
    out = model.predict(x, verbose=0)
    return [np.asarray(o) for o in out] if isinstance(out, (list, tuple)) else [np.asarray(out)]


def weights_of(model):
    return [np.asarray(w) for w in model.get_weights()]


def assert_close(a, b):
    assert len(a) == len(b)
    for u, v in zip(a, b):
        np.testing.assert_allclose(u, v, rtol=RTOL, atol=ATOL)


# ------------------------------------------------ fastnn -> Keras -> fastnn
@pytest.mark.parametrize("ext", ["keras", "h5"])
@pytest.mark.parametrize("name", ["mlp", "cnn", "wide_deep", "every_layer"])
def test_fastnn_model_opens_in_keras(tmp_path, name, ext):
    model, x, y = trained(fk, name)
    path = str(tmp_path / f"{name}.{ext}")
    model.save(path)
    theirs = rk.models.load_model(path)
    # Keras lists the layers of a graph by depth; fastnn writes them in that order.
    assert [l.name for l in theirs.layers] == [l.name for l in fk.saving.keras_layer_order(model)
                                               if name == "wide_deep" or name == "every_layer"
                                               or type(l).__name__ != "InputLayer"]
    assert_close(predictions(theirs, x), predictions(model, x))
    assert int(theirs.optimizer.iterations) == model.optimizer.iterations
    if ext == "keras":
        # Keras' optimizer variables are fastnn's state, in Keras' order.
        ours = [v for _, v in fk.saving.weights.optimizer_arrays(model)]
        assert_close([np.asarray(v) for v in theirs.optimizer.variables], ours)
        if name not in HAS_DROPOUT:
            model.train_on_batch(x, y)
            theirs.train_on_batch(x, y)
            assert_close(weights_of(theirs), weights_of(model))
    # ... and Keras' re-save of it comes back to fastnn.
    again = str(tmp_path / f"again.{ext}")
    theirs.save(again)
    back = fk.models.load_model(again)
    assert_close(predictions(back, x), predictions(theirs, x))


@pytest.mark.parametrize("ext", ["keras", "h5"])
@pytest.mark.parametrize("name", ["mlp", "cnn", "wide_deep", "every_layer"])
def test_keras_model_opens_in_fastnn(tmp_path, name, ext):
    theirs, x, y = trained(rk, name)
    path = str(tmp_path / f"{name}.{ext}")
    theirs.save(path)
    ours = fk.models.load_model(path)
    assert_close(predictions(ours, x), predictions(theirs, x))
    assert ours.optimizer.iterations == int(theirs.optimizer.iterations)
    assert type(ours.optimizer).__name__ == type(theirs.optimizer).__name__
    if name not in HAS_DROPOUT:
        theirs.train_on_batch(x, y)          # Keras continues without a break ...
        ours.train_on_batch(x, y)            # ... fastnn from the file
        assert_close(weights_of(ours), weights_of(theirs))
    # The Keras file's loss and metrics are ours too.
    r_theirs = theirs.evaluate(x, y, verbose=0)
    r_ours = ours.evaluate(x, y, verbose=0)
    np.testing.assert_allclose(np.atleast_1d(r_ours)[0], np.atleast_1d(r_theirs)[0], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("optimizer", ["sgd", "sgd_nesterov", "sgd_decay", "rmsprop", "rmsprop_centered",
                                       "adam", "adagrad"])
def test_every_optimizer_continues_across(tmp_path, optimizer):
    def make(K):
        O = K.optimizers
        return {"sgd": lambda: O.SGD(0.05), "sgd_nesterov": lambda: O.SGD(0.05, momentum=0.9, nesterov=True),
                "sgd_decay": lambda: (O.SGD(0.05, decay=0.1) if K is fk else O.SGD(
                    rk.optimizers.schedules.InverseTimeDecay(0.05, decay_steps=1, decay_rate=0.1))),
                "rmsprop": lambda: O.RMSprop(0.01), "rmsprop_centered": lambda: O.RMSprop(0.01, momentum=0.5,
                                                                                           centered=True),
                "adam": lambda: O.Adam(0.01), "adagrad": lambda: O.Adagrad(0.1)}[optimizer]()

    for src, dst in ((fk, rk), (rk, fk)):
        model, x, y = trained(src, "mlp", optimizer=make(src))
        path = str(tmp_path / f"{optimizer}_{src.__name__}.keras")
        model.save(path)
        loaded = dst.models.load_model(path)
        assert_close(predictions(loaded, x), predictions(model, x))
        model.train_on_batch(x, y)
        loaded.train_on_batch(x, y)
        assert_close(weights_of(loaded), weights_of(model))


LOSSES = [("mean_squared_error", "float"), ("mse", "float"), ("mean_absolute_error", "float"),
          ("mae", "float"), ("binary_crossentropy", "binary"), ("categorical_crossentropy", "onehot"),
          ("sparse_categorical_crossentropy", "labels")]


@pytest.mark.parametrize("loss,target", LOSSES)
def test_every_loss_and_metric_travels(tmp_path, loss, target):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((24, 6), np.float32)
    labels = rng.integers(0, 3, 24)
    y = {"float": rng.standard_normal((24, 3)).astype(np.float32),
         "binary": (rng.random((24, 3)) > 0.5).astype(np.float32),
         "onehot": np.eye(3, dtype=np.float32)[labels], "labels": labels}[target]
    act = {"binary": "sigmoid", "onehot": "softmax", "labels": "softmax"}.get(target, "linear")
    # ("accuracy" with a 3-unit sigmoid output: Keras 3 picks categorical accuracy from the shapes,
    # tf.keras 2 and fastnn binary accuracy from the loss; the explicit names agree.)
    metrics = {"float": ["mse", "mae"], "binary": ["binary_accuracy"],
               "onehot": ["accuracy", "categorical_accuracy"], "labels": ["accuracy", "sparse_categorical_accuracy"]}
    for src, dst in ((fk, rk), (rk, fk)):
        src.utils.set_random_seed(2)
        model = src.Sequential([src.Input((6,)), src.layers.Dense(3, activation=act)])
        model.compile(optimizer="adam", loss=loss, metrics=metrics[target])
        model.fit(x, y, epochs=1, batch_size=8, verbose=0)
        path = str(tmp_path / f"{src.__name__}.keras")
        model.save(path)
        loaded = dst.models.load_model(path)
        np.testing.assert_allclose(loaded.evaluate(x, y, verbose=0), model.evaluate(x, y, verbose=0),
                                   rtol=1e-4, atol=1e-5)


def test_keras_loss_and_metric_objects_load(tmp_path):
    rng = np.random.default_rng(3)
    x, labels = rng.standard_normal((20, 4), np.float32), rng.integers(0, 3, 20)
    model = rk.Sequential([rk.Input((4,)), rk.layers.Dense(3, activation="softmax")])
    model.compile(optimizer=rk.optimizers.Adam(0.01), loss=rk.losses.SparseCategoricalCrossentropy(),
                  metrics=[rk.metrics.SparseCategoricalAccuracy(name="acc")])
    model.fit(x, labels, epochs=1, verbose=0)
    model.save(str(tmp_path / "objects.keras"))
    ours = fk.models.load_model(str(tmp_path / "objects.keras"))
    np.testing.assert_allclose(ours.evaluate(x, labels, verbose=0), model.evaluate(x, labels, verbose=0),
                               rtol=1e-4, atol=1e-5)
    bad = rk.Sequential([rk.Input((4,)), rk.layers.Dense(3)])
    bad.compile(optimizer="adam", loss=rk.losses.SparseCategoricalCrossentropy(from_logits=True))
    bad.save(str(tmp_path / "logits.keras"))
    with pytest.raises(ValueError, match="from_logits=True is not supported"):
        fk.models.load_model(str(tmp_path / "logits.keras"))
    assert fk.models.load_model(str(tmp_path / "logits.keras"), compile=False).layers[0].units == 3


@pytest.mark.parametrize("name", ["mlp", "cnn", "wide_deep"])
def test_weight_files_travel_both_ways(tmp_path, name):
    ours, x, _ = trained(fk, name)
    theirs = BUILD[name](rk)
    for fname in ("w.weights.h5", "w.h5"):
        ours.save_weights(str(tmp_path / fname))
        theirs.load_weights(str(tmp_path / fname))
        assert_close(predictions(theirs, x), predictions(ours, x))
    theirs2, _, _ = trained(rk, name)
    theirs2.save_weights(str(tmp_path / "k.weights.h5"))
    theirs2.save(str(tmp_path / "k.h5"))
    for fname in ("k.weights.h5", "k.h5"):
        fresh = BUILD[name](fk)
        fresh.load_weights(str(tmp_path / fname))
        assert_close(predictions(fresh, x), predictions(theirs2, x))


def test_keras_lambda_file_is_refused_in_safe_mode(tmp_path):
    inp = rk.Input((3,))
    out = rk.layers.Lambda(lambda t: t * 2)(inp)
    rk.Model(inp, out).save(str(tmp_path / "lambda.keras"))
    with pytest.raises(ValueError, match="Lambda layer.*safe_mode=False"):
        fk.models.load_model(str(tmp_path / "lambda.keras"))
