"""Graphs that share parameters: each backward pass uses only the gradients of its own graph."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import framework as fw


def test_the_issue_repro_a_parameter_shared_by_two_losses():
    w = fw.Parameter("w")
    a, b = fw.Input("a"), fw.Input("b")
    l1 = fw.MSE(a * w, fw.Constant(0.0))
    g1 = fw.topological_sort({a: 1.0, w: 1.0})
    fw.run_steps(g1)
    assert w.gradients[w] == 2.0  # d/dw (a w)² = 2 a² w
    l2 = fw.MSE(b * w, fw.Constant(0.0))
    g2 = fw.topological_sort({b: 3.0, w: 1.0})
    fw.run_steps(g2, loss=l2)
    assert w.gradients[w] == 18.0  # 2 b² w
    fw.run_steps(g1)
    assert w.gradients[w] == 2.0  # not 2 + 18: g2's pass belongs to another loss
    fw.run_steps(g2, loss=l1)  # g2 holds both losses; either may be asked for
    assert w.gradients[w] == 2.0
    assert l1 in g2 and l2 not in g1


def test_a_training_graph_and_an_evaluation_graph_share_weights():
    rng = np.random.default_rng(0)
    w, b = fw.Parameter("w"), fw.Parameter("b")
    x_train, y_train, x_test, y_test = (fw.Input(n) for n in ("xt", "yt", "xe", "ye"))
    fw.MSE(fw.Linear(x_train, w, b), y_train)
    train = fw.topological_sort({x_train: rng.normal(size=(4, 3)), y_train: rng.normal(size=(4, 2)),
                                 w: rng.normal(size=(3, 2)), b: np.zeros(2)})
    fw.MSE(fw.Linear(x_test, w, b), y_test)
    evaluate = fw.topological_sort({x_test: rng.normal(size=(5, 3)),
                                    y_test: rng.normal(size=(5, 2))})
    fw.run_steps(evaluate, loss=evaluate[-1])
    train_loss = [n for n in train if n.kind == "loss"][0]
    fw.run_steps(train, loss=train_loss)
    numeric = fw.numerical_gradient(train, w, loss=train_loss)
    np.testing.assert_allclose(w.gradients[w], numeric, rtol=1e-6, atol=1e-9)


def build_pair(shared_count, seed):
    """Two small graphs, each a loss of its own data and the shared parameters (plus one
    parameter of its own). Returns the shared parameters and, per graph, (order, loss, own
    parameters)."""
    rng = np.random.default_rng(seed)
    shared = [fw.Parameter(f"s{i}") for i in range(shared_count)]
    values = {p: rng.normal(size=3) for p in shared}
    graphs = []
    for g in range(2):
        x, y, own = fw.Input(f"x{g}"), fw.Input(f"y{g}"), fw.Parameter(f"own{g}")
        h = x * own
        for p in shared:
            h = fw.Tanh(h * p + p) if g == 0 else fw.Sigmoid(h + p * p)
        loss = fw.MSE(h, y)
        feed = {x: rng.normal(size=3), y: rng.normal(size=3), own: rng.normal(size=3)}
        feed.update(values)
        graphs.append((fw.topological_sort(feed), loss, [own, *shared]))
    return shared, graphs


@settings(max_examples=30, deadline=None)
@given(shared_count=st.integers(1, 3), seed=st.integers(0, 10_000),
       interleaving=st.lists(st.integers(0, 1), min_size=1, max_size=6))
def test_interleaved_graphs_get_exactly_their_own_gradients(shared_count, seed, interleaving):
    _, graphs = build_pair(shared_count, seed)
    alone = []
    for order, loss, params in graphs:  # each graph on its own, against central differences
        fw.run_steps(order, loss=loss)
        grads = {p: p.gradients[p].copy() for p in params}
        for p, grad in grads.items():
            numeric = fw.numerical_gradient(order, p, loss=loss)
            np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-8, err_msg=p.name)
        alone.append(grads)
    for g in interleaving:  # in any interleaving, the last pass of a graph gives its own
        order, loss, params = graphs[g]
        fw.run_steps(order, loss=loss)
        for p in params:
            np.testing.assert_array_equal(p.gradients[p], alone[g][p], err_msg=p.name)
