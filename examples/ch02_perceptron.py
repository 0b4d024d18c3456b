"""Chapter 2: perceptrons.

Logic gates made of one perceptron each (AND, NAND, OR), XOR made of two
layers of them, and a perceptron that *learns* its weights with the rule
w += eta * (y - y_hat) * x. It learns AND and OR; it never learns XOR,
because no single straight line separates XOR's 1s from its 0s.

    python examples/ch02_perceptron.py [--quick]
"""
import argparse

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
    return accuracy


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer training epochs")
    args = parser.parse_args(argv)
    epochs = 6 if args.quick else 10

    print_truth_tables()
    print("\nA perceptron learning each gate from its truth table:")
    for gate in (AND, NAND, OR):
        acc = learn(gate.__name__, [gate(*x) for x in INPUTS], epochs)
        assert acc == 1.0, f"the perceptron should learn {gate.__name__}"
    acc = learn("XOR", [XOR(*x) for x in INPUTS], epochs)
    print(f"XOR stays at {acc:.2f}: it is not linearly separable, so it needs two layers.")


if __name__ == "__main__":
    main()
