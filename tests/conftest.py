"""Shared test setup: draw figures off screen, so the suite runs headless, and let CI replay
the same hypothesis examples on every run (locally they are new each time, to find more)."""

import os

import matplotlib
from hypothesis import settings

matplotlib.use("Agg")

settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")
