"""Chapter 6: the techniques that make training work.

1. Optimizers: SGD, Momentum, AdaGrad and Adam train the same 5-layer
   network on MNIST; their losses are compared.
2. Weight initialisation: the activations of 5 sigmoid layers for weights of
   std 1 (they saturate at 0 and 1), std 0.01 (they all collapse to 0.5) and
   Xavier's 1/sqrt(n) (they stay spread out), as histograms.
3. Batch Normalization: the same deep network with and without it, trained
   on 1,000 images: with it, training starts faster.
4. Overfitting: a 7-layer network on 300 images learns them by heart; weight
   decay and dropout narrow the gap between training and test accuracy.

    python examples/ch06_training_techniques.py [--quick] [--output DIR]

Pictures go to --output (default out/ch06).
"""
import argparse
import os
import warnings

import numpy as np

from fastnn.datasets import SampleDataWarning, load_mnist
from fastnn.functions import sigmoid
from fastnn.nets import MultiLayerNet, MultiLayerNetExtend
from fastnn.optimizer import SGD, AdaGrad, Adam, Momentum
from fastnn.util import smooth_curve


def save_lines(series, path, title, xlabel, ylabel):
    """Several named curves in one picture (skipped without matplotlib)."""
    try:
        from matplotlib.figure import Figure
    except ImportError:
        print("(matplotlib not installed: no plot; pip install 'fastnn[plot]')")
        return
    fig = Figure(figsize=(6, 4), layout="constrained")
    ax = fig.subplots()
    for name, values in series.items():
        ax.plot(values, label=name)
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.legend()
    fig.savefig(path)
    print(f"saved {path}")


def compare_optimizers(x_train, t_train, iterations, out_dir, rng):
    print(f"\n1. Optimizers: MultiLayerNet(784, [100]*4, 10), {iterations} steps of 128 images")
    optimizers = {"SGD": SGD(lr=0.01), "Momentum": Momentum(lr=0.01),
                  "AdaGrad": AdaGrad(lr=0.01), "Adam": Adam(lr=0.001)}
    losses = {}
    for name, optimizer in optimizers.items():
        net = MultiLayerNet(784, [100, 100, 100, 100], 10, rng=np.random.default_rng(0))
        losses[name] = []
        for _ in range(iterations):
            batch = rng.choice(len(x_train), 128)
            grads = net.gradient(x_train[batch], t_train[batch])
            optimizer.update(net.params, grads)
            losses[name].append(net.loss(x_train[batch], t_train[batch]))
        print(f"  {name:8s} loss {losses[name][0]:.3f} -> {np.mean(losses[name][-10:]):.3f}")
    smooth = smooth_curve if iterations >= 11 else np.asarray  # smooth_curve needs 11 points
    save_lines({k: smooth(np.array(v)) for k, v in losses.items()},
               os.path.join(out_dir, "ch06_optimizers.png"), "optimizers on MNIST", "iteration", "loss")


def weight_init_histograms(out_dir, rng):
    print("\n2. Weight initialisation: activations of 5 sigmoid layers of 100 units")
    x = rng.standard_normal((1000, 100))
    for label, std in (("std 1", 1.0), ("std 0.01", 0.01), ("Xavier", np.sqrt(1.0 / 100))):
        activations = {}
        a = x
        for i in range(5):
            a = sigmoid(a @ (rng.standard_normal((100, 100)) * std))
            activations[i] = a
        last = activations[4]
        print(f"  {label:8s}: last layer mean {last.mean():.3f}, std {last.std():.3f}, "
              f"saturated (<0.05 or >0.95) {np.mean((last < 0.05) | (last > 0.95)):.0%}")
        try:
            from fastnn.plot import plot_activation_histograms
            path = os.path.join(out_dir, f"ch06_activations_{label.replace(' ', '_')}.png")
            plot_activation_histograms(activations, path, title=f"sigmoid activations, weights {label}")
            print(f"  saved {path}")
        except ImportError as exc:
            print(f"  ({exc})")


def train_epochs(net, x, t, x_test, t_test, epochs, lr, rng, batch_size=100):
    """Plain SGD; returns (train accuracies, test accuracies) per epoch."""
    optimizer = SGD(lr=lr)
    train_acc, test_acc = [], []
    steps = max(len(x) // batch_size, 1)
    for _ in range(epochs):
        for _ in range(steps):
            batch = rng.choice(len(x), batch_size)
            optimizer.update(net.params, net.gradient(x[batch], t[batch]))
        train_acc.append(net.accuracy(x, t))
        test_acc.append(net.accuracy(x_test, t_test))
    return train_acc, test_acc


def batch_norm(x_train, t_train, x_test, t_test, epochs, out_dir, rng):
    print(f"\n3. Batch Normalization: MultiLayerNetExtend(784, [100]*5, 10), 1,000 images, "
          f"{epochs} epochs, SGD lr 0.01")
    curves = {}
    for use_bn in (False, True):
        net = MultiLayerNetExtend(784, [100] * 5, 10, weight_init_std=0.05, use_batchnorm=use_bn,
                                  rng=np.random.default_rng(0))
        train_acc, _ = train_epochs(net, x_train[:1000], t_train[:1000], x_test, t_test, epochs, 0.01, rng)
        name = "with BatchNorm" if use_bn else "without"
        curves[name] = train_acc
        print(f"  {name:15s} train accuracy per epoch: {' '.join(f'{a:.2f}' for a in train_acc)}")
    save_lines(curves, os.path.join(out_dir, "ch06_batchnorm.png"), "Batch Normalization",
               "epoch", "train accuracy")


def overfitting(x_train, t_train, x_test, t_test, epochs, out_dir, rng):
    # The book trains 301 epochs at lr 0.01; lr 0.05 shows the same picture in fewer epochs.
    print(f"\n4. Overfitting: MultiLayerNet(784, [100]*6, 10) on 300 images, {epochs} epochs, "
          "SGD lr 0.05")
    x, t = x_train[:300], t_train[:300]
    variants = {
        "plain": MultiLayerNet(784, [100] * 6, 10, rng=np.random.default_rng(0)),
        "weight decay 0.1": MultiLayerNet(784, [100] * 6, 10, weight_decay_lambda=0.1,
                                          rng=np.random.default_rng(0)),
        "dropout 0.2": MultiLayerNetExtend(784, [100] * 6, 10, use_dropout=True, dropout_ration=0.2,
                                           rng=np.random.default_rng(0)),
    }
    curves = {}
    for name, net in variants.items():
        train_acc, test_acc = train_epochs(net, x, t, x_test, t_test, epochs, 0.05, rng)
        curves[f"{name} (train)"] = train_acc
        curves[f"{name} (test)"] = test_acc
        print(f"  {name:17s} train {train_acc[-1]:.3f}, test {test_acc[-1]:.3f}, "
              f"gap {train_acc[-1] - test_acc[-1]:.3f}")
    save_lines(curves, os.path.join(out_dir, "ch06_overfitting.png"), "overfitting on 300 images",
               "epoch", "accuracy")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a few steps of each experiment")
    parser.add_argument("--output", default=os.path.join("out", "ch06"), help="directory for the plots")
    args = parser.parse_args(argv)
    os.makedirs(args.output, exist_ok=True)
    rng = np.random.default_rng(0)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SampleDataWarning)
        (x_train, t_train), (x_test, t_test) = load_mnist(normalize=True)
    n_test = 500 if args.quick else 1000  # enough to compare, and faster than all 10,000
    x_test, t_test = x_test[:n_test], t_test[:n_test]

    compare_optimizers(x_train, t_train, 10 if args.quick else 300, args.output, rng)
    weight_init_histograms(args.output, rng)
    batch_norm(x_train, t_train, x_test, t_test, 2 if args.quick else 10, args.output, rng)
    overfitting(x_train, t_train, x_test, t_test, 2 if args.quick else 80, args.output, rng)


if __name__ == "__main__":
    main()
