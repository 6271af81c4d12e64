"""Attribution models, windows and transforms against hand-computed fixtures."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from fractions import Fraction as F  # noqa: N817 (fixtures read as fractions)
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leadledger.projections.attribution import (
    MODELS,
    UNATTRIBUTED,
    Conversion,
    TouchPoint,
    attribute,
    by_channel,
    channel_totals,
)
from leadledger.projections.definitions import (
    Definitions,
    DefinitionsError,
    load,
    path_function,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def at(days: float) -> datetime:
    return T0 + timedelta(days=days)


def path_of(*channels: str) -> list[TouchPoint]:
    """Touches one day apart, event ids t0, t1, ... in order."""
    return [TouchPoint(at(i), f"t{i}", c) for i, c in enumerate(channels)]


def weights(
    model: str, touches: list[TouchPoint], params: dict[str, Any] | None = None, **conv: Any
) -> list[F]:
    conversion = Conversion("c", "L1", conv.pop("when", at(10)), Decimal(100), "EUR", **conv)
    credits = {
        c.touch_event_id: c.weight for c in attribute(model, [conversion], {"L1": touches}, params)
    }
    return [credits.get(t.event_id, F(0)) for t in touches]


FOUR = path_of("paid_search", "email", "direct", "referral")


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ("first_touch", [1, 0, 0, 0]),
        ("last_touch", [0, 0, 0, 1]),
        ("linear", [F(1, 4)] * 4),
        ("position_based", [F(2, 5), F(1, 10), F(1, 10), F(2, 5)]),
        ("j_shaped", [F(1, 5), F(1, 10), F(1, 10), F(3, 5)]),
        ("inverse_j", [F(3, 5), F(1, 10), F(1, 10), F(1, 5)]),
    ],
)
def test_position_models_on_four_touches(model: str, expected: list[F]) -> None:
    assert weights(model, FOUR) == expected


def test_position_based_gives_one_touch_everything_and_two_touches_half_each() -> None:
    assert weights("position_based", path_of("email")) == [1]
    assert weights("position_based", path_of("email", "paid_search")) == [F(1, 2), F(1, 2)]


def test_last_non_direct_skips_direct_unless_all_direct() -> None:
    assert weights("last_non_direct", path_of("email", "referral", "direct")) == [0, 1, 0]
    assert weights("last_non_direct", path_of("direct", "direct")) == [0, 1]


def test_time_decay_halves_weight_per_half_life() -> None:
    # Touches 14, 7 and 0 days before the conversion, half-life 7: raw 1/4, 1/2, 1.
    touches = [TouchPoint(at(d), f"t{d}", "email") for d in (0, 7, 14)]
    assert weights("time_decay", touches, when=at(14)) == [F(1, 7), F(2, 7), F(4, 7)]


def test_w_shaped_credits_first_lead_and_opportunity_touches() -> None:
    # Lead created after t1, opportunity after t3: picks t0, t1, t3 at 30%; t2 and t4 share 10%.
    five = path_of("a", "b", "c", "d", "e")
    milestones = {"lead": at(1.5), "opportunity": at(3.5)}
    got = weights("w_shaped", five, milestones=milestones)
    assert got == [F(3, 10), F(3, 10), F(1, 20), F(3, 10), F(1, 20)]


def test_full_path_adds_the_closing_touch() -> None:
    five = path_of("a", "b", "c", "d", "e")
    got = weights("full_path", five, milestones={"lead": at(1.5), "opportunity": at(2.5)})
    # t0, t1, t2 and t4 (the last touch before the win) get 22.5% each; t3 gets 10%.
    assert got == [F(9, 40), F(9, 40), F(9, 40), F(1, 10), F(9, 40)]


def test_milestones_on_the_same_touch_add_up() -> None:
    two = path_of("a", "b")
    got = weights("w_shaped", two, milestones={"lead": at(0.5), "opportunity": at(0.7)})
    # t0 is first, lead and opportunity touch: 90%; t1 gets the remaining 10%.
    assert got == [F(9, 10), F(1, 10)]


def test_custom_weights_by_position_and_by_channel() -> None:
    assert weights("custom_position", FOUR, {"weights": ["3", "1"]}) == [
        F(1, 2), F(1, 6), F(1, 6), F(1, 6),
    ]  # fmt: skip
    channel_weights = {"weights": {"paid_search": 2, "email": 1}, "default": 0}
    assert weights("custom_channel", FOUR, channel_weights) == [F(2, 3), F(1, 3), 0, 0]


def test_values_are_split_exactly_and_rounding_goes_to_the_largest_share() -> None:
    conversion = Conversion("c", "L1", at(10), Decimal(100), "EUR")
    credits = attribute("linear", [conversion], {"L1": path_of("a", "b", "c")})
    assert [c.value for c in credits] == [
        Decimal("33.333334"), Decimal("33.333333"), Decimal("33.333333"),
    ]  # fmt: skip
    assert sum(c.value for c in credits) == Decimal(100)


def test_a_conversion_without_touches_is_unattributed_not_dropped() -> None:
    conversion = Conversion("c", "L9", at(2), Decimal(7), "USD")
    [credit] = attribute("first_touch", [conversion], {})
    assert (credit.channel, credit.touch_event_id, credit.value) == (UNATTRIBUTED, None, Decimal(7))


def test_touches_after_the_conversion_and_ties_in_time() -> None:
    touches = [
        TouchPoint(at(1), "z", "email"),
        TouchPoint(at(1), "m", "display"),
        TouchPoint(at(9), "late", "referral"),
    ]
    conversion = Conversion("c", "L1", at(5), Decimal(1), "EUR")
    [first] = attribute("first_touch", [conversion], {"L1": touches})
    assert first.touch_event_id == "m"
    assert {c.touch_event_id for c in attribute("linear", [conversion], {"L1": touches})} == {
        "m", "z",
    }  # fmt: skip


def definitions(**attribution: Any) -> Definitions:
    return Definitions.model_validate({"attribution": attribution})


def transformed(defs: Definitions, *channels: str, when: float = 10) -> list[str]:
    conversion = Conversion("c", "L1", at(when), Decimal(1), "EUR")
    return [t.channel for t in path_function(defs)(conversion, path_of(*channels))]


D, A, B, C = "direct", "a", "b", "c"


@pytest.mark.parametrize(
    ("transforms", "expected"),
    [
        ({"unique": None}, [D, A, B, B, C, D, C, C]),
        ({"exposure": None}, [D, A, B, C, D, C]),
        ({"first": None}, [D, A, B, C]),
        ({"remove_if_not_all": ["c"]}, [D, A, B, B, D]),
        ({"remove_if_last_and_not_all": ["c"]}, [D, A, B, B, C, D]),
        ({"exposure": None, "remove_if_last_and_not_all": ["c", "d"]}, [D, A, B, C, D]),
    ],
)
def test_path_transforms_match_snowplow_examples(
    transforms: dict[str, Any], expected: list[str]
) -> None:
    defs = definitions(path_transforms=transforms, exclude_direct_unless_all=False)
    assert transformed(defs, D, A, B, B, C, D, C, C) == expected


def test_direct_is_excluded_unless_the_whole_path_is_direct() -> None:
    assert transformed(definitions(), D, A, D, B) == [A, B]
    assert transformed(definitions(), D, D) == [D, D]


def test_lookback_window_channel_windows_and_filters() -> None:
    # Touches at days 0..3, conversion at day 10: days before conversion 10, 9, 8, 7.
    assert transformed(definitions(lookback_days=8.5), A, B, C, A) == [C, A]
    assert transformed(definitions(conversion_windows={"a": 8}), A, B, C, A) == [B, C, A]
    assert transformed(definitions(channels={"include": ["a", "b"]}), A, B, C) == [A, B]
    assert transformed(definitions(channels={"exclude": ["a"]}), A, B, C) == [B, C]


def test_one_offline_touch_reported_by_two_systems_counts_once() -> None:
    conversion = Conversion("c", "L1", at(10), Decimal(1), "EUR")
    twice = [TouchPoint(at(1), "crm-1", "events"), TouchPoint(at(1), "sheet-1", "events")]
    assert [t.event_id for t in path_function(definitions())(conversion, twice)] == ["crm-1"]


def test_definitions_file_is_validated_and_named_by_its_content(tmp_path: Path) -> None:
    good = tmp_path / "good.toml"
    good.write_text('[attribution]\nlookback_days = 30\n[attribution.models.time_decay]\n'
                    "half_life_days = 3\n")  # fmt: skip
    same = tmp_path / "same.toml"
    same.write_text("[attribution]  # reformatted\nlookback_days = 30.0\n\n"
                    "[attribution.models.time_decay]\nhalf_life_days = 3\n")  # fmt: skip
    assert load(good).hash == load(same).hash != load(None).hash
    bad = tmp_path / "bad.toml"
    bad.write_text("[attribution.path_transforms]\nreverse = []\n")
    with pytest.raises(DefinitionsError, match=r"bad.toml: attribution.path_transforms: .*"
                       "unknown path transform 'reverse'"):  # fmt: skip
        load(bad)
    bad.write_text("[attribution.models.time_decay]\nhalflife = 3\n")
    with pytest.raises(DefinitionsError, match="model 'time_decay' has no parameter 'halflife'"):
        load(bad)


def test_by_channel_sums_per_channel_and_currency() -> None:
    touches = {"L1": path_of("email"), "L2": path_of("email")}
    conversions = [
        Conversion("c1", "L1", at(1), Decimal("10.25"), "EUR"),
        Conversion("c2", "L2", at(1), Decimal("5"), "EUR"),
        Conversion("c3", "L2", at(2), Decimal("3"), "USD"),
    ]
    rows = by_channel(attribute("first_touch", conversions, touches))
    assert [(r.channel, r.currency, r.conversions, r.revenue) for r in rows] == [
        ("email", "EUR", Decimal(2), Decimal("15.25")),
        ("email", "USD", Decimal(1), Decimal(3)),
    ]


def test_unknown_model_is_named() -> None:
    with pytest.raises(ValueError, match="unknown attribution model 'magic'; known: custom_chan"):
        attribute("magic", [], {})


journeys = st.lists(
    st.tuples(st.sampled_from(["a", "b", "direct", "c"]), st.floats(0, 30)), max_size=12
)


@settings(max_examples=300, deadline=None)
@given(
    journeys, st.decimals(min_value=0, max_value=10**9, places=4), st.sampled_from(sorted(MODELS))
)
def test_credits_are_never_negative_and_sum_to_the_value(
    journey: list[tuple[str, float]], value: Decimal, model: str
) -> None:
    touches = [TouchPoint(at(d), f"t{i}", c) for i, (c, d) in enumerate(journey)]
    conversion = Conversion("c", "L1", at(31), value, "EUR",
                            milestones={"lead": at(10), "opportunity": at(20)})  # fmt: skip
    credits = attribute(model, [conversion], {"L1": touches}, path_of=path_function(definitions()))
    assert all(c.weight >= 0 and c.value >= 0 for c in credits)
    assert sum(c.weight for c in credits) == 1
    assert sum(c.value for c in credits) == value


@pytest.mark.parametrize("model", ["first_touch", "last_touch", "linear", "position_based"])
def test_channel_totals_equal_the_sum_of_per_conversion_credits(model: str) -> None:
    paths = [["a", "b", "a"], ["b"], ["a", "b", "a"], ["c", "a"]]
    touches = {f"L{i}": path_of(*p) for i, p in enumerate(paths)}
    conversions = [Conversion(f"c{i}", f"L{i}", at(9), Decimal(1), "EUR") for i in range(4)]
    per_credit: dict[str, float] = {}
    for credit in attribute(model, conversions, touches):
        per_credit[credit.channel] = per_credit.get(credit.channel, 0.0) + float(credit.weight)
    totals = {c: v for c, v in channel_totals(model, paths).items() if v}
    assert totals == pytest.approx(per_credit)


def test_the_readme_definitions_example_loads(tmp_path: Path) -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    example = tmp_path / "readme.toml"
    example.write_text(readme.split("```toml\n", 1)[1].split("```", 1)[0], encoding="utf-8")
    loaded = load(example)
    assert loaded.attribution.conversion_windows == {"display": 1}
    assert list(loaded.attribution.path_transforms) == ["exposure", "remove_if_last_and_not_all"]
    assert loaded.model_params("time_decay") == {"half_life_days": 14}
