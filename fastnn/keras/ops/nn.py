"""Activations as ops: relu, sigmoid, tanh, softplus, softmax, log_softmax."""
import numpy as np

from .._autodiff import Function, apply


class Relu(Function):
    name = "relu"

    def forward(self, x):
        return np.maximum(x, 0)

    def backward(self, gy):                     # the book's Relu: pass where x > 0
        return (gy * (np.asarray(self.xs[0]) > 0),)


class Sigmoid(Function):
    name = "sigmoid"

    def forward(self, x):
        x = np.asarray(x)
        e = np.exp(-np.abs(x))                  # never overflows
        return np.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(np.result_type(x, np.float32), copy=False)

    def backward(self, gy):                     # the book's Sigmoid: y (1 - y)
        return (gy * self.y * (1 - self.y),)


class Tanh(Function):
    name = "tanh"

    def forward(self, x):
        return np.tanh(x)

    def backward(self, gy):
        return (gy * (1 - self.y * self.y),)


class Softplus(Function):
    name = "softplus"

    def forward(self, x):
        return np.logaddexp(0, x).astype(np.result_type(np.asarray(x), np.float32), copy=False)

    def backward(self, gy):                     # d log(1 + e^x) = sigmoid(x)
        return (gy * Sigmoid().forward(self.xs[0]),)


class Softmax(Function):
    name = "softmax"

    def forward(self, x):
        e = np.exp(x - np.max(x, axis=self.axis, keepdims=True))
        return e / np.sum(e, axis=self.axis, keepdims=True)

    def backward(self, gy):                     # y * (gy - sum(gy * y))
        y = self.y
        return (y * (gy - np.sum(gy * y, axis=self.axis, keepdims=True)),)


class LogSoftmax(Function):
    name = "log_softmax"

    def forward(self, x):
        z = x - np.max(x, axis=self.axis, keepdims=True)
        return z - np.log(np.sum(np.exp(z), axis=self.axis, keepdims=True))

    def backward(self, gy):                     # gy - softmax * sum(gy)
        return (gy - np.exp(self.y) * np.sum(gy, axis=self.axis, keepdims=True),)


def relu(x):
    return apply(Relu(), x)


def sigmoid(x):
    return apply(Sigmoid(), x)


def tanh(x):
    return apply(Tanh(), x)


def softplus(x):
    return apply(Softplus(), x)


def softmax(x, axis=-1):
    return apply(Softmax(axis=int(axis)), x)


def log_softmax(x, axis=-1):
    return apply(LogSoftmax(axis=int(axis)), x)
