"""The lifecycle fold: each lead's funnel history, as one state, under the definitions.

The SLA and KPI read models are read off this state (SLA clocks per hand-over cycle, KPI
measures per lead), and the fold also emits the conversions attribution credits. It is
pure: (state, event, definitions) -> the conversions the event earns, with the state
updated in place; a replay under other definitions is the same fold again.

A cycle is one pass of a lead through the hand-over to sales; a rejection or a recycle
ends it, and a later MQL opens the next, judged afresh.

Exactly once, in event time. The state keeps the lead's lifecycle facts, ordered as the
lead aggregate orders them: by when they happened (``occurred_at``), facts at one instant
by the funnel's ``TIE_ORDER``, then by the lead's stream version (the order the event
store recorded them in), then by idempotency key. A fact already in the state is
ignored, whichever delivery path brings it again (a relay re-send, a store replay after a
Kafka build, a dead-letter replay). A fact that happened before the last one known is put
in its place and the lead is folded again from its first fact, so the state never depends
on the order of arrival: any mix of paths gives the state of one clean build.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field, fields
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from pydantic import TypeAdapter

from leadledger.domain.funnel import MOVES, TIE_RANK, Reason

if TYPE_CHECKING:
    from leadledger.projections.calendar import Calendar
    from leadledger.projections.definitions import Definitions, Sla

COUNT = "count"  # the unit of conversions that are counted, not valued in money
CONVERSION_KINDS = ("lead", "mql", "sql", "opportunity", "pipeline", "deal_won", "purchase")
LIFECYCLE_TYPES = frozenset({
    "lead_created", "score_changed", "stage_changed", "assigned", "mql_accepted",
    "mql_rejected", "contact_attempted", "sql_confirmed", "disqualified", "recycled",
    "deal_opened", "deal_won", "deal_lost", "purchase", "contraction", "churned",
})  # fmt: skip
CLOCKS = ("mql_response", "first_contact", "sql_confirm")
# Hand-over policy, judged per rejection (see domain/funnel.py: stored, never refused).
POLICY = ("reason_returned", "contact_attempts", "disqualified_after_sql")
SALES_STAGES = frozenset({"sql", "opportunity"})


@dataclass(slots=True)
class Fact:
    """One lifecycle fact of a lead, with just the fields the fold reads."""

    kind: str
    at: datetime  # when it happened
    recorded: datetime | None  # when the engine learned it
    version: int  # the lead's stream version: ties at one instant, in recorded order
    source: str
    event_id: str
    stage: str | None = None  # stage_changed's stage; lead_created's entry stage
    origin: str | None = None
    segment: str | None = None
    score: int | None = None
    rep: str | None = None
    team: str | None = None
    reason: str | None = None
    deal_id: str | None = None
    amount: Decimal | None = None
    currency: str | None = None
    payment: str | None = None  # a purchase's kind

    @classmethod
    def of(cls, kind: str, record: dict[str, Any]) -> Fact:
        get = record.get
        amount = get("amount")
        return cls(
            kind=kind, at=record["occurred_at"], recorded=get("recorded_at"),
            version=get("stream_version") or 0, source=get("source_system") or "",
            event_id=record["event_id"],
            stage=get("entry_stage") if kind == "lead_created" else get("stage"),
            origin=get("origin"), segment=get("segment"), score=get("score"), rep=get("rep"),
            team=get("team"), reason=get("reason"), deal_id=get("deal_id"),
            amount=None if amount is None else amount.quantize(CENTS),
            currency=get("currency"), payment=get("kind"),
        )  # fmt: skip

    @property
    def order(self) -> tuple[datetime, int, int, str, str]:
        """The lead aggregate's order (``domain.lead``), then the idempotency key."""
        key = f"stage_changed:{self.stage}" if self.kind == "stage_changed" else self.kind
        return self.at, TIE_RANK.get(key, len(TIE_RANK)), self.version, self.source, self.event_id


@dataclass(slots=True)
class Deal:
    opened_at: datetime | None = None
    amount: Decimal | None = None
    currency: str | None = None
    status: str = "open"
    closed_at: datetime | None = None
    reason: str | None = None
    sql_at: datetime | None = None  # the SQL of the cycle the deal was opened (or won) in


@dataclass(slots=True)
class Money:
    """A payment after the deal (a purchase), or a contraction."""

    at: datetime
    kind: str
    amount: Decimal
    currency: str


@dataclass(slots=True)
class Rejection:
    """Sales handed the lead back: an MQL rejected, or an SQL disqualified."""

    at: datetime
    kind: str
    reason: str | None
    attempts: int
    rep: str | None
    team: str | None
    stage: str | None = None  # the lead's stage when it was handed back


@dataclass(slots=True)
class Stop:
    """When a clock stopped, and the rep and team it stopped for."""

    at: datetime
    rep: str | None
    team: str | None


@dataclass(slots=True)
class Spell:
    """A stay in one stage, from entering it to leaving it."""

    stage: str
    entered: datetime
    left: datetime


@dataclass(slots=True)
class Cycle:
    mql_at: datetime | None = None
    handed_at: datetime | None = None  # to sales: the MQL, or entry at SQL
    sql_at: datetime | None = None
    stops: dict[str, Stop] = field(default_factory=dict)  # clock name -> its stop
    response: str | None = None  # accepted, rejected, or sql (moved on without a verdict)
    attempts: int = 0
    ended_at: datetime | None = None


@dataclass(slots=True)
class Earned:
    """A conversion this lead earned: what attribution credits."""

    kind: str
    event_id: str
    at: datetime
    value: Decimal
    currency: str

    @property
    def conversion_id(self) -> str:
        return f"{self.kind}:{self.event_id}"


@dataclass(slots=True)
class LeadState:
    lead_id: str
    created_at: datetime | None = None
    origin: str | None = None
    segment: str | None = None
    rep: str | None = None
    team: str | None = None
    score: int | None = None
    stage: str = "visitor"
    stage_since: datetime | None = None
    spells: list[Spell] = field(default_factory=list)  # stages left, with their times
    first: dict[str, datetime] = field(default_factory=dict)  # mql, sql, opportunity, won
    cycles: list[Cycle] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)
    deals: dict[str, Deal] = field(default_factory=dict)
    payments: list[Money] = field(default_factory=list)  # purchases and contractions
    churned_at: datetime | None = None
    churns: list[datetime] = field(default_factory=list)  # every churn: a lead may churn twice
    conversions: list[Earned] = field(default_factory=list)
    facts: list[Fact] = field(default_factory=list)  # in event-time order (see module doc)

    @property
    def cycle(self) -> Cycle:
        if not self.cycles:
            self.cycles.append(Cycle())
        return self.cycles[-1]


ONE = Decimal(1)
CENTS = Decimal("0.0001")  # the read models' money scale (Avro decimals carry scale 4)


def fold(state: LeadState, kind: str, record: dict[str, Any], definitions: Definitions) -> None:
    """Apply one domain event to ``state`` in its event-time place, once (see module doc)."""
    if kind not in LIFECYCLE_TYPES:
        return
    fact = Fact.of(kind, record)
    for known in reversed(state.facts):
        if known.event_id == fact.event_id and known.source == fact.source:
            return  # already folded, by this path or another
    if not state.facts or state.facts[-1].order <= fact.order:
        state.facts.append(fact)
        _apply(state, fact, definitions)
        return
    bisect.insort(state.facts, fact, key=lambda f: f.order)
    refold(state, state.facts, definitions)


def fold_isolated(
    state: LeadState, kind: str, record: dict[str, Any], definitions: Definitions
) -> str | None:
    """``fold``, with one event's failure kept to that event: an event that cannot be folded
    (data no check foresaw, or a bug) is left out of ``state`` and the reason returned, so
    a read model is never stopped for good by one stored event."""
    try:
        fold(state, kind, record, definitions)
        return None
    except Exception as exc:
        reason = f"projection: {type(exc).__name__}: {exc}"
    failed = (record.get("source_system") or "", record.get("event_id"))
    refold(state, [f for f in state.facts if (f.source, f.event_id) != failed], definitions)
    return reason


def refold(state: LeadState, facts: list[Fact], definitions: Definitions) -> None:
    """Rebuild ``state`` from ``facts`` (in order), keeping them as its facts."""
    fresh = LeadState(lead_id=state.lead_id)
    for fact in facts:
        _apply(fresh, fact, definitions)
    fresh.facts = facts
    for name in (f.name for f in fields(LeadState)):
        setattr(state, name, getattr(fresh, name))


def as_at(state: LeadState, moment: datetime, definitions: Definitions) -> LeadState:
    """The lead as it stood at ``moment``: only the facts that had happened by then."""
    if not state.facts or state.facts[-1].at <= moment:
        return state
    past = LeadState(lead_id=state.lead_id)
    refold(past, [f for f in state.facts if f.at <= moment], definitions)
    return past


def _apply(state: LeadState, fact: Fact, definitions: Definitions) -> None:
    """Apply one fact that happened after every fact already in ``state``."""
    at, kind = fact.at, fact.kind

    def earn(conversion: str, value: Decimal = ONE, unit: str = COUNT) -> None:
        state.conversions.append(Earned(conversion, fact.event_id, at, value, unit))

    def stop(clock: str, rep: str | None = None) -> None:
        if clock not in state.cycle.stops:
            state.cycle.stops[clock] = Stop(at=at, rep=rep or state.rep, team=state.team)

    def reach_mql() -> None:
        cycle = state.cycle
        if cycle.mql_at is None:
            cycle.mql_at = at
            cycle.handed_at = cycle.handed_at or at
            state.first.setdefault("mql", at)
            earn("mql")

    def end_cycle(reason: str | None, rejected: str | None, stage: str) -> None:
        if rejected is not None:
            state.rejections.append(Rejection(
                at=at, kind=rejected, reason=reason, attempts=state.cycle.attempts,
                rep=fact.rep or state.rep, team=state.team, stage=stage,
            ))  # fmt: skip
        state.cycle.ended_at = at
        state.cycles.append(Cycle())

    before = state.stage
    _move_stage(state, fact)
    match kind:
        case "lead_created":
            state.created_at, state.origin = at, fact.origin
            state.segment = fact.segment
            earn("lead")
            if fact.stage == "sql":
                state.cycle.sql_at = state.cycle.handed_at = at
                state.first.setdefault("sql", at)
                earn("sql")
        case "score_changed":
            state.score = fact.score
            rule = definitions.funnel
            by_score = rule.mql == "score" and (fact.score or 0) >= rule.mql_score
            if by_score and state.stage in ("lead", "nurture", "mql"):
                reach_mql()
        case "stage_changed":
            stage = fact.stage
            if stage == "mql" and definitions.funnel.mql == "stage":
                reach_mql()
            elif stage == "sql":
                state.cycle.sql_at = state.cycle.sql_at or at
                state.first.setdefault("sql", at)
                if state.cycle.mql_at is not None and state.cycle.response is None:
                    state.cycle.response = "sql"
                stop("mql_response")
                earn("sql")
            elif stage == "opportunity":
                state.first.setdefault("opportunity", at)
                earn("opportunity")
        case "assigned":
            state.rep, state.team = fact.rep, fact.team
        case "mql_accepted":
            state.cycle.response = state.cycle.response or "accepted"
            stop("mql_response", fact.rep)
        case "mql_rejected":
            state.cycle.response = state.cycle.response or "rejected"
            stop("mql_response", None)
            end_cycle(fact.reason, "mql_rejected", before)
        case "contact_attempted":
            if state.cycle.handed_at is not None:  # before the hand-over, it stops nothing
                state.cycle.attempts += 1
                stop("first_contact")
        case "sql_confirmed":
            stop("sql_confirm", fact.rep)
        case "disqualified":
            end_cycle(fact.reason, "disqualified", before)
        case "recycled":
            end_cycle(fact.reason, None, before)
        case "deal_opened":
            state.first.setdefault("opportunity", at)  # a deal is an opportunity
            assert fact.deal_id is not None
            state.deals[fact.deal_id] = Deal(opened_at=at, amount=fact.amount,
                                             currency=fact.currency,
                                             sql_at=state.cycle.sql_at)  # fmt: skip
            earn("pipeline", fact.amount or Decimal(0), fact.currency or COUNT)
        case "deal_won" | "deal_lost":
            assert fact.deal_id is not None
            deal = state.deals.setdefault(fact.deal_id, Deal(sql_at=state.cycle.sql_at))
            deal.status, deal.closed_at = kind.removeprefix("deal_"), at
            if kind == "deal_won":
                deal.amount, deal.currency = fact.amount, fact.currency
                state.first.setdefault("won", at)
                earn("deal_won", fact.amount or Decimal(0), fact.currency or COUNT)
            else:
                deal.reason = fact.reason
        case "purchase":
            amount, currency = fact.amount or Decimal(0), fact.currency or COUNT
            state.payments.append(Money(at=at, kind=fact.payment or "repeat", amount=amount,
                                        currency=currency))  # fmt: skip
            earn("purchase", amount, currency)
        case "contraction":
            state.payments.append(Money(at=at, kind="contraction",
                                        amount=fact.amount or Decimal(0),
                                        currency=fact.currency or COUNT))  # fmt: skip
        case "churned":
            state.churned_at = at
            state.churns.append(at)


def _move_stage(state: LeadState, fact: Fact) -> None:
    """Follow the CRM stage with the funnel's own table, keeping time spent in each."""
    kind, at = fact.kind, fact.at
    key = f"stage_changed:{fact.stage}" if kind == "stage_changed" else kind
    move = MOVES.get(key)
    target: str | None = move.to if move is not None else None
    if kind == "lead_created" and fact.stage == "sql":
        target = "sql"
    if target is None or target == state.stage:
        return
    if state.stage_since is not None:
        state.spells.append(Spell(stage=state.stage, entered=state.stage_since, left=at))
    state.stage, state.stage_since = str(target), at


STATE_JSON = TypeAdapter(LeadState)


def dump(state: LeadState) -> str:
    """The state as stored in the ledger. Fields at their defaults are left out (``load``
    puts them back): a lead's facts are mostly empty fields, and writing every one made
    the lead states the largest table of the ledger."""
    return STATE_JSON.dump_json(state, exclude_defaults=True).decode()


def load(text: str | bytes) -> LeadState:
    return STATE_JSON.validate_json(text)


@dataclass(frozen=True, slots=True)
class Clock:
    """One SLA verdict: a clock of a hand-over cycle, or a check on a rejection (cycle 0).

    ``limit`` and ``measured`` are clock seconds, or contact attempts for that check.
    ``status``: met, breached, cancelled (its cycle ended first, in time), or open.
    """

    lead_id: str
    cycle: int
    clock: str
    seq: int
    started_at: datetime
    deadline: datetime | None
    stopped_at: datetime | None
    limit: float | None
    measured: float | None
    status: str
    rep: str | None
    team: str | None
    detail: str | None = None  # the reason tag of a rejection


def clocks(state: LeadState, sla: Sla, calendar: Calendar) -> list[Clock]:
    """The SLA verdicts of one lead: every clock of every cycle, every rejection's checks.

    One rule for every clock that ends: its working time from start to end over the limit
    is a breach. A clock ends when the response it waits for comes (met, or breached), or
    when its cycle ends first, the lead back in nurture (cancelled, or breached).
    """
    found: list[Clock] = []
    limits = {
        "mql_response": sla.mql_response_hours * 3600,
        "first_contact": sla.first_contact_hours * 3600,
        "sql_confirm": sla.sql_confirm_hours * 3600,
    }
    for number, cycle in enumerate(state.cycles, start=1):
        starts = {"mql_response": cycle.mql_at, "first_contact": cycle.handed_at,
                  "sql_confirm": cycle.sql_at}  # fmt: skip
        for clock in CLOCKS:
            started = starts[clock]
            if started is None:
                continue
            limit = limits[clock]
            deadline = calendar.deadline(started, limit)
            stop = cycle.stops.get(clock)
            ended = stop.at if stop is not None else cycle.ended_at
            measured: float | None = None
            if ended is None:
                status = "open"
            else:
                measured = calendar.working_seconds(started, ended)
                if measured > limit:
                    status = "breached"
                else:
                    status = "met" if stop is not None else "cancelled"
            rep, team = (stop.rep, stop.team) if stop else (state.rep, state.team)
            found.append(Clock(state.lead_id, number, clock, 0, started, deadline, ended,
                               limit, measured, status, rep, team))  # fmt: skip
    for seq, rejection in enumerate(state.rejections):
        found.extend(_policy(state.lead_id, seq, rejection, sla))
    return found


def _policy(lead_id: str, seq: int, rejection: Rejection, sla: Sla) -> list[Clock]:
    """The hand-over policy checks of one rejection (``POLICY``): stored facts, judged."""

    def check(name: str, met: bool, limit: float | None = None,
              measured: float | None = None) -> Clock:  # fmt: skip
        return Clock(lead_id, 0, name, seq, rejection.at, None, rejection.at, limit, measured,
                     "met" if met else "breached", rejection.rep, rejection.team,
                     rejection.reason)  # fmt: skip

    found = [check("reason_returned", rejection.reason in set(Reason))]
    if rejection.kind == "disqualified":
        found.append(check("disqualified_after_sql", rejection.stage in SALES_STAGES))
        if rejection.reason == Reason.NO_RESPONSE:
            needed = sla.min_contact_attempts
            found.append(check("contact_attempts", rejection.attempts >= needed,
                               float(needed), float(rejection.attempts)))  # fmt: skip
    return found
