"""Benchmarks: training speed against NumPy and PyTorch, sort scaling, and the course's run time.

    .venv/bin/python benchmarks/run.py              # everything, about a minute
    .venv/bin/python benchmarks/run.py --quick      # fewer rounds, smaller sorts, no notebooks
    .venv/bin/python benchmarks/run.py --only training --rounds 101

Prints Markdown tables. Not part of the test suite: nothing here passes or fails, the targets
are only reported. See benchmarks/README.md.
"""

import os

# One BLAS thread, set before NumPy (or PyTorch) is imported, so that the comparison measures
# the code and not how many cores a neighbour leaves free.
for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_variable] = "1"
# Some machines set these for old OpenBLAS builds; they slow a current NumPy down. Unset here,
# in this process only (the tests and CI keep them); the kernel in use is printed below.
_OPENBLAS_OVERRIDES = {
    name: os.environ.pop(name)
    for name in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
    if name in os.environ
}

import argparse  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the framework, uninstalled

import course  # noqa: E402
import layers_speed  # noqa: E402
import numpy as np  # noqa: E402
import overhead  # noqa: E402
import sequences  # noqa: E402
import sorting  # noqa: E402
import training  # noqa: E402

TARGETS = {  # problem → the largest framework ÷ NumPy ratio we aim for (and: beat PyTorch)
    "digits MLP 64-128-10": 1.10,
    "diabetes MLP 10-10-16-1 sigmoid": 1.40,
    "digits CNN c8-pool-c16-10": 1.20,
}
COMPILED_TARGETS = {  # problem → the largest compiled ÷ NumPy ratio we aim for (issue 23)
    "diabetes MLP 10-10-16-1 sigmoid": 1.0,
    "digits MLP 64-128-10": 1.05,
}
CHAIN_TARGET_SECONDS = 0.7


def table(header: list[str], rows: list[list]) -> str:
    """A Markdown table, columns padded so that it also reads as plain text."""
    cells = [[str(c) for c in row] for row in [header, *rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |"
             for row in cells]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def load_torch():
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(1)
    return torch


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def blas_description() -> str:
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "threadpoolctl not installed; OMP/OPENBLAS/MKL_NUM_THREADS=1 set"
    pools = [p for p in threadpool_info() if p["user_api"] == "blas"]
    return "; ".join(
        f"{p['internal_api']} {p['version']}, kernel {p.get('architecture', '?')}, "
        f"{p['num_threads']} thread(s)" for p in pools
    ) or "no BLAS found by threadpoolctl"


def print_machine(torch):
    print("## Machine\n")
    print(f"- CPU: {cpu_model()}, {os.cpu_count()} logical cores")
    print(f"- Python {platform.python_version()}, NumPy {np.__version__}, "
          + (f"PyTorch {torch.__version__}" if torch else "PyTorch not installed"))
    print(f"- NumPy's BLAS: {blas_description()}")
    if torch:
        print(f"- PyTorch threads: {torch.get_num_threads()} (intra-op)")
    if _OPENBLAS_OVERRIDES:
        print(f"- unset for this run: {_OPENBLAS_OVERRIDES}")
    print(f"- load average at start: {os.getloadavg()[0]:.2f}")


def ratio(a, b):
    return f"{a / b:.2f}×" if a and b else "–"


CHECKED = "NumPy + checks"  # training.CheckedNumpyMLP: the MLPs only
COMPILED = "compiled"  # training.CompiledMLP and CompiledCNN: fw.compile
BARE = "nodes alone"  # training.BareNodesMLP: the MLPs only


def print_training(results, clock: str):
    have_torch = any("PyTorch" in r.ms_per_epoch[clock] for r in results)
    have_checked = any(CHECKED in r.ms_per_epoch[clock] for r in results)
    have_compiled = any(COMPILED in r.ms_per_epoch[clock] for r in results)
    header = ["model", "batch", "steps/epoch", "framework ms", "NumPy ms"]
    header += [f"{COMPILED} ms"] if have_compiled else []
    header += [f"{CHECKED} ms"] if have_checked else []
    header += ["PyTorch ms"] if have_torch else []
    header += ["framework ÷ NumPy", "per round: min–max"]
    header += [f"{COMPILED} ÷ NumPy", "per round: median (quartiles)"] if have_compiled else []
    header += [f"{CHECKED} ÷ NumPy", f"framework ÷ ({CHECKED})"] if have_checked else []
    header += ["framework ÷ PyTorch"] if have_torch else []
    rows = []
    for r in results:
        ms = r.ms_per_epoch[clock]
        row = [r.problem.name, r.problem.batch_size, r.steps_per_epoch,
               f"{ms['framework']:.2f}", f"{ms['NumPy']:.2f}"]
        if have_compiled:
            row.append(f"{ms[COMPILED]:.2f}" if COMPILED in ms else "–")
        if have_checked:
            row.append(f"{ms[CHECKED]:.2f}" if CHECKED in ms else "–")
        if have_torch:
            row.append(f"{ms['PyTorch']:.2f}" if "PyTorch" in ms else "–")
        row.append(ratio(ms["framework"], ms["NumPy"]))
        low, high = r.round_ratios[clock]
        row.append(f"{low:.2f}–{high:.2f}×")
        if have_compiled:
            row += [ratio(ms.get(COMPILED), ms["NumPy"]), compiled_rounds(r, clock)]
        if have_checked:
            row += [ratio(ms.get(CHECKED), ms["NumPy"]), ratio(ms["framework"], ms.get(CHECKED))]
        if have_torch:
            row.append(ratio(ms["framework"], ms.get("PyTorch")))
        rows.append(row)
    print(table(header, rows))


def compiled_rounds(result, clock: str) -> str:
    """The median and quartiles of the rounds' compiled ÷ NumPy: each round times the two one
    right after the other, so a busy neighbour disturbs a round's ratio least."""
    ratios = result.compiled_ratios.get(clock) or []
    if not ratios:
        return "–"
    n = len(ratios)
    return (f"{statistics.median(ratios):.3f}× "
            f"({ratios[n // 4]:.2f}–{ratios[(3 * n) // 4]:.2f}×)")


def print_floor(results, clock: str):
    """The framework's ratio to NumPy as two factors: what its nodes cost by themselves (a
    Python call each, the ops' own checks), and what the passes and the optimizer add."""
    rows = []
    for r in results:
        ms = r.ms_per_epoch[clock]
        if BARE in ms:
            rows.append([r.problem.name, f"{ms['NumPy']:.2f}", f"{ms[BARE]:.2f}",
                         f"{ms['framework']:.2f}", ratio(ms[BARE], ms["NumPy"]),
                         ratio(ms["framework"], ms[BARE]), ratio(ms["framework"], ms["NumPy"])])
    print(table(["model", "NumPy ms", f"{BARE} ms", "framework ms", f"{BARE} ÷ NumPy",
                 f"framework ÷ {BARE}", "framework ÷ NumPy"], rows))


def print_checks(results):
    rows = []
    for r in results:
        same = [f"{label} {'yes' if ok else 'NO'} (max diff {r.largest_difference[label]:.1e})"
                for label, ok in r.same_as_framework.items()]
        rows.append([r.problem.name, r.epochs, ", ".join(same),
                     "yes" if r.skips_data_gradients else "NO"])
    print(table(["model", "epochs", "same parameters as the framework (np.allclose)",
                 "no gradient toward x, y"], rows))


def print_layers(result):
    """The digits MLP from L.Sequential against the same from ops, per training step."""
    rows = []
    for clock in ("wall", "cpu"):
        step, best = result.us_per_step[clock], result.best_us_per_step[clock]
        ratios = result.round_ratios[clock]
        quartiles = ratios[len(ratios) // 4], ratios[(3 * len(ratios)) // 4]
        rows.append([result.problem.name, clock, result.problem.batch_size,
                     f"{result.nodes[0]} / {result.nodes[1]}",
                     f"{step['ops']:.1f} ({best['ops']:.1f})",
                     f"{step['layers']:.1f} ({best['layers']:.1f})",
                     f"{result.ratio(clock):.3f}×", "{:.2f}–{:.2f}×".format(*quartiles),
                     f"{ratios[0]:.2f}–{ratios[-1]:.2f}×"])
    print(table(["model", "clock", "batch", "nodes (ops / layers)",
                 "ops µs/step: median (best)", "layers µs/step: median (best)",
                 "layers ÷ ops: median of rounds", "quartiles", "min–max"], rows))
    print(f"\nThe same parameters after {result.epochs} epochs of each: largest difference "
          f"{result.largest_difference:.1e}.")


def print_sequences(results, rounds: int, torch):
    """The LSTM and the transformer (sequences.py): fewer rounds than the MLPs', since a step
    of the larger models takes some 30 ms; their target is stated with them."""
    print(f"## Sequences: milliseconds per training step, median of {rounds} interleaved "
          f"rounds of {sequences.STEPS_PER_ROUND} steps\n")
    if torch is None:
        print("(PyTorch is not installed, so its columns are skipped; see README.md.)\n")
    print(table(*sequences.rows(results, "wall")))
    print("\nThe same steps in CPU time:\n")
    print(table(*sequences.rows(results, "cpu")))
    print()
    for line in sequences.target_lines(results):
        print(line)
    print()


def print_targets(results, chain_seconds, layers=None):
    print("## Targets\n")
    for r in results:
        limit = TARGETS.get(r.problem.name)
        if limit is None:
            continue
        for clock in ("wall", "cpu"):
            ms = r.ms_per_epoch[clock]
            value = ms["framework"] / ms["NumPy"]
            verdict = "met" if value <= limit else "NOT met"
            line = (f"- {r.problem.name}, batch {r.problem.batch_size} ({clock} time): "
                    f"framework ÷ NumPy = {value:.2f}× (target ≤ {limit}×, {verdict})")
            if "PyTorch" in ms:
                faster = ms["framework"] < ms["PyTorch"]
                line += f"; faster than PyTorch: {'yes' if faster else 'NO'}"
            print(line)
    for r in results:
        limit = COMPILED_TARGETS.get(r.problem.name)
        for clock in ("wall", "cpu"):
            if not (limit and r.compiled_ratios.get(clock)):
                continue
            ms = r.ms_per_epoch[clock]
            value = statistics.median(r.compiled_ratios[clock])
            verdict = "met" if value <= limit else "NOT met"
            print(f"- {r.problem.name}, batch {r.problem.batch_size} ({clock} time): compiled "
                  f"÷ NumPy = {value:.3f}× (median of the rounds; of the medians "
                  f"{ms[COMPILED] / ms['NumPy']:.3f}×; target ≤ {limit}×, {verdict})")
    if layers is not None:
        for clock in ("wall", "cpu"):
            value = layers.ratio(clock)
            verdict = "met" if value <= layers_speed.TARGET else "NOT met"
            print(f"- {layers.problem.name} built with L.Sequential ÷ the same from ops "
                  f"({clock} time): {value:.3f}× (target ≤ {layers_speed.TARGET}×, {verdict})")
    if chain_seconds is not None:
        verdict = "met" if chain_seconds < CHAIN_TARGET_SECONDS else "NOT met"
        print(f"- 10^6-node chain sorted in {chain_seconds:.2f} s "
              f"(target < {CHAIN_TARGET_SECONDS} s, {verdict})")
    print()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="fewer rounds, sorts up to 10^5 nodes, no notebooks")
    parser.add_argument("--rounds", type=int, default=None,
                        help="timed epochs per version, each after an untimed one "
                             "(default 40, quick 8)")
    parser.add_argument("--only", default="training,sequences,overhead,layers,sort,course",
                        help="comma-separated parts to run: training, sequences, overhead, "
                             "layers, sort, course")
    args = parser.parse_args()
    parts = set(args.only.split(","))
    rounds = max(1, args.rounds or (8 if args.quick else 40))

    torch = load_torch()
    print_machine(torch)
    print()

    results, chain_seconds, layers = [], None, None
    if "training" in parts:
        mlps = [training.digits(), training.original_net(), training.diabetes(),
                training.digits(hidden=512, batch_size=256)]
        # The CNN's rounds run apart: its large arrays would change what malloc does for the
        # MLPs' small ones (see "Reading the numbers" in README.md).
        results = (training.benchmark(mlps, rounds, torch)
                   + training.benchmark([training.digits_cnn()], rounds, torch))
        print(f"## Training: milliseconds per epoch, median of {rounds} interleaved rounds\n")
        if torch is None:
            print("(PyTorch is not installed, so its column is skipped; see README.md.)\n")
        print_training(results, "wall")
        print("\nThe same epochs in CPU time (time.process_time), which a busy neighbour "
              "disturbs less:\n")
        print_training(results, "cpu")
        print("\nThe floor of this design (CPU time): the nodes alone, each forward and backward "
              "called in order with none of the passes' and the optimizer's bookkeeping and "
              "checks (training.BareNodesMLP; not a way to train):\n")
        print_floor(results, "cpu")
        print()
        print_checks(results)
        print()

    if "sequences" in parts:
        print_sequences(sequences.benchmark(sequences.problems(), max(1, rounds // 4), torch),
                        max(1, rounds // 4), torch)

    if "overhead" in parts:
        costs = overhead.benchmark([training.digits(), training.original_net(),
                                    training.diabetes()])
        print("## One step, piece by piece: microseconds, best of 15 × 200 repeats\n")
        pieces = ["forward", "backward", "optimizer", "framework step", "NumPy step",
                  "compiled step"]
        print(table(
            ["model", "nodes", *pieces, "framework extra per node"],
            [[c.name, c.nodes, *(f"{c.microseconds[p]:.1f}" for p in pieces),
              f"{c.extra_per_node:.2f}"] for c in costs],
        ))
        print()

    if "layers" in parts:
        layers = layers_speed.benchmark(training.digits(), rounds)
        print(f"## Layers against ops: microseconds per training step, median of {rounds} "
              "interleaved rounds\n")
        print_layers(layers)
        print()

    if "sort" in parts:
        sizes = [10**4, 10**5] if args.quick else [10**4, 10**5, 10**6]
        timings = sorting.benchmark(sizes, repeats=3)
        print("## Topological sort: median of 3 sorts\n")
        print(table(
            ["graph", "nodes", "edges", "seconds", "µs per node"],
            [[t.shape, f"{t.nodes:,}", f"{t.edges:,}", f"{t.seconds:.3f}",
              f"{t.microseconds_per_node:.2f}"] for t in timings],
        ))
        print()
        chains = [t for t in timings if t.shape == "chain" and t.nodes == 10**6]
        chain_seconds = chains[0].seconds if chains else None

    if "course" in parts and not args.quick:
        print("## The course: running every notebook, kernel start included\n")
        found = course.notebooks()
        if not found:
            print("No notebooks found: skipped.\n")
        elif not course.can_run():
            print("nbclient is not installed (it comes with `make venv`): skipped.\n")
        else:
            timings = course.benchmark()
            rows = [[t.name, f"{t.seconds:.1f}", t.error or "ok"] for t in timings]
            rows.append(["**total**", f"{sum(t.seconds for t in timings):.1f}", ""])
            print(table(["notebook", "seconds", "result"], rows))
            print()

    print_targets(results, chain_seconds, layers)
    print(f"Load average at the end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
