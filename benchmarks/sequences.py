"""Training speed on sequences: a small LSTM language model and a small two-block transformer,
one training step at a time, the framework against PyTorch eager (float64, one thread).

    .venv/bin/python benchmarks/sequences.py             # alone; run.py --only sequences too
    .venv/bin/python benchmarks/sequences.py --rounds 5

Each model is trained three ways on the same batches, from the same weights:

- **framework**: built from ``framework.layers`` and sorted once, then per step the batch
  fed, ``forward``, ``backward`` and ``SGD.step``;
- **nodes alone**: the same graph, each node's ``forward`` in order and ``backward`` in reverse
  and θ - η g, with none of the passes' and the optimizer's bookkeeping and checks: the floor
  of this design, as ``training.BareNodesMLP`` for the MLPs (not a way to train);
- **PyTorch**: eager mode, the usual modules (``nn.Embedding``, ``nn.LSTM``,
  ``nn.MultiheadAttention`` with ``need_weights=False``, ``nn.LayerNorm``, ``nn.Linear``),
  ``F.cross_entropy``, ``optim.SGD`` and ``zero_grad``.

The batches are windows of a fixed random "text" of token ids (the time of a step does not
depend on which ids they are): inputs ids[t], targets ids[t + 1]. After the timed steps the
versions must hold the same parameters (the largest difference below 1e-8), which the table
reports.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")  # before NumPy is imported, as run.py does

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the framework, uninstalled

from training import nodes_alone_plan, nodes_alone_step  # noqa: E402  (benchmarks/training.py)

import framework as fw  # noqa: E402
from framework import layers as L  # noqa: E402
from framework.attention import Projection  # noqa: E402

SEED = 0
STEPS_PER_ROUND = 5
TARGET = 1.0  # issue 21: framework ÷ PyTorch eager per training step, at most


@dataclass
class SequenceProblem:
    """A language model and its training set-up: what every version shares."""

    name: str
    model: str  # "lstm" or "transformer"
    vocab: int
    batch: int
    steps: int  # T, the tokens per sequence
    embed: int
    hidden: int  # the LSTM's hidden size, or the transformer's MLP width
    heads: int = 0
    blocks: int = 0
    learning_rate: float = 0.1

    def batches(self, count: int, start: int) -> list[tuple[np.ndarray, np.ndarray]]:
        """``count`` batches (ids (batch, T), targets (batch·T,)), the same for every version."""
        rng = np.random.default_rng([SEED, start])
        text = rng.integers(0, self.vocab, size=50_000)
        found = []
        for _ in range(count):
            starts = rng.integers(0, len(text) - self.steps - 1, size=self.batch)
            windows = text[starts[:, None] + np.arange(self.steps + 1)]
            found.append((windows[:, :-1], windows[:, 1:].reshape(-1)))
        return found


def lstm_model(batch=32, steps=32, embed=32, hidden=128) -> SequenceProblem:
    """A character-level LSTM language model: 65 characters, embedding, LSTM, linear."""
    return SequenceProblem(f"LSTM LM, embed {embed}, hidden {hidden}", "lstm", vocab=65,
                           batch=batch, steps=steps, embed=embed, hidden=hidden)


def transformer_model(batch=32, steps=32, embed=64, heads=4) -> SequenceProblem:
    """A character-level transformer: 65 characters, two pre-norm blocks, an MLP 4E wide."""
    return SequenceProblem(f"transformer, 2 blocks, E {embed}, {heads} heads", "transformer",
                           vocab=65, batch=batch, steps=steps, embed=embed, hidden=4 * embed,
                           heads=heads, blocks=2)


def problems() -> list[SequenceProblem]:
    """Each model small (batch 8 of 16 tokens: the cost of the calls shows) and at the size a
    notebook would train (batch 32 of 32 tokens: the matrix products dominate)."""
    return [lstm_model(8, 16, 16, 32), lstm_model(), transformer_model(8, 16, 32, 4),
            transformer_model()]


# The framework's models, from layers.

class LSTMLanguageModel(L.Layer):
    """Embedding → LSTM → a linear map to the vocabulary, at every position."""

    def __init__(self, p: SequenceProblem, rng):
        super().__init__()
        self.embedding = L.Embedding(p.vocab, p.embed, rng=rng)
        self.lstm = L.LSTM(p.embed, p.hidden, rng=rng)
        self.head = Projection(p.hidden, p.vocab, rng=rng)
        self.problem = p

    def forward(self, ids):
        outputs, _ = self.lstm(self.embedding(ids), self.problem.steps)
        return self.head(outputs).reshape(-1, self.problem.vocab)


class Block(L.Layer):
    """A pre-norm transformer block: x + attention(LN(x)), then x + MLP(LN(x)), ReLU."""

    def __init__(self, p: SequenceProblem, rng):
        super().__init__()
        self.ln1 = L.LayerNorm(p.embed)
        self.attn = L.CausalSelfAttention(p.embed, p.heads, rng=rng)
        self.ln2 = L.LayerNorm(p.embed)
        self.fc1 = Projection(p.embed, p.hidden, rng=rng)
        self.fc2 = Projection(p.hidden, p.embed, rng=rng)

    def forward(self, x):
        x = x + self.attn(self.ln1(x))
        return x + self.fc2(fw.ReLU(self.fc1(self.ln2(x))))


class Transformer(L.Layer):
    """Token and position embeddings, the blocks, a last LayerNorm, a linear map to the
    vocabulary at every position."""

    def __init__(self, p: SequenceProblem, rng):
        super().__init__()
        self.tokens = L.Embedding(p.vocab, p.embed, rng=rng)
        self.positions = L.Embedding(p.steps, p.embed, rng=rng)
        self.blocks = L.Sequential(*(Block(p, rng) for _ in range(p.blocks)))
        self.ln = L.LayerNorm(p.embed)
        self.head = Projection(p.embed, p.vocab, rng=rng)
        self.problem = p

    def forward(self, ids, positions):
        x = self.blocks(self.tokens(ids) + self.positions(positions))
        return self.head(self.ln(x)).reshape(-1, self.problem.vocab)


class FrameworkVersion:
    label = "framework"

    def __init__(self, problem: SequenceProblem):
        self.problem = problem
        rng = np.random.default_rng(SEED)
        self.ids, self.targets = fw.Input("ids"), fw.Input("targets")
        feed = {self.ids: np.zeros((problem.batch, problem.steps)),
                self.targets: np.zeros(problem.batch * problem.steps)}
        if problem.model == "lstm":
            self.model = LSTMLanguageModel(problem, rng)
            logits = self.model(self.ids)
        else:
            self.model = Transformer(problem, rng)
            positions = fw.Input("positions")
            feed[positions] = np.arange(problem.steps)
            logits = self.model(self.ids, positions)
        fw.SoftmaxCrossEntropy(logits, self.targets, name="loss")
        self.graph = fw.topological_sort(feed)
        self.optimizer = fw.SGD(problem.learning_rate)

    def train(self, batches):
        for ids, targets in batches:
            self.ids.value, self.targets.value = ids, targets
            fw.forward(self.graph)
            fw.backward(self.graph)
            self.optimizer.step(self.graph)

    def parameters(self) -> dict:
        return {name: node.value for name, node in self.model.named_parameters().items()}


class BareNodesVersion(FrameworkVersion):
    """The same nodes, called in order with nothing of the passes and the optimizer."""

    label = "nodes alone"

    def train(self, batches):
        graph, lr = self.graph, self.problem.learning_rate
        backward_order, parameters = nodes_alone_plan(graph)
        for ids, targets in batches:
            self.ids.value, self.targets.value = ids, targets
            nodes_alone_step(graph, backward_order, parameters, lr)


class CompiledVersion(FrameworkVersion):
    """The same graph compiled with ``fw.compile`` (issue 23): one generated function per
    training step, every node of these models from its template."""

    label = "compiled"

    def __init__(self, problem: SequenceProblem):
        super().__init__(problem)
        loss = next(node for node in self.graph if node.name == "loss")
        self.step = fw.compile(self.graph, self.optimizer, loss=loss)

    def train(self, batches):
        for ids, targets in batches:
            self.step({self.ids: ids, self.targets: targets})


class TorchVersion:
    label = "PyTorch"

    def __init__(self, problem: SequenceProblem, torch, initial: dict):
        self.torch, self.problem = torch, problem
        self.model = (torch_lstm_model if problem.model == "lstm" else torch_transformer)(
            problem, torch).double()
        parameters = self.named_parameters()
        assert list(parameters) == list(initial), (list(parameters), list(initial))
        with torch.no_grad():
            for name, value in initial.items():
                parameters[name].copy_(torch.from_numpy(value))
        self.optimizer = torch.optim.SGD(self.model.parameters(), lr=problem.learning_rate)
        self.positions = torch.arange(problem.steps)

    def train(self, batches):
        torch = self.torch
        for ids, targets in batches:
            logits = self.model(torch.from_numpy(ids), self.positions)
            loss = torch.nn.functional.cross_entropy(logits, torch.from_numpy(targets))
            self.optimizer.zero_grad()
            loss.backward()
            self.optimizer.step()

    def named_parameters(self) -> dict:
        """PyTorch's parameters by the framework's names: nn.LSTM's "weight_ih_l0" (of layer
        0) is "weight_ih"."""
        return {name.removesuffix("_l0"): p for name, p in self.model.named_parameters()}

    def parameters(self) -> dict:
        return {name: p.detach().numpy() for name, p in self.named_parameters().items()}


def torch_lstm_model(p: SequenceProblem, torch):
    nn = torch.nn

    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.embedding = nn.Embedding(p.vocab, p.embed)
            self.lstm = nn.LSTM(p.embed, p.hidden, batch_first=True)
            self.head = nn.Linear(p.hidden, p.vocab)

        def forward(self, ids, positions):
            outputs, _ = self.lstm(self.embedding(ids))
            return self.head(outputs).reshape(-1, p.vocab)

    return Model()


def torch_transformer(p: SequenceProblem, torch):
    nn = torch.nn

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.ln1 = nn.LayerNorm(p.embed)
            self.attn = nn.MultiheadAttention(p.embed, p.heads, batch_first=True)
            self.ln2 = nn.LayerNorm(p.embed)
            self.fc1 = nn.Linear(p.embed, p.hidden)
            self.fc2 = nn.Linear(p.hidden, p.embed)
            self.register_buffer("mask", torch.triu(torch.ones(p.steps, p.steps,
                                                               dtype=torch.bool), 1))

        def forward(self, x):
            h = self.ln1(x)
            x = x + self.attn(h, h, h, attn_mask=self.mask, need_weights=False)[0]
            return x + self.fc2(torch.relu(self.fc1(self.ln2(x))))

    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.tokens = nn.Embedding(p.vocab, p.embed)
            self.positions = nn.Embedding(p.steps, p.embed)
            self.blocks = nn.Sequential(*(Block() for _ in range(p.blocks)))
            self.ln = nn.LayerNorm(p.embed)
            self.head = nn.Linear(p.embed, p.vocab)

        def forward(self, ids, positions):
            x = self.blocks(self.tokens(ids) + self.positions(positions))
            return self.head(self.ln(x)).reshape(-1, p.vocab)

    return Model()


@dataclass
class Result:
    problem: SequenceProblem
    nodes: int
    ms_per_step: dict  # "wall" or "cpu" → label → median milliseconds per step
    largest_difference: dict  # label → max |parameter - framework's| after the same steps


def benchmark(problems: list[SequenceProblem], rounds: int, torch=None,
              steps_per_round: int = STEPS_PER_ROUND) -> list[Result]:
    """Per round, each version trains ``steps_per_round`` steps untimed, then as many timed
    (the first bring its code and data back into the caches), the versions taking turns; the
    median over the rounds of the time per step."""
    results = []
    for problem in problems:
        versions = [FrameworkVersion(problem), BareNodesVersion(problem),
                    CompiledVersion(problem)]
        if torch is not None:
            versions.append(TorchVersion(problem, torch, versions[0].parameters()))
        wall = {v.label: [] for v in versions}
        cpu = {v.label: [] for v in versions}
        for round_number in range(rounds):
            warm_up = problem.batches(steps_per_round, 2 * round_number)
            timed = problem.batches(steps_per_round, 2 * round_number + 1)
            for version in versions:
                version.train(warm_up)
                start_wall, start_cpu = time.perf_counter(), time.process_time()
                version.train(timed)
                cpu[version.label].append((time.process_time() - start_cpu) / steps_per_round)
                wall[version.label].append((time.perf_counter() - start_wall) / steps_per_round)
        reference = versions[0].parameters()
        results.append(Result(
            problem=problem, nodes=len(versions[0].graph),
            ms_per_step={clock: {label: 1e3 * statistics.median(times)
                                 for label, times in measured.items()}
                         for clock, measured in (("wall", wall), ("cpu", cpu))},
            largest_difference={v.label: max(float(np.max(np.abs(value - reference[name])))
                                             for name, value in v.parameters().items())
                                for v in versions[1:]},
        ))
    return results


def rows(results: list[Result], clock: str) -> tuple[list[str], list[list]]:
    """The header and rows of the table that run.py prints."""
    have_torch = any("PyTorch" in r.ms_per_step[clock] for r in results)

    def ratio(a, b):
        return f"{a / b:.2f}×" if a and b else "–"

    have_compiled = any("compiled" in r.ms_per_step[clock] for r in results)
    header = ["model", "batch × T", "nodes", "framework ms", "nodes alone ms"]
    header += ["compiled ms", "compiled ÷ framework"] if have_compiled else []
    header += ["PyTorch ms", "framework ÷ PyTorch", "nodes alone ÷ PyTorch"] if have_torch else []
    header += ["framework ÷ nodes alone", "same parameters (max diff)"]
    table = []
    for r in results:
        ms = r.ms_per_step[clock]
        row = [r.problem.name, f"{r.problem.batch} × {r.problem.steps}", r.nodes,
               f"{ms['framework']:.2f}", f"{ms['nodes alone']:.2f}"]
        if have_compiled:
            compiled = ms.get("compiled")
            row += [f"{compiled:.2f}" if compiled else "–", ratio(compiled, ms["framework"])]
        if have_torch:
            torch_ms = ms.get("PyTorch")
            row += [f"{torch_ms:.2f}" if torch_ms else "–", ratio(ms["framework"], torch_ms),
                    ratio(ms["nodes alone"], torch_ms)]
        same = ", ".join(f"{label} {'yes' if d < 1e-8 else 'NO'} ({d:.1e})"
                         for label, d in r.largest_difference.items())
        row += [ratio(ms["framework"], ms["nodes alone"]), same]
        table.append(row)
    return header, table


def target_lines(results: list[Result]) -> list[str]:
    """Whether each model met the target, per clock, when PyTorch ran."""
    lines = []
    for r in results:
        for clock in ("wall", "cpu"):
            ms = r.ms_per_step[clock]
            if "PyTorch" in ms:
                value = ms["framework"] / ms["PyTorch"]
                verdict = "met" if value <= TARGET else "NOT met"
                lines.append(f"- {r.problem.name}, batch {r.problem.batch} × {r.problem.steps} "
                             f"({clock} time): framework ÷ PyTorch = {value:.2f}× (target ≤ "
                             f"{TARGET}×, {verdict})")
    return lines


def main():
    import run  # the tables and the machine's description, as make bench prints them

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    torch = run.load_torch()
    run.print_machine(torch)
    print()
    rounds = max(1, args.rounds)
    run.print_sequences(benchmark(problems(), rounds, torch), rounds, torch)


if __name__ == "__main__":
    main()
