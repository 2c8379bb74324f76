"""End to end: small networks learn from the course's real data sets."""

from pathlib import Path

import numpy as np

import framework as fw

DATA = Path(__file__).resolve().parent.parent / "data"


def load(name):
    table = np.loadtxt(DATA / name, delimiter=",", skiprows=1)
    return table[:, :-1], table[:, -1]


def split(n_samples, n_test, rng):
    order = rng.permutation(n_samples)
    return order[n_test:], order[:n_test]


def standardize(train, test):
    mean, std = train.mean(axis=0), train.std(axis=0)
    std = np.where(std == 0, 1.0, std)  # pixels that are blank in every training image
    return (train - mean) / std, (test - mean) / std


def mlp(n_in, n_hidden, n_out, loss_kind, rng):
    x, y = fw.Input("x"), fw.Input("y")
    w1, b1, w2, b2 = (fw.Parameter(name) for name in ("w1", "b1", "w2", "b2"))
    output = fw.Linear(fw.Tanh(fw.Linear(x, w1, b1)), w2, b2, name="output")
    loss_kind(output, y, name="loss")
    feed = {
        x: np.zeros((1, n_in)), y: np.zeros(1),
        w1: rng.standard_normal((n_in, n_hidden)) / np.sqrt(n_in), b1: np.zeros(n_hidden),
        w2: rng.standard_normal((n_hidden, n_out)) / np.sqrt(n_hidden), b2: np.zeros(n_out),
    }
    return fw.topological_sort(feed), x, y, output


def evaluate(graph, x, y, inputs, targets):
    x.value, y.value = inputs, targets
    fw.forward(graph)
    return float(graph[-1].value)


def train(graph, x, y, inputs, targets, optimizer, epochs, batch_size, rng):
    for _ in range(epochs):
        for idx in fw.minibatches(len(inputs), batch_size, rng):
            x.value, y.value = inputs[idx], targets[idx]
            fw.run_steps(graph)
            optimizer.step(graph)


def test_digits_classifier_learns_and_generalises():
    rng = np.random.default_rng(0)
    pixels, labels = load("digits.csv")
    train_idx, test_idx = split(len(pixels), 400, rng)
    x_train, x_test = standardize(pixels[train_idx], pixels[test_idx])
    graph, x, y, logits = mlp(64, 32, 10, fw.SoftmaxCrossEntropy, rng)

    initial = evaluate(graph, x, y, x_train, labels[train_idx])
    train(graph, x, y, x_train, labels[train_idx], fw.Adam(learning_rate=0.01), epochs=5,
          batch_size=64, rng=rng)
    final = evaluate(graph, x, y, x_train, labels[train_idx])
    assert final < 0.5 * initial, f"loss {initial:.3f} -> {final:.3f}"

    evaluate(graph, x, y, x_test, labels[test_idx])
    accuracy = np.mean(np.argmax(logits.value, axis=1) == labels[test_idx])
    assert accuracy > 0.85, f"held-out accuracy {accuracy:.3f} (chance is 0.1)"


def test_diabetes_regression_lowers_its_loss():
    rng = np.random.default_rng(0)
    features, target = load("diabetes.csv")
    train_idx, test_idx = split(len(features), 100, rng)
    x_train, x_test = standardize(features[train_idx], features[test_idx])
    y_train, y_test = standardize(target[train_idx], target[test_idx])
    graph, x, y, _ = mlp(10, 16, 1, fw.MSE, rng)  # (batch, 1) predictions, (batch,) targets

    initial = evaluate(graph, x, y, x_train, y_train)
    train(graph, x, y, x_train, y_train, fw.Momentum(learning_rate=0.01, beta=0.9), epochs=30,
          batch_size=32, rng=rng)
    final = evaluate(graph, x, y, x_train, y_train)
    assert final < 0.5 * initial, f"loss {initial:.3f} -> {final:.3f}"
    # A target-mean guess scores about 1 on standardized targets; the model must beat it.
    assert evaluate(graph, x, y, x_test, y_test) < 0.75
