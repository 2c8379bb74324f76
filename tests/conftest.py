"""Shared test setup: draw figures off screen, so the suite runs headless, and let CI replay
the same hypothesis examples on every run (locally they are new each time, to find more)."""

import os

# Kernels that nbval starts inherit these: one BLAS thread each, as `make test` sets, so that a
# plain `pytest` does not oversubscribe two cores (see the Makefile).
for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(variable, "1")

import matplotlib  # noqa: E402
from hypothesis import settings  # noqa: E402

matplotlib.use("Agg")

settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")
