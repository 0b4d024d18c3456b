"""Chapter 4: learning from data with the numerical gradient.

The central difference (f(x+h) - f(x-h)) / 2h gives the derivative of any
function, and the gradient of a loss with respect to every weight, one
weight at a time. It is simple and very slow: each step of TwoLayerNet costs
two forward passes per parameter. So this example shrinks the problem: the
MNIST images are averaged down to 7x7 (49 inputs), the network has 10 hidden
units (610 parameters), and it trains on a slice of 1,000 images.

    python examples/ch04_numerical_gradient.py [--quick] [--output DIR]

Chapter 5's backpropagation computes the same gradient in one backward pass.
"""
import argparse
import os
import time
import warnings

import numpy as np

from fastnn.datasets import SampleDataWarning, load_mnist
from fastnn.gradient import gradient_descent, numerical_diff
from fastnn.nets import TwoLayerNet


def shrink(x):
    """(N, 1, 28, 28) images -> (N, 49): the mean of each 4x4 block."""
    return x.reshape(-1, 7, 4, 7, 4).mean(axis=(2, 4)).reshape(-1, 49)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10 steps instead of 100")
    parser.add_argument("--output", default=os.path.join("out", "ch04"), help="directory for the plot")
    args = parser.parse_args(argv)
    steps = 10 if args.quick else 100
    os.makedirs(args.output, exist_ok=True)

    # Derivatives by the central difference.
    print(f"d/dx (0.01x^2 + 0.1x) at x=5: {numerical_diff(lambda x: 0.01 * x**2 + 0.1 * x, 5.0):.6f} "
          "(exact 0.2)")
    x_min = gradient_descent(lambda x: np.sum(x**2), np.array([-3.0, 4.0]), lr=0.1, step_num=100)
    print(f"gradient descent on x0^2 + x1^2 from (-3, 4): {np.round(x_min, 6)}")

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SampleDataWarning)
        (x_train, t_train), (x_test, t_test) = load_mnist(flatten=False, one_hot_label=True)
    x_train, t_train = shrink(x_train[:1000]).astype(np.float64), t_train[:1000]
    x_test, t_test = shrink(x_test[:1000]).astype(np.float64), t_test[:1000]

    rng = np.random.default_rng(0)
    network = TwoLayerNet(input_size=49, hidden_size=10, output_size=10, weight_init_std=0.1, rng=rng)
    n_params = sum(p.size for p in network.params.values())
    print(f"TwoLayerNet(49, 10, 10): {n_params} parameters, {2 * n_params} forward passes per step")

    lr, batch_size = 1.0, 50
    losses = []
    start = time.perf_counter()
    for step in range(steps):
        batch = rng.choice(len(x_train), batch_size, replace=False)
        grads = network.numerical_gradient(x_train[batch], t_train[batch])
        for key in network.params:
            network.params[key] -= lr * grads[key]
        losses.append(network.loss(x_train[batch], t_train[batch]))
        if (step + 1) % max(steps // 5, 1) == 0:
            train_acc = network.accuracy(x_train, t_train)
            test_acc = network.accuracy(x_test, t_test)
            print(f"step {step + 1:4d}: loss {losses[-1]:.4f}, train acc {train_acc:.3f}, "
                  f"test acc {test_acc:.3f}")
    print(f"{steps} steps in {time.perf_counter() - start:.1f} s; loss {losses[0]:.3f} -> {losses[-1]:.3f}")

    try:
        from fastnn.plot import plot_learning_curves
        path = os.path.join(args.output, "ch04_loss.png")
        plot_learning_curves({"train_loss_list": losses}, path, title="numerical-gradient training")
        print(f"saved {path}")
    except ImportError as exc:
        print(f"({exc})")


if __name__ == "__main__":
    main()
