"""Markov and Shapley: fitted on the credited paths and every journey, under both conventions.

The expected figures are computed here independently of ``algorithmic``: the Markov chain
as a full transition matrix raised to a high power, Shapley values by enumerating every
order in which the channels can join.
"""

import itertools
import math
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leadledger.projections.attribution import (
    UNATTRIBUTED,
    Conversion,
    Credit,
    TouchPoint,
    attribute,
    by_channel,
)
from leadledger.projections.definitions import Definitions, DefinitionsError, load, path_function

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def at(days: float) -> datetime:
    return T0 + timedelta(days=days)


def journey(lead: str, *channels: str, start: float = 0) -> list[TouchPoint]:
    """Touches one day apart from ``start``."""
    return [TouchPoint(at(start + i), f"{lead}-t{i}", c) for i, c in enumerate(channels)]


# A small hand-made set: four conversions (three in EUR, one in USD), three leads and two
# never-identified visitors that did not convert.
CONVERTING = {"L1": ("a", "b"), "L2": ("b",), "L3": ("a", "c", "b", "a"), "L4": ("c",)}
VALUES = {"L1": (Decimal(100), "EUR"), "L2": (Decimal(50), "EUR"),
          "L3": (Decimal(200), "EUR"), "L4": (Decimal(30), "USD")}  # fmt: skip
LOST = {"L5": ("a",), "L6": ("c", "a"), "L7": ("b", "c")}
VISITORS = {"v1": ("a",), "v2": ("a", "a"), "v3": ("a", "b")}


def leads() -> dict[str, list[TouchPoint]]:
    return {lead: journey(lead, *path) for lead, path in (CONVERTING | LOST).items()}


def visitors() -> dict[str, list[TouchPoint]]:
    return {v: journey(v, *path) for v, path in VISITORS.items()}


def conversions() -> list[Conversion]:
    return [Conversion(f"c-{lead}", lead, at(10), value, currency)
            for lead, (value, currency) in VALUES.items()]  # fmt: skip


def chain_conversion(
    converting: list[tuple[str, ...]], lost: list[tuple[str, ...]], removed: str | None = None
) -> float:
    """P(conversion) of the first-order chain: the full transition matrix (absorbing
    conversion and null states included) raised to a high power."""
    channels = sorted({c for p in converting + lost for c in p})
    states = ["start", *channels, "conv", "null"]
    at_ = {s: i for i, s in enumerate(states)}
    counts = np.zeros((len(states), len(states)))
    for paths, end in ((converting, "conv"), (lost, "null")):
        for path in paths:
            for here, there in itertools.pairwise(["start", *path, end]):
                counts[at_[here], at_[there]] += 1
    for absorbing in ("conv", "null"):
        counts[at_[absorbing], at_[absorbing]] = 1
    if removed is not None:
        counts[at_[removed], :] = 0
        counts[at_[removed], at_["null"]] = 1
    matrix = counts / counts.sum(axis=1, keepdims=True)
    return float(np.linalg.matrix_power(matrix, 4096)[at_["start"], at_["conv"]])


def expected_removal_effects(
    converting: list[tuple[str, ...]], lost: list[tuple[str, ...]]
) -> dict[str, float]:
    base = chain_conversion(converting, lost)
    channels = sorted({c for p in converting + lost for c in p})
    return {c: 1 - chain_conversion(converting, lost, removed=c) / base for c in channels}


def totals(credits: list[Credit]) -> dict[tuple[str, str], tuple[float, float]]:
    """(channel, currency) -> (conversions, value)."""
    return {(row.channel, row.currency): (float(row.conversions), float(row.revenue))
            for row in by_channel(credits)}  # fmt: skip


def merged_totals(credits: list[Credit]) -> dict[str, float]:
    """Conversions per channel over all currencies."""
    found: dict[str, float] = defaultdict(float)
    for credit in credits:
        found[credit.channel] += float(credit.weight)
    return dict(found)


def assert_each_conversion_sums_to_its_value(credits: list[Credit]) -> None:
    by_conversion: dict[str, list[Credit]] = defaultdict(list)
    for credit in credits:
        by_conversion[credit.conversion_id].append(credit)
    values = {c.conversion_id: c.value for c in conversions()}
    for conversion_id, found in by_conversion.items():
        assert all(c.weight >= 0 and c.value >= 0 for c in found)
        assert sum(c.weight for c in found) == 1
        assert sum(c.value for c in found) == values[conversion_id]


def test_markov_global_totals_are_removal_effect_shares_of_all_conversions() -> None:
    effects = expected_removal_effects(
        list(CONVERTING.values()), [*LOST.values(), *VISITORS.values()]
    )
    share = {c: e / sum(effects.values()) for c, e in effects.items()}
    credits = attribute("markov", conversions(), leads(), {"convention": "global"},
                        visitors=visitors())  # fmt: skip
    count: Counter[str] = Counter()
    money: dict[str, Decimal] = defaultdict(Decimal)
    for value, currency in VALUES.values():
        count[currency] += 1
        money[currency] += value
    got = totals(credits)
    assert {k: n for k, (n, _) in got.items()} == pytest.approx(
        {(c, cur): s * count[cur] for c, s in share.items() for cur in count}, abs=1e-6
    )  # counts are reported to a millionth
    assert {k: v for k, (_, v) in got.items()} == pytest.approx(
        {(c, cur): s * float(money[cur]) for c, s in share.items() for cur in count}, abs=1e-5
    )  # values are rounded to a millionth per credit
    assert merged_totals(credits) == pytest.approx({c: s * 4 for c, s in share.items()})
    assert_each_conversion_sums_to_its_value(credits)


def test_markov_global_credits_channels_off_the_path_when_the_figures_need_it() -> None:
    # One conversion on a -> b, one on c: every removal effect is 1/2, so each channel earns
    # 2/3 of a conversion, which no split on the paths alone can give a and b together.
    touches = {"L1": journey("L1", "a", "b"), "L2": journey("L2", "c")}
    both = [Conversion(f"c-{lead}", lead, at(5), Decimal(90), "EUR") for lead in ("L1", "L2")]
    credits = attribute("markov", both, touches, {"convention": "global"})
    first = [(c.touch_event_id, c.channel, c.weight, c.value) for c in credits
             if c.conversion_id == "c-L1"]  # fmt: skip
    third = Fraction(1, 3)
    thirty = Decimal(30)
    assert first == [("L1-t0", "a", third, thirty), ("L1-t1", "b", third, thirty),
                     (None, "c", third, thirty)]  # fmt: skip
    assert merged_totals(credits) == pytest.approx(dict.fromkeys("abc", 2 / 3))
    per_path = merged_totals(attribute("markov", both, touches))
    assert per_path == pytest.approx({"a": 0.5, "b": 0.5, "c": 1.0})


def brute_force_shapley(
    paths: list[tuple[str, ...]], worth_of_path: list[float]
) -> dict[str, float]:
    """Average marginal worth over every order of the channels; a coalition is worth the
    conversions (or their value) whose channels it holds."""
    channels = sorted({c for p in paths for c in p})

    def worth(coalition: set[str]) -> float:
        return sum(w for p, w in zip(paths, worth_of_path, strict=True) if set(p) <= coalition)

    found = dict.fromkeys(channels, 0.0)
    for order in itertools.permutations(channels):
        joined: set[str] = set()
        for channel in order:
            before = worth(joined)
            joined.add(channel)
            found[channel] += worth(joined) - before
    return {c: v / math.factorial(len(channels)) for c, v in found.items()}


SHAPLEY_PATHS = {"L1": ("a", "b", "a"), "L2": ("b",), "L3": ("a", "c", "d"), "L4": ("c", "d"),
                 "L5": ("d", "a", "b", "c"), "L6": ("a",)}  # fmt: skip
SHAPLEY_VALUES = [Decimal(120), Decimal(40), Decimal(300), Decimal(10), Decimal(75), Decimal(5)]


def test_shapley_global_totals_are_the_games_values_by_brute_force() -> None:
    paths = list(SHAPLEY_PATHS.values())
    touches = {lead: journey(lead, *p) for lead, p in SHAPLEY_PATHS.items()}
    convs = [Conversion(f"c-{lead}", lead, at(10), value, "EUR")
             for lead, value in zip(SHAPLEY_PATHS, SHAPLEY_VALUES, strict=True)]  # fmt: skip
    credits = attribute("shapley", convs, touches, {"convention": "global"})
    count_game = brute_force_shapley(paths, [1.0] * len(paths))
    value_game = brute_force_shapley(paths, [float(v) for v in SHAPLEY_VALUES])
    got = totals(credits)
    assert {c: count for (c, _), (count, _) in got.items()} == pytest.approx(count_game)
    assert {c: value for (c, _), (_, value) in got.items()} == pytest.approx(value_game)
    assert attribute("shapley", convs, touches) == credits  # global is the default
    # The per-path re-split of the same values gives other totals on this set.
    per_path = merged_totals(attribute("shapley", convs, touches, {"convention": "per_path"}))
    assert per_path != pytest.approx(count_game)


def test_markov_learns_from_never_identified_visitors() -> None:
    converting = list(CONVERTING.values())
    with_visitors = expected_removal_effects(converting, [*LOST.values(), *VISITORS.values()])
    without = expected_removal_effects(converting, list(LOST.values()))
    credits = attribute("markov", conversions(), leads(), visitors=visitors())
    for credit in credits:
        path = CONVERTING[credit.conversion_id.removeprefix("c-")]
        on_path = {c: with_visitors[c] for c in set(path)}
        expected = on_path[credit.channel] / sum(on_path.values()) / path.count(credit.channel)
        assert float(credit.weight) == pytest.approx(expected, rel=1e-9)
    # Leaving the visitors' journeys out, as before, gives other removal effects and credits.
    assert with_visitors != pytest.approx(without, rel=0.01)
    assert attribute("markov", conversions(), leads()) != credits


RULES = {
    "lookback_days": 30,
    "channels": {"exclude": ["internal"]},
    "path_transforms": {"exposure": []},
    "exclude_direct_unless_all": True,
}


def test_journeys_that_did_not_convert_pass_through_the_same_definitions() -> None:
    path_of = path_function(Definitions.model_validate({"attribution": RULES}))
    conversion = Conversion("c-L1", "L1", at(100), Decimal(100), "EUR")
    converting = [TouchPoint(at(75), "t1", "a"), TouchPoint(at(80), "t2", "internal"),
                  TouchPoint(at(90), "t3", "b"), TouchPoint(at(99), "t4", "direct")]  # fmt: skip
    # Lost journeys end at their last touch; the windows are measured from there: a, 50
    # days before its end, falls out of the 30-day lookback, internal is excluded, the run
    # of b collapses (exposure), and direct goes as it is not the whole path.
    lost_lead = [TouchPoint(at(0), "l1", "a"), TouchPoint(at(30), "l2", "internal"),
                 TouchPoint(at(40), "l3", "b"), TouchPoint(at(45), "l4", "b"),
                 TouchPoint(at(50), "l5", "direct")]  # fmt: skip
    lost_visitor = [TouchPoint(at(60), "v1", "direct"), TouchPoint(at(61), "v2", "b")]
    credits = attribute("markov", [conversion], {"L1": converting, "L2": lost_lead},
                        path_of=path_of, visitors={"v": lost_visitor})  # fmt: skip
    # The same journeys transformed by hand, and no definitions.
    by_hand = attribute(
        "markov",
        [conversion],
        {"L1": [converting[0], converting[2]], "L2": [lost_lead[2]]},
        visitors={"v": [lost_visitor[1]]},
    )
    assert [(c.touch_event_id, c.weight) for c in credits] == [
        (c.touch_event_id, c.weight) for c in by_hand
    ]
    # On these journeys it matters: fitting on the raw lost journeys, as before, differs.
    raw = attribute(
        "markov",
        [conversion],
        {"L1": [converting[0], converting[2]], "L2": lost_lead},
        visitors={"v": lost_visitor},
    )
    assert [c.weight for c in raw] != [c.weight for c in credits]


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.lists(st.sampled_from("abcd"), max_size=5), min_size=1, max_size=8),
    st.lists(st.booleans(), min_size=8, max_size=8),
    st.sampled_from(["markov", "shapley"]),
    st.sampled_from(["per_path", "global"]),
)
def test_every_conversion_sums_to_its_value_under_both_conventions(
    paths: list[list[str]], converts: list[bool], model: str, convention: str
) -> None:
    touches = {f"L{i}": journey(f"L{i}", *p) for i, p in enumerate(paths)}
    convs = [Conversion(f"c{i}", f"L{i}", at(9), Decimal("33.33"), "EUR")
             for i in range(len(paths)) if converts[i]]  # fmt: skip
    credits = attribute(model, convs, touches, {"convention": convention})
    for conversion in convs:
        own = [c for c in credits if c.conversion_id == conversion.conversion_id]
        assert all(c.weight >= 0 and c.value >= 0 for c in own)
        assert sum(c.weight for c in own) == 1
        assert sum(c.value for c in own) == conversion.value
        if not touches[conversion.lead_id]:
            assert [c.channel for c in own] == [UNATTRIBUTED]


def test_the_convention_is_checked_when_definitions_load(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[attribution.models.markov]\nconvention = "both"\n', encoding="utf-8")
    with pytest.raises(DefinitionsError, match="'convention' must be one of per_path, global"):
        load(bad)
    good = tmp_path / "good.toml"
    good.write_text('[attribution.models.markov]\nconvention = "global"\n', encoding="utf-8")
    assert load(good).model_params("markov") == {"convention": "global"}
    with pytest.raises(ValueError, match="convention must be one of"):
        attribute("shapley", [], {}, {"convention": "sum"})


def test_credit_rows_name_the_touch_or_only_the_channel() -> None:
    # Global Markov: every credit on this path names its touch; off-path ones only a channel.
    credits = attribute("markov", conversions(), leads(), {"convention": "global"},
                        visitors=visitors())  # fmt: skip
    rows = Counter((c.conversion_id, c.touch_event_id is None) for c in credits)
    assert rows[("c-L2", True)] == 2  # b only: a and c earn their shares off the path
    assert rows[("c-L3", True)] == 0
