"""Misuse of the graph API gets an error that names the node and says what was expected."""

import numpy as np
import pytest

import framework as fw


@pytest.mark.parametrize("make", [
    lambda x, w: fw.Tanh(x, name="target"),
    lambda x, w: fw.Linear(x, w, fw.Parameter("b"), name="target"),
])
def test_feeding_an_operation_is_refused(make):
    x, w = fw.Input("x"), fw.Parameter("w")
    op = make(x, w)
    with pytest.raises(TypeError, match=r"\('target'\) is an operation.*cannot be fed"):
        fw.topological_sort({x: np.ones((2, 2)), op: np.zeros((2, 2))})


def test_feeding_a_constant_is_refused():
    x = fw.Input("x")
    two = fw.Constant(2.0, name="two")
    x * two
    with pytest.raises(TypeError, match=r"Constant\('two'\).*placeholder"):
        fw.topological_sort({x: 1.0, two: 3.0})
    assert two.value == 2.0  # left as it was


@pytest.mark.parametrize("feed", [[], (), None, "x"], ids=["list", "tuple", "None", "str"])
def test_topological_sort_says_it_takes_a_dict(feed):
    with pytest.raises(TypeError, match=r"takes a dict \{node: value\}.*" + type(feed).__name__):
        fw.topological_sort(feed)


def two_losses():
    x, w = fw.Input("x"), fw.Parameter("w")
    first = fw.MSE(x * w, fw.Constant(np.zeros(3)), name="first")
    second = fw.MSE(x + w, fw.Constant(np.ones(3)), name="second")
    graph = fw.topological_sort({x: np.ones(3), w: np.ones(3)})
    fw.forward(graph)
    return graph, first, second


@pytest.mark.parametrize("call", [fw.backward, fw.run_steps, fw.gradient_check,
                                  lambda g: fw.numerical_gradient(g, g[1])],
                         ids=["backward", "run_steps", "gradient_check", "numerical_gradient"])
def test_two_scalar_end_nodes_and_no_loss_is_refused_naming_both(call):
    graph, _, _ = two_losses()
    with pytest.raises(ValueError, match="loss=") as error:
        call(graph)
    assert "'first'" in str(error.value) and "'second'" in str(error.value)


def test_two_losses_work_when_the_loss_is_named():
    graph, first, second = two_losses()
    w = graph[1]
    fw.backward(graph, loss=first)
    np.testing.assert_allclose(w.gradients[w], 2 * np.ones(3) / 3)  # d/dw mean((x w)²)
    fw.backward(graph, loss=second)
    np.testing.assert_allclose(w.gradients[w], 2 * np.ones(3) / 3)  # d/dw mean((x+w-1)²)


def test_a_prediction_beside_the_loss_needs_no_loss_argument():
    x, w, y = fw.Input("x"), fw.Parameter("w"), fw.Input("y")
    prediction = x * w
    fw.Sigmoid(prediction, name="probability")  # a non-scalar end node
    fw.MSE(prediction, y, name="loss")
    graph = fw.topological_sort({x: np.ones(3), w: np.ones(3), y: np.zeros(3)})
    fw.run_steps(graph)
    np.testing.assert_allclose(w.gradients[w], 2 * np.ones(3) / 3)


@pytest.mark.parametrize("half_link", [
    lambda p, b: b.inputs.append(p),  # p.outputs does not list b
    lambda p, b: p.outputs.append(b),  # b.inputs does not list p
], ids=["input without output", "output without input"])
def test_a_link_made_on_one_side_only_is_named(half_link):
    a, p = fw.Input("a"), fw.Parameter("p")
    b = fw.Tanh(a, name="b")
    half_link(p, b)
    with pytest.raises(ValueError, match=r"Parameter\('p'\).*Tanh\('b'\).*disagree"):
        fw.topological_sort({a: 1.0, p: 2.0})


@pytest.mark.parametrize("stranger", [3.0, "w", None])
def test_something_that_is_not_a_node_among_the_inputs_is_named(stranger):
    a = fw.Input("a")
    b = fw.Tanh(a, name="b")
    b.inputs.append(stranger)
    with pytest.raises(TypeError, match=r"Tanh\('b'\)\.inputs holds .*not a Node"):
        fw.topological_sort({a: 1.0})


def test_numerical_gradient_of_an_operation_is_refused():
    x, w = fw.Input("x"), fw.Parameter("w")
    product = fw.Multiply(x, w, name="product")
    loss = fw.MSE(product, fw.Constant(0.0))
    graph = fw.topological_sort({x: np.ones(2), w: np.ones(2)})
    with pytest.raises(TypeError, match=r"placeholder.*Multiply\('product'\)"):
        fw.numerical_gradient(graph, product, loss=loss)


def test_numerical_gradient_of_a_node_without_a_value_is_refused():
    x, w, later = fw.Input("x"), fw.Parameter("w"), fw.Parameter("later")
    fw.MSE(x * w, fw.Constant(0.0))
    graph = fw.topological_sort({x: np.ones(2), w: np.ones(2)})
    with pytest.raises(ValueError, match=r"Parameter\('later'\) has no value"):
        fw.numerical_gradient(graph, later)


def small_graph():
    x, w = fw.Input("x"), fw.Parameter("w")
    loss = (x * w).sum()
    loss.name = "loss"
    return fw.topological_sort({x: np.ones(2), w: np.ones(2)}), loss


CALLS = {
    "forward": fw.forward, "backward": fw.backward, "run_steps": fw.run_steps,
    "trainables": fw.trainables, "gradient_check": fw.gradient_check,
    "draw_graph": fw.draw_graph, "SGD.step": fw.SGD(0.1).step, "Adam.step": fw.Adam().step,
    "optimize": fw.optimize,
    "save_model": lambda graph: fw.save_model("never-written.npz", graph),
}


@pytest.mark.parametrize("call", CALLS)
def test_the_loss_node_passed_for_its_graph_is_named(call, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # where a save_model that took it would write
    graph, loss = small_graph()
    with pytest.raises(TypeError, match=r"expected a graph, the list of nodes that "
                                        r"topological_sort returns; got the node Sum\('loss'\)"):
        CALLS[call](loss)


@pytest.mark.parametrize("call", CALLS)
@pytest.mark.parametrize("graph, got", [(None, "None"), ({}, "a dict"),
                                        (iter([]), "a list_iterator")],
                         ids=["None", "dict", "iterator"])
def test_a_graph_that_is_not_a_list_is_refused(call, graph, got, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(TypeError, match=f"a graph is a list of nodes, as topological_sort "
                                        f"returns; got {got}"):
        CALLS[call](graph)


def test_forward_over_a_generator_is_refused_rather_than_computing_nothing():
    """One look through a generator used it up: the pass computed nothing, and the loss
    stayed at its old value (3 where the new data gave 30)."""
    x, w = fw.Input("x"), fw.Parameter("w")
    loss = (x * w).sum()
    graph = fw.topological_sort({x: np.ones(3), w: np.ones(3)})
    fw.forward(graph)
    x.value = 10 * np.ones(3)
    with pytest.raises(TypeError, match="got a generator"):
        fw.forward(node for node in graph)
    fw.forward(graph)
    assert loss.value == 30.0


@pytest.mark.parametrize("call", ["optimize", "SGD.step", "Adam.step", "trainables"])
def test_strangers_in_a_graph_given_to_an_optimizer_are_named(call):
    graph, loss = small_graph()
    w = graph[1]
    before = w.value
    with pytest.raises(TypeError, match=r"a graph holds nodes only; got 'junk' \(str\)"):
        CALLS[call]([w, "junk"])
    assert w.value is before


@pytest.mark.parametrize("build, error", [
    (lambda x: x.reshape(None), r"reshape needs a shape, e.g. x.reshape\(2, -1\); got None"),
    (lambda x: x[(i for i in range(2))], r"cannot index x with a generator"),
], ids=["reshape(None)", "index by a generator"])
def test_a_refused_op_leaves_no_trace_in_the_graph(build, error):
    x, w = fw.Input("x"), fw.Parameter("w")
    loss = (x * w).sum()
    with pytest.raises(TypeError, match=error):
        build(x)
    assert len(x.outputs) == 1
    fw.run_steps(fw.topological_sort({x: np.array([1.0, 3.0]), w: np.array([2.0, 2.0])}))
    assert loss.value == 8.0


def test_a_refused_feed_leaves_every_value_as_it_was():
    """The second value is refused: the first must not have been set already."""
    x, w = fw.Input("x"), fw.Parameter("w")
    (x * w).sum()
    trained = np.arange(2.0)
    w.value = trained
    with pytest.raises(TypeError, match=r"Input\('x'\) was given data of dtype <U"):
        fw.topological_sort({w: np.zeros(2), x: "not data"})
    assert w.value is trained


@pytest.mark.parametrize("epsilon, error", [
    ("1e-6", TypeError), (None, TypeError), (np.array([1e-6]), TypeError), (0, ValueError),
    (-1e-6, ValueError), (float("nan"), ValueError)])
def test_gradient_check_refuses_an_epsilon_that_is_not_a_positive_number(epsilon, error):
    graph, loss = small_graph()
    with pytest.raises(error, match="numerical_gradient: the epsilon must be a number"):
        fw.gradient_check(graph, epsilon=epsilon)
