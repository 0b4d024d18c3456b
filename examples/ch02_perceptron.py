"""Chapter 2: perceptrons.

Logic gates made of one perceptron each (AND, NAND, OR), XOR made of two
layers of them, and a perceptron that *learns* its weights with the rule
w += eta * (y - y_hat) * x. It learns AND and OR; it never learns XOR,
because no single straight line separates XOR's 1s from its 0s.

    python examples/ch02_perceptron.py [--quick] [--output DIR]

The picture (--output, default out/ch02) shows each gate's four inputs and
the line the learned perceptron draws between its 0s and 1s.
"""
import argparse
import os

import numpy as np

from fastnn.perceptron import AND, NAND, OR, XOR, Perceptron

INPUTS = [(0, 0), (1, 0), (0, 1), (1, 1)]


def print_truth_tables():
    print("x1 x2 | AND NAND OR XOR")
    for x1, x2 in INPUTS:
        print(f" {x1}  {x2} |  {AND(x1, x2)}    {NAND(x1, x2)}   {OR(x1, x2)}   {XOR(x1, x2)}")
    # XOR is a two-layer perceptron: its first layer computes NAND and OR,
    # its second layer ANDs them.
    print("XOR(x1, x2) = AND(NAND(x1, x2), OR(x1, x2))")


def learn(name, targets, epochs):
    X = np.array(INPUTS, dtype=float)
    y = np.array(targets)
    p = Perceptron(eta=0.1).fit(X, y, epochs=epochs)
    accuracy = np.mean(p.predict(X) == y)
    print(f"{name:>4}: w={np.round(p.w, 2)}, b={p.b:+.2f}, mistakes per epoch {p.errors_}, "
          f"accuracy {accuracy:.2f}")
    return p, accuracy


def plot_boundaries(learned, path):
    """Each gate's inputs (filled: output 1) and the learned line w . x + b = 0."""
    try:
        from matplotlib.figure import Figure
    except ImportError:
        print("(matplotlib not installed: no plot; pip install 'fastnn[plot]')")
        return
    fig = Figure(figsize=(3 * len(learned), 3.2), layout="constrained")
    axes = fig.subplots(1, len(learned))
    X = np.array(INPUTS, dtype=float)
    for ax, (name, (p, targets)) in zip(axes, learned.items()):
        ones = np.array(targets) == 1
        ax.scatter(X[ones, 0], X[ones, 1], s=80, c="black", label="1")
        ax.scatter(X[~ones, 0], X[~ones, 1], s=80, facecolors="none", edgecolors="black", label="0")
        x1 = np.linspace(-0.5, 1.5, 50)
        if abs(p.w[1]) > 1e-12:  # w0 x1 + w1 x2 + b = 0  ->  x2 = -(w0 x1 + b) / w1
            ax.plot(x1, -(p.w[0] * x1 + p.b) / p.w[1], "tab:red")
        elif abs(p.w[0]) > 1e-12:
            ax.axvline(-p.b / p.w[0], color="tab:red")
        ax.set_xlim(-0.5, 1.5)
        ax.set_ylim(-0.5, 1.5)
        ax.set_title(name)
        ax.set_xlabel("x1")
    axes[0].set_ylabel("x2")
    fig.savefig(path)
    print(f"saved {path}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer training epochs")
    parser.add_argument("--output", default=os.path.join("out", "ch02"), help="directory for the plot")
    args = parser.parse_args(argv)
    epochs = 6 if args.quick else 10
    os.makedirs(args.output, exist_ok=True)

    print_truth_tables()
    print("\nA perceptron learning each gate from its truth table:")
    learned = {}
    for gate in (AND, NAND, OR, XOR):
        targets = [gate(*x) for x in INPUTS]
        p, acc = learn(gate.__name__, targets, epochs)
        learned[gate.__name__] = (p, targets)
        if gate is not XOR:
            assert acc == 1.0, f"the perceptron should learn {gate.__name__}"
    print(f"XOR stays at {acc:.2f}: it is not linearly separable, so it needs two layers.")
    plot_boundaries(learned, os.path.join(args.output, "ch02_perceptron.png"))


if __name__ == "__main__":
    main()
