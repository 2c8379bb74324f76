"""Mini-batches: shuffled slices of a data set, one epoch at a time."""

import numpy as np


def minibatches(n_samples: int, batch_size: int, rng: np.random.Generator | None = None):
    """Yield index arrays that cover ``range(n_samples)`` once, ``batch_size`` at a time.

    With ``rng`` the order is shuffled (seed it for reproducible runs); the last batch may be
    smaller. Index the data with them: ``x.value = X[idx]``.
    """
    for what, count, least in (("n_samples", n_samples, 0), ("batch_size", batch_size, 1)):
        if isinstance(count, bool) or not isinstance(count, (int, np.integer)):
            raise TypeError(f"{what} must be a whole number such as len(X), got {count!r} "
                            f"({type(count).__name__})")
        if count < least:
            raise ValueError(f"{what} must be at least {least}, got {count}")
    if rng is not None and not isinstance(rng, (np.random.Generator, np.random.RandomState)):
        raise TypeError(f"rng must be a NumPy random generator, e.g. np.random.default_rng(0), "
                        f"or None for no shuffling; got {rng!r} ({type(rng).__name__})")
    # Python ints from here: NumPy's small integers would overflow in start + batch_size.
    n_samples, batch_size = int(n_samples), int(batch_size)
    order = rng.permutation(n_samples) if rng is not None else np.arange(n_samples)
    for start in range(0, n_samples, batch_size):
        yield order[start:start + batch_size]
