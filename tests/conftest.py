"""Shared test setup: draw figures off screen, so the suite runs headless."""

import matplotlib

matplotlib.use("Agg")
