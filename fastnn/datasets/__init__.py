"""Datasets: MNIST and Fashion-MNIST in IDX format."""
from .idx import read_idx, write_idx  # noqa: F401
