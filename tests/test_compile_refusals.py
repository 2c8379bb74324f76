"""fw.compile keeps the interpreted passes' guarantees, with the same words.

Each test makes the same mistake twice, once with the interpreted loop (forward, backward,
optimizer.step) and once with a compiled step, and checks that the compiled step refuses it
with the interpreted loop's message (or, for what only compiling can get wrong, a message that
says what to do), leaving every parameter, and the optimizer's state, as it was.
"""

from __future__ import annotations

import numpy as np
import pytest
from helpers import sqrt_graph

import framework as fw
from framework import layers as L


def mlp(task="classification", seed=0, hidden=5, optimizer=None):
    """x (batch, 4) → Linear → ReLU → Linear → 3 classes (or 1 value), its graph sorted."""
    rng = np.random.default_rng(seed)
    x, y = fw.Input("x"), fw.Input("y")
    W1, b1, W2, b2 = (fw.Parameter(n) for n in ("W1", "b1", "W2", "b2"))
    outputs = 3 if task == "classification" else 1
    W1.value, b1.value = rng.normal(size=(4, hidden)), rng.normal(size=hidden)
    W2.value, b2.value = rng.normal(size=(hidden, outputs)), rng.normal(size=outputs)
    z = fw.Linear(fw.ReLU(fw.Linear(x, W1, b1, name="hidden"), name="relu"), W2, b2,
                  name="logits")
    loss = (fw.SoftmaxCrossEntropy(z, y, name="loss") if task == "classification"
            else fw.MSE(z, y, name="loss"))
    X = rng.normal(size=(6, 4))
    Y = rng.integers(0, 3, 6) if task == "classification" else rng.normal(size=6)
    graph = fw.topological_sort({x: X, y: Y})
    return graph, x, y, loss, X, Y


def values(graph):
    return [p.value.copy() for p in fw.trainables(graph)]


def assert_unchanged(graph, before):
    for p, value in zip(fw.trainables(graph), before, strict=True):
        np.testing.assert_array_equal(p.value, value, err_msg=repr(p))


def interpreted_error(graph, x, y, X, Y, optimizer, error):
    """The error of the interpreted loop on this batch."""
    x.value, y.value = X, Y
    with pytest.raises(error) as raised:
        fw.forward(graph)
        fw.backward(graph)
        optimizer.step(graph)
    return str(raised.value)


def refused_alike(make_optimizer, X, Y, error, task="classification", prepare=None):
    """The same batch, interpreted then compiled: the same error and message, nothing
    changed. ``prepare(graph)`` makes the same change to both graphs first."""
    graph, x, y, _, _, _ = mlp(task)
    if prepare:
        prepare(graph)
    expected = interpreted_error(graph, x, y, X, Y, make_optimizer(), error)
    graph, x, y, _, _, _ = mlp(task)
    if prepare:
        prepare(graph)
    optimizer = make_optimizer()
    step = fw.compile(graph, optimizer)
    before, theta = values(graph), step.theta.copy()
    with pytest.raises(error) as raised:
        step({x: X, y: Y})
    assert str(raised.value) == expected
    assert_unchanged(graph, before)
    np.testing.assert_array_equal(step.theta, theta)
    return step, graph, x, y


# Not a number.


def test_a_nan_in_the_data_is_refused_naming_the_first_node_that_holds_one():
    graph, x, y, loss, X, Y = mlp()
    X = X.copy()
    X[2, 1] = np.nan
    with np.errstate(invalid="ignore"):
        step, *_ = refused_alike(fw.SGD, X, Y, FloatingPointError)


def test_an_infinite_loss_is_refused_and_the_step_then_goes_on():
    graph, x, y, loss, X, Y = mlp("regression")
    big = np.full_like(X, 1e200)
    with np.errstate(over="ignore", invalid="ignore"):
        step, graph, x, y = refused_alike(lambda: fw.Momentum(0.01), big, Y, FloatingPointError,
                                          "regression")
    # the refusal changed nothing: the next good batch gives the interpreted loop's numbers
    expected_graph, ex, ey, expected_loss, _, _ = mlp("regression")
    optimizer = fw.Momentum(0.01)
    for _ in range(2):
        ex.value, ey.value = X, Y
        fw.run_steps(expected_graph)
        optimizer.step(expected_graph)
        assert step({x: X, y: Y}) == float(expected_loss.value)
    for a, b in zip(fw.trainables(graph), fw.trainables(expected_graph), strict=True):
        np.testing.assert_array_equal(a.value, b.value)


@pytest.mark.parametrize("make_optimizer", [lambda: fw.SGD(1e308),
                                            lambda: fw.SGD(1e300, weight_decay=1e10),
                                            lambda: fw.Momentum(1e308),
                                            lambda: fw.Adam(1e308, epsilon=1e-300)],
                         ids=["SGD", "SGD decay", "Momentum", "Adam"])
def test_a_step_that_would_overflow_is_refused_naming_the_parameter(make_optimizer):
    graph, x, y, loss, X, Y = mlp()
    with np.errstate(over="ignore", invalid="ignore"):
        refused_alike(make_optimizer, X * 1e3, Y, FloatingPointError)


def test_a_gradient_that_holds_a_nan_is_refused_and_the_state_is_kept():
    """√(x w) at x = 0 (sqrt_graph): NaN in w's gradient. The optimizer's state is not touched
    either."""
    X, T = np.array([[1.0, 0.0], [2.0, 1.0], [0.5, 0.0]]), np.ones((3, 2))
    graph, x, t, loss = sqrt_graph()
    optimizer = fw.Momentum(0.1)
    x.value, t.value = np.ones((3, 2)), T
    fw.run_steps(graph)
    optimizer.step(graph)  # one good step: a velocity to keep
    with np.errstate(divide="ignore", invalid="ignore"):
        expected = interpreted_error(graph, x, t, X, T, optimizer, FloatingPointError)
    graph, x, t, loss = sqrt_graph()
    optimizer = fw.Momentum(0.1)
    step = fw.compile(graph, optimizer)
    step({x: np.ones((3, 2)), t: T})
    before, velocity = values(graph), [s[0].copy() for s in optimizer.state.values()]
    with np.errstate(divide="ignore", invalid="ignore"), \
            pytest.raises(FloatingPointError) as raised:
        step({x: X, t: T})
    assert str(raised.value) == expected
    assert "its gradient holds" in expected
    assert_unchanged(graph, before)
    for kept, now in zip(velocity, optimizer.state.values(), strict=True):
        np.testing.assert_array_equal(now[0], kept)


def test_the_search_for_the_culprit_runs_only_when_a_check_fails(monkeypatch):
    import framework.compiler as compiler
    calls = []
    monkeypatch.setattr(compiler, "describe_non_finite", lambda *a: calls.append(a) or "x")
    graph, x, y, loss, X, Y = mlp()
    step = fw.compile(graph, fw.SGD(0.1))
    for _ in range(3):
        step({x: X, y: Y})
    assert not calls
    runtime_check = step.__globals__["check_update"]
    assert runtime_check.__name__ == "check_update"
    monkeypatch.setitem(step.__globals__, "check_update", lambda *a: calls.append(a))
    step({x: X, y: Y})
    assert not calls


def test_finite_values_too_large_to_square_are_not_refused():
    """The cheap check (Σ θ² finite?) overflows for finite values above 1e154; the search that
    follows finds nothing, and the step goes on, as the optimizers' step does."""
    def build():
        x, t = fw.Input("x"), fw.Input("t")
        w = fw.Parameter("w")
        w.value = np.array([1e160, 1.0])
        loss = fw.MSE(x * w * np.array([1e-170, 1.0]), t)
        return fw.topological_sort({x: np.ones((2, 2)), t: np.zeros((2, 2))}), x, t, loss, w
    graph, x, t, loss, w = build()
    optimizer = fw.SGD(0.1)
    with np.errstate(over="ignore"):  # the dot product of the check overflows, and warns
        fw.run_steps(graph)
        optimizer.step(graph)
        graph2, x2, t2, loss2, w2 = build()
        step = fw.compile(graph2, fw.SGD(0.1))
        step({x2: np.ones((2, 2)), t2: np.zeros((2, 2))})
    np.testing.assert_array_equal(w2.value, w.value)
    assert w.value[1] != 1.0  # the step was taken


# What the ops check.


def test_labels_that_are_not_class_ids_are_refused_as_the_node_refuses_them():
    graph, x, y, loss, X, Y = mlp()
    for bad in ([0, 1, 2.5, 0, 1, 2], [0, 1, 2, 3, 1, 0], [-1, 0, 0, 0, 0, 0],
                [0, np.nan, 1, 1, 1, 1]):
        refused_alike(fw.SGD, X, np.array(bad), ValueError)
    refused_alike(fw.SGD, X, np.array([0, 1, 7, 0, 1, 2]), ValueError)  # ints, out of range


def test_targets_of_the_wrong_shape_are_refused_as_mse_refuses_them():
    graph, x, y, loss, X, Y = mlp("regression")
    refused_alike(fw.SGD, X, np.zeros((6, 2)), ValueError, "regression")
    refused_alike(fw.SGD, X, np.zeros(5), ValueError, "regression")


def test_a_shape_that_does_not_fit_is_refused_naming_the_node():
    graph, x, y, loss, X, Y = mlp()
    refused_alike(fw.SGD, np.zeros((6, 5)), Y, ValueError)
    refused_alike(fw.SGD, np.zeros((6, 4, 1)), Y, ValueError)


def test_a_layer_names_itself_when_its_input_does_not_fit():
    def build():
        x, y = fw.Input("x"), fw.Input("y")
        model = L.Sequential(L.Linear(4, 3, rng=np.random.default_rng(0)), L.ReLU())
        loss = fw.MSE(model(x), y)
        return fw.topological_sort({x: np.zeros((2, 4)), y: np.zeros((2, 3))}), x, y, loss
    graph, x, y, loss = build()
    x.value, y.value = np.zeros((2, 5)), np.zeros((2, 3))
    with pytest.raises(ValueError) as expected:
        fw.forward(graph)
    graph, x, y, loss = build()
    step = fw.compile(graph)
    with pytest.raises(ValueError) as raised:
        step({x: np.zeros((2, 5)), y: np.zeros((2, 3))})
    assert str(raised.value) == str(expected.value)
    assert "Linear layer '0'" in str(raised.value)


def test_a_batch_too_small_for_batch_norm_in_training_is_refused_as_it_refuses_it():
    def build():
        x, y = fw.Input("x"), fw.Input("y")
        model = L.Sequential(L.Linear(4, 3, rng=np.random.default_rng(0)), L.BatchNorm1d(3))
        loss = fw.MSE(model(x), y)
        return fw.topological_sort({x: np.ones((4, 4)), y: np.zeros((4, 3))}), x, y, loss, model
    graph, x, y, loss, model = build()
    x.value, y.value = np.ones((1, 4)), np.zeros((1, 3))
    with pytest.raises(ValueError) as expected:
        fw.forward(graph)
    graph, x, y, loss, model = build()
    step = fw.compile(graph)
    model.eval()
    step({x: np.ones((1, 4)), y: np.zeros((1, 3))})  # one example: fine in evaluation
    model.train()
    before = values(graph)
    with pytest.raises(ValueError) as raised:  # the same shape, planned already: still refused
        step({x: np.ones((1, 4)), y: np.zeros((1, 3))})
    assert str(raised.value) == str(expected.value)
    assert_unchanged(graph, before)


# What only a compiled step can get wrong: a graph changed since it was compiled.


def test_a_parameter_frozen_after_compiling_is_refused_saying_to_compile_again():
    graph, x, y, loss, X, Y = mlp()
    step = fw.compile(graph, fw.SGD(0.1))
    step({x: X, y: Y})
    W1 = _named(graph, "W1")
    W1.is_trainable = False
    before = values(graph) + [W1.value.copy()]
    with pytest.raises(ValueError, match="Parameter\\('W1'\\) was frozen.*[Cc]ompile it again"):
        step({x: X, y: Y})
    assert_unchanged(graph, before[:-1])
    np.testing.assert_array_equal(W1.value, before[-1])
    step = fw.compile(graph, fw.SGD(0.1))  # compiled again: W1 stays as it is
    step({x: X, y: Y})
    np.testing.assert_array_equal(W1.value, before[-1])


def test_a_parameter_unfrozen_after_compiling_is_refused():
    graph, x, y, loss, X, Y = mlp()
    W2 = _named(graph, "W2")
    W2.is_trainable = False
    step = fw.compile(graph, fw.SGD(0.1))
    step({x: X, y: Y})
    W2.is_trainable = True
    with pytest.raises(ValueError, match="Parameter\\('W2'\\) was unfrozen"):
        step({x: X, y: Y})


def test_freezing_a_node_of_another_graph_changes_nothing():
    graph, x, y, loss, X, Y = mlp()
    other, *_ = mlp(seed=1)
    step = fw.compile(graph, fw.SGD(0.1))
    fw.trainables(other)[0].is_trainable = False
    step({x: X, y: Y})  # checked, and found unchanged


@pytest.mark.parametrize("edit", ["append", "reverse", "pop"])
def test_an_edited_order_is_refused(edit):
    graph, x, y, loss, X, Y = mlp()
    step = fw.compile(graph, fw.SGD(0.1))
    if edit == "append":
        graph.append(fw.Constant(1.0))
    elif edit == "reverse":
        graph.reverse()
    else:
        graph.pop()
    before = values(graph)
    with pytest.raises(ValueError, match="order was edited.*[Cc]ompile it again"):
        step({x: X, y: Y})
    assert_unchanged(graph, before)


def test_an_order_edited_back_to_what_it_was_is_taken():
    graph, x, y, loss, X, Y = mlp()
    step = fw.compile(graph, fw.SGD(0.1))
    graph.append(graph.pop())
    assert not graph.as_sorted
    step({x: X, y: Y})


def test_an_order_made_by_hand_is_checked_every_step():
    graph, x, y, loss, X, Y = mlp()
    by_hand = list(graph)
    step = fw.compile(by_hand, fw.SGD(0.1))
    step({x: X, y: Y})
    by_hand.insert(0, by_hand.pop())
    with pytest.raises(ValueError, match="order was edited"):
        step({x: X, y: Y})


# The feed.


def test_a_placeholder_not_fed_keeps_its_value_as_in_the_interpreted_loop():
    (g1, x1, y1, loss1, X, Y), (g2, x2, y2, _, _, _) = mlp(), mlp()
    Y2 = (Y + 1) % 3
    y1.value = y2.value = Y2  # fed once, for every step
    optimizer, step = fw.SGD(0.1), fw.compile(g2, fw.SGD(0.1))
    for _ in range(2):
        x1.value = X
        fw.run_steps(g1)
        optimizer.step(g1)
        assert step({x2: X}) == float(loss1.value)


def test_a_placeholder_with_no_value_is_refused_as_the_forward_pass_refuses_it():
    x, y, W = fw.Input("x"), fw.Input("y"), fw.Parameter("W")
    W.value = np.ones((2, 1))
    fw.MSE(x @ W, y)
    graph = fw.topological_sort({x: np.ones((3, 2))})
    step = fw.compile(graph)
    with pytest.raises(ValueError, match="Input\\('y'\\) has no value: feed it"):
        step({x: np.ones((3, 2))})
    with pytest.raises(TypeError, match="takes a dict"):
        step([np.ones((3, 2))])
    step({x: np.ones((3, 2)), y: np.ones((3, 1))})


def test_a_feed_of_something_else_is_refused():
    graph, x, y, loss, X, Y = mlp()
    step = fw.compile(graph)
    W1 = fw.trainables(graph)[0]
    with pytest.raises(ValueError, match="trained by the step"):
        step({x: X, y: Y, W1: np.zeros((4, 5))})
    with pytest.raises(ValueError, match="cannot feed"):
        step({x: X, y: Y, fw.Input("z"): X})


# Values set by hand, interpreted passes, and the optimizer's state, between compiled steps.


def test_a_value_set_by_hand_is_taken_in_as_the_interpreted_loop_would_use_it():
    graphs = [mlp(), mlp()]
    (g1, x1, y1, loss1, X, Y), (g2, x2, y2, loss2, _, _) = graphs
    optimizer = fw.Adam(0.01)
    step = fw.compile(g2, fw.Adam(0.01))
    new_W1 = np.full((4, 5), 0.1)
    for k in range(3):
        if k == 1:
            _named(g1, "W1").value = new_W1.copy()
            _named(g2, "W1").value = new_W1.copy()
        x1.value, y1.value = X, Y
        fw.run_steps(g1)
        optimizer.step(g1)
        assert step({x2: X, y2: Y}) == float(loss1.value)
    for a, b in zip(fw.trainables(g1), fw.trainables(g2), strict=True):
        np.testing.assert_array_equal(a.value, b.value)
        assert b.value.base is step.theta


def _named(graph, name):
    return next(node for node in graph if node.name == name)


def test_a_value_of_another_shape_is_refused():
    graph, x, y, loss, X, Y = mlp()
    step = fw.compile(graph)
    fw.trainables(graph)[0].value = np.zeros((4, 6))
    with pytest.raises(ValueError, match="shape \\(4, 6\\).*[Cc]ompile it again"):
        step({x: X, y: Y})


def test_load_model_between_compiled_steps(tmp_path):
    graph, x, y, loss, X, Y = mlp()
    step = fw.compile(graph, fw.SGD(0.1))
    step({x: X, y: Y})
    fw.save_model(tmp_path / "model.npz", graph)
    saved = values(graph)
    step({x: X, y: Y})
    fw.load_model(tmp_path / "model.npz", graph)
    assert_unchanged(graph, saved)
    expected_graph, ex, ey, expected_loss, _, _ = mlp()
    for p, value in zip(fw.trainables(expected_graph), saved, strict=True):
        p.value = value
    ex.value, ey.value = X, Y
    fw.run_steps(expected_graph)
    fw.SGD(0.1).step(expected_graph)
    assert step({x: X, y: Y}) == float(expected_loss.value)


def test_an_interpreted_backward_after_a_compiled_step_does_not_mix_values():
    """A forward pass run by hand between compiled steps (to predict, say) sees the values of
    then; the next compiled step changes the parameters in place, so a backward pass after it
    must not take the forward pass's values as current: it is refused, as it would be after
    an optimizer step."""
    graph, x, y, loss, X, Y = mlp()
    step = fw.compile(graph, fw.SGD(0.1))
    step({x: X, y: Y})
    x.value, y.value = X, Y
    fw.forward(graph)
    step({x: X, y: Y})
    with pytest.raises(ValueError, match="new value after the forward pass"):
        fw.backward(graph)
    fw.forward(graph)  # a new forward pass: then backward and a step are fine
    fw.backward(graph)
    fw.SGD(0.1).step(graph)
    step({x: X, y: Y})  # and the compiled step takes the stepped values in


def test_an_interpreted_step_after_compiled_steps_carries_on_with_the_same_momentum():
    (g1, x1, y1, _, X, Y), (g2, x2, y2, _, _, _) = mlp(), mlp()
    o1, o2 = fw.Momentum(0.05), fw.Momentum(0.05)
    step = fw.compile(g2, o2)
    for k in range(6):
        x1.value, y1.value = X, Y
        fw.run_steps(g1)
        o1.step(g1)
        if k in (2, 3):  # interpreted, with the optimizer the compiled step uses
            x2.value, y2.value = X, Y
            fw.run_steps(g2)
            o2.step(g2)
        else:
            step({x2: X, y2: Y})
    for a, b in zip(fw.trainables(g1), fw.trainables(g2), strict=True):
        np.testing.assert_allclose(b.value, a.value, rtol=1e-12)


def test_compiling_again_carries_on_with_the_optimizers_state():
    (g1, x1, y1, _, X, Y), (g2, x2, y2, _, _, _) = mlp(), mlp()
    o1, o2 = fw.Adam(0.05), fw.Adam(0.05)
    step = fw.compile(g2, o2)
    for k in range(5):
        x1.value, y1.value = X, Y
        fw.run_steps(g1)
        o1.step(g1)
        if k == 2:
            step = fw.compile(g2, o2)
        step({x2: X, y2: Y})
    for a, b in zip(fw.trainables(g1), fw.trainables(g2), strict=True):
        np.testing.assert_allclose(b.value, a.value, rtol=1e-12)


def test_reset_forgets_the_state_of_a_compiled_step_too():
    (g1, x1, y1, _, X, Y), (g2, x2, y2, _, _, _) = mlp(), mlp()
    o1, o2 = fw.Adam(0.05), fw.Adam(0.05)
    step = fw.compile(g2, o2)
    for k in range(4):
        if k == 2:
            o1.reset()
            o2.reset()
        x1.value, y1.value = X, Y
        fw.run_steps(g1)
        o1.step(g1)
        step({x2: X, y2: Y})
    for a, b in zip(fw.trainables(g1), fw.trainables(g2), strict=True):
        np.testing.assert_allclose(b.value, a.value, rtol=1e-12)


def test_adam_with_parameters_at_different_step_counts_is_refused():
    graph, x, y, loss, X, Y = mlp()
    optimizer = fw.Adam(0.01)
    W1 = fw.trainables(graph)[0]
    W1.is_trainable = False
    fw.run_steps(graph)
    optimizer.step(graph)
    W1.is_trainable = True
    with pytest.raises(ValueError, match="different numbers of steps.*reset"):
        fw.compile(graph, optimizer)


def test_a_learning_rate_changed_between_steps_is_used():
    (g1, x1, y1, _, X, Y), (g2, x2, y2, _, _, _) = mlp(), mlp()
    o1, o2 = fw.SGD(0.1), fw.SGD(0.1)
    step = fw.compile(g2, o2)
    for k in range(4):
        o1.learning_rate = o2.learning_rate = 0.1 / (k + 1)
        o1.weight_decay = o2.weight_decay = 0.01 * k
        x1.value, y1.value = X, Y
        fw.run_steps(g1)
        o1.step(g1)
        step({x2: X, y2: Y})
    for a, b in zip(fw.trainables(g1), fw.trainables(g2), strict=True):
        np.testing.assert_array_equal(b.value, a.value)


# What compile takes.


def test_compile_refuses_what_it_cannot_compile():
    graph, x, y, loss, X, Y = mlp()
    with pytest.raises(TypeError, match="SGD, fw.Momentum or fw.Adam"):
        fw.compile(graph, fw.optimize)

    class Halving(fw.SGD):
        pass
    with pytest.raises(TypeError, match="Halving"):
        fw.compile(graph, Halving(0.1))
    with pytest.raises(TypeError, match="the node"):
        fw.compile(loss)
    with pytest.raises(ValueError, match="empty graph"):
        fw.compile([])
    with pytest.raises(ValueError, match="not a node of this graph"):
        fw.compile(graph, loss=fw.Input("elsewhere"))
    with pytest.raises(ValueError, match="in the graph twice"):
        fw.compile([*graph, graph[-1]])


def test_a_loss_that_is_not_a_number_is_refused():
    x, W = fw.Input("x"), fw.Parameter("W")
    W.value = np.ones((2, 2))
    fw.MSE(x @ W, fw.Constant(np.zeros((3, 2))))
    out = x @ W
    graph = fw.topological_sort({x: np.ones((3, 2))})
    step = fw.compile(graph, loss=out)
    with pytest.raises(ValueError, match="single number"):
        step({x: np.ones((3, 2))})


def test_builtin_compile_is_not_shadowed_in_the_package_modules():
    import framework.compiler as compiler
    assert fw.compile is compiler.compile
    assert compile("1 + 1", "<test>", "eval") is not None  # this module's builtin
