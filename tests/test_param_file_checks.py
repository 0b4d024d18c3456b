"""What a network takes from a parameter file, and what 'fastnn evaluate' takes from a sidecar .json."""
import json

import numpy as np
import pytest

from fastnn import cli, runner
from fastnn.io import load_params, param_info, save_params
from fastnn.nets import (
    DeepConvNet, MultiLayerNet, MultiLayerNetExtend, SampleNetwork, SimpleConvNet, TwoLayerNet,
)


def two_layer_params(**changes):
    params = TwoLayerNet(4, 3, 2, rng=np.random.default_rng(1)).params
    params = {k: v.copy() for k, v in params.items()}
    params.update(changes)
    return params


BAD_ARRAYS = [
    (np.ones((4, 3), dtype=np.complex128), r"holds dtype '<c16', not a plain"),
    (np.ones((4, 3), dtype=bool), "has dtype bool; a network's parameters must be floating point"),
    (np.ones((4, 3), dtype=np.int64), "has dtype int64; a network's parameters must be floating point"),
    (np.full((4, 3), np.nan), "'W1' .* holds NaN or infinite values"),
    (np.full((4, 3), -np.inf), "'W1' .* holds NaN or infinite values"),
]


@pytest.mark.parametrize("suffix", [".npz", ".pkl"])
@pytest.mark.parametrize("bad, match", BAD_ARRAYS)
def test_net_load_params_refuses_non_float_and_non_finite(tmp_path, suffix, bad, match):
    path = tmp_path / ("p" + suffix)
    if bad.dtype.kind == "c":
        np.savez(tmp_path / "p.npz", **two_layer_params(W1=bad))
        path = tmp_path / "p.npz"
    else:
        save_params(two_layer_params(W1=bad), path)
    net = TwoLayerNet(4, 3, 2)
    before = {k: v.copy() for k, v in net.params.items()}
    with pytest.raises(ValueError, match=match) as info:
        net.load_params(path)
    assert "TwoLayerNet.load_params" in str(info.value) and str(path) in str(info.value)
    for key, value in before.items():  # the network is left as it was
        np.testing.assert_array_equal(net.params[key], value)


def test_object_arrays_are_refused_by_every_net(tmp_path):
    path = tmp_path / "obj.npz"
    for net in (TwoLayerNet(4, 3, 2), MultiLayerNet(4, [3], 2), MultiLayerNetExtend(4, [3], 2, use_batchnorm=True),
                SimpleConvNet(input_dim=(1, 8, 8), conv_param={"filter_num": 2, "filter_size": 3, "pad": 0,
                                                                 "stride": 1}, hidden_size=4, output_size=2)):
        params = dict(net.params, W1=np.array([None] * net.params["W1"].size, dtype=object))
        np.savez(path, **params)
        with pytest.raises(ValueError, match=rf"{type(net).__name__}.load_params: .*obj\.npz.*'\|O'"):
            net.load_params(path)


def test_sample_network_refuses_nan_and_ints(tmp_path):
    params = SampleNetwork(sizes=(6, 5, 4, 3), rng=np.random.default_rng(0)).params
    nan = dict(params, b2=np.array([0, np.nan, 0, 0], dtype=np.float32))
    save_params(nan, tmp_path / "nan.pkl")
    with pytest.raises(ValueError, match=r"SampleNetwork: parameter 'b2' in .*nan\.pkl holds NaN"):
        SampleNetwork(tmp_path / "nan.pkl")
    save_params(dict(params, W1=np.ones((6, 5), dtype=np.int32)), tmp_path / "int.npz")
    with pytest.raises(ValueError, match=r"'W1' in .*int\.npz has dtype int32"):
        SampleNetwork(tmp_path / "int.npz")
    save_params(dict(params, W2=np.ones((7, 4), dtype=np.float32)), tmp_path / "chain.npz")
    with pytest.raises(ValueError, match=r"W1 \(6, 5\) does not feed W2 \(7, 4\)"):
        SampleNetwork(tmp_path / "chain.npz")


def test_load_with_expected_shapes_reads_only_what_is_needed(tmp_path):
    path = tmp_path / "p.npz"
    save_params(dict(two_layer_params(), extra=np.arange(3)), path)
    shapes = {k: v.shape for k, v in two_layer_params().items()}
    loaded = load_params(path, shapes)
    assert sorted(loaded) == sorted(shapes)
    assert param_info(path)["extra"].shape == (3,) and param_info(path)["extra"].dtype == np.int64
    with pytest.raises(ValueError, match=r"p\.npz: parameter 'b1' has shape \(3,\), the network expects \(4,\)"):
        load_params(path, dict(shapes, b1=(4,)))


def test_npz_members_that_lie_about_their_size(tmp_path):
    import zipfile

    path = tmp_path / "short.npz"
    np.savez(path, W1=np.arange(6.0))
    with zipfile.ZipFile(path) as zf:
        raw = zf.read("W1.npy")
    for name, member in (("short.npz", raw[:-8]), ("long.npz", raw + b"\0" * 8)):
        with zipfile.ZipFile(tmp_path / name, "w") as zf:
            zf.writestr("W1.npy", member)
    with pytest.raises(ValueError, match=r"short\.npz: member 'W1' is truncated: 40 of 48"):
        load_params(tmp_path / "short.npz")
    with pytest.raises(ValueError, match=r"long\.npz: member 'W1' has bytes after the 48"):
        load_params(tmp_path / "long.npz")
    (tmp_path / "junk.npz").write_bytes(b"PK\x03\x04" + b"\0" * 100)
    with pytest.raises(ValueError, match=r"junk\.npz: is not a valid \.npz file"):
        load_params(tmp_path / "junk.npz")


# -- the shapes a config gives, without building -------------------------------------------------
CONFIGS = [
    ("two_layer", None), ("multi_layer", None), ("simple_convnet", None), ("deep_convnet", None),
    ("sample_network", None), ("keras_mlp", None), ("keras_cnn", None),
    ("simple_convnet", {"input_dim": [3, 13, 11], "conv_param": {"filter_num": 4, "filter_size": 3,
                                                                  "pad": 1, "stride": 2},
                        "hidden_size": 7, "output_size": 5}),
    ("deep_convnet", {"input_dim": [2, 20, 24], "hidden_size": 9,
                      "conv_param_3": {"filter_num": 8, "filter_size": 5, "pad": 0, "stride": 1}}),
    ("multi_layer", {"input_size": 5, "hidden_size_list": [3, 4, 6], "output_size": 2,
                     "activation": "sigmoid"}),
    ("keras_cnn", {"input_shape": [3, 9, 12], "filters": 4, "hidden_size": 5, "output_size": 3}),
]


@pytest.mark.parametrize("name, config", CONFIGS)
def test_param_shapes_are_those_of_the_built_network(name, config):
    shape = (784,) if runner.wants_flat_input(name) else (1, 28, 28)
    config = config or runner._default_config(name, shape)
    model = runner.build(name, config=config)
    params = model.net.params if hasattr(model, "net") else model.get_params()
    assert runner.param_shapes(name, config) == {k: v.shape for k, v in params.items()}


@pytest.mark.parametrize("config, match", [
    ([1, 2], "must be a JSON object, got a list of 2 items"),
    ({"input_size": 4, "hidden_size": "100", "output_size": 2}, "hidden_size must be an int >= 1, got '100'"),
    ({"input_size": 4, "hidden_size": 0, "output_size": 2}, "hidden_size must be an int >= 1, got 0"),
    ({"input_size": 4, "hidden_size": True, "output_size": 2}, "got True"),
    ({"input_size": 4, "hidden_size": 2.5, "output_size": 2}, "got 2.5"),
    ({"input_size": 4, "output_size": 2}, "lacks 'hidden_size'"),
    ({"input_size": 4, "hidden_size": 3, "output_size": 2, "evil": 1}, r"unknown keys \['evil'\]"),
])
def test_param_shapes_vets_the_config(config, match):
    with pytest.raises(ValueError, match=match):
        runner.param_shapes("two_layer", config, where="run.json")


# -- fastnn evaluate and its sidecar .json ---------------------------------------------------------
@pytest.fixture
def saved_two_layer(tmp_path):
    path = tmp_path / "two_layer.npz"
    TwoLayerNet(784, 20, 10, rng=np.random.default_rng(0)).save_params(path)
    return path


@pytest.mark.parametrize("text, match", [
    ("[1, 2]", "expected a JSON object describing the run, got a list of 2 items"),
    ("{not json", "not a valid JSON file"),
    ("[" * 100_000 + "]" * 100_000, "not a valid JSON file"),
    ('{"net": 5}', "'net' must be one of .*, got 5"),
    ('{"net": "os.system"}', "'net' must be one of .*, got 'os.system'"),
    ('{"net": "two_layer", "config": [784, 20, 10]}', "'config' must be a JSON object, got a list"),
    ('{"net": "two_layer", "dataset": 3}', "'dataset' must be a string, got 3"),
    ('{"net": "two_layer", "config": {"input_size": 784, "hidden_size": "20", "output_size": 10}}',
     "hidden_size must be an int >= 1, got '20'"),
    ('{"net": "two_layer", "config": {"input_size": 784, "hidden_size": 21, "output_size": 10}}',
     r"parameter 'W1' shape \(784, 21\), but .*two_layer\.npz holds \(784, 20\)"),
    ('{"net": "simple_convnet"}', r"two_layer\.npz: weights shaped \[\(784, 20\), \(20, 10\)\] are not "
                                  r"SimpleConvNet's \(3 weights of ranks \[4, 2, 2\]\); name the right network"),
])
def test_evaluate_with_a_bad_sidecar_is_one_line_naming_it(saved_two_layer, capsys, text, match):
    sidecar = saved_two_layer.with_suffix(".json")
    sidecar.write_text(text)
    assert cli.main(["evaluate", str(saved_two_layer)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("fastnn evaluate: error: ")
    assert str(saved_two_layer.parent) in err
    import re
    assert re.search(match, err), err


def test_read_sidecar_refuses_a_huge_file(tmp_path):
    path = tmp_path / "big.json"
    path.write_text('{"net": "two_layer", "pad": "' + "x" * (2 << 20) + '"}')
    with pytest.raises(ValueError, match=r"big\.json: 2,097,.* bytes, too large"):
        runner.read_sidecar(path)


def test_evaluate_still_reads_what_train_writes(tmp_path, saved_two_layer):
    sidecar = saved_two_layer.with_suffix(".json")
    sidecar.write_text(json.dumps({"net": "two_layer", "dataset": "mnist",
                                   "config": {"input_size": 784, "hidden_size": 20, "output_size": 10}}))
    model, dtype = runner.load_model(saved_two_layer, "two_layer",
                                     config=runner.read_sidecar(sidecar)["config"])
    assert dtype == np.float64 and model.net.params["W1"].shape == (784, 20)
    np.testing.assert_array_equal(model.net.params["W1"], load_params(saved_two_layer)["W1"])


def test_deep_convnet_from_params_alone(tmp_path):
    path = tmp_path / "deep.npz"
    net = DeepConvNet(rng=np.random.default_rng(0), dtype=np.float32)
    net.save_params(path)
    model, dtype = runner.load_model(path)
    assert model.name == "deep_convnet" and dtype == np.float32
    for key, value in net.params.items():
        np.testing.assert_array_equal(model.net.params[key], value)
