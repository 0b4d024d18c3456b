"""Chapter 7: a convolutional network.

SimpleConvNet (conv 5x5 x30 -> ReLU -> 2x2 max-pool -> affine 100 -> ReLU ->
affine 10) trained with the book's Trainer and Adam on the MNIST sample, in
float32 on the compiled kernels. Then the first layer's 30 filters: random
noise before training, edge and blob detectors after.

    python examples/ch07_convnet.py [--quick] [--epochs N] [--output DIR]
"""
import argparse
import os
import time
import warnings

import numpy as np

import fastnn
from fastnn.datasets import SampleDataWarning, load_mnist
from fastnn.nets import SimpleConvNet
from fastnn.trainer import Trainer


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1 epoch on 500 images")
    parser.add_argument("--epochs", type=int, default=5, help="epochs (default 5)")
    parser.add_argument("--output", default=os.path.join("out", "ch07"), help="directory for the plots")
    args = parser.parse_args(argv)
    os.makedirs(args.output, exist_ok=True)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SampleDataWarning)
        (x_train, t_train), (x_test, t_test) = load_mnist(flatten=False)
    epochs = 1 if args.quick else args.epochs
    if args.quick:
        x_train, t_train, x_test, t_test = x_train[:500], t_train[:500], x_test[:500], t_test[:500]

    network = SimpleConvNet(input_dim=(1, 28, 28),
                            conv_param={"filter_num": 30, "filter_size": 5, "pad": 0, "stride": 1},
                            hidden_size=100, output_size=10, weight_init_std=0.01,
                            dtype=np.float32, rng=np.random.default_rng(0))
    filters_before = network.params["W1"].copy()

    print(f"SimpleConvNet on {len(x_train):,} images, {epochs} epoch(s), backend {fastnn.get_backend()}")
    trainer = Trainer(network, x_train, t_train, x_test, t_test, epochs=epochs, mini_batch_size=100,
                      optimizer="Adam", optimizer_param={"lr": 0.001},
                      evaluate_sample_num_per_epoch=1000, verbose=False, seed=0)
    start = time.perf_counter()
    for step in range(trainer.max_iter):
        trainer.train_step()
        if (step + 1) % 50 == 0:
            print(f"  step {step + 1}/{trainer.max_iter}: loss {np.mean(trainer.train_loss_list[-50:]):.4f}")
    print(f"trained in {time.perf_counter() - start:.1f} s")
    print(f"test accuracy {network.accuracy(x_test, t_test):.4f} on {len(x_test):,} test images")

    network.save_params(os.path.join(args.output, "simple_convnet.npz"))
    from fastnn import plot  # matplotlib is imported by the plot functions, if installed
    try:
        for name, W in (("before", filters_before), ("after", network.params["W1"])):
            path = os.path.join(args.output, f"ch07_filters_{name}.png")
            plot.plot_filters(W, path, ncols=10, title=f"first-layer filters {name} training")
            print(f"saved {path}")
        path = os.path.join(args.output, "ch07_learning_curves.png")
        plot.plot_learning_curves(trainer, path, title="SimpleConvNet (Trainer, Adam)")
        print(f"saved {path}")
    except ImportError as exc:
        print(f"({exc})")


if __name__ == "__main__":
    main()
