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


def penalised_graph():
    """L = Σ x w + Σ w², fed x = [1, 2], w = [3, 4]: ∂L/∂w = x + 2w. Sorted from x and w,
    then the penalty is taken out of the order, to be put back by the tests."""
    x, w = fw.Input("x"), fw.Parameter("w")
    loss = (x * w).sum()
    square = w * w
    penalty = square.sum()
    total = loss + penalty
    graph = fw.topological_sort({x: np.array([1.0, 2.0]), w: np.array([3.0, 4.0])})
    fw.forward(graph)  # every node holds a value now: the one a wrong order would reuse
    for node in (square, penalty, total):
        list.remove(graph, node)  # as if the sort had not seen them (no edit noted)
    return graph, w, square, penalty, total


EDITS = {  # each puts the total before the penalty it adds up: a wrong order
    "append": lambda g, square, penalty, total: [g.append(n) for n in (total, square, penalty)],
    "+=": lambda g, square, penalty, total: g.__iadd__([total, square, penalty]),
    "extend": lambda g, square, penalty, total: g.extend([total, square, penalty]),
    "slice assignment": lambda g, square, penalty, total: g.__setitem__(
        slice(len(g), None), [total, square, penalty]),
    "insert": lambda g, square, penalty, total: [g.insert(len(g), n)
                                                 for n in (total, square, penalty)],
}


@pytest.mark.parametrize("edit", EDITS)
def test_an_order_edited_into_a_wrong_order_is_refused(edit):
    """An edited order is checked like a list made by hand. Before, it was trusted as the
    sort made it: forward computed the total from the penalty of the step before, and the
    loss came out as 25 (the old Σ w²) for w = 0 instead of 0."""
    graph, w, square, penalty, total = penalised_graph()
    EDITS[edit](graph, square, penalty, total)
    w.value = np.zeros(2)
    with pytest.raises(ValueError, match=r"needs its input Sum\('Sum_\d+'\), which comes after"):
        fw.forward(graph)
    with pytest.raises(ValueError, match="which comes after it in this list"):
        fw.backward(graph, loss=total)


@pytest.mark.parametrize("edit", ["reverse", "sort", "pop", "remove", "clear", "del", "*="])
def test_every_other_edit_of_an_order_is_noted_too(edit):
    graph, *_ = product_graph()
    edits = {"reverse": graph.reverse, "sort": lambda: graph.sort(key=lambda n: n.name),
             "pop": graph.pop, "remove": lambda: graph.remove(graph[-1]), "clear": graph.clear,
             "del": lambda: graph.__delitem__(0), "*=": lambda: graph.__imul__(1)}
    assert graph.as_sorted
    edits[edit]()
    assert not graph.as_sorted


def test_an_edited_order_finds_its_end_nodes_again():
    """Two scalar end nodes and no loss= is refused for an edited order, as for any list;
    before, the end nodes the sort had found were reused and the last node taken silently."""
    graph, x, w, h, loss = product_graph()
    other = (h * h).sum()
    graph += [other.inputs[0], other]
    fw.forward(graph)
    with pytest.raises(ValueError, match="2 end nodes that could be the loss"):
        fw.backward(graph)
    fw.backward(graph, loss=loss)
    assert np.array_equal(w.gradients[w], [1.0, 2.0])
