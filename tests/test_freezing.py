"""Freezing and unfreezing a parameter after the graph was sorted: gradients stay right without
sorting again. (The sort marks what needs a gradient; a parameter unfrozen later used to get a
gradient of zero from those marks, without a word.)"""

import numpy as np

import framework as fw

X = np.array([1.0, 2.0])


def model():
    """loss = Σ (x w + b)², with w frozen when the graph is sorted."""
    x, w, b = fw.Input("x"), fw.Parameter("w"), fw.Parameter("b")
    w.is_trainable = False
    loss = ((x * w + b) ** 2).sum()
    graph = fw.topological_sort({x: X, w: 3.0, b: 0.5})
    return graph, x, w, b, loss


def by_hand(w, b):
    """∂/∂w and ∂/∂b of Σ (x w + b)²: Σ 2 (x w + b) x and Σ 2 (x w + b)."""
    residual = X * w + b
    return (2 * residual * X).sum(), (2 * residual).sum()


def test_a_parameter_unfrozen_after_sorting_gets_its_gradient():
    graph, x, w, b, loss = model()
    fw.run_steps(graph)
    assert w not in w.gradients  # frozen: no gradient computed toward it
    w.is_trainable = True
    fw.run_steps(graph)
    dw, db = by_hand(3.0, 0.5)
    assert np.isclose(w.gradients[w], dw) and np.isclose(b.gradients[b], db)
    assert w in fw.trainables(graph)


def test_unfreezing_marks_what_is_computed_from_it_and_nothing_else():
    graph, x, w, b, loss = model()
    product = x.outputs[0]
    assert not product.needs_gradient  # x * w: only data and a frozen parameter
    w.is_trainable = True
    assert w.needs_gradient and product.needs_gradient and loss.needs_gradient
    assert not x.needs_gradient  # data upstream of w's uses stays unmarked
    marks = {node: node.needs_gradient for node in graph}
    fw.topological_sort({x: X})  # what a new sort marks
    assert marks == {node: node.needs_gradient for node in graph}


def test_a_parameter_frozen_after_sorting_is_left_alone_by_the_optimizer():
    graph, x, w, b, loss = model()
    w.is_trainable = True
    fw.run_steps(graph)
    b.is_trainable = False
    fw.run_steps(graph)
    fw.SGD(0.1).step(graph)
    dw, _ = by_hand(3.0, 0.5)
    assert np.isclose(w.value, 3.0 - 0.1 * dw)
    assert b.value == 0.5


def test_optimizers_follow_freezing_after_their_first_step():
    """An order keeps its list of trainable nodes from one step to the next: a parameter frozen
    or unfrozen between two steps is still seen at the next one."""
    graph, x, w, b, loss = model()
    for optimizer in (fw.SGD(0.1), fw.Momentum(0.1), fw.Adam(0.1)):
        fw.run_steps(graph)
        optimizer.step(graph)  # b alone: w is frozen
        assert w.value == 3.0 and b.value != 0.5
        w.is_trainable, b.is_trainable = True, False
        frozen_b = b.value
        fw.run_steps(graph)
        optimizer.step(graph)
        assert w.value != 3.0 and b.value == frozen_b
        w.is_trainable, b.is_trainable = False, True
        w.value, b.value = 3.0, 0.5


def test_trainables_gives_a_list_of_ones_own():
    graph, x, w, b, loss = model()
    fw.trainables(graph).append(w)  # the caller's list: the next call does not see it
    assert fw.trainables(graph) == [b]
    fw.run_steps(graph)
    fw.SGD(0.1).step(graph)
    assert w.value == 3.0
