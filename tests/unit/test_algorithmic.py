"""Markov removal effects and Shapley values on journeys small enough to solve by hand."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from leadledger.projections.algorithmic import (
    conversion_probability,
    removal_effects,
    shapley_values,
)
from leadledger.projections.attribution import Conversion, TouchPoint, attribute

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def test_markov_first_order_by_hand() -> None:
    # start->a 2/3, start->b 1/3; a->conversion 1/2, a->null 1/2; b->conversion 1.
    converting, lost = [["a"], ["b"]], [["a"]]
    assert conversion_probability(converting, lost) == pytest.approx(2 / 3)
    # Without a: only b's third converts, 1/3 of 2/3 lost -> 0.5; the same for b.
    assert removal_effects(converting, lost) == pytest.approx({"a": 0.5, "b": 0.5})


def test_markov_chain_needs_both_channels_of_a_sequence() -> None:
    assert removal_effects([["a", "b"]], [["a"]]) == pytest.approx({"a": 1.0, "b": 1.0})


def test_markov_second_order_sees_what_came_before() -> None:
    # Order 2: state (a, b) converts, (c, b) does not; removing a kills all conversions.
    converting, lost = [["a", "b"]] * 2, [["c", "b"]] * 2
    effects = removal_effects(converting, lost, order=2)
    assert effects["a"] == pytest.approx(1.0)
    assert effects["c"] == pytest.approx(0.0)


def test_shapley_exact_by_hand() -> None:
    # v({a}) = 1, v({b}) = 0, v({a, b}) = 2: a gets (1 + 2) / 2, b gets (0 + 1) / 2.
    assert shapley_values([["a"], ["a", "b"]]) == pytest.approx({"a": 1.5, "b": 0.5})


def test_shapley_sampled_beyond_the_exact_limit_is_seeded_and_close() -> None:
    paths = [["a"], ["a", "b"], ["b", "c"], ["c"], ["a", "b", "c"]]
    exact = shapley_values(paths)
    sampled = shapley_values(paths, exact_up_to=0, samples=4000, seed=11)
    assert sampled == shapley_values(paths, exact_up_to=0, samples=4000, seed=11)
    assert sampled == pytest.approx(exact, rel=0.05)
    assert sum(exact.values()) == pytest.approx(len(paths))  # efficiency


def test_markov_credits_split_each_conversion_by_removal_effects() -> None:
    touches = {
        "L1": [TouchPoint(T0, "t1", "a"), TouchPoint(T0 + timedelta(1), "t2", "b")],
        "L2": [TouchPoint(T0, "t3", "a")],  # never converts
    }
    conversion = Conversion("c1", "L1", T0 + timedelta(days=5), Decimal(90), "EUR")
    credits = attribute("markov", [conversion], touches)
    # Both channels are needed for the only conversion: equal removal effects.
    assert [(c.channel, c.value) for c in credits] == [("a", Decimal(45)), ("b", Decimal(45))]
