"""Chapter 5: backpropagation.

1. The apple example: 2 apples at 100 and 3 oranges at 150, with 10% tax,
   as a computational graph of MulLayer/AddLayer nodes; the backward pass
   gives how much the price moves per unit of each input.
2. Gradient check: TwoLayerNet's backprop gradient against the numerical
   gradient of chapter 4 (they agree to about 1e-7 or better).
3. Training TwoLayerNet(784, 50, 10) by backprop on the MNIST sample: what
   took chapter 4 minutes per step now takes a millisecond.

    python examples/ch05_backprop.py [--quick] [--output DIR]
"""
import argparse
import os
import time
import warnings

import numpy as np

from fastnn.datasets import SampleDataWarning, load_mnist
from fastnn.layers import AddLayer, MulLayer
from fastnn.nets import TwoLayerNet


def apple_example():
    apple, apple_num, orange, orange_num, tax = 100, 2, 150, 3, 1.1
    mul_apple, mul_orange, add_fruit, mul_tax = MulLayer(), MulLayer(), AddLayer(), MulLayer()

    apple_price = mul_apple.forward(apple, apple_num)
    orange_price = mul_orange.forward(orange, orange_num)
    all_price = add_fruit.forward(apple_price, orange_price)
    price = mul_tax.forward(all_price, tax)

    dall_price, dtax = mul_tax.backward(1)
    dapple_price, dorange_price = add_fruit.backward(dall_price)
    dorange, dorange_num = mul_orange.backward(dorange_price)
    dapple, dapple_num = mul_apple.backward(dapple_price)
    print(f"price {price:.0f}")
    print(f"d price / d apple {dapple:.1f}, / d apple_num {dapple_num:.0f}, / d orange {dorange:.1f}, "
          f"/ d orange_num {dorange_num:.0f}, / d tax {dtax:.0f}")


def gradient_check(x, t, hidden_size):
    network = TwoLayerNet(input_size=784, hidden_size=hidden_size, output_size=10,
                          rng=np.random.default_rng(1))
    x, t = x[:3], t[:3]
    numerical = network.numerical_gradient(x, t)
    backprop = network.gradient(x, t)
    print(f"gradient check of TwoLayerNet(784, {hidden_size}, 10) on 3 images "
          "(mean |backprop - numerical|):")
    for key in ("W1", "b1", "W2", "b2"):
        print(f"  {key}: {np.mean(np.abs(backprop[key] - numerical[key])):.2e}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1 epoch instead of 10")
    parser.add_argument("--output", default=os.path.join("out", "ch05"), help="directory for the plot")
    args = parser.parse_args(argv)
    epochs = 1 if args.quick else 10
    os.makedirs(args.output, exist_ok=True)

    apple_example()

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SampleDataWarning)
        (x_train, t_train), (x_test, t_test) = load_mnist(normalize=True, one_hot_label=True)
    # The numerical gradient needs two forward passes per parameter: a smaller net in quick mode.
    gradient_check(x_train, t_train, hidden_size=10 if args.quick else 50)

    rng = np.random.default_rng(0)
    network = TwoLayerNet(input_size=784, hidden_size=50, output_size=10, rng=rng)
    batch_size, lr = 100, 0.1
    iter_per_epoch = len(x_train) // batch_size
    losses, train_acc, test_acc = [], [], []
    start = time.perf_counter()
    for epoch in range(1, epochs + 1):
        for _ in range(iter_per_epoch):
            batch = rng.choice(len(x_train), batch_size)
            grads = network.gradient(x_train[batch], t_train[batch])  # backprop
            for key in network.params:
                network.params[key] -= lr * grads[key]
            losses.append(network.loss(x_train[batch], t_train[batch]))
        train_acc.append(network.accuracy(x_train, t_train))
        test_acc.append(network.accuracy(x_test, t_test))
        print(f"epoch {epoch:2d}: train acc {train_acc[-1]:.4f}, test acc {test_acc[-1]:.4f}")
    print(f"{epochs * iter_per_epoch} backprop steps in {time.perf_counter() - start:.1f} s")

    try:
        from fastnn.plot import plot_learning_curves
        path = os.path.join(args.output, "ch05_learning_curves.png")
        plot_learning_curves({"train_loss_list": losses, "train_acc_list": train_acc,
                              "test_acc_list": test_acc}, path, first_epoch=1,
                             title="TwoLayerNet, backprop, SGD lr 0.1")
        print(f"saved {path}")
    except ImportError as exc:
        print(f"({exc})")


if __name__ == "__main__":
    main()
