"""Whole networks: a train step (gradient + Adam) and inference on 10,000 images, for
TwoLayerNet, SimpleConvNet, DeepConvNet (float64, float32) and the Keras-style MLP and CNN,
on NumPy, compiled and PyTorch.  Run: pytest bench/test_bench_nets.py --benchmark-only"""
import pytest
from conftest import case_id

from fastnn.benchmark._data import default_data_dir, load_images
from fastnn.benchmark._alexnet import alexnet_cases
from fastnn.benchmark._keras_models import keras_cases
from fastnn.benchmark._networks import network_cases

IMAGES, LABELS, _ = load_images(10000, default_data_dir())
CASES = network_cases(IMAGES, LABELS) + keras_cases(IMAGES, LABELS) + alexnet_cases(100)


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_network(run_row, case):
    run_row(case, slow=True)
