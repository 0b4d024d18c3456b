"""Compiled im2col / col2im (placeholder module: being written)."""
include "_openmp.pxi"
