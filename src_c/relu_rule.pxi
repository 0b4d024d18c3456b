# The ReLU rule, element by element (included by elementwise.pyx, whose ReLU
# kernels apply it to whole arrays, and by conv.pyx, which applies it to the
# convolution's output and gradient as part of its own loops), so that both
# give numpy_kernels.relu_forward/relu_backward's numbers.
from cython cimport floating


cdef inline floating relu_value(floating v) noexcept nogil:
    """max(v, 0) as np.maximum(v, 0) gives it: NaN stays NaN, -0.0 becomes +0.0."""
    return v if (v > 0) | (v != v) else 0


cdef inline floating relu_grad(floating d, floating out) noexcept nogil:
    """The gradient d through a ReLU whose output was ``out``: d where out > 0, else 0.

    d comes in already loaded, whatever the test gives, so that the compiler
    can use a branch-free select (a branch would be mispredicted half of the time).
    """
    return d if out > 0 else 0
