"""Chapter 3: a neural network's forward pass with the book's pretrained weights.

The activation functions (step, sigmoid, ReLU), then MNIST through the
3-layer network of ``sample_weight.pkl`` (784 -> 50 -> 100 -> 10, sigmoid
hidden layers, softmax output), one image at a time and in batches of 100.
The book's code gets 0.9352 on the 10,000 test images; so does this.

    python examples/ch03_forward_pass.py [--weights ch03_sample_weight.pkl] [--quick] [--output DIR]

Without --weights the book's file is fetched once into the user cache
(``fastnn.pretrained.fetch("sample_network")``: SHA-256 checked; offline, the
message says where to put it).
"""
import argparse
import os
import sys
import warnings

import numpy as np

from fastnn.datasets import SampleDataWarning, load_mnist
from fastnn.functions import relu, sigmoid, step_function
from fastnn.nets import SampleNetwork



def plot_activations(out_dir):
    """step, sigmoid and ReLU on [-5, 5], to a PNG (needs matplotlib)."""
    try:
        from matplotlib.figure import Figure
    except ImportError:
        print("(matplotlib not installed: no plot; pip install 'fastnn[plot]')")
        return
    x = np.arange(-5.0, 5.0, 0.1)
    fig = Figure(figsize=(6, 3.5), layout="constrained")
    ax = fig.subplots()
    for f in (step_function, sigmoid, relu):
        ax.plot(x, f(x), label=f.__name__)
    ax.set_ylim(-0.1, 1.5)
    ax.legend()
    path = os.path.join(out_dir, "ch03_activations.png")
    fig.savefig(path)
    print(f"saved {path}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", default=None,
                        help="the book's sample_weight.pkl (default: fetched into the user cache)")
    parser.add_argument("--output", default=os.path.join("out", "ch03"), help="directory for the plot")
    parser.add_argument("--quick", action="store_true", help="(runs in seconds either way)")
    args = parser.parse_args(argv)
    os.makedirs(args.output, exist_ok=True)

    x = np.array([-1.0, 1.0, 2.0])
    print(f"x = {x}: step {step_function(x)}, sigmoid {np.round(sigmoid(x), 4)}, relu {relu(x)}")
    plot_activations(args.output)

    if args.weights is None:
        from fastnn import pretrained
        try:
            args.weights = str(pretrained.fetch("sample_network"))
        except (OSError, ValueError) as exc:
            print(f"The book's sample weights are not available: {exc}", file=sys.stderr)
            return 2
    if not os.path.isfile(args.weights):
        print(f"The book's sample weights were not found at {args.weights}.\n"
              "Pass the path of sample_weight.pkl (from the book's repository, ch03/) with --weights.",
              file=sys.stderr)
        return 2

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SampleDataWarning)  # said below, in one line
        data = load_mnist(normalize=True, flatten=True)
    (_, _), (x_test, t_test) = data
    print(f"MNIST test images from {'the sample bundled with fastnn' if data.is_sample else data.source}")
    network = SampleNetwork(args.weights)
    print(f"weights: {', '.join(f'{k} {v.shape}' for k, v in network.params.items())}")

    # One image at a time, as the book first does it (on the first 1,000 images).
    n = 1000
    correct = sum(int(np.argmax(network.predict(x_test[i:i + 1])) == t_test[i]) for i in range(n))
    print(f"one at a time: {correct / n:.4f} on the first {n:,} test images")

    # In batches of 100: one matrix product per layer for 100 images.
    correct = 0
    for i in range(0, len(x_test), 100):
        y = network.predict(x_test[i:i + 100])
        correct += int(np.sum(np.argmax(y, axis=1) == t_test[i:i + 100]))
    print(f"Accuracy: {correct / len(x_test):.4f} on all {len(x_test):,} test images (the book: 0.9352)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
