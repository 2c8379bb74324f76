"""Checkpoints: a round trip keeps every value, a bad file changes nothing, a save is atomic."""

import os
import pickle
import tempfile
import zipfile

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import framework as fw


def mlp(seed=0, hidden=4):
    """Two layers, four trainables named w1, b1, w2, b2, with values drawn from ``seed``."""
    rng = np.random.default_rng(seed)
    x, y = fw.Input("x"), fw.Input("y")
    w1, b1, w2, b2 = (fw.Parameter(name) for name in ("w1", "b1", "w2", "b2"))
    fw.MSE(fw.Linear(fw.Tanh(fw.Linear(x, w1, b1)), w2, b2), y)
    return fw.topological_sort({
        x: rng.standard_normal((5, 3)), y: rng.standard_normal((5, 1)),
        w1: rng.standard_normal((3, hidden)), b1: rng.standard_normal(hidden),
        w2: rng.standard_normal((hidden, 1)), b2: rng.standard_normal(1),
    })


def trainable_values(graph):
    return {node.name: node.value.copy() for node in fw.trainables(graph)}


def assert_values_unchanged(graph, before):
    after = trainable_values(graph)
    assert after.keys() == before.keys()
    for name, value in before.items():
        np.testing.assert_array_equal(after[name], value, err_msg=name)


def test_round_trip_restores_every_value(tmp_path):
    path = tmp_path / "model.npz"
    graph = mlp(seed=0)
    saved = trainable_values(graph)
    fw.save_model(path, graph)

    other = mlp(seed=1)  # a fresh model with the same names and shapes, other values
    fw.load_model(path, other)
    loaded = trainable_values(other)
    assert loaded.keys() == saved.keys() == {"w1", "b1", "w2", "b2"}
    for name, value in saved.items():
        assert loaded[name].dtype == np.float64
        np.testing.assert_array_equal(loaded[name], value, err_msg=name)
    assert os.listdir(tmp_path) == ["model.npz"]


def test_the_loaded_model_computes_the_same_loss(tmp_path):
    path = tmp_path / "model.npz"
    graph = mlp(seed=0)
    fw.forward(graph)
    fw.save_model(path, graph)
    other = mlp(seed=1)
    fw.load_model(path, other)
    for node_a, node_b in zip(graph, other, strict=True):  # same build, so the same order
        if node_a.kind == "data":
            node_b.value = node_a.value
    fw.forward(other)
    assert other[-1].value == graph[-1].value


def write_npz(path, **arrays):
    np.savez(path, **arrays)
    return path


def good_arrays(**changes):
    """The arrays of a checkpoint that fits ``mlp``, with some replaced; None drops a name."""
    arrays = {name: np.copy(value) for name, value in trainable_values(mlp(seed=2)).items()}
    arrays.update(changes)
    return {name: value for name, value in arrays.items() if value is not None}


# Each bad checkpoint changes the last trainable (b2) or the file as a whole, so a loader that
# wrote values one by one before checking would already have overwritten w1, b1 and w2.
BAD_CHECKPOINTS = {
    "missing name": lambda path: write_npz(path, **good_arrays(b2=None)),
    "other shape": lambda path: write_npz(path, **good_arrays(b2=np.zeros(2))),
    "extra name": lambda path: write_npz(path, **good_arrays(b3=np.zeros(1))),
    "text array": lambda path: write_npz(path, **good_arrays(b2=np.array(["1.0"]))),
    "complex array": lambda path: write_npz(path, **good_arrays(b2=np.array([1 + 1j]))),
    "object array": lambda path: write_npz(
        path, **good_arrays(b2=np.array([Exploding()], dtype=object))),
    "NaN": lambda path: write_npz(path, **good_arrays(b2=np.array([np.nan]))),
    "inf": lambda path: write_npz(path, **good_arrays(b2=np.array([-np.inf]))),
}


class Exploding:
    """Unpickling this object runs code, as a malicious file would: a loader must never do it.
    Here the code only records that it ran."""

    def __reduce__(self):
        return (exec, ("import os; os.environ['CHECKPOINT_WAS_UNPICKLED'] = 'yes'",))


def assert_refused_naming_the_file(path):
    """Loading ``path`` raises a ValueError naming it, changes no value and unpickles nothing."""
    graph = mlp(seed=0)
    before = trainable_values(graph)
    with pytest.raises(ValueError) as error:
        fw.load_model(path, graph)
    assert str(path) in str(error.value)
    assert_values_unchanged(graph, before)
    assert "CHECKPOINT_WAS_UNPICKLED" not in os.environ


@pytest.mark.parametrize("kind", BAD_CHECKPOINTS)
def test_a_checkpoint_that_does_not_fit_changes_nothing(tmp_path, kind, monkeypatch):
    monkeypatch.delenv("CHECKPOINT_WAS_UNPICKLED", raising=False)
    assert_refused_naming_the_file(BAD_CHECKPOINTS[kind](tmp_path / "bad.npz"))


def test_the_error_lists_what_does_not_fit(tmp_path):
    path = write_npz(tmp_path / "bad.npz", **good_arrays(w2=np.zeros((4, 2)), b2=None,
                                                         extra=np.zeros(1)))
    with pytest.raises(ValueError) as error:
        fw.load_model(path, mlp(seed=0))
    message = str(error.value)
    for text in ("'w2'", "(4, 2)", "(4, 1)", "'b2'", "missing", "'extra'"):
        assert text in message


def random_bytes(path):
    path.write_bytes(np.random.default_rng(0).bytes(2000))


def truncated_checkpoint(path):
    fw.save_model(path, mlp(seed=2))
    path.write_bytes(path.read_bytes()[:300])


def text_file(path):
    path.write_text("w1,b1\n1,2\n")


def pickle_file(path):
    path.write_bytes(pickle.dumps({"w1": Exploding()}))


def npy_file(path):
    with open(path, "wb") as file:
        np.save(file, np.ones(3))


def zip_of_text(path):
    with zipfile.ZipFile(path, "w") as archive:
        for name in ("w1", "b1", "w2", "b2"):
            archive.writestr(name, "not an array")


def empty_file(path):
    path.write_bytes(b"")


def flag_in_central_directory(flag):
    """A real checkpoint whose last zip entry claims a feature that zipfile refuses."""

    def make(path):
        fw.save_model(path, mlp(seed=2))
        data = bytearray(path.read_bytes())
        entry = data.rfind(b"PK\x01\x02")  # the central directory record of the last array
        data[entry + 8] |= flag  # general purpose bit flag
        path.write_bytes(bytes(data))

    return make


def damaged_compressed_checkpoint(path):
    with open(path, "wb") as file:
        np.savez_compressed(file, **trainable_values(mlp(seed=2)))
    data = bytearray(path.read_bytes())
    data[60:120] = bytes(range(60))  # inside the first entry's deflate stream
    path.write_bytes(bytes(data))


CORRUPT_FILES = {
    make.__name__: make
    for make in (random_bytes, truncated_checkpoint, text_file, pickle_file, npy_file,
                 zip_of_text, empty_file, damaged_compressed_checkpoint)
}
CORRUPT_FILES["encrypted_entry"] = flag_in_central_directory(0x01)
CORRUPT_FILES["patched_data_entry"] = flag_in_central_directory(0x20)


@pytest.mark.parametrize("kind", CORRUPT_FILES)
def test_a_corrupt_file_is_refused_naming_it(tmp_path, kind, monkeypatch):
    monkeypatch.delenv("CHECKPOINT_WAS_UNPICKLED", raising=False)
    path = tmp_path / "corrupt.npz"
    CORRUPT_FILES[kind](path)
    assert_refused_naming_the_file(path)


def test_a_missing_file_is_a_file_not_found_error(tmp_path):
    with pytest.raises(FileNotFoundError):
        fw.load_model(tmp_path / "nowhere.npz", mlp())


@pytest.mark.parametrize("interruption", [OSError("disk full"), KeyboardInterrupt()],
                         ids=["OSError", "KeyboardInterrupt"])
def test_an_interrupted_save_keeps_the_previous_checkpoint(tmp_path, monkeypatch, interruption):
    path = tmp_path / "model.npz"
    fw.save_model(path, mlp(seed=0))
    previous = path.read_bytes()

    def write_then_fail(file, arrays):
        file.write(b"PK\x03\x04 half a zip")
        raise interruption

    monkeypatch.setattr(fw.checkpoint, "_write_npz", write_then_fail)
    with pytest.raises(type(interruption)):
        fw.save_model(path, mlp(seed=1))
    assert path.read_bytes() == previous
    assert os.listdir(tmp_path) == ["model.npz"], "a temporary file was left behind"


def test_an_interrupted_first_save_leaves_nothing(tmp_path, monkeypatch):
    def write_then_fail(file, arrays):
        file.write(b"PK")
        raise OSError("disk full")

    monkeypatch.setattr(fw.checkpoint, "_write_npz", write_then_fail)
    with pytest.raises(OSError):
        fw.save_model(tmp_path / "model.npz", mlp())
    assert os.listdir(tmp_path) == []


def test_saving_keeps_the_path_as_given(tmp_path):
    path = tmp_path / "weights.checkpoint"
    fw.save_model(str(path), mlp())
    assert os.listdir(tmp_path) == ["weights.checkpoint"]  # np.savez alone would add .npz
    fw.load_model(str(path), mlp(seed=3))


def duplicate_named_graph():
    x, y = fw.Input("x"), fw.Input("y")
    w_a, w_b = fw.Parameter("weight"), fw.Parameter("weight")
    fw.MSE(x * w_a + x * w_b, y)
    return fw.topological_sort({x: np.ones(2), y: np.zeros(2), w_a: np.ones(2),
                                w_b: np.full(2, 2.0)})


def test_duplicate_trainable_names_are_refused(tmp_path):
    path = tmp_path / "model.npz"
    graph = duplicate_named_graph()
    with pytest.raises(ValueError, match="'weight'"):
        fw.save_model(path, graph)
    assert os.listdir(tmp_path) == []
    np.savez(path, weight=np.zeros(2))
    before = [node.value.copy() for node in fw.trainables(graph)]
    with pytest.raises(ValueError, match="'weight'"):
        fw.load_model(path, graph)
    for node, value in zip(fw.trainables(graph), before, strict=True):
        np.testing.assert_array_equal(node.value, value)


@pytest.mark.parametrize("name", ["file", "allow_pickle", "arr_0", "layer 1/weight"])
def test_any_text_name_round_trips(tmp_path, name):
    x, w = fw.Input("x"), fw.Parameter(name)
    fw.MSE(x * w, fw.Input("y"))
    graph = fw.topological_sort({x: np.ones(3), w: np.arange(3.0)})
    fw.save_model(tmp_path / "model.npz", graph)
    w.value = np.zeros(3)
    fw.load_model(tmp_path / "model.npz", graph)
    np.testing.assert_array_equal(w.value, [0.0, 1.0, 2.0])
    with np.load(tmp_path / "model.npz") as saved:  # a plain .npz that NumPy reads
        assert saved.files == [name]


def test_a_name_that_is_not_text_is_refused_naming_the_node(tmp_path):
    x, w = fw.Input("x"), fw.Parameter(3)
    fw.MSE(x * w, fw.Input("y"))
    graph = fw.topological_sort({x: np.ones(3), w: np.arange(3.0)})
    with pytest.raises(ValueError, match=r"Parameter\(3\).*text name"):
        fw.save_model(tmp_path / "model.npz", graph)
    assert os.listdir(tmp_path) == []


def test_saving_into_a_missing_folder_names_the_path(tmp_path):
    path = tmp_path / "no such folder" / "model.npz"
    with pytest.raises(FileNotFoundError, match="no such folder"):
        fw.save_model(path, mlp())
    assert os.listdir(tmp_path) == []


def test_saving_onto_a_folder_names_it_and_leaves_nothing(tmp_path):
    (tmp_path / "model.npz").mkdir()
    with pytest.raises(IsADirectoryError, match="model.npz"):
        fw.save_model(tmp_path / "model.npz", mlp())
    assert os.listdir(tmp_path) == ["model.npz"]


def test_a_saved_checkpoint_is_readable_like_any_new_file(tmp_path):
    old = os.umask(0o022)
    try:
        fw.save_model(tmp_path / "model.npz", mlp())
    finally:
        os.umask(old)
    assert (tmp_path / "model.npz").stat().st_mode & 0o777 == 0o644


def huge_header_checkpoint(path):
    """A real checkpoint whose b2 entry claims a shape of 10^12 x 10^12 floats."""
    arrays = good_arrays()
    with zipfile.ZipFile(path, "w") as archive:
        for name, array in arrays.items():
            with archive.open(f"{name}.npy", "w") as entry:
                if name == "b2":
                    header = {"descr": "<f8", "fortran_order": False,
                              "shape": (10**12, 10**12)}
                    np.lib.format.write_array_header_1_0(entry, header)
                    entry.write(b"\0" * 64)
                else:
                    np.lib.format.write_array(entry, array)
    return path


def test_a_header_that_claims_a_huge_shape_is_refused_before_reading(tmp_path):
    path = huge_header_checkpoint(tmp_path / "huge.npz")
    graph = mlp(seed=0)
    before = trainable_values(graph)
    with pytest.raises(ValueError, match=r"'b2' has shape \(1000000000000, 1000000000000\)"):
        fw.load_model(path, graph)
    assert_values_unchanged(graph, before)


@pytest.mark.parametrize("name", ["w\0hidden", "w\ud800", "\udfff"], ids=["NUL", "surrogate",
                                                                          "lone low surrogate"])
def test_a_name_that_cannot_round_trip_is_refused_at_save(tmp_path, name):
    x, w = fw.Input("x"), fw.Parameter(name)
    fw.MSE(x * w, fw.Input("y"))
    graph = fw.topological_sort({x: np.ones(3), w: np.arange(3.0)})
    with pytest.raises(ValueError, match="cannot be stored") as error:
        fw.save_model(tmp_path / "model.npz", graph)
    assert repr(w) in str(error.value)
    assert os.listdir(tmp_path) == []


@settings(max_examples=25, deadline=None)
@given(name=st.text(min_size=1, max_size=12))
def test_every_name_that_saves_loads_back(name):
    x, w = fw.Input("x"), fw.Parameter(name)
    fw.MSE(x * w, fw.Input("y"))
    graph = fw.topological_sort({x: np.ones(3), w: np.arange(3.0)})
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "model.npz")
        try:
            fw.save_model(path, graph)
        except ValueError as error:
            assert repr(w) in str(error)
            return
        w.value = np.zeros(3)
        fw.load_model(path, graph)
    np.testing.assert_array_equal(w.value, [0.0, 1.0, 2.0])


@pytest.mark.parametrize("value", [np.array(["a", "b"]), "text", [1.0, 2.0],
                                   np.array([1 + 2j])], ids=["str array", "str", "list", "complex"])
def test_a_value_that_is_not_an_array_of_real_numbers_is_refused_at_save(tmp_path, value):
    graph = mlp()
    b2 = fw.trainables(graph)[-1]
    b2.value = value
    with pytest.raises(TypeError, match=r"Parameter\('b2'\).*real numbers"):
        fw.save_model(tmp_path / "model.npz", graph)
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("action", [fw.save_model, fw.load_model], ids=["save", "load"])
def test_a_file_object_is_refused_clearly(tmp_path, action):
    path = tmp_path / "model.npz"
    fw.save_model(path, mlp())
    with open(path, "rb+") as file, pytest.raises(TypeError, match="give a path"):
        action(file, mlp())


@pytest.mark.parametrize("action", ["save", "load"])
def test_something_that_is_not_a_node_in_the_graph_is_named(tmp_path, action):
    path = tmp_path / "model.npz"
    call = fw.save_model if action == "save" else fw.load_model
    with pytest.raises(TypeError, match=r"a graph holds nodes only; got 1 \(int\)"):
        call(path, [fw.Parameter("w"), 1])


def test_frozen_parameters_are_saved_and_loaded_too(tmp_path):
    """A model fine-tuned with its first layer frozen: the frozen layer comes back as well,
    instead of staying at the new model's random values."""

    def frozen_first_layer(seed):
        graph = mlp(seed)
        for node in graph:
            if node.name in ("w1", "b1"):
                node.is_trainable = False
        return graph

    saved, fresh = frozen_first_layer(seed=0), frozen_first_layer(seed=1)
    fw.save_model(tmp_path / "model.npz", saved)
    fw.load_model(tmp_path / "model.npz", fresh)
    values = {node.name: node.value for node in saved}
    for node in fresh:
        if isinstance(node, fw.Parameter):
            np.testing.assert_array_equal(node.value, values[node.name], err_msg=node.name)
    with np.load(tmp_path / "model.npz") as archive:  # the data x and y are not parameters
        assert sorted(archive.files) == ["b1", "b2", "w1", "w2"]


def test_a_parameter_shared_by_two_graphs_listed_together_is_saved_once(tmp_path):
    """A training graph and an evaluation graph that share W, joined into one list: W is one
    parameter listed twice, not two parameters of one name."""
    x, x_eval, w = fw.Input("x"), fw.Input("x_eval"), fw.Parameter("W")
    fw.Sum(x @ w, name="loss")
    fw.Sum(x_eval @ w, name="prediction")
    train = fw.topological_sort({x: np.ones((1, 2)), w: np.array([[1.0], [2.0]])})
    evaluation = fw.topological_sort({x_eval: np.ones((1, 2))})
    fw.save_model(tmp_path / "both.npz", list(train) + list(evaluation))
    with np.load(tmp_path / "both.npz") as saved:
        assert list(saved) == ["W"] and np.array_equal(saved["W"], [[1.0], [2.0]])


@pytest.mark.parametrize("path", ["", "folder/"])
def test_a_path_that_names_no_file_is_refused_before_anything_is_written(path, tmp_path,
                                                                          monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "folder").mkdir()
    with pytest.raises(ValueError, match="give the name of a file, e.g. 'model.npz'"):
        fw.save_model(path, mlp())
    assert os.listdir(tmp_path) == ["folder"] and os.listdir(tmp_path / "folder") == []
    assert os.listdir(tmp_path.parent).count(".tmp-") == 0
