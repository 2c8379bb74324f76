"""Mini-batches cover every index exactly once, shuffle reproducibly, and refuse bad sizes."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import framework as fw


@settings(max_examples=40, deadline=None)
@given(n_samples=st.integers(0, 60), batch_size=st.integers(1, 25),
       seed=st.none() | st.integers(0, 2**32 - 1))
def test_every_index_once_in_batches_of_the_given_size(n_samples, batch_size, seed):
    rng = None if seed is None else np.random.default_rng(seed)
    batches = list(fw.minibatches(n_samples, batch_size, rng))
    covered = np.concatenate(batches) if batches else np.array([], dtype=int)
    np.testing.assert_array_equal(np.sort(covered), np.arange(n_samples))
    assert len(batches) == -(-n_samples // batch_size)  # ceil
    assert all(len(batch) == batch_size for batch in batches[:-1])
    assert all(1 <= len(batch) <= batch_size for batch in batches)


def test_without_rng_the_order_is_unchanged():
    batches = list(fw.minibatches(7, 3))
    assert [batch.tolist() for batch in batches] == [[0, 1, 2], [3, 4, 5], [6]]


def test_seeded_shuffling_is_reproducible():
    def batches(seed):
        return [b.tolist() for b in fw.minibatches(50, 8, np.random.default_rng(seed))]

    assert batches(3) == batches(3)
    assert batches(3) != batches(4)
    assert batches(3) != [b.tolist() for b in fw.minibatches(50, 8)], "not shuffled"


def test_a_generator_continues_across_epochs():
    rng = np.random.default_rng(0)
    first = np.concatenate(list(fw.minibatches(30, 7, rng)))
    second = np.concatenate(list(fw.minibatches(30, 7, rng)))
    assert not np.array_equal(first, second), "each epoch should get a new order"


@pytest.mark.parametrize("batch_size", [0, -3])
def test_a_batch_size_below_one_is_refused(batch_size):
    with pytest.raises(ValueError, match=f"batch_size must be at least 1, got {batch_size}"):
        list(fw.minibatches(10, batch_size))


def test_a_negative_count_is_refused_as_a_value_not_a_type():
    with pytest.raises(ValueError, match="n_samples must be at least 0, got -1"):
        list(fw.minibatches(-1, 3))


@pytest.mark.parametrize("what", ["n_samples", "batch_size"])
@pytest.mark.parametrize("count", [2.5, "8", None, True, np.float64(4.0)])
def test_a_count_that_is_not_a_whole_number_is_refused(what, count):
    args = {"n_samples": 10, "batch_size": 3, what: count}
    with pytest.raises(TypeError, match=f"{what} must be a whole number.*{type(count).__name__}"):
        list(fw.minibatches(**args))


@pytest.mark.parametrize("rng", [0, "seed", np.random.default_rng])
def test_an_rng_that_is_not_a_generator_is_refused_naming_it(rng):
    with pytest.raises(TypeError, match=r"rng must be a NumPy random generator, e\.g\. "
                                        r"np\.random\.default_rng\(0\)"):
        list(fw.minibatches(10, 3, rng))


def test_numpy_integer_counts_cover_every_sample():
    """np.int8(64) + 64 overflows: the second batch came out empty and 36 samples were lost."""
    batches = list(fw.minibatches(np.int8(100), np.int8(64)))
    assert [len(b) for b in batches] == [64, 36]
    assert np.array_equal(np.concatenate(batches), np.arange(100))
