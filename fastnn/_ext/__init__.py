"""Compiled kernels, built from ``src_c/*.pyx`` (one module per file).

Do not import these directly: ``fastnn.kernels`` validates the arguments and
dispatches here or to the NumPy fallback.
"""
