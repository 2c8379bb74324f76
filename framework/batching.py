"""Mini-batches: shuffled slices of a data set, one epoch at a time."""

import numpy as np


def minibatches(n_samples: int, batch_size: int, rng: np.random.Generator | None = None):
    """Yield index arrays that cover ``range(n_samples)`` once, ``batch_size`` at a time.

    With ``rng`` the order is shuffled (seed it for reproducible runs); the last batch may be
    smaller. Index the data with them: ``x.value = X[idx]``.
    """
    if not isinstance(n_samples, (int, np.integer)) or n_samples < 0:
        raise TypeError(f"n_samples must be a count such as len(X), got {type(n_samples).__name__}")
    if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"batch_size must be a whole number of at least 1, got {batch_size!r}")
    order = rng.permutation(n_samples) if rng is not None else np.arange(n_samples)
    for start in range(0, n_samples, batch_size):
        yield order[start:start + batch_size]
