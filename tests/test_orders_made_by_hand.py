"""Lists of nodes made by hand (or slices of a sorted order) in forward and backward: a list in
which a node comes before an input, or leaves one out, is refused (it computed from old values
and gave zero gradients); and what needs a gradient is known from the moment a node is built,
so neither a partial list nor nodes added to an order after the sort can unmark it."""

import numpy as np
import pytest

import framework as fw


def product_graph():
    """L = Σ x w, fed x = [1, 2], w = [3, 4]; ∂L/∂w = x."""
    x, w = fw.Input("x"), fw.Parameter("w")
    h = x * w
    h.name = "h"
    loss = h.sum()
    graph = fw.topological_sort({x: np.array([1.0, 2.0]), w: np.array([3.0, 4.0])})
    return graph, x, w, h, loss


def test_a_node_listed_before_its_input_is_refused():
    graph, x, w, h, loss = product_graph()
    with pytest.raises(ValueError, match=r"needs its input Multiply\('h'\), which comes after "
                                         r"it in this list"):
        fw.forward([x, w, loss, h])


def test_a_list_that_leaves_an_input_out_is_refused():
    graph, x, w, h, loss = product_graph()
    fw.forward(graph)
    x.value = np.array([10.0, 20.0])
    with pytest.raises(ValueError, match=r"needs its input Multiply\('h'\), which is missing"):
        fw.forward([x, w, loss])
    with pytest.raises(ValueError, match=r"which is missing"):
        fw.backward([x, w, loss])
    fw.forward(graph)  # the sorted order is complete
    fw.backward(graph)
    assert loss.value == 110.0 and np.array_equal(w.gradients[w], [10.0, 20.0])


def test_a_slice_of_an_order_up_to_a_node_is_complete():
    graph, x, w, h, loss = product_graph()
    fw.forward(graph[:graph.index(h) + 1])
    assert np.array_equal(h.value, [3.0, 8.0])


def test_something_that_is_not_a_node_is_named():
    with pytest.raises(TypeError, match=r"a graph holds nodes only; got 1 \(int\)"):
        fw.forward([1])
    with pytest.raises(TypeError, match=r"a graph holds nodes only; got 2 \(int\)"):
        fw.backward([fw.Parameter("p"), 2])


def test_a_node_needs_a_gradient_from_the_moment_it_is_built():
    x, w = fw.Input("x"), fw.Parameter("w")
    assert (x * 2).needs_gradient is False
    assert (x * w).needs_gradient is True


def test_backward_on_part_of_the_graph_leaves_the_marks_right():
    """The part is refused (it leaves inputs out), and the whole order still gets every
    gradient: ∂/∂p Σ x p q = x q."""
    x, p, q = fw.Input("x"), fw.Parameter("p"), fw.Parameter("q")
    features = x * p
    out = features * q
    loss = out.sum()
    graph = fw.topological_sort({x: np.array([1.0, 2.0]), p: np.array([3.0, 4.0]),
                                 q: np.array([5.0, 6.0])})
    with pytest.raises(ValueError, match="is missing"):
        fw.backward([features, q, out, loss])
    fw.forward(graph)
    fw.backward(graph)
    assert np.array_equal(p.gradients[p], [5.0, 12.0])


def test_nodes_added_to_a_sorted_order_get_their_gradients():
    """A penalty built after the sort and appended to the order: ∂/∂w (Σ x w + Σ w²) = x + 2w."""
    graph, x, w, h, loss = product_graph()
    square = w * w
    penalty = square.sum()
    total = loss + penalty
    graph += [square, penalty, total]
    fw.forward(graph)
    fw.backward(graph, loss=total)
    assert np.array_equal(w.gradients[w], [7.0, 10.0])
