"""Element-wise arithmetic and products, each with its backward beside its forward.

Shapes broadcast as in NumPy; a backward returns the gradient of each input
before broadcasting, and ``Function.grads`` sums it back to the input's shape
(``sum_to``). ``x`` and ``y`` are the inputs, ``gy`` the gradient of the output.
"""
import numpy as np

from .._autodiff import Function, apply


# --------------------------------------------------------------- binary
class Add(Function):
    name = "add"

    def forward(self, x1, x2):
        return np.add(x1, x2)

    def backward(self, gy):                     # d(x1 + x2) = dx1 + dx2
        return gy, gy


class Subtract(Function):
    name = "subtract"

    def forward(self, x1, x2):
        return np.subtract(x1, x2)

    def backward(self, gy):
        return gy, -gy


class Multiply(Function):
    name = "multiply"

    def forward(self, x1, x2):
        return np.multiply(x1, x2)

    def backward(self, gy):                     # the book's MulLayer: swap the inputs
        x1, x2 = self.xs
        return gy * x2, gy * x1


class Divide(Function):
    name = "divide"

    def forward(self, x1, x2):
        return np.true_divide(x1, x2)

    def backward(self, gy):                     # d(a/b) = da/b - a db/b**2
        x1, x2 = self.xs
        return gy / x2, -gy * x1 / np.square(x2)


class Power(Function):
    name = "power"

    def forward(self, x1, x2):
        return np.power(x1, x2)

    def backward(self, gy):                     # d(a**b) = b a**(b-1) da + a**b log(a) db
        x1, x2 = self.xs
        g1 = gy * x2 * np.power(x1, np.subtract(x2, 1))
        with np.errstate(divide="ignore", invalid="ignore"):
            g2 = gy * self.y * np.where(np.asarray(x1) > 0, np.log(np.where(np.asarray(x1) > 0, x1, 1)), 0)
        return g1, g2


class Maximum(Function):
    name = "maximum"

    def forward(self, x1, x2):
        return np.maximum(x1, x2)

    def backward(self, gy):                     # to the larger input; ties share the gradient
        x1, x2 = np.asarray(self.xs[0]), np.asarray(self.xs[1])
        m = (x1 > x2) + 0.5 * (x1 == x2)
        return gy * m, gy * (1 - m)


class Minimum(Function):
    name = "minimum"

    def forward(self, x1, x2):
        return np.minimum(x1, x2)

    def backward(self, gy):
        x1, x2 = np.asarray(self.xs[0]), np.asarray(self.xs[1])
        m = (x1 < x2) + 0.5 * (x1 == x2)
        return gy * m, gy * (1 - m)


class Matmul(Function):
    """(..., n, k) @ (..., k, m) -> (..., n, m); 1-D operands as in np.matmul."""
    name = "matmul"

    def forward(self, x1, x2):
        return np.matmul(x1, x2)

    def backward(self, gy):                     # the book's Affine: dX = dY W^T, dW = X^T dY
        a, b = np.asarray(self.xs[0]), np.asarray(self.xs[1])
        a2 = a[None, :] if a.ndim == 1 else a
        b2 = b[:, None] if b.ndim == 1 else b
        g = np.asarray(gy)
        if a.ndim == 1:
            g = np.expand_dims(g, -2)
        if b.ndim == 1:
            g = np.expand_dims(g, -1)
        ga = np.matmul(g, np.swapaxes(b2, -1, -2))
        gb = np.matmul(np.swapaxes(a2, -1, -2), g)
        if a.ndim == 1:
            ga = ga.reshape(ga.shape[:-2] + ga.shape[-1:])
        if b.ndim == 1:
            gb = gb.reshape(gb.shape[:-1])
        return ga, gb


class Dot(Function):
    """np.dot: sum over the last axis of x1 and the second-to-last of x2 (the only one if 1-D)."""
    name = "dot"

    def forward(self, x1, x2):
        return np.dot(x1, x2)

    def backward(self, gy):
        a, b = np.asarray(self.xs[0]), np.asarray(self.xs[1])
        if a.ndim == 0 or b.ndim == 0:
            return gy * b, gy * a
        # Written as einsum: a[A..., k] b[B..., k, m] -> y[A..., B..., m] (m absent when b is 1-D).
        letters = "abcdefghijlmnopqrstuvwxyz"
        A = letters[:a.ndim - 1]
        B = letters[a.ndim - 1:a.ndim - 1 + max(b.ndim - 2, 0)]
        m = "" if b.ndim == 1 else "M"
        sa, sb, sy = A + "k", B + "k" + m, A + B + m
        return np.einsum(f"{sy},{sb}->{sa}", gy, b), np.einsum(f"{sy},{sa}->{sb}", gy, a)


# ---------------------------------------------------------------- unary
class Negative(Function):
    name = "negative"

    def forward(self, x):
        return np.negative(x)

    def backward(self, gy):
        return (-gy,)


class Square(Function):
    name = "square"

    def forward(self, x):
        return np.square(x)

    def backward(self, gy):
        return (2 * gy * self.xs[0],)


class Sqrt(Function):
    name = "sqrt"

    def forward(self, x):
        return np.sqrt(x)

    def backward(self, gy):
        return (gy / (2 * self.y),)


class Exp(Function):
    name = "exp"

    def forward(self, x):
        return np.exp(x)

    def backward(self, gy):
        return (gy * self.y,)


class Log(Function):
    name = "log"

    def forward(self, x):
        return np.log(x)

    def backward(self, gy):
        return (gy / self.xs[0],)


class Abs(Function):
    name = "abs"

    def forward(self, x):
        return np.abs(x)

    def backward(self, gy):
        return (gy * np.sign(self.xs[0]),)


class Clip(Function):
    """Values below x_min become x_min, above x_max x_max; the gradient passes inside [x_min, x_max]."""
    name = "clip"

    def forward(self, x):
        return np.clip(x, self.x_min, self.x_max)

    def backward(self, gy):
        x = np.asarray(self.xs[0])
        return (gy * ((x >= self.x_min) & (x <= self.x_max)),)


class Where(Function):
    """where(condition, x1, x2): x1 where condition holds, else x2; each gets the gradient of its part."""
    name = "where"

    def forward(self, condition, x1, x2):
        return np.where(condition, x1, x2)

    def backward(self, gy):
        c = np.asarray(self.xs[0]).astype(bool)
        return None, np.where(c, gy, 0), np.where(c, 0, gy)


class Compare(Function):
    """greater, less, equal, ...: boolean results, no gradient."""
    differentiable = False

    def forward(self, x1, x2):
        return getattr(np, self.name)(x1, x2)


class Cast(Function):
    name = "cast"

    def forward(self, x):
        return np.asarray(x).astype(self.dtype)

    def backward(self, gy):
        return (gy,)


# ------------------------------------------------------------ functions
def add(x1, x2):
    """x1 + x2, broadcast."""
    return apply(Add(), x1, x2)


def subtract(x1, x2):
    return apply(Subtract(), x1, x2)


def multiply(x1, x2):
    return apply(Multiply(), x1, x2)


def divide(x1, x2):
    return apply(Divide(), x1, x2)


true_divide = divide


def power(x1, x2):
    return apply(Power(), x1, x2)


def maximum(x1, x2):
    return apply(Maximum(), x1, x2)


def minimum(x1, x2):
    return apply(Minimum(), x1, x2)


def matmul(x1, x2):
    """Matrix product (np.matmul): (..., n, k) @ (..., k, m) -> (..., n, m)."""
    return apply(Matmul(), x1, x2)


def dot(x1, x2):
    """np.dot: for 2-D operands the matrix product."""
    return apply(Dot(), x1, x2)


def negative(x):
    return apply(Negative(), x)


def square(x):
    return apply(Square(), x)


def sqrt(x):
    return apply(Sqrt(), x)


def exp(x):
    return apply(Exp(), x)


def log(x):
    return apply(Log(), x)


def abs(x):  # noqa: A001 - Keras' name
    return apply(Abs(), x)


absolute = abs


def clip(x, x_min, x_max):
    return apply(Clip(x_min=x_min, x_max=x_max), x)


def where(condition, x1=None, x2=None):
    """x1 where condition, else x2. With only a condition (indices of True values): arrays only."""
    if x1 is None and x2 is None:
        from .._autodiff import is_symbolic
        if is_symbolic(condition):
            raise TypeError("keras.ops.where(condition) without x1, x2 gives a data-dependent shape; "
                            "it works on arrays only")
        return np.nonzero(np.asarray(condition))
    if x1 is None or x2 is None:
        raise ValueError("keras.ops.where: give both x1 and x2, or neither")
    return apply(Where(), condition, x1, x2)


def _compare(np_name):
    def fn(x1, x2):
        return apply(Compare(name=np_name), x1, x2)
    fn.__name__ = np_name
    fn.__doc__ = f"Element-wise {np_name} (booleans; no gradient)."
    return fn


greater = _compare("greater")
greater_equal = _compare("greater_equal")
less = _compare("less")
less_equal = _compare("less_equal")
equal = _compare("equal")
not_equal = _compare("not_equal")


def cast(x, dtype):
    """x as ``dtype`` ('float32', 'int64', ...); gradients pass through float casts."""
    dtype = np.dtype(dtype).name
    return apply(Cast(dtype=dtype), x)
