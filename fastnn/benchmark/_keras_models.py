"""Keras-style rows: an MLP and a CNN built with ``fastnn.keras``, float32 (Keras' default).

* MLP: Dense(512, relu, input 784) -> Dense(10, softmax), as the MNIST seed program;
* CNN: Conv2D(32, 3x3, relu, input (28,28,1)) -> MaxPooling2D(2x2) -> Flatten ->
  Dense(100, relu) -> Dense(10, softmax).

Both compiled with ``optimizer='adam', loss='sparse_categorical_crossentropy'``;
a train step is ``model.train_on_batch(x, t)``, inference ``model.predict(x,
batch_size)``. The PyTorch twins have the same layers in NCHW layout (with one
channel, the same memory), trained with ``F.cross_entropy`` on the scores
(softmax and cross-entropy fused, as Keras does for this loss) and Adam with
Keras' epsilon 1e-7.
"""
import numpy as np

from .. import keras
from ._cases import Case
from ._networks import NET_RTOL, SECTION
from ._torch_nets import torch_inference, torch_train_step

SEED = 11


def _mlp():
    keras.utils.set_random_seed(SEED)
    return keras.Sequential([
        keras.layers.Dense(512, activation="relu", input_shape=(784,)),
        keras.layers.Dense(10, activation="softmax"),
    ])


def _cnn():
    keras.utils.set_random_seed(SEED)
    return keras.Sequential([
        keras.layers.Conv2D(32, (3, 3), activation="relu", input_shape=(28, 28, 1)),
        keras.layers.MaxPooling2D((2, 2)),
        keras.layers.Flatten(),
        keras.layers.Dense(100, activation="relu"),
        keras.layers.Dense(10, activation="softmax"),
    ])


def _torch_mlp():
    from torch import nn
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 10))


def _torch_cnn():
    from torch import nn
    return nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                         nn.Linear(32 * 13 * 13, 100), nn.ReLU(), nn.Linear(100, 10))


MODELS = {
    "Keras-style MLP (784-512-10)": (_mlp, (784,), _torch_mlp,
                                     ("affine_forward", "affine_backward", "relu_forward", "relu_backward")),
    "Keras-style CNN (conv32-pool-100-10)": (_cnn, (28, 28, 1), _torch_cnn,
                                             ("conv2d_nhwc_forward", "conv2d_nhwc_backward", "maxpool_forward",
                                              "maxpool_backward", "affine_forward", "affine_backward",
                                              "relu_forward", "relu_backward")),
}


def _compiled(model):
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    return model


def keras_forward_flops(model, x):
    """Useful FLOPs of one forward pass: 2 * out.size * (inputs per output) of each layer with a kernel."""
    total = 0.0

    def counting(layer, forward):
        def run(*args, **kwargs):
            nonlocal total
            out = forward(*args, **kwargs)
            kernel = layer.params.get("kernel") if isinstance(getattr(layer, "params", None), dict) else None
            if kernel is not None:
                total += 2.0 * out.size * np.prod(kernel.shape[:-1])   # Dense (in, out); Conv2D (kh, kw, in, out)
            return out
        return run

    for layer in model.layers:
        layer.forward = counting(layer, layer.forward)
    try:
        model.predict(x, batch_size=x.shape[0], verbose=0)
    finally:
        for layer in model.layers:
            del layer.forward
    return total


def keras_cases(images, labels, batch=100, inference_images=10000):
    """Train-step and inference rows of the two Keras-style models (float32)."""
    cases = []
    for name, spec in MODELS.items():
        cases += _model_cases(name, *spec, images, labels, batch, inference_images)
    return cases


def _model_cases(name, build, in_shape, build_torch, used, images, labels, batch, inference_images):
    dt = "float32"
    x_all = np.ascontiguousarray(images[:inference_images].reshape((-1,) + in_shape).astype(dt))
    xb, tb = x_all[:batch], labels[:batch]
    flops = keras_forward_flops(build(), xb)
    # torch takes NCHW: with one channel, (N,28,28,1) and (N,1,28,28) hold the same numbers
    tx_all = x_all.reshape((-1, 1, 28, 28)) if len(in_shape) == 3 else x_all

    def make_train(backend):
        model = _compiled(build())

        def step():
            loss = model.train_on_batch(xb, tb)
            return loss, model.weights          # the live weights, compared after the first step
        return step

    def make_infer(backend):
        model = build()
        return lambda: model.predict(x_all, batch_size=batch, verbose=0)

    def torch_train():
        return torch_train_step(build_torch(), np.ascontiguousarray(tx_all[:batch]), tb)

    def torch_infer():
        return torch_inference(build_torch(), tx_all, batch)

    tag = name.split(" ")[1]             # MLP / CNN
    fwd = tuple(k for k in used if "backward" not in k)
    return [
        Case(SECTION, f"{name} train step", f"batch {batch}, train_on_batch with Adam", dt, make_train,
             3.0 * flops, used + ("adam_update",), torch_train, rtol=NET_RTOL[dt], tags=(f"train:keras-{tag}:{dt}", "keras-style"),
             batch=batch, images=batch),
        Case(SECTION, f"{name} inference", f"{x_all.shape[0]:,} images, predict(batch_size={batch})", dt,
             make_infer, flops * x_all.shape[0] / batch, fwd, torch_infer, rtol=NET_RTOL[dt],
             tags=(f"infer:keras-{tag}:{dt}", "keras-style"), batch=batch, images=x_all.shape[0]),
    ]
