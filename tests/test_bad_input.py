"""Every kind of bad input gets an error that names the node, the shapes and what was expected."""

import numpy as np
import pytest
from helpers import assert_names, run

import framework as fw


def test_linear_with_a_weight_for_other_input_features():
    x, w, b = fw.Input("x"), fw.Parameter("w"), fw.Parameter("b")
    fw.Linear(x, w, b, name="layer1")
    with pytest.raises(ValueError) as error:
        run({x: np.ones((4, 3)), w: np.ones((5, 2)), b: np.zeros(2)})
    assert_names(error, "layer1", "(4, 3)", "(5, 2)")


def test_linear_with_a_bias_of_the_wrong_size():
    x, w, b = fw.Input("x"), fw.Parameter("w"), fw.Parameter("b")
    fw.Linear(x, w, b, name="layer1")
    with pytest.raises(ValueError) as error:
        run({x: np.ones((4, 3)), w: np.ones((3, 2)), b: np.zeros(3)})
    assert_names(error, "layer1", "(3,)", "(2,)")


@pytest.mark.parametrize("op", [fw.Add, fw.Subtract, fw.Multiply])
def test_elementwise_shapes_that_do_not_broadcast(op):
    a, b = fw.Input("a"), fw.Parameter("b")
    op(a, b, name="combine")
    with pytest.raises(ValueError) as error:
        run({a: np.ones((2, 3)), b: np.ones(4)})
    assert_names(error, "combine", "(2, 3)", "(4,)", "broadcast")


@pytest.mark.parametrize("a_shape, b_shape",
                         [((2, 3), (4, 2)), ((4,), (3, 2)), ((2, 3), (2,)), ((2, 2, 3), (3, 3, 1))])
def test_matmul_shape_mismatch(a_shape, b_shape):
    a, b = fw.Input("a"), fw.Parameter("b")
    fw.MatMul(a, b, name="product")
    with pytest.raises(ValueError) as error:
        run({a: np.ones(a_shape), b: np.ones(b_shape)})
    assert_names(error, "product", str(a_shape), str(b_shape))


def test_a_placeholder_never_fed_is_named():
    x, w = fw.Input("features"), fw.Parameter("w")
    x * w
    with pytest.raises(ValueError, match="features"):
        run({w: np.ones(3)})


@pytest.mark.parametrize(
    "value",
    [
        "hello",
        ["1.0", "2.0"],
        np.array(["a", "b"]),
        [1.0, "a"],
        np.array([1.0, None], dtype=object),
        [[1.0, 2.0], [3.0]],
        np.array([1 + 2j]),
    ],
    ids=["str", "list of str", "str array", "mixed", "object array", "ragged", "complex"],
)
def test_non_numeric_data_is_refused_naming_the_node(value):
    x = fw.Input("pixels")
    fw.Negate(x)
    with pytest.raises((TypeError, ValueError), match="pixels"):
        run({x: value})


def test_non_numeric_data_set_directly_is_refused_at_forward():
    # The minibatch idiom `x.value = X[idx]` bypasses the feed_dict; forward still checks.
    x, w = fw.Input("pixels"), fw.Parameter("w")
    x * w
    graph = fw.topological_sort({x: np.ones(2), w: np.ones(2)})
    x.value = np.array(["a", "b"])
    with pytest.raises(TypeError, match="pixels"):
        fw.forward(graph)


@pytest.mark.parametrize(
    "labels",
    [[0, 3], [-1, 0], [0, 1.5], [0, np.nan], [0, np.inf], [0, 1e30]],
    ids=["too big", "negative", "fraction", "nan", "inf", "huge"],
)
def test_softmax_cross_entropy_refuses_bad_labels(labels):
    logits, y = fw.Parameter("logits"), fw.Input("y")
    fw.SoftmaxCrossEntropy(logits, y, name="xent")
    with pytest.raises(ValueError) as error:
        run({logits: np.zeros((2, 3)), y: np.array(labels)})
    message = str(error.value)
    assert "xent" in message and "0 to 2" in message


def test_softmax_cross_entropy_refuses_labels_of_the_wrong_shape():
    logits, y = fw.Parameter("logits"), fw.Input("y")
    fw.SoftmaxCrossEntropy(logits, y, name="xent")
    with pytest.raises(ValueError) as error:
        run({logits: np.zeros((2, 3)), y: np.array([[0], [1]])})
    assert_names(error, "xent", "(2, 3)", "(2, 1)")


@pytest.mark.parametrize(
    "prediction_shape, target_shape", [((4, 1), (3,)), ((4, 2), (4,)), ((4,), (4, 1))]
)
def test_mse_refuses_mismatched_shapes(prediction_shape, target_shape):
    prediction, target = fw.Parameter("prediction"), fw.Input("target")
    fw.MSE(prediction, target, name="mse")
    with pytest.raises(ValueError) as error:
        run({prediction: np.zeros(prediction_shape), target: np.zeros(target_shape)})
    assert_names(error, "mse", str(prediction_shape), str(target_shape))


def test_backward_refuses_a_non_scalar_last_node():
    x, w, b = fw.Input("x"), fw.Parameter("w"), fw.Parameter("b")
    fw.Linear(x, w, b, name="outputs")
    graph = run({x: np.ones((4, 3)), w: np.ones((3, 2)), b: np.zeros(2)})
    with pytest.raises(ValueError) as error:
        fw.backward(graph)
    message = str(error.value)
    assert "outputs" in message and "(4, 2)" in message


def test_backward_before_forward_is_refused():
    a = fw.Parameter("a")
    fw.Negate(a, name="loss")
    graph = fw.topological_sort({a: 1.0})
    with pytest.raises(ValueError, match="loss"):
        fw.backward(graph)


def test_feed_dict_keys_must_be_nodes():
    with pytest.raises(TypeError, match="'x'"):
        fw.topological_sort({"x": np.ones(3)})


def test_op_inputs_must_be_nodes():
    a = fw.Input("a")
    with pytest.raises(TypeError, match="Node"):
        fw.Add(a, np.ones(3))


@pytest.mark.parametrize("optimizer", [fw.SGD(), fw.Momentum(), fw.Adam()],
                         ids=["SGD", "Momentum", "Adam"])
def test_an_optimizer_step_before_backward_names_the_node(optimizer):
    x, weight = fw.Input("x"), fw.Parameter("weight")
    fw.MSE(x * weight, x)
    graph = run({x: np.ones(3), weight: np.ones(3)})
    with pytest.raises(ValueError, match="weight"):
        optimizer.step(graph)


def test_a_refused_node_leaves_no_trace_in_the_graph():
    x, w, y = fw.Input("x"), fw.Parameter("w"), fw.Input("y")
    with pytest.raises(TypeError, match="ndarray"):
        fw.Linear(x, w, np.zeros(1), name="bad")  # a bare array where a node belongs
    assert x.outputs == [] and w.outputs == []
    b = fw.Parameter("b")
    fw.MSE(fw.Linear(x, w, b, name="good"), y)
    graph = run({x: np.ones((2, 3)), w: np.ones((3, 1)), b: np.zeros(1), y: np.zeros(2)})
    assert [n.name for n in graph if n.kind == "operation"] == ["good"]


def test_a_single_node_as_inputs_is_refused_with_a_hint():
    x = fw.Input("features")
    with pytest.raises(TypeError, match=r"list of nodes.*\[features\]"):
        fw.Node(inputs=x)


def test_backward_on_an_empty_graph():
    with pytest.raises(ValueError, match="empty graph"):
        fw.backward(fw.topological_sort({}))


@pytest.mark.parametrize("loss", ["mse", "xent"])
def test_an_empty_batch_is_refused_naming_the_loss(loss):
    z, t = fw.Parameter("z"), fw.Input("t")
    if loss == "mse":
        fw.MSE(z, t, name="loss")
        feed = {z: np.zeros((0, 1)), t: np.zeros(0)}
    else:
        fw.SoftmaxCrossEntropy(z, t, name="loss")
        feed = {z: np.zeros((0, 3)), t: np.zeros(0)}
    with pytest.raises(ValueError) as error:
        run(feed)
    assert_names(error, "loss", "(0,")


def test_a_cross_entropy_with_no_classes_is_refused():
    z, t = fw.Parameter("z"), fw.Input("t")
    fw.SoftmaxCrossEntropy(z, t, name="xent")
    with pytest.raises(ValueError) as error:
        run({z: np.zeros((2, 0)), t: np.zeros(2)})
    assert_names(error, "xent", "(2, 0)", "one class")


def test_minibatches_of_an_array_instead_of_a_count():
    with pytest.raises(TypeError, match=r"len\(X\)"):
        next(fw.minibatches(np.zeros((5, 2)), 2))
