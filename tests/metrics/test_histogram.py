from __future__ import annotations

import math

import pytest

from django_prodkit.metrics.histogram import BOUNDS_MS, LABELS, bucket_of, quantile


def histogram(samples_ms):
    counts = [0] * (len(BOUNDS_MS) + 1)
    for sample in samples_ms:
        counts[bucket_of(sample / 1000)] += 1
    return counts


def test_buckets_are_the_documented_bounds_and_an_unbounded_one():
    assert BOUNDS_MS == (5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000)
    assert LABELS[0] == "5"
    assert LABELS[-2:] == ("10000", "inf")


@pytest.mark.parametrize(
    ("ms", "index"),
    [
        (0, 0),
        (4.9, 0),
        (5, 0),
        (5.001, 1),
        (100, 4),
        (100.5, 5),
        (10000, 10),
        (10001, 11),
    ],
)
def test_a_duration_on_a_bound_falls_in_the_bucket_that_ends_there(ms, index):
    assert bucket_of(ms / 1000) == index


@pytest.mark.parametrize(("q", "expected"), [(0.5, 500), (0.95, 950), (0.99, 990)])
def test_uniform_samples_from_1_to_1000_ms(q, expected):
    counts = histogram(range(1, 1001))
    assert quantile(counts, q) == pytest.approx(expected)


def test_uniform_samples_inside_one_bucket_interpolate_linearly():
    # 100 samples from 101 to 200 ms all fall in (100, 250]: Prometheus assumes them
    # spread over the whole bucket.
    counts = histogram(range(101, 201))
    assert quantile(counts, 0.5) == pytest.approx(175)
    assert quantile(counts, 0.1) == pytest.approx(115)


def test_samples_exactly_on_a_bound():
    counts = histogram([100] * 10)
    assert counts[4] == 10
    assert quantile(counts, 1.0) == pytest.approx(100)
    assert quantile(counts, 0.5) == pytest.approx(75)


def test_a_rank_at_the_top_of_a_bucket_gives_its_bound():
    counts = histogram([3] * 50 + [300] * 50)
    assert quantile(counts, 0.5) == pytest.approx(5)
    assert quantile(counts, 0.51) == pytest.approx(250 + 250 * 0.02)


def test_the_unbounded_bucket_gives_the_highest_finite_bound():
    counts = histogram([20000] * 9 + [1])
    assert quantile(counts, 0.5) == 10000
    assert quantile(counts, 0.05) == pytest.approx(5 * 0.5)


def test_q_zero_is_the_lower_bound_of_the_first_bucket_with_a_count():
    assert quantile(histogram([60, 70]), 0) == 50


def test_no_samples_has_no_quantile():
    assert quantile([0] * 12, 0.5) is None


@pytest.mark.parametrize("q", [-0.1, 1.1, math.nan])
def test_q_outside_0_to_1_is_refused(q):
    with pytest.raises(ValueError, match="q must be between 0 and 1"):
        quantile([1] * 12, q)


def test_a_histogram_of_the_wrong_length_is_refused():
    with pytest.raises(ValueError, match="expected 12 bucket counts, got 3"):
        quantile([1, 2, 3], 0.5)


def test_other_bounds_can_be_given():
    assert quantile([10, 10, 0], 0.75, bounds=(1, 2)) == pytest.approx(1.5)
