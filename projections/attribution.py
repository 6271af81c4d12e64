"""Attribution: who gets credit for a conversion, given the lead's path of touches.

A model turns a path into weights, one per touch, that are never negative and sum to one;
a conversion's value is then split by those weights (exact fractions, rounded once, the
rounding remainder given to the largest share), so credits always sum to the value.
Paths are ordered by event time, ties broken by event id, so the same inputs always give
the same credits. Each model's constants live in its entry of :data:`MODELS` and nowhere
else; definitions files may override them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Any

from leadledger.domain.stream import as_utc
from leadledger.projections.algorithmic import (
    path_weights,
    removal_effects,
    removal_shares,
    shapley_path_weights,
    shapley_values,
)

UNATTRIBUTED = "(unattributed)"
CONVENTIONS = ("per_path", "global")
"""How an algorithmic model's fitted numbers become credit (see ``algorithmic``)."""
CENT = Decimal("0.000001")  # credit values are kept to a millionth of the unit


@dataclass(frozen=True, order=True)
class TouchPoint:
    occurred_at: datetime
    event_id: str
    channel: str
    campaign: str | None = None
    source: str | None = None
    medium: str | None = None


@dataclass(frozen=True)
class Conversion:
    conversion_id: str
    lead_id: str
    occurred_at: datetime
    value: Decimal
    currency: str
    kind: str = "deal_won"
    milestones: Mapping[str, datetime] = field(default_factory=dict)
    """When the lead was created and became an opportunity (for W and Z shapes)."""


@dataclass(frozen=True)
class Credit:
    """One row of the credit ledger: which touch earned what share of which conversion."""

    conversion_id: str
    touch_event_id: str | None
    channel: str
    weight: Fraction
    value: Decimal
    currency: str
    campaign: str | None = None
    source: str | None = None
    medium: str | None = None


Weights = list[Fraction]
Params = Mapping[str, Any]


# Position-based heuristics: weights from positions (and times) alone.


def first_touch(path: Sequence[TouchPoint], _c: Conversion, _p: Params) -> Weights:
    return [Fraction(int(i == 0)) for i in range(len(path))]


def last_touch(path: Sequence[TouchPoint], _c: Conversion, _p: Params) -> Weights:
    return [Fraction(int(i == len(path) - 1)) for i in range(len(path))]


def last_non_direct(path: Sequence[TouchPoint], _c: Conversion, params: Params) -> Weights:
    """The last touch that is not Direct; the last touch if every touch is Direct."""
    direct = params["direct"]
    chosen = next((i for i in reversed(range(len(path))) if path[i].channel != direct), None)
    chosen = len(path) - 1 if chosen is None else chosen
    return [Fraction(int(i == chosen)) for i in range(len(path))]


def linear(path: Sequence[TouchPoint], _c: Conversion, _p: Params) -> Weights:
    return [Fraction(1, len(path))] * len(path)


def time_decay(path: Sequence[TouchPoint], conversion: Conversion, params: Params) -> Weights:
    """A touch half-life days before the conversion weighs half as much as one at it."""
    half_life = timedelta(days=float(params["half_life_days"]))
    raw = [Fraction(2 ** -((conversion.occurred_at - t.occurred_at) / half_life)) for t in path]
    total = sum(raw, Fraction(0))
    return [w / total for w in raw]


def _ends(path: Sequence[TouchPoint], first: Fraction, last: Fraction) -> Weights:
    """First and last get their shares, the middle shares the rest; short paths rescale."""
    n = len(path)
    if n == 1:
        return [Fraction(1)]
    if n == 2:
        return [first / (first + last), last / (first + last)]
    middle = (1 - first - last) / (n - 2)
    return [first, *[middle] * (n - 2), last]


def position_based(path: Sequence[TouchPoint], _c: Conversion, params: Params) -> Weights:
    """U-shaped: 40% first, 40% last, 20% shared by the middle; two touches split evenly."""
    return _ends(path, Fraction(str(params["first"])), Fraction(str(params["last"])))


def j_shaped(path: Sequence[TouchPoint], _c: Conversion, params: Params) -> Weights:
    return _ends(path, Fraction(str(params["first"])), Fraction(str(params["last"])))


def _milestone_shape(
    path: Sequence[TouchPoint], conversion: Conversion, marks: Sequence[str], share: Fraction
) -> Weights:
    """Each milestone's touch (the last touch at or before it) earns ``share``; the rest
    of the credit is shared by the other touches, or by the milestones when there are none."""
    picks = [0]
    for mark in marks:
        at = conversion.occurred_at if mark == "conversion" else conversion.milestones.get(mark)
        if at is None:
            continue
        before = [i for i, t in enumerate(path) if t.occurred_at <= at]
        if before:
            picks.append(before[-1])
    weights = [Fraction(0)] * len(path)
    for i in picks:
        weights[i] += share
    others = [i for i in range(len(path)) if i not in picks]
    rest = 1 - share * len(picks)
    targets = others or sorted(set(picks))
    for i in targets:
        weights[i] += rest / len(targets)
    total = sum(weights, Fraction(0))
    return [w / total for w in weights]


def w_shaped(path: Sequence[TouchPoint], conversion: Conversion, params: Params) -> Weights:
    """30% each to the first touch, the lead-creation touch and the opportunity touch."""
    share = Fraction(str(params["milestone_share"]))
    return _milestone_shape(path, conversion, ("lead", "opportunity"), share)


def full_path(path: Sequence[TouchPoint], conversion: Conversion, params: Params) -> Weights:
    """Z-shaped: W-shaped plus the touch that closed the deal, 22.5% each."""
    share = Fraction(str(params["milestone_share"]))
    return _milestone_shape(path, conversion, ("lead", "opportunity", "conversion"), share)


def custom_position(path: Sequence[TouchPoint], _c: Conversion, params: Params) -> Weights:
    """Weights by position from the start: ``weights = [w1, w2, ...]``, the last entry
    repeating for longer paths, then normalised."""
    given = [Fraction(str(w)) for w in params["weights"]]
    raw = [given[min(i, len(given) - 1)] for i in range(len(path))]
    total = sum(raw, Fraction(0))
    return [w / total for w in raw] if total else linear(path, _c, params)


def custom_channel(path: Sequence[TouchPoint], _c: Conversion, params: Params) -> Weights:
    """Weights by channel: ``weights = {channel = w}``; unlisted channels weigh ``default``."""
    table = {k: Fraction(str(v)) for k, v in params["weights"].items()}
    raw = [table.get(t.channel, Fraction(str(params["default"]))) for t in path]
    total = sum(raw, Fraction(0))
    return [w / total for w in raw] if total else linear(path, _c, params)


def fitted(path: Sequence[TouchPoint], _c: Conversion, params: Params) -> Weights:
    """Algorithmic models, per-path convention: the path's channels weighted by the scores
    fitted on all journeys."""
    return path_weights([t.channel for t in path], params["scores"])


def markov(path: Sequence[TouchPoint], c: Conversion, params: Params) -> Weights:
    """Removal effects, per path. The global convention's split (every conversion by the
    channels' shares of all removal effects) is not a function of the path alone: it is
    :func:`split_by_shares` with the ``shares`` the fit returns."""
    return fitted(path, c, params)


def shapley(path: Sequence[TouchPoint], c: Conversion, params: Params) -> Weights:
    """Shapley values: globally, the game's own decomposition (an equal share for each
    distinct channel on the path), so channel totals are the game's Shapley values; per
    path, the path's channels weighted by the fitted values."""
    if params["convention"] == "global":
        return shapley_path_weights([t.channel for t in path])
    return fitted(path, c, params)


def fit_markov(converting: list[list[str]], lost: list[list[str]], params: Params) -> Params:
    effects = removal_effects(converting, lost, int(params["order"]))
    if params["convention"] == "global":
        return {"scores": effects, "shares": removal_shares(effects)}
    return {"scores": effects}


def fit_shapley(converting: list[list[str]], _lost: list[list[str]], params: Params) -> Params:
    if params["convention"] == "global":
        return {}  # the game's values decompose exactly onto the paths: nothing to fit
    scores = shapley_values(
        converting, int(params["exact_up_to"]), int(params["samples"]), int(params["seed"])
    )
    return {"scores": scores}


PathModel = Callable[[Sequence[TouchPoint], Conversion, Params], Weights]
Fit = Callable[[list[list[str]], list[list[str]], Params], Params]


@dataclass(frozen=True)
class Model:
    fn: PathModel
    defaults: Mapping[str, Any]
    fit: Fit | None = None
    """Fitted on every journey (converting and not, see :func:`attribute`) before credits
    are split. A fit may return ``shares``: then every conversion is split by those
    population shares (:func:`split_by_shares`) instead of by ``fn``."""
    positional: bool = False
    """Weights depend on the path's length alone, so they can be computed once per length."""


MODELS: Mapping[str, Model] = {
    "first_touch": Model(first_touch, {}, positional=True),
    "last_touch": Model(last_touch, {}, positional=True),
    "last_non_direct": Model(last_non_direct, {"direct": "direct"}),
    "linear": Model(linear, {}, positional=True),
    "time_decay": Model(time_decay, {"half_life_days": 7}),
    "position_based": Model(position_based, {"first": "0.4", "last": "0.4"}, positional=True),
    "w_shaped": Model(w_shaped, {"milestone_share": "0.3"}),
    "full_path": Model(full_path, {"milestone_share": "0.225"}),
    "j_shaped": Model(j_shaped, {"first": "0.2", "last": "0.6"}, positional=True),
    "inverse_j": Model(j_shaped, {"first": "0.6", "last": "0.2"}, positional=True),
    "custom_position": Model(custom_position, {"weights": ["1"]}, positional=True),
    "custom_channel": Model(custom_channel, {"weights": {}, "default": "1"}),
    # Markov defaults to per-path credit: its global figures cannot always be put on the
    # converting paths (see split_by_shares). Shapley's global figures can, exactly.
    "markov": Model(markov, {"order": 1, "convention": "per_path"}, fit_markov),
    "shapley": Model(
        shapley,
        {"exact_up_to": 15, "samples": 2000, "seed": 7, "convention": "global"},
        fit_shapley,
    ),
}


def channel_totals(
    model: str, paths: Iterable[Sequence[str]], params: Params | None = None
) -> dict[str, float]:
    """Conversions credited per channel over many journeys (channel sequences), for
    population-level reports: distinct paths are weighed once, positional models once per
    length. Time- and milestone-based models need :func:`attribute` instead."""
    spec = MODELS[model]
    if spec.fit is not None or (not spec.positional and spec.fn is not last_non_direct):
        raise ValueError(f"{model} needs touch times or a fit: use attribute()")
    settings = {**spec.defaults, **(params or {})}
    conversion = Conversion("-", "-", _EPOCH, Decimal(1), "-")
    by_length: dict[int, list[float]] = {}
    totals: dict[str, float] = {}
    for path, times in Counter(map(tuple, paths)).items():
        if not path:
            continue
        if spec.positional and len(path) in by_length:
            weights = by_length[len(path)]
        else:
            touches = [TouchPoint(_EPOCH, str(i), channel) for i, channel in enumerate(path)]
            weights = [float(w) for w in spec.fn(touches, conversion, settings)]
            if spec.positional:
                by_length[len(path)] = weights
        for channel, weight in zip(path, weights, strict=True):
            totals[channel] = totals.get(channel, 0.0) + weight * times
    return totals


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def split(conversion: Conversion, path: Sequence[TouchPoint], weights: Weights) -> list[Credit]:
    """Credits of one conversion: value x weight, rounded once, summing exactly to the value."""
    if not path:
        return [
            Credit(conversion.conversion_id, None, UNATTRIBUTED, Fraction(1), conversion.value,
                   conversion.currency)
        ]  # fmt: skip
    assert len(weights) == len(path)
    return _credits(conversion, [(t, t.channel, w) for t, w in zip(path, weights, strict=True)])


def split_by_shares(
    conversion: Conversion, path: Sequence[TouchPoint], shares: Mapping[str, Fraction]
) -> list[Credit]:
    """One conversion under a global convention whose figures are population shares: each
    channel gets its share of this conversion, on its touches here (split equally) or, if
    it has none on this path, as a channel-level credit with no touch.

    This is the only split that keeps both invariants (credits of a conversion sum to its
    value; channel totals equal the global figures, in count and in every currency) for
    Markov, whose global figures cannot always be put on the converting paths: with one
    conversion on a -> b and one on c alone, each channel's removal effect is 1/2, so
    globally each earns 2/3 of a conversion, but a and b together sit on only one.
    A conversion with no path stays unattributed, as under the per-path convention.
    """
    if not path or not shares:
        return split(conversion, path, [Fraction(1, len(path))] * len(path) if path else [])
    on_path = Counter(t.channel for t in path)
    entries: list[tuple[TouchPoint | None, str, Fraction]] = [
        (t, t.channel, shares.get(t.channel, Fraction(0)) / on_path[t.channel]) for t in path
    ]
    entries += [(None, c, share) for c, share in sorted(shares.items()) if c not in on_path]
    return _credits(conversion, entries)


def _credits(
    conversion: Conversion, entries: Sequence[tuple[TouchPoint | None, str, Fraction]]
) -> list[Credit]:
    """Value x weight for each (touch, channel, weight), rounded once, the rounding
    remainder given to the largest share, so the credits sum exactly to the value."""
    weights = [w for _, _, w in entries]
    assert all(w >= 0 for w in weights), "weights are never negative"
    assert sum(weights) == 1, "weights sum to one"
    values = [(conversion.value * Decimal(w.numerator) / Decimal(w.denominator)).quantize(CENT)
              for w in weights]  # fmt: skip
    largest = max(range(len(weights)), key=lambda i: (weights[i], -i))
    values[largest] += conversion.value - sum(values, Decimal(0))
    return [
        Credit(conversion.conversion_id, None if t is None else t.event_id, channel, w, v,
               conversion.currency, *((t.campaign, t.source, t.medium) if t else ()))
        for (t, channel, w), v in zip(entries, values, strict=True)
        if w  # a touch with no share earns no credit row
    ]  # fmt: skip


def attribute(
    model: str,
    conversions: Iterable[Conversion],
    touches: Mapping[str, Sequence[TouchPoint]],
    params: Params | None = None,
    path_of: Callable[[Conversion, Sequence[TouchPoint]], Sequence[TouchPoint]] | None = None,
    visitors: Mapping[str, Sequence[TouchPoint]] | None = None,
) -> list[Credit]:
    """Credits of every conversion under ``model``, in conversion order.

    A conversion's path is its lead's touches at or before it, after ``path_of`` (the
    definitions' windows and transforms) when given. ``touches`` holds each lead's
    journey; ``visitors`` the journeys of visitors linked to no lead (never converting).

    Fitted models learn from the credited paths and from every journey without a
    conversion (a lead's without one of these conversions, every visitor's), passed
    through the same ``path_of``. A journey that did not convert has no conversion time,
    so its windows are measured from its end, its last touch (whatever its channel): the
    moment it was last seen, as a converting path's are measured from the conversion.
    Journeys left empty by the filters are left out, on both sides.
    """
    try:
        spec = MODELS[model]
    except KeyError:
        raise ValueError(
            f"unknown attribution model {model!r}; known: {', '.join(sorted(MODELS))}"
        ) from None
    settings: dict[str, Any] = {**spec.defaults, **(params or {})}
    if "convention" in spec.defaults and settings["convention"] not in CONVENTIONS:
        raise ValueError(
            f"model {model!r}: convention must be one of {', '.join(CONVENTIONS)}, "
            f"not {settings['convention']!r}"
        )
    ordered = sorted(conversions, key=lambda c: (as_utc(c.occurred_at), c.conversion_id))
    paths = [_path(c, touches.get(c.lead_id, ()), path_of) for c in ordered]
    if spec.fit is not None:
        converted = {c.lead_id for c in ordered}
        journeys = [*(found for lead, found in sorted(touches.items()) if lead not in converted),
                    *(found for _, found in sorted((visitors or {}).items()))]  # fmt: skip
        lost = [[t.channel for t in _null_path(j, path_of)] for j in journeys]
        settings |= spec.fit([[t.channel for t in p] for p in paths], lost, settings)
    shares: Mapping[str, Fraction] | None = settings.get("shares")
    credits: list[Credit] = []
    for conversion, path in zip(ordered, paths, strict=True):
        if shares is not None:
            credits.extend(split_by_shares(conversion, path, shares))
            continue
        weights = spec.fn(path, conversion, settings) if path else []
        credits.extend(split(conversion, path, weights))
    return credits


def _path(
    conversion: Conversion,
    touches: Sequence[TouchPoint],
    path_of: Callable[[Conversion, Sequence[TouchPoint]], Sequence[TouchPoint]] | None,
) -> Sequence[TouchPoint]:
    at = as_utc(conversion.occurred_at)
    path = [t for t in sorted(touches) if as_utc(t.occurred_at) <= at]
    return path if path_of is None else path_of(conversion, path)


def _null_path(
    journey: Sequence[TouchPoint],
    path_of: Callable[[Conversion, Sequence[TouchPoint]], Sequence[TouchPoint]] | None,
) -> Sequence[TouchPoint]:
    """A journey that did not convert, through ``path_of`` as if it ended at its last touch."""
    path = sorted(journey)
    if not path or path_of is None:
        return path
    end = Conversion(NULL_JOURNEY, NULL_JOURNEY, as_utc(path[-1].occurred_at), Decimal(0), "-",
                     NULL_JOURNEY)  # fmt: skip
    return path_of(end, path)


NULL_JOURNEY = "(null)"


@dataclass(frozen=True)
class ChannelCredit:
    channel: str
    currency: str
    conversions: Decimal
    revenue: Decimal


def by_channel(credits: Iterable[Credit], key: str = "channel") -> list[ChannelCredit]:
    """Credits summed per channel (or campaign, or source) and currency, sorted."""
    totals: dict[tuple[str, str], tuple[Fraction, Decimal]] = {}
    for credit in credits:
        group = str(getattr(credit, key) or "(none)")
        count, revenue = totals.get((group, credit.currency), (Fraction(0), Decimal(0)))
        totals[(group, credit.currency)] = (count + credit.weight, revenue + credit.value)
    return [
        ChannelCredit(group, currency, _decimal(count), revenue)
        for (group, currency), (count, revenue) in sorted(totals.items())
    ]


def _decimal(value: Fraction) -> Decimal:
    return (Decimal(value.numerator) / Decimal(value.denominator)).quantize(CENT)
