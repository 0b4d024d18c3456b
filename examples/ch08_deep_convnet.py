"""Chapter 8: a deep convolutional network and the digits it gets wrong.

DeepConvNet: six 3x3 convolutions (16, 16, 32, 32, 64, 64 filters) in three
pooled blocks, then two affine layers with dropout; about 99% on MNIST when
trained on all 60,000 images. With the book's trained parameters
(deep_convnet_params.pkl) it scores 0.9797 on the 10,000 test images (the
book's own figure); this example evaluates them and shows the misclassified
digits with their predicted and true labels.

Without --params the book's file is fetched once into the user cache
(``fastnn.pretrained.fetch("deep_convnet")``, SHA-256 checked). When it cannot
be had (offline), it trains DeepConvNet briefly on the MNIST sample instead
(much lower accuracy; the full training takes hours in NumPy).

    python examples/ch08_deep_convnet.py [--params deep_convnet_params.pkl] [--quick] [--output DIR]
"""
import argparse
import os
import time
import warnings

import numpy as np

from fastnn.datasets import SampleDataWarning, load_mnist
from fastnn.nets import DeepConvNet
from fastnn.optimizer import Adam



def predict_labels(network, x, batch_size=200):
    return np.concatenate([np.argmax(network.predict(x[i:i + batch_size], train_flg=False), axis=1)
                           for i in range(0, len(x), batch_size)])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", default=None,
                        help="the book's deep_convnet_params.pkl (default: fetched into the user cache)")
    parser.add_argument("--quick", action="store_true", help="1,000 test images (or a few training steps)")
    parser.add_argument("--output", default=os.path.join("out", "ch08"), help="directory for the plot")
    args = parser.parse_args(argv)
    os.makedirs(args.output, exist_ok=True)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SampleDataWarning)
        (x_train, t_train), (x_test, t_test) = load_mnist(flatten=False)
    if args.quick:
        x_test, t_test = x_test[:1000], t_test[:1000]

    network = DeepConvNet(dtype=np.float32, rng=np.random.default_rng(0))
    if args.params is None:
        from fastnn import pretrained
        try:
            args.params = str(pretrained.fetch("deep_convnet"))
        except (OSError, ValueError) as exc:
            print(f"(not available: {exc})")
            args.params = str(pretrained.cached_path("deep_convnet"))
    if os.path.isfile(args.params):
        network.load_params(args.params)
        print(f"loaded the book's trained parameters from {args.params}")
    else:
        steps = 5 if args.quick else 100
        print(f"The book's parameters were not found at {args.params} (pass --params).\n"
              f"Training DeepConvNet for {steps} Adam steps on the MNIST sample instead.")
        optimizer, rng = Adam(lr=0.001), np.random.default_rng(0)
        start = time.perf_counter()
        for _ in range(steps):
            batch = rng.choice(len(x_train), 100)
            optimizer.update(network.params, network.gradient(x_train[batch], t_train[batch]))
        print(f"  {steps} steps in {time.perf_counter() - start:.1f} s")

    start = time.perf_counter()
    predicted = predict_labels(network, x_test)
    wrong = np.flatnonzero(predicted != t_test)
    print(f"test accuracy {1 - len(wrong) / len(t_test):.4f} on {len(t_test):,} test images "
          f"({len(wrong)} wrong, {time.perf_counter() - start:.1f} s)")

    shown = wrong[:40]
    if len(shown):
        print("first misclassified (index: predicted/true): "
              + ", ".join(f"{i}: {predicted[i]}/{t_test[i]}" for i in shown[:10]))
        try:
            from fastnn.plot import plot_images
            path = os.path.join(args.output, "ch08_misclassified.png")
            plot_images(x_test[shown], t_test[shown], predicted[shown], path,
                        title="misclassified: predicted (true)")
            print(f"saved {path}")
        except ImportError as exc:
            print(f"({exc})")


if __name__ == "__main__":
    main()
