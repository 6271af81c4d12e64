"""The lifecycle fold: each lead's funnel history, as one state, under the definitions.

The SLA and KPI read models are read off this state (SLA clocks per hand-over cycle, KPI
measures per lead), and the fold also emits the conversions attribution credits. It is
pure: (state, event, definitions) -> the conversions the event earns, with the state
updated in place; a replay under other definitions is the same fold again.

A cycle is one pass of a lead through the hand-over to sales; a rejection or a recycle
ends it, and a later MQL opens the next, judged afresh.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from pydantic import TypeAdapter

from leadledger.domain.funnel import MOVES, Reason

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
    reason: str
    attempts: int
    rep: str | None
    team: str | None


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

    @property
    def cycle(self) -> Cycle:
        if not self.cycles:
            self.cycles.append(Cycle())
        return self.cycles[-1]


ONE = Decimal(1)
CENTS = Decimal("0.0001")  # the read models' money scale (Avro decimals carry scale 4)


def money(amount: Decimal | None) -> Decimal | None:
    """Amounts at one scale, so a store replay and a Kafka replay write the same state."""
    return None if amount is None else amount.quantize(CENTS)


def fold(state: LeadState, kind: str, record: dict[str, Any], definitions: Definitions) -> None:
    """Apply one domain event to ``state``, with the conversions it earns."""
    at: datetime = record["occurred_at"]

    def earn(conversion: str, value: Decimal = ONE, unit: str = COUNT) -> None:
        state.conversions.append(Earned(conversion, record["event_id"], at, value, unit))

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

    def end_cycle(reason: str | None, rejected: str | None) -> None:
        if rejected is not None:
            state.rejections.append(Rejection(
                at=at, kind=rejected, reason=reason or "", attempts=state.cycle.attempts,
                rep=record.get("rep") or state.rep, team=state.team,
            ))  # fmt: skip
        state.cycle.ended_at = at
        state.cycles.append(Cycle())

    _move_stage(state, kind, record, at)
    match kind:
        case "lead_created":
            state.created_at, state.origin = at, record["origin"]
            state.segment = record["segment"]
            earn("lead")
            if record["entry_stage"] == "sql":
                state.cycle.sql_at = state.cycle.handed_at = at
                state.first.setdefault("sql", at)
                earn("sql")
        case "score_changed":
            state.score = record["score"]
            rule = definitions.funnel
            by_score = rule.mql == "score" and record["score"] >= rule.mql_score
            if by_score and state.stage in ("lead", "nurture", "mql"):
                reach_mql()
        case "stage_changed":
            stage = record["stage"]
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
            state.rep, state.team = record["rep"], record["team"]
        case "mql_accepted":
            state.cycle.response = state.cycle.response or "accepted"
            stop("mql_response", record["rep"])
        case "mql_rejected":
            state.cycle.response = state.cycle.response or "rejected"
            stop("mql_response", None)
            end_cycle(record["reason"], "mql_rejected")
        case "contact_attempted":
            state.cycle.attempts += 1
            stop("first_contact")
        case "sql_confirmed":
            stop("sql_confirm", record["rep"])
        case "disqualified":
            end_cycle(record["reason"], "disqualified")
        case "recycled":
            end_cycle(record["reason"], None)
        case "deal_opened":
            state.first.setdefault("opportunity", at)  # a deal is an opportunity
            state.deals[record["deal_id"]] = Deal(
                opened_at=at, amount=money(record["amount"]), currency=record["currency"]
            )
            state.deals[record["deal_id"]].sql_at = state.cycle.sql_at  # the deal's SQL
            earn("pipeline", money(record["amount"]) or Decimal(0), record["currency"] or COUNT)
        case "deal_won" | "deal_lost":
            deal = state.deals.setdefault(record["deal_id"], Deal(sql_at=state.cycle.sql_at))
            deal.status, deal.closed_at = kind.removeprefix("deal_"), at
            if kind == "deal_won":
                deal.amount, deal.currency = money(record["amount"]), record["currency"]
                state.first.setdefault("won", at)
                earn("deal_won", money(record["amount"]) or Decimal(0), record["currency"])
            else:
                deal.reason = record["reason"]
        case "purchase":
            state.payments.append(Money(at=at, kind=record["kind"],
                                        amount=record["amount"].quantize(CENTS),
                                        currency=record["currency"]))  # fmt: skip
            earn("purchase", record["amount"].quantize(CENTS), record["currency"])
        case "contraction":
            state.payments.append(Money(at=at, kind="contraction",
                                        amount=record["amount"].quantize(CENTS),
                                        currency=record["currency"]))  # fmt: skip
        case "churned":
            state.churned_at = at
            state.churns.append(at)


def _move_stage(state: LeadState, kind: str, record: dict[str, Any], at: datetime) -> None:
    """Follow the CRM stage with the funnel's own table, keeping time spent in each."""
    key = f"stage_changed:{record.get('stage')}" if kind == "stage_changed" else kind
    move = MOVES.get(key)
    target: str | None = move.to if move is not None else None
    if kind == "lead_created" and record["entry_stage"] == "sql":
        target = "sql"
    if target is None or target == state.stage:
        return
    if state.stage_since is not None:
        state.spells.append(Spell(stage=state.stage, entered=state.stage_since, left=at))
    state.stage, state.stage_since = str(target), at


STATE_JSON = TypeAdapter(LeadState)


def dump(state: LeadState) -> str:
    return STATE_JSON.dump_json(state).decode()


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

    A clock stops at the response it waits for. A cycle that ends first (the lead went
    back to nurture) cancels its open clocks, unless their deadline had already passed.
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
            measured: float | None = None
            if stop is not None:
                stopped_at: datetime | None = stop.at
                measured = calendar.working_seconds(started, stop.at)
                status = "met" if measured <= limit else "breached"
            elif cycle.ended_at is not None:
                stopped_at = cycle.ended_at
                status = "breached" if cycle.ended_at > deadline else "cancelled"
            else:
                stopped_at, status = None, "open"
            rep, team = (stop.rep, stop.team) if stop else (state.rep, state.team)
            found.append(Clock(state.lead_id, number, clock, 0, started, deadline, stopped_at,
                               limit, measured, status, rep, team))  # fmt: skip
    for seq, rejection in enumerate(state.rejections):
        tagged = rejection.reason in set(Reason)
        found.append(Clock(state.lead_id, 0, "reason_returned", seq, rejection.at, None,
                           rejection.at, None, None, "met" if tagged else "breached",
                           rejection.rep, rejection.team, rejection.reason))  # fmt: skip
        if rejection.kind == "disqualified" and rejection.reason == Reason.NO_RESPONSE:
            needed = sla.min_contact_attempts
            found.append(Clock(state.lead_id, 0, "contact_attempts", seq, rejection.at, None,
                               rejection.at, float(needed), float(rejection.attempts),
                               "met" if rejection.attempts >= needed else "breached",
                               rejection.rep, rejection.team, rejection.reason))  # fmt: skip
    return found
