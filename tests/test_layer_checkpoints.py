"""Checkpoints of layers: ``fw.save_model(path, model)`` / ``fw.load_model(path, model)`` with a
model of ``framework.layers``.

The file is keyed as PyTorch's ``state_dict``: the dotted names of ``named_parameters()``,
then of ``named_buffers()`` (batch normalization's running statistics), read back here with
plain ``np.load``. A model trained a few steps, saved and loaded into a fresh one of the same
architecture, predicts exactly as it did, in evaluation (where the running statistics
matter). A file of another architecture is refused, naming the first parameter that does not
fit and its layer, and changes nothing, buffers included; so does a non-finite value, and a
refused save leaves the file on disk as it was.
"""

import os

import numpy as np
import pytest
from helpers import assert_names

import framework as fw
from framework import layers as L


def cnn(rng=None, channels=(2, 3), classes=4):
    """Conv, batch norm, ReLU, pool, flatten, linear, batch norm (1d), dropout, linear: every
    kind of parameter and both kinds of buffers."""
    rng = rng or np.random.default_rng(0)
    c1, c2 = channels
    return L.Sequential(L.Conv2d(1, c1, 3, padding=1, rng=rng), L.BatchNorm2d(c1), L.ReLU(),
                        L.MaxPool2d(2), L.Flatten(), L.Linear(c1 * 4, c2, rng=rng),
                        L.BatchNorm1d(c2), L.Dropout(0.25, rng=rng), L.Linear(c2, classes,
                                                                                rng=rng))


EXPECTED_KEYS = ["0.weight", "0.bias", "1.weight", "1.bias", "5.weight", "5.bias", "6.weight",
                 "6.bias", "8.weight", "8.bias", "1.running_mean", "1.running_var",
                 "6.running_mean", "6.running_var"]


def images(seed, n=6):
    return np.random.default_rng(seed).normal(1.0, 2.0, (n, 1, 4, 4))


def trained(model, steps=3):
    """A few Adam steps in training mode: every parameter and running statistic moves away
    from its initial value."""
    x, y = fw.Input("x"), fw.Input("y")
    loss = fw.SoftmaxCrossEntropy(model(x), y)
    graph = fw.topological_sort({x: images(0), y: np.arange(6) % 4}, outputs=[loss])
    optimizer = fw.Adam(0.05)
    for step in range(steps):
        x.value = images(step)
        fw.forward(graph)
        fw.backward(graph)
        optimizer.step(graph)
    return model


def state(model):
    """Copies of every parameter and buffer, by dotted name."""
    arrays = {name: node.value.copy() for name, node in model.named_parameters().items()}
    arrays.update({name: value.copy() for name, value in model.named_buffers().items()})
    return arrays


def assert_state(model, expected):
    actual = state(model)
    assert list(actual) == list(expected)
    for name, value in expected.items():
        np.testing.assert_array_equal(actual[name], value, err_msg=name)


def predict(model, x_value):
    """The model's output in evaluation, in a graph of its own."""
    x = fw.Input("x_eval")
    out = model(x)
    graph = fw.topological_sort({x: x_value}, outputs=[out])
    model.eval()
    fw.forward(graph)
    model.train()
    return out.value


def test_the_file_is_keyed_as_pytorchs_state_dict(tmp_path):
    model = trained(cnn())
    path = tmp_path / "model.npz"
    fw.save_model(path, model)
    with np.load(path) as saved:  # a plain .npz: no framework needed to read it
        assert saved.files == EXPECTED_KEYS
        expected = state(model)
        for name in EXPECTED_KEYS:
            np.testing.assert_array_equal(saved[name], expected[name], err_msg=name)
    assert not np.array_equal(expected["1.running_mean"], np.zeros(2))  # it did move
    assert os.listdir(tmp_path) == ["model.npz"]  # no temporary file left


def test_a_round_trip_restores_parameters_buffers_and_predictions(tmp_path):
    model = trained(cnn())
    path = tmp_path / "model.npz"
    fw.save_model(path, model)
    fresh = cnn(np.random.default_rng(7))  # other weights, running statistics at 0 and 1
    test_images = images(99)
    assert not np.allclose(predict(fresh, test_images), predict(model, test_images))
    fw.load_model(path, fresh)
    assert_state(fresh, state(model))
    np.testing.assert_array_equal(predict(fresh, test_images), predict(model, test_images))
    assert all(value.dtype == np.float64 for value in fresh.named_buffers().values())


def test_a_graph_built_before_the_load_uses_the_loaded_values(tmp_path):
    """The Parameter nodes are the same objects after a load, and batch normalization reads
    its running statistics from the layer at every pass: no new graph is needed."""
    model = trained(cnn())
    fw.save_model(tmp_path / "model.npz", model)
    fresh = cnn(np.random.default_rng(3)).eval()
    x = fw.Input("x")
    out = fresh(x)
    graph = fw.topological_sort({x: images(5)}, outputs=[out])
    fw.load_model(tmp_path / "model.npz", fresh)
    fw.forward(graph)
    np.testing.assert_array_equal(out.value, predict(model, images(5)))


def test_the_eval_output_follows_pytorchs_formulas_from_the_loaded_file(tmp_path):
    """An independent check of what was loaded: the eval output of a small model, computed
    here in NumPy from the arrays of the file alone."""
    rng = np.random.default_rng(0)
    model = L.Sequential(L.Linear(3, 4, rng=rng), L.BatchNorm1d(4), L.Tanh(),
                         L.Linear(4, 2, rng=rng))
    x, y = fw.Input("x"), fw.Input("y")
    loss = fw.MSE(model(x), y)
    graph = fw.topological_sort({x: rng.normal(size=(8, 3)), y: rng.normal(size=(8, 2))},
                                outputs=[loss])
    for _ in range(3):
        fw.forward(graph)
        fw.backward(graph)
        fw.SGD(0.1).step(graph)
    fw.save_model(tmp_path / "m.npz", model)
    fresh = L.Sequential(L.Linear(3, 4), L.BatchNorm1d(4), L.Tanh(), L.Linear(4, 2))
    fw.load_model(tmp_path / "m.npz", fresh)
    data = rng.normal(size=(5, 3))
    with np.load(tmp_path / "m.npz") as f:
        a = data @ f["0.weight"] + f["0.bias"]
        a = (a - f["1.running_mean"]) / np.sqrt(f["1.running_var"] + 1e-5)
        expected = np.tanh(f["1.weight"] * a + f["1.bias"]) @ f["3.weight"] + f["3.bias"]
    np.testing.assert_allclose(predict(fresh, data), expected, rtol=1e-12)


def test_a_sub_layer_is_keyed_relative_to_itself(tmp_path):
    model = cnn()
    fw.save_model(tmp_path / "bn.npz", model[6])
    with np.load(tmp_path / "bn.npz") as saved:
        assert saved.files == ["weight", "bias", "running_mean", "running_var"]
    other = L.BatchNorm1d(3)
    other.running_var = np.full(3, 4.0)
    fw.save_model(tmp_path / "other.npz", other)
    fw.load_model(tmp_path / "other.npz", model[6])
    np.testing.assert_array_equal(model[6].running_var, np.full(3, 4.0))
    assert model[6].weight.name == "6.weight"  # the node keeps its name in the model


def test_a_parameter_shared_by_two_layers_is_saved_once(tmp_path):
    rng = np.random.default_rng(0)
    first, second = L.Linear(3, 3, rng=rng), L.Linear(3, 3, rng=rng)
    second.weight = first.weight  # tied weights
    model = L.Sequential(first, L.Tanh(), second)
    fw.save_model(tmp_path / "tied.npz", model)
    with np.load(tmp_path / "tied.npz") as saved:
        assert saved.files == ["0.weight", "0.bias", "2.bias"]
    before = first.weight.value.copy()
    first.weight.value = np.zeros((3, 3))
    fw.load_model(tmp_path / "tied.npz", model)
    np.testing.assert_array_equal(second.weight.value, before)


# Another architecture: refused, naming the first parameter that does not fit; nothing changes.

@pytest.mark.parametrize("other, texts", [
    (lambda: cnn(channels=(2, 5)),
     ["'5.weight' (in Linear layer '5' (in_features=8, out_features=5", "has shape (8, 3)",
      "expects (8, 5)", "'6.weight' has shape (3,)", "'6.running_mean' has shape (3,)"]),
    (lambda: cnn(channels=(3, 3)),
     ["'0.weight' (in Conv2d layer '0'", "has shape (2, 1, 3, 3)", "expects (3, 1, 3, 3)"]),
    (lambda: cnn(classes=5), ["'8.weight' (in Linear layer '8'", "expects (3, 5)"]),
    (lambda: L.Sequential(L.Conv2d(1, 2, 3, padding=1), L.BatchNorm2d(2), L.ReLU(),
                          L.MaxPool2d(2), L.Flatten(), L.Linear(8, 3), L.Tanh(),
                          L.Dropout(0.25), L.Linear(3, 4)),
     ["'6.running_mean' is not a parameter or buffer of this model", "'6.weight' is not"]),
    (lambda: L.Sequential(L.Conv2d(1, 2, 3, padding=1), L.BatchNorm2d(2), L.ReLU(),
                          L.MaxPool2d(2), L.Flatten(), L.Linear(8, 3), L.BatchNorm1d(3),
                          L.Dropout(0.25), L.Linear(3, 4), L.ReLU(), L.Linear(4, 2)),
     ["'10.weight' (in Linear layer '10'", "is missing"]),
], ids=["narrower hidden layer", "more filters", "more classes", "no batch norm",
        "one more layer"])
def test_another_architecture_is_refused_and_nothing_changes(tmp_path, other, texts):
    fw.save_model(tmp_path / "model.npz", trained(cnn()))
    model = other()
    # Running statistics of its own, so that a buffer loaded by mistake would show.
    model[1].running_mean = np.full(len(model[1].running_mean), 0.5)
    before = state(model)
    with pytest.raises(ValueError) as error:
        fw.load_model(tmp_path / "model.npz", model)
    assert_names(error, str(tmp_path / "model.npz"), "does not fit this model",
                 "nothing was loaded", *texts)
    assert_state(model, before)


def test_the_first_mismatch_is_the_first_in_the_models_order(tmp_path):
    fw.save_model(tmp_path / "model.npz", cnn())
    model = cnn(channels=(3, 5), classes=6)
    with pytest.raises(ValueError) as error:
        fw.load_model(tmp_path / "model.npz", model)
    message = str(error.value)
    assert message.index("'0.weight'") < message.index("'5.weight'") < message.index("'8.bias'")
    assert message.count("(in ") == 1  # only the first names its layer: the rest is long


def test_a_buffer_of_the_wrong_shape_in_the_file_is_refused(tmp_path):
    model = cnn()
    fw.save_model(tmp_path / "model.npz", model)
    with np.load(tmp_path / "model.npz") as saved:
        arrays = dict(saved)
    arrays["6.running_var"] = np.ones(4)
    np.savez(tmp_path / "bad.npz", **arrays)
    fresh = cnn(np.random.default_rng(5))
    before = state(fresh)
    with pytest.raises(ValueError) as error:
        fw.load_model(tmp_path / "bad.npz", fresh)
    assert_names(error, "'6.running_var' (a buffer of BatchNorm1d layer '6'", "has shape (4,)",
                 "expects (3,)")
    assert_state(fresh, before)


def test_a_graph_checkpoint_lacks_the_buffers(tmp_path):
    """A graph's parameters carry the same names as the outermost model's, but a graph knows
    nothing of running statistics: loading it into the layer is refused for the buffers."""
    model = trained(cnn())
    x = fw.Input("x")
    graph = fw.topological_sort({x: images(0)}, outputs=[model(x)])
    fw.save_model(tmp_path / "graph.npz", graph)
    with np.load(tmp_path / "graph.npz") as saved:
        assert saved.files == [name for name in EXPECTED_KEYS if "running" not in name]
    fresh = cnn(np.random.default_rng(1))
    before = state(fresh)
    with pytest.raises(ValueError) as error:
        fw.load_model(tmp_path / "graph.npz", fresh)
    assert_names(error, "'1.running_mean' (a buffer of BatchNorm2d layer '1'", "is missing",
                 "'6.running_var' is missing")
    assert_state(fresh, before)


# Non-finite values, refused saves, bad arguments.

def test_a_nan_in_a_buffer_is_not_saved_and_the_old_file_is_kept(tmp_path):
    model = cnn()
    path = tmp_path / "model.npz"
    fw.save_model(path, model)
    good = path.read_bytes()
    model[6].running_var = np.array([1.0, np.nan, 1.0])
    with pytest.raises(ValueError) as error:
        fw.save_model(path, model)
    assert_names(error, "buffer '6.running_var' of BatchNorm1d layer '6'", "1 NaN",
                 "Nothing was written", "allow_non_finite=True")
    assert path.read_bytes() == good and os.listdir(tmp_path) == ["model.npz"]
    fw.save_model(tmp_path / "diverged.npz", model, allow_non_finite=True)
    with np.load(tmp_path / "diverged.npz") as saved:
        assert np.isnan(saved["6.running_var"][1])


def test_a_nan_in_a_parameter_is_named_with_its_layer(tmp_path):
    model = cnn()
    model[8].bias.value = np.array([0.0, np.inf, 0.0, 0.0])
    with pytest.raises(ValueError) as error:
        fw.save_model(tmp_path / "model.npz", model)
    assert_names(error, "Parameter('8.bias') of Linear layer '8'", "1 inf")
    assert os.listdir(tmp_path) == []


def test_a_file_with_a_nan_buffer_is_not_loaded(tmp_path):
    model = cnn()
    model[1].running_mean = np.array([np.nan, 0.0])
    fw.save_model(tmp_path / "nan.npz", model, allow_non_finite=True)
    fresh = cnn(np.random.default_rng(2))
    before = state(fresh)
    with pytest.raises(ValueError) as error:
        fw.load_model(tmp_path / "nan.npz", fresh)
    assert_names(error, "'1.running_mean' holds 1 NaN", "nothing was loaded")
    assert_state(fresh, before)
    fw.load_model(tmp_path / "nan.npz", fresh, allow_non_finite=True)
    assert np.isnan(fresh[1].running_mean[0])


def test_a_damaged_file_changes_nothing(tmp_path):
    path = tmp_path / "model.npz"
    fw.save_model(path, trained(cnn()))
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    fresh = cnn(np.random.default_rng(4))
    before = state(fresh)
    with pytest.raises(ValueError, match="not a readable checkpoint"):
        fw.load_model(path, fresh)
    assert_state(fresh, before)


@pytest.mark.parametrize("model, texts", [
    (L.Linear, ["the class Linear", "Linear(...)"]),
    (None, ["a graph is a list of nodes", "got None", "or a layer"]),
    ({"0.weight": np.zeros(2)}, ["a graph is a list of nodes", "got a dict", "or a layer"]),
])
def test_something_else_than_a_graph_or_a_layer_is_refused(tmp_path, model, texts):
    for action in (fw.save_model, fw.load_model):
        with pytest.raises(TypeError) as error:
            action(tmp_path / "model.npz", model)
        assert_names(error, *texts)
    assert os.listdir(tmp_path) == []


def test_a_layer_without_parameters_saves_an_empty_file(tmp_path):
    fw.save_model(tmp_path / "relu.npz", L.ReLU())
    with np.load(tmp_path / "relu.npz") as saved:
        assert saved.files == []
    fw.load_model(tmp_path / "relu.npz", L.Sequential(L.ReLU(), L.Flatten()))
