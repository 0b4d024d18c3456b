"""Compiled elementwise kernels: ReLU and the optimizer updates.

Twins of ``numpy_kernels.relu_forward/relu_backward/sgd_update/
momentum_update/nesterov_update/adam_update/rmsprop_update/adagrad_update``. NumPy evaluates these formulas one whole-array
operation at a time, with a temporary array per step; here every element goes
through the whole formula in one pass.

Arrays of any shape arrive C-contiguous and of one float dtype (checked by
``fastnn.kernels``), so each kernel works on the flat 1-D view. The update
kernels write in place into ``param`` and the optimizer state arrays.

To give the same numbers as NumPy, the scalars (lr, momentum, ...) are first
rounded to the arrays' dtype, and each formula is evaluated in the same order
as in ``numpy_kernels`` (``array * python_float`` computes in the array's
dtype under NumPy 2). Large arrays are split over threads.
The GIL is released while the loops run.
"""
import numpy as np

from cython cimport floating
from cython.parallel cimport prange
from libc.math cimport sqrt, sqrtf

from fastnn import _backend, _buffers

include "_openmp.pxi"
include "relu_rule.pxi"

# Below this many elements a call is too small to be worth threads: waking
# OpenMP workers that have gone to sleep (see fastnn._backend) costs about
# 0.1 ms on these VMs, and these kernels mostly follow BLAS products (the
# updates, the ReLUs of dense layers), by which time the workers sleep.
# Measured float32, one thread / two, microseconds (python
# bench/_kernel_timing.py --split; workers asleep, fastnn's default, then
# still spinning from the previous call, with GOMP_SPINCOUNT=30000):
#     elements   SGD                 Adam                 ReLU
#     512k        74 / 139,  93 / 59   372 / 259, 375 / 242   95 / 219, 91 / 111
#     1M         141 / 214, 186 / 103  789 / 595, 750 / 472  187 / 285, 183 / 208
#     2M         460 / 348, 387 / 206 1909 / 1056,1543 / 944 354 / 321, 388 / 403
# A pass of a few flops per element (ReLU, SGD, momentum) gains from threads
# from about 2M elements; one with a square root and a division per element
# (Adam, RMSprop, Adagrad) from about 512k.
PARALLEL_MIN_SIZE = 1 << 21
PARALLEL_MIN_SIZE_HEAVY = 1 << 19


cdef inline floating _sqrt(floating v) noexcept nogil:
    if floating is double:
        return sqrt(v)
    else:
        return sqrtf(v)


# --------------------------------------------------------------------------
# How the work is split
# --------------------------------------------------------------------------
# Each kernel has a loop over a range [start, end) of the flat arrays, on raw
# pointers so that the compiler can vectorize it. With one thread it runs
# once over everything, with no OpenMP region at all; with more, prange hands
# each thread one contiguous chunk.

cdef inline Py_ssize_t _chunk_end(Py_ssize_t chunk, Py_ssize_t size, Py_ssize_t c) noexcept nogil:
    return size if (c + 1) * chunk > size else (c + 1) * chunk


# --------------------------------------------------------------------------
# ReLU
# --------------------------------------------------------------------------
cdef void _relu_forward_range(const floating* x, floating* out, Py_ssize_t start, Py_ssize_t end) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(start, end):
        out[i] = relu_value(x[i])


cdef void _relu_backward_range(
    const floating* dout, const floating* out, floating* dx, Py_ssize_t start, Py_ssize_t end,
) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(start, end):
        dx[i] = relu_grad(dout[i], out[i])


cdef void _relu_forward(const floating[::1] x, floating[::1] out, int threads) noexcept:
    cdef Py_ssize_t size = x.shape[0], chunk, c
    with nogil:
        if size == 0:
            return
        if threads <= 1:
            _relu_forward_range(&x[0], &out[0], 0, size)
            return
        chunk = (size + threads - 1) // threads
        for c in prange(threads, num_threads=threads, schedule="static"):
            _relu_forward_range(&x[0], &out[0], c * chunk, _chunk_end(chunk, size, c))


cdef void _relu_backward(
    const floating[::1] dout, const floating[::1] out, floating[::1] dx, int threads,
) noexcept:
    cdef Py_ssize_t size = dout.shape[0], chunk, c
    with nogil:
        if size == 0:
            return
        if threads <= 1:
            _relu_backward_range(&dout[0], &out[0], &dx[0], 0, size)
            return
        chunk = (size + threads - 1) // threads
        for c in prange(threads, num_threads=threads, schedule="static"):
            _relu_backward_range(&dout[0], &out[0], &dx[0], c * chunk, _chunk_end(chunk, size, c))


def relu_forward(x):
    """max(x, 0) of a C-contiguous float array of any shape."""
    out = _buffers.empty(x.shape, x.dtype)
    threads = _backend.threads_for(x.size, PARALLEL_MIN_SIZE)
    if x.dtype == np.float64:
        _relu_forward[double](x.reshape(-1), out.reshape(-1), threads)
    else:
        _relu_forward[float](x.reshape(-1), out.reshape(-1), threads)
    return out


def relu_backward(dout, out):
    """dout where the forward output was > 0, else 0 (same shape and dtype as dout)."""
    dx = _buffers.empty(dout.shape, dout.dtype)
    threads = _backend.threads_for(dout.size, PARALLEL_MIN_SIZE)
    if dout.dtype == np.float64:
        _relu_backward[double](dout.reshape(-1), out.reshape(-1), dx.reshape(-1), threads)
    else:
        _relu_backward[float](dout.reshape(-1), out.reshape(-1), dx.reshape(-1), threads)
    return dx


# --------------------------------------------------------------------------
# Optimizer updates (in place)
# --------------------------------------------------------------------------
cdef void _sgd_range(floating* p, const floating* g, floating lr, Py_ssize_t start, Py_ssize_t end) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(start, end):
        p[i] = p[i] - lr * g[i]


cdef void _momentum_range(
    floating* p, const floating* g, floating* vel, floating lr, floating momentum,
    Py_ssize_t start, Py_ssize_t end,
) noexcept nogil:
    cdef Py_ssize_t i
    cdef floating v
    for i in range(start, end):
        v = vel[i] * momentum - lr * g[i]
        vel[i] = v
        p[i] = p[i] + v


cdef void _adam_range(
    floating* p, const floating* g, floating* m, floating* v,
    floating lr_t, floating one_minus_beta1, floating one_minus_beta2, floating eps,
    Py_ssize_t start, Py_ssize_t end,
) noexcept nogil:
    cdef Py_ssize_t i
    cdef floating gi, mi, vi
    for i in range(start, end):
        gi = g[i]
        mi = m[i] + one_minus_beta1 * (gi - m[i])
        vi = v[i] + one_minus_beta2 * (gi * gi - v[i])
        m[i] = mi
        v[i] = vi
        p[i] = p[i] - lr_t * mi / (_sqrt(vi) + eps)


cdef void _nesterov_range(
    floating* p, const floating* g, floating* vel, floating lr, floating momentum,
    Py_ssize_t start, Py_ssize_t end,
) noexcept nogil:
    cdef Py_ssize_t i
    cdef floating v
    for i in range(start, end):
        v = vel[i] * momentum - lr * g[i]
        vel[i] = v
        p[i] = p[i] + (momentum * v - lr * g[i])


cdef void _rmsprop_range(
    floating* p, const floating* g, floating* vel, floating lr, floating rho, floating one_minus_rho,
    floating eps, Py_ssize_t start, Py_ssize_t end,
) noexcept nogil:
    cdef Py_ssize_t i
    cdef floating s
    for i in range(start, end):
        s = vel[i] * rho + one_minus_rho * g[i] * g[i]
        vel[i] = s
        p[i] = p[i] - lr * g[i] / _sqrt(s + eps)


cdef void _adagrad_range(
    floating* p, const floating* g, floating* acc, floating lr, floating eps,
    Py_ssize_t start, Py_ssize_t end,
) noexcept nogil:
    cdef Py_ssize_t i
    cdef floating a
    for i in range(start, end):
        a = acc[i] + g[i] * g[i]
        acc[i] = a
        p[i] = p[i] - lr * g[i] / _sqrt(a + eps)


cdef inline void _state_range(
    int which, floating* p, const floating* g, floating* state,
    floating a, floating b, floating c, floating d, Py_ssize_t start, Py_ssize_t end,
) noexcept nogil:
    """which 0: Nesterov (lr a, momentum b); 1: RMSprop (lr a, rho b, 1-rho c, eps d);
    2: Adagrad (lr a, eps b)."""
    if which == 0:
        _nesterov_range(p, g, state, a, b, start, end)
    elif which == 1:
        _rmsprop_range(p, g, state, a, b, c, d, start, end)
    else:
        _adagrad_range(p, g, state, a, b, start, end)


cdef void _with_state(
    int which, floating[::1] p, const floating[::1] g, floating[::1] state,
    floating a, floating b, floating c, floating d, int threads,
) noexcept:
    cdef Py_ssize_t size = p.shape[0], chunk, k
    with nogil:
        if size == 0:
            return
        if threads <= 1:
            _state_range(which, &p[0], &g[0], &state[0], a, b, c, d, 0, size)
            return
        chunk = (size + threads - 1) // threads
        for k in prange(threads, num_threads=threads, schedule="static"):
            _state_range(which, &p[0], &g[0], &state[0], a, b, c, d, k * chunk, _chunk_end(chunk, size, k))


cdef void _sgd(floating[::1] p, const floating[::1] g, floating lr, int threads) noexcept:
    cdef Py_ssize_t size = p.shape[0], chunk, c
    with nogil:
        if size == 0:
            return
        if threads <= 1:
            _sgd_range(&p[0], &g[0], lr, 0, size)
            return
        chunk = (size + threads - 1) // threads
        for c in prange(threads, num_threads=threads, schedule="static"):
            _sgd_range(&p[0], &g[0], lr, c * chunk, _chunk_end(chunk, size, c))


cdef void _momentum(
    floating[::1] p, const floating[::1] g, floating[::1] vel,
    floating lr, floating momentum, int threads,
) noexcept:
    cdef Py_ssize_t size = p.shape[0], chunk, c
    with nogil:
        if size == 0:
            return
        if threads <= 1:
            _momentum_range(&p[0], &g[0], &vel[0], lr, momentum, 0, size)
            return
        chunk = (size + threads - 1) // threads
        for c in prange(threads, num_threads=threads, schedule="static"):
            _momentum_range(&p[0], &g[0], &vel[0], lr, momentum, c * chunk, _chunk_end(chunk, size, c))


cdef void _adam(
    floating[::1] p, const floating[::1] g, floating[::1] m, floating[::1] v,
    floating lr_t, floating one_minus_beta1, floating one_minus_beta2, floating eps,
    int threads,
) noexcept:
    cdef Py_ssize_t size = p.shape[0], chunk, c
    with nogil:
        if size == 0:
            return
        if threads <= 1:
            _adam_range(&p[0], &g[0], &m[0], &v[0], lr_t, one_minus_beta1, one_minus_beta2, eps, 0, size)
            return
        chunk = (size + threads - 1) // threads
        for c in prange(threads, num_threads=threads, schedule="static"):
            _adam_range(&p[0], &g[0], &m[0], &v[0], lr_t, one_minus_beta1, one_minus_beta2, eps,
                        c * chunk, _chunk_end(chunk, size, c))


def sgd_update(param, grad, lr):
    """In place: param -= lr * grad."""
    threads = _backend.threads_for(param.size, PARALLEL_MIN_SIZE)
    if param.dtype == np.float64:
        _sgd[double](param.reshape(-1), grad.reshape(-1), lr, threads)
    else:
        _sgd[float](param.reshape(-1), grad.reshape(-1), lr, threads)


def momentum_update(param, grad, velocity, lr, momentum):
    """In place: v = momentum*v - lr*grad; param += v."""
    threads = _backend.threads_for(param.size, PARALLEL_MIN_SIZE)
    args = (param.reshape(-1), grad.reshape(-1), velocity.reshape(-1), lr, momentum, threads)
    if param.dtype == np.float64:
        _momentum[double](*args)
    else:
        _momentum[float](*args)


def adam_update(param, grad, m, v, lr_t, beta1, beta2, eps=1e-7):
    """In place, one Adam step with the bias correction folded into ``lr_t``:

    m += (1-beta1)(g - m);  v += (1-beta2)(g*g - v);  param -= lr_t * m / (sqrt(v) + eps).
    """
    threads = _backend.threads_for(param.size, PARALLEL_MIN_SIZE_HEAVY)
    # 1 - beta is computed in double and then rounded, as NumPy does.
    args = (param.reshape(-1), grad.reshape(-1), m.reshape(-1), v.reshape(-1),
            lr_t, 1.0 - beta1, 1.0 - beta2, eps, threads)
    if param.dtype == np.float64:
        _adam[double](*args)
    else:
        _adam[float](*args)


def _run_with_state(which, param, grad, state, a, b, c=0.0, d=0.0):
    """Update `which` (0 Nesterov, 1 RMSprop, 2 Adagrad) of param in place."""
    threads = _backend.threads_for(param.size, PARALLEL_MIN_SIZE if which == 0 else PARALLEL_MIN_SIZE_HEAVY)
    args = (which, param.reshape(-1), grad.reshape(-1), state.reshape(-1), a, b, c, d, threads)
    if param.dtype == np.float64:
        _with_state[double](*args)
    else:
        _with_state[float](*args)


def nesterov_update(param, grad, velocity, lr, momentum):
    """In place: v = momentum*v - lr*grad; param += momentum*v - lr*grad."""
    _run_with_state(0, param, grad, velocity, lr, momentum)


def rmsprop_update(param, grad, velocity, lr, rho, eps=1e-7):
    """In place: v = rho*v + (1-rho)*grad*grad; param -= lr*grad / sqrt(v + eps)."""
    _run_with_state(1, param, grad, velocity, lr, rho, 1.0 - rho, eps)


def adagrad_update(param, grad, accumulator, lr, eps=1e-7):
    """In place: a += grad*grad; param -= lr*grad / sqrt(a + eps)."""
    _run_with_state(2, param, grad, accumulator, lr, eps)
