"""One precision everywhere: whatever dtype the data has, values and gradients are float64."""

import numpy as np
import pytest

import framework as fw


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64, np.int32, np.int64,
                                   np.uint8, np.bool_])
def test_values_and_gradients_are_float64_whatever_is_fed(dtype):
    rng = np.random.default_rng(0)
    x, y = fw.Input("x"), fw.Input("y")
    w1, b1, w2, b2 = (fw.Parameter(n) for n in ("w1", "b1", "w2", "b2"))
    hidden = fw.Tanh(fw.Linear(x, w1, b1))
    out = fw.Sigmoid(fw.Linear(hidden, w2, b2) * 2.0 - 1.0)
    fw.MSE(fw.ReLU(out), y)
    graph = fw.topological_sort({
        x: (rng.normal(size=(4, 3)) * 3).astype(dtype), y: np.ones((4, 2), dtype=dtype),
        w1: rng.normal(size=(3, 5)).astype(dtype), b1: np.zeros(5, dtype=dtype),
        w2: rng.normal(size=(5, 2)).astype(dtype), b2: np.zeros(2, dtype=dtype),
    })
    fw.run_steps(graph)
    fw.SGD(0.1).step(graph)
    for node in graph:
        assert np.asarray(node.value).dtype == np.float64, node
        for target, grad in node.gradients.items():
            assert np.asarray(grad).dtype == np.float64, (node, target)


def test_data_assigned_between_steps_is_made_float64_too():
    x, w = fw.Input("x"), fw.Parameter("w")
    fw.MSE(x * w, fw.Constant(np.zeros(3)))
    graph = fw.topological_sort({x: np.ones(3), w: np.ones(3)})
    x.value = np.full(3, 0.1, dtype=np.float32)  # as a training loop does with each batch
    fw.run_steps(graph)
    assert x.value.dtype == np.float64 and w.gradients[w].dtype == np.float64
    # 0.1 in float32 is 0.100000001490116..., kept exactly when widened: no silent rounding
    np.testing.assert_array_equal(x.value, np.float64(np.float32(0.1)))


def test_float32_and_float64_data_give_the_same_float64_gradients():
    def gradient(dtype):
        x, w = fw.Input("x"), fw.Parameter("w")
        fw.MSE(fw.Sigmoid(x * w), fw.Constant(np.zeros(3)))
        values = np.array([0.5, -1.25, 2.0])  # exact in float32
        graph = fw.topological_sort({x: values.astype(dtype), w: values.astype(dtype)})
        fw.run_steps(graph)
        return w.gradients[w]

    np.testing.assert_array_equal(gradient(np.float32), gradient(np.float64))


@pytest.mark.filterwarnings("ignore:the matrix subclass:PendingDeprecationWarning")
def test_a_matrix_is_fed_as_a_plain_array_so_that_star_stays_element_wise():
    """np.matrix makes * a matrix product: fed as it is, MSE(a * w, 0) would be 1.0, not 0.25."""
    a, w, t = fw.Input("a"), fw.Parameter("w"), fw.Input("t")
    loss = fw.MSE(a * w, t)
    graph = fw.topological_sort({a: np.matrix([[1.0, 2.0], [3.0, 4.0]]),
                                 w: np.array([[1.0, 0.0], [0.0, 0.0]]), t: np.zeros((2, 2))})
    fw.forward(graph)
    fw.backward(graph)
    assert type(a.value) is np.ndarray
    assert loss.value == 0.25  # mean of (1·1)², 0, 0, 0
    np.testing.assert_array_equal(w.gradients[w], [[0.5, 0.0], [0.0, 0.0]])  # 2 a² w / 4


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_a_masked_array_is_refused_rather_than_losing_its_mask(dtype):
    b = fw.Input("b")
    values = np.ma.masked_array(np.array([1.0, 2.0, 3.0], dtype=dtype), mask=[0, 1, 0])
    with pytest.raises(TypeError, match=r"Input\('b'\) was given a masked array"):
        fw.topological_sort({b: values})
    b.value = values
    with pytest.raises(TypeError, match=r"Input\('b'\) was given a masked array"):
        fw.forward([b])
