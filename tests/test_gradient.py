"""fastnn.gradient: numerical differentiation and gradient descent."""
import numpy as np
import pytest

from fastnn.gradient import gradient_descent, numerical_diff, numerical_gradient


def function_2(x):
    return np.sum(x ** 2)


def test_numerical_diff_book_example():
    # f(x) = 0.01 x^2 + 0.1 x; f'(5) = 0.2, f'(10) = 0.3
    f = lambda x: 0.01 * x ** 2 + 0.1 * x  # noqa: E731
    assert numerical_diff(f, 5.0) == pytest.approx(0.2, abs=1e-9)
    assert numerical_diff(f, 10.0) == pytest.approx(0.3, abs=1e-9)


@pytest.mark.parametrize("point, expected", [((3.0, 4.0), (6.0, 8.0)), ((0.0, 2.0), (0.0, 4.0)),
                                             ((3.0, 0.0), (6.0, 0.0))])
def test_numerical_gradient_sum_of_squares(point, expected):
    x = np.array(point)
    np.testing.assert_allclose(numerical_gradient(function_2, x), expected, atol=1e-6)
    np.testing.assert_array_equal(x, point)           # x restored


def test_numerical_gradient_any_ndim(rng):
    A = rng.standard_normal((2, 3, 4))
    x = rng.standard_normal((2, 3, 4))
    before = x.copy()
    grad = numerical_gradient(lambda z: np.sum(A * z ** 3), x)
    np.testing.assert_allclose(grad, 3 * A * x ** 2, rtol=1e-6, atol=1e-8)
    np.testing.assert_array_equal(x, before)


def test_numerical_gradient_sees_in_place_changes():
    # The book's networks pass a lambda that ignores its argument and reads the params.
    params = {"W": np.array([[1.0, -2.0]])}
    grad = numerical_gradient(lambda _: float(np.sum(params["W"] ** 2)), params["W"])
    np.testing.assert_allclose(grad, [[2.0, -4.0]], atol=1e-6)


def test_numerical_gradient_rejects_integers():
    with pytest.raises(TypeError, match="numerical_gradient: x must be a float array"):
        numerical_gradient(function_2, np.array([3, 4]))
    with pytest.raises(TypeError, match="numerical_gradient: x must be a NumPy array"):
        numerical_gradient(function_2, [3.0, 4.0])


def test_gradient_descent_finds_minimum():
    init = np.array([-3.0, 4.0])
    x = gradient_descent(function_2, init, lr=0.1, step_num=100)
    np.testing.assert_allclose(x, [0.0, 0.0], atol=1e-8)
    np.testing.assert_array_equal(init, [-3.0, 4.0])
    # Each step multiplies x by (1 - 2*lr): after 100 steps of lr=0.01, 0.98**100.
    x = gradient_descent(function_2, [-3, 4])
    np.testing.assert_allclose(x, np.array([-3.0, 4.0]) * 0.98 ** 100, rtol=1e-6)
    # A learning rate too large diverges, too small barely moves (the book's lesson).
    assert np.abs(gradient_descent(function_2, init, lr=10.0)).max() > 1e10
    np.testing.assert_allclose(gradient_descent(function_2, init, lr=1e-10), init, rtol=1e-6)


def test_gradient_descent_bad_arguments():
    with pytest.raises(ValueError, match="gradient_descent: lr must be > 0"):
        gradient_descent(function_2, np.array([1.0]), lr=0)
    with pytest.raises(ValueError, match="gradient_descent: step_num must be an int >= 0"):
        gradient_descent(function_2, np.array([1.0]), step_num=-1)
