"""fastnn.perceptron: the gates of chapter 2 and a perceptron that learns them."""
import numpy as np
import pytest

from fastnn.perceptron import AND, NAND, OR, XOR, Perceptron

INPUTS = np.array([[0, 0], [1, 0], [0, 1], [1, 1]])
TRUTH = {
    AND: [0, 0, 0, 1],
    NAND: [1, 1, 1, 0],
    OR: [0, 1, 1, 1],
    XOR: [0, 1, 1, 0],
}


@pytest.mark.parametrize("gate", list(TRUTH), ids=lambda g: g.__name__)
def test_gates_truth_tables(gate):
    assert [gate(x1, x2) for x1, x2 in INPUTS] == TRUTH[gate]


@pytest.mark.parametrize("gate", [AND, OR, NAND], ids=lambda g: g.__name__)
def test_perceptron_learns_separable_gates(gate):
    y = np.array(TRUTH[gate])
    p = Perceptron(eta=0.1).fit(INPUTS, y, epochs=20)
    np.testing.assert_array_equal(p.predict(INPUTS), y)
    assert p.errors_[-1] == 0


def test_perceptron_update_rule_by_hand():
    # First sample of AND is (0, 0) -> 0 and is predicted 0: no change.
    # Second (1, 0) -> 0: predicted 0, no change. Last (1, 1) -> 1: predicted 0,
    # so w += 0.5 * (1 - 0) * (1, 1), b += 0.5.
    p = Perceptron(eta=0.5).fit(INPUTS, np.array(TRUTH[AND]), epochs=1)
    np.testing.assert_array_equal(p.w, [0.5, 0.5])
    assert p.b == 0.5
    assert p.errors_ == [1]


def test_perceptron_fails_on_xor():
    y = np.array(TRUTH[XOR])
    p = Perceptron(eta=0.1).fit(INPUTS, y, epochs=100)
    assert min(p.errors_) > 0
    assert np.mean(p.predict(INPUTS) == y) < 1.0


def test_perceptron_errors():
    with pytest.raises(ValueError, match="Perceptron: eta must be a number > 0"):
        Perceptron(eta=0)
    with pytest.raises(ValueError, match="Perceptron.fit: y must have shape \\(4,\\)"):
        Perceptron().fit(INPUTS, [0, 1])
    with pytest.raises(ValueError, match="Perceptron.fit: targets must be 0 or 1"):
        Perceptron().fit(INPUTS, [0, 2, 1, 0])
    with pytest.raises(ValueError, match="Perceptron.predict: call fit first"):
        Perceptron().predict(INPUTS)
    with pytest.raises(ValueError, match="Perceptron.predict: X has 3 features"):
        Perceptron().fit(INPUTS, [0, 0, 0, 1]).predict(np.ones((2, 3)))
