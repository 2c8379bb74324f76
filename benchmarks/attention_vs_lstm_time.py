"""How many LSTM steps take as long as notebook 15's transformer steps, on this machine.

    .venv/bin/python benchmarks/attention_vs_lstm_time.py              # 3 rounds
    .venv/bin/python benchmarks/attention_vs_lstm_time.py --rounds 5

Notebook 15 compares its small transformer with an LSTM given the same training time. Its
outputs must not depend on the machine, so it fixes both step counts (TRANSFORMER_STEPS and
LSTM_STEPS) and says how long they took where it was run. This script measures them again:
it runs the notebook's own definitions (every code cell of solutions/15_attention.ipynb up to
the LSTM's class, without the cells that train), then times ``train_steps`` for both models,
taking turns, one BLAS thread each as ``make`` runs them, and prints the median time per step
and the LSTM steps that match the notebook's transformer steps.
"""

from __future__ import annotations

import os

for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")  # before NumPy is imported, as the Makefile does

import argparse  # noqa: E402
import contextlib  # noqa: E402
import io  # noqa: E402
import re  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import matplotlib  # noqa: E402
import nbformat  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "solutions" / "15_attention.ipynb"
TRAINING_CELLS = ("TRANSFORMER_STEPS", "report(")  # the cells that train: left out
LAST = "class LSTMModel"  # the cell that defines the LSTM, cut before it trains


def step_count(cells: list[str], name: str) -> int:
    """The number the notebook assigns to ``name`` (TRANSFORMER_STEPS, LSTM_STEPS)."""
    for source in cells:
        match = re.search(rf"^{name}(?:, \w+)* = (\d+)", source, re.MULTILINE)
        if match:
            return int(match.group(1))
    raise SystemExit(f"{NOTEBOOK.name}: no cell sets {name}; update this script")


def code_cells() -> list[str]:
    return [cell.source for cell in nbformat.read(NOTEBOOK, as_version=4).cells
            if cell.cell_type == "code"]


def notebook_definitions(cells: list[str]) -> dict:
    """The namespace of the notebook's cells up to LSTMModel, run from solutions/."""
    sources = []
    for source in cells:
        if source.startswith(TRAINING_CELLS):
            continue
        if LAST in source:
            sources.append(source[:source.index("LSTM_STEPS =")])
            break
        sources.append(source)
    else:
        raise SystemExit(f"{NOTEBOOK.name}: no cell defines {LAST!r}; update this script")
    matplotlib.use("Agg")
    namespace: dict = {}
    here = Path.cwd()
    os.chdir(NOTEBOOK.parent)  # the notebook reads ../data/
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            exec("\n\n".join(sources), namespace)  # the course's own notebook
    finally:
        os.chdir(here)
    return namespace


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=400, help="steps per timed run")
    args = parser.parse_args()
    cells = code_cells()
    steps, lstm_steps = step_count(cells, "TRANSFORMER_STEPS"), step_count(cells, "LSTM_STEPS")
    space = notebook_definitions(cells)
    np = space["np"]
    makers = {"transformer": lambda: space["TinyTransformer"](np.random.default_rng(0)),
              "LSTM": lambda: space["LSTMModel"](np.random.default_rng(0))}
    per_step = {name: [] for name in makers}
    for round_number in range(args.rounds):
        order = list(makers) if round_number % 2 == 0 else list(reversed(makers))
        for name in order:
            model = makers[name]()
            start = time.perf_counter()
            space["train_steps"](model, args.steps, seed=2)
            per_step[name].append((time.perf_counter() - start) / args.steps)
        print(f"round {round_number + 1}: " + ", ".join(
            f"{name} {1000 * times[-1]:.2f} ms per step" for name, times in per_step.items()))
    transformer = statistics.median(per_step["transformer"])
    lstm = statistics.median(per_step["LSTM"])
    print(f"median: transformer {1000 * transformer:.2f} ms, LSTM {1000 * lstm:.2f} ms per step")
    print(f"{steps} transformer steps take {steps * transformer:.1f} s, as long as "
          f"{steps * transformer / lstm:.0f} LSTM steps (the notebook runs {lstm_steps}, "
          f"{lstm_steps * lstm:.1f} s)")


if __name__ == "__main__":
    main()
