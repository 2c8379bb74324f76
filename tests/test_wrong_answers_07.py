"""Notebook 07's exercise checks catch typical wrong answers, say where to look without giving the
answer away, and pass the right answers (see tests/exercise_harness.py)."""

import pytest
from exercise_harness import WrongAnswer, assert_caught, run_wrong_answers

NAME = "07_mlp_regression.ipynb"

MINIBATCHES_SKIPPING_THE_LAST = """
order = rng.permutation(n_samples)
for start in range(0, n_samples - batch_size + 1, batch_size):
    yield order[start:start + batch_size]
"""

# The right training loop, with the lines that the wrong answers change marked {feed}, {pass}...
LOOP = """
losses = []
for _ in range(epochs):
    for batch in minibatches(len(X), batch_size, rng):
{body}
    after_epoch()
return losses
"""
FEED = "model.x.value, model.y.value = X[batch], y[batch]"


def loop(*lines, after_epoch="    after_epoch()"):
    body = "\n".join(" " * 8 + line for line in lines)
    return LOOP.replace("    after_epoch()\n", after_epoch + "\n").format(body=body)


WRONG = [
    # 7.1: teaching_minibatches
    WrongAnswer("7.1", "skips the last short batch", (MINIBATCHES_SKIPPING_THE_LAST,),
                says="leaves out the rows that do not fill a whole batch"),
    WrongAnswer("7.1", "a slice one row short", ("""
order = rng.permutation(n_samples)
for start in range(0, n_samples, batch_size):
    yield order[start:start + batch_size - 1]
""",), says="only the last batch may be smaller"),
    WrongAnswer("7.1", "no shuffle", ("""
order = np.arange(n_samples)
for start in range(0, n_samples, batch_size):
    yield order[start:start + batch_size]
""",), says="shuffle them first"),
    WrongAnswer("7.1", "a new shuffle for every batch", ("""
for start in range(0, n_samples, batch_size):
    yield rng.permutation(n_samples)[start:start + batch_size]
""",), says="twice"),
    WrongAnswer("7.1", "return for yield", ("""
order = rng.permutation(n_samples)
for start in range(0, n_samples, batch_size):
    return order[start:start + batch_size]
""",), says="yield one batch at a time"),
    WrongAnswer("7.1", "a shuffle of its own, not rng.permutation", ("""
order = rng.choice(n_samples, n_samples, replace=False)
for start in range(0, n_samples, batch_size):
    yield order[start:start + batch_size]
""",), says="draw one rng.permutation(n_samples) per call"),

    # 7.2: sgd_step
    WrongAnswer("7.2", "the gradient without the learning rate", ("""
for node in graph:
    if node.is_trainable:
        node.value = node.value - node.gradients[node]
""",), says="whole gradient"),
    WrongAnswer("7.2", "adds the gradient", ("""
for node in graph:
    if node.is_trainable:
        node.value = node.value + learning_rate * node.gradients[node]
""",), says="uphill"),
    WrongAnswer("7.2", "updates the Inputs too", ("""
for node in graph:
    if isinstance(node, fw.Placeholder):
        node.value = node.value - learning_rate * node.gradients[node]
""",), says="Input('x')"),
    WrongAnswer("7.2", "every node with a gradient, frozen ones too", ("""
for node in graph:
    if node in node.gradients:
        node.value = node.value - learning_rate * node.gradients[node]
""",), says="frozen"),
    WrongAnswer("7.2", "Parameters by type, frozen ones too", ("""
for node in graph:
    if isinstance(node, fw.Parameter):
        node.value = node.value - learning_rate * node.gradients[node]
""",), says="frozen"),
    WrongAnswer("7.2", "the learning rate squared", ("""
for node in graph:
    if node.is_trainable:
        node.value = node.value - learning_rate ** 2 * node.gradients[node]
""",), says="how the learning rate and node.gradients[node] enter"),

    # 7.3: train
    WrongAnswer("7.3", "steps before backward", (loop(
        FEED, "fw.forward(model.graph)", "step(model.graph)", "fw.backward(model.graph)",
        "losses.append(float(model.loss.value))"),), says="came before the backward pass"),
    WrongAnswer("7.3", "no backward pass", (loop(
        FEED, "fw.forward(model.graph)", "step(model.graph)",
        "losses.append(float(model.loss.value))"),), says="came before the backward pass"),
    WrongAnswer("7.3", "records the loss before forward", (loop(
        FEED, "losses.append(float(model.loss.value))", "fw.forward(model.graph)",
        "fw.backward(model.graph)", "step(model.graph)"),), says="lag one step behind"),
    WrongAnswer("7.3", "a loop that skips the last short batch", ("""
losses = []
for _ in range(epochs):
    for batch in minibatches(len(X), batch_size, rng):
        if len(batch) < batch_size:
            continue
        model.x.value, model.y.value = X[batch], y[batch]
        fw.forward(model.graph)
        fw.backward(model.graph)
        step(model.graph)
        losses.append(float(model.loss.value))
    after_epoch()
return losses
""",), says="stopped before its last batch"),
    WrongAnswer("7.3", "one generator for every epoch", ("""
losses = []
batches = minibatches(len(X), batch_size, rng)
for _ in range(epochs):
    for batch in batches:
        model.x.value, model.y.value = X[batch], y[batch]
        fw.forward(model.graph)
        fw.backward(model.graph)
        step(model.graph)
        losses.append(float(model.loss.value))
    after_epoch()
return losses
""",), says="took no step"),
    WrongAnswer("7.3", "after_epoch after every batch", (loop(
        FEED, "fw.forward(model.graph)", "fw.backward(model.graph)", "step(model.graph)",
        "losses.append(float(model.loss.value))", "after_epoch()", after_epoch=""),),
                says="times in 3 epochs"),
    WrongAnswer("7.3", "feeds x only", (loop(
        "model.x.value = X[batch]", "fw.forward(model.graph)", "fw.backward(model.graph)",
        "step(model.graph)", "losses.append(float(model.loss.value))"),),
                says="target y has shape"),
    WrongAnswer("7.3", "the same batches every epoch", ("""
losses = []
for _ in range(epochs):
    for batch in minibatches(len(X), batch_size, np.random.default_rng(5)):
        model.x.value, model.y.value = X[batch], y[batch]
        fw.forward(model.graph)
        fw.backward(model.graph)
        step(model.graph)
        losses.append(float(model.loss.value))
    after_epoch()
return losses
""",), says="call it once per epoch, with the rng"),
    WrongAnswer("7.3", "records the loss node, not its value", (loop(
        FEED, "fw.forward(model.graph)", "fw.backward(model.graph)", "step(model.graph)",
        "losses.append(model.loss)"),), says="as numbers"),
    WrongAnswer("7.3", "steps with its own SGD", (loop(
        FEED, "fw.forward(model.graph)", "fw.backward(model.graph)",
        "fw.optimize(model.graph, 0.05)", "losses.append(float(model.loss.value))"),),
                says="never called step"),

    # 7.4: the held-out RMSE from the recorded MSE
    WrongAnswer("7.4", "no square root", ('held_out_rmse = history["held-out"][-1] * target_std',),
                says="not its root", must_not_say=("55.0", "54.9")),
    WrongAnswer("7.4", "still standardized", ('held_out_rmse = np.sqrt(history["held-out"][-1])',),
                says="standardized units", must_not_say=("55.0", "54.9")),
    WrongAnswer("7.4", "adds the mean", (
        'held_out_rmse = np.sqrt(history["held-out"][-1]) * target_std + target_mean',),
                says="the mean cancels", must_not_say=("55.0", "54.9")),

    # 7.5: fit_linear_regression
    WrongAnswer("7.5", "starts from random weights", ("""
x_node, y_node = fw.Input("x"), fw.Input("y")
W, b = fw.Parameter("W"), fw.Parameter("b")
fw.MSE(fw.Linear(x_node, W, b, name="linear"), y_node, name="mse")
rng = np.random.default_rng(0)
graph = fw.topological_sort({x_node: X, y_node: y,
                             W: rng.normal(size=(X.shape[1], 1)), b: np.zeros(1)})
for _ in range(steps):
    fw.forward(graph)
    fw.backward(graph)
    fw.optimize(graph, learning_rate=learning_rate)
return W.value, b.value
""",), says="start from zeros"),
    WrongAnswer("7.5", "one step too few", ("""
x_node, y_node = fw.Input("x"), fw.Input("y")
W, b = fw.Parameter("W"), fw.Parameter("b")
fw.MSE(fw.Linear(x_node, W, b, name="linear"), y_node, name="mse")
graph = fw.topological_sort({x_node: X, y_node: y,
                             W: np.zeros((X.shape[1], 1)), b: np.zeros(1)})
for _ in range(steps - 1):
    fw.forward(graph)
    fw.backward(graph)
    fw.optimize(graph, learning_rate=learning_rate)
return W.value, b.value
""",), says="took no step"),
    WrongAnswer("7.5", "forward once, before the loop", ("""
x_node, y_node = fw.Input("x"), fw.Input("y")
W, b = fw.Parameter("W"), fw.Parameter("b")
fw.MSE(fw.Linear(x_node, W, b, name="linear"), y_node, name="mse")
graph = fw.topological_sort({x_node: X, y_node: y,
                             W: np.zeros((X.shape[1], 1)), b: np.zeros(1)})
fw.forward(graph)
for _ in range(steps):
    fw.backward(graph)
    fw.optimize(graph, learning_rate=learning_rate)
return W.value, b.value
""",), says="stopped with ValueError"),
    WrongAnswer("7.5", "returns the nodes", ("""
x_node, y_node = fw.Input("x"), fw.Input("y")
W, b = fw.Parameter("W"), fw.Parameter("b")
fw.MSE(fw.Linear(x_node, W, b, name="linear"), y_node, name="mse")
graph = fw.topological_sort({x_node: X, y_node: y,
                             W: np.zeros((X.shape[1], 1)), b: np.zeros(1)})
for _ in range(steps):
    fw.forward(graph)
    fw.backward(graph)
    fw.optimize(graph, learning_rate=learning_rate)
return W, b
""",), says="return the values of the W and b nodes"),

    # 7.6: load_or_explain
    WrongAnswer("7.6", "lets the error through", ("""
fw.load_model(path, graph)
return None
""",), says="let the ValueError of fw.load_model through"),
    WrongAnswer("7.6", "returns the error, not its message", ("""
try:
    fw.load_model(path, graph)
except ValueError as error:
    return error
return None
""",), says="returned the ValueError itself"),
    WrongAnswer("7.6", "swallows the error", ("""
try:
    fw.load_model(path, graph)
except ValueError:
    return None
return None
""",), says="got no error"),
    WrongAnswer("7.6", "an empty message on success", ("""
try:
    fw.load_model(path, graph)
except ValueError as error:
    return str(error)
return ""
""",), says="expected None for a checkpoint that loads"),
]


@pytest.fixture(scope="module")
def results():
    return run_wrong_answers(NAME, WRONG)


@pytest.mark.parametrize("wrong", WRONG, ids=[w.why for w in WRONG])
def test_the_check_catches_the_wrong_answer(wrong, results):
    assert_caught(wrong, results[wrong])


@pytest.mark.parametrize("number", sorted({w.exercise for w in WRONG}))
def test_the_right_answer_passes(number, results):
    result = results[(number, "right")]
    assert result.ename is None, f"exercise {number}'s right answer failed its check: {result}"
