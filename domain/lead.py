"""The Lead aggregate: a lead's whole journey, and the funnel rules it must follow.

Which fact may follow which stage is the table in ``funnel.py``; the rules that need more
than the stage are the guards below, each named for the rule it enforces.

Facts are judged by the time they happened, not by when they arrived. The lead keeps its
*timeline*: every funnel fact (all but touches) with its ``occurred_at`` and its stream
version, ordered by occurred time, ties broken by stream version (arrival order). A fact
that happened after everything known is checked against the lead's current position; a
late one is put in its place and judged with the facts that happened before it (so a
late ``mql_accepted`` that was legal when it happened is kept), and the later facts must
still pass their guards (no second win of one deal) and may not follow a merge. Facts at
one instant are ordered by the funnel (``TIE_ORDER``), then by arrival. A fact refused
because a fact it needs has not arrived yet waits in intake and is retried
(``leadledger/intake.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any, ClassVar

from leadledger.domain.errors import RuleViolation
from leadledger.domain.funnel import MOVES, TIE_RANK, Stage
from leadledger.domain.stream import Stream, rename_v1_lead_key

# The fields of a funnel fact that the guards and handlers read: the timeline keeps these.
TIMELINE_FIELDS = ("stage", "entry_stage", "origin", "deal_id", "into_lead_id", "anonymous_id",
                   "score", "rep", "team")  # fmt: skip
UNTIMED = frozenset({"touch"})  # facts with no funnel move or guard: legal on any open lead

Step = list[Any]  # [occurred_at, stream version, fact name, {field: value}] (JSON-friendly)


class Funnel:
    """A lead's position in the funnel, moved one fact at a time.

    The Lead aggregate is one; a check of a late fact walks a scratch one along the
    timeline with the fact in its place.
    """

    stream_key: str

    def reset(self) -> None:
        self.stage = Stage.VISITOR
        self.cycle = 1
        self.origin: str | None = None
        self.entered_at_sql = False
        self.score: int | None = None
        self.rep: str | None = None
        self.team: str | None = None
        self.mql_accepted = False
        self.sql_confirmed = False
        self.contact_attempts = 0
        self.deals: dict[str, str] = {}
        self.anonymous_ids: set[str] = set()
        self.merged_into: str | None = None

    def allows(self, name: str, fields: dict[str, Any]) -> None:
        """Raise :class:`RuleViolation` unless the table and the fact's guard allow it here."""
        if self.stage == Stage.MERGED:
            raise RuleViolation(
                f"lead {self.stream_key!r} was merged into {self.merged_into!r} and accepts no "
                f"further events"
            )
        key = move_key(name, fields)
        move = MOVES.get(key)
        if move is None:
            raise RuleViolation(f"{key} is not a funnel move; known moves: {', '.join(MOVES)}")
        if self.stage not in move.allowed:
            allowed = ", ".join(sorted(move.allowed))
            raise RuleViolation(
                f"{key} refused: lead {self.stream_key!r} is at stage {self.stage}; "
                f"{key} is allowed at: {allowed}"
            )
        guard = GUARDS.get(name)
        if guard is not None:
            guard(self, fields)

    def take(self, name: str, fields: dict[str, Any]) -> None:
        """Apply the funnel table's stage move, then the fact's own state change."""
        move = MOVES[move_key(name, fields)]
        if move.to is not None:
            self.stage = move.to
        handler = HANDLERS.get(name)
        if handler is not None:
            handler(self, fields)

    def walk(self, timeline: list[Step], judged: int | None = None) -> None:
        """Reset, then take every step of ``timeline`` in order.

        With ``judged``, that step (a late fact) must be legal after the steps before it,
        and the steps after it must still pass their guards (a second win of one deal is
        impossible in any order). The funnel table is not re-applied to the later steps:
        facts between them may still be on their way, and they were legal when stored.
        """
        self.reset()
        for index, (at, _version, name, fields) in enumerate(timeline):
            if judged is not None and index >= judged:
                try:
                    if index == judged or self.stage == Stage.MERGED:
                        self.allows(name, fields)
                    elif (guard := GUARDS.get(name)) is not None:
                        guard(self, fields)
                except RuleViolation as refusal:
                    raise Refusal(name, fields, at, refusal.reason) from None
            self.take(name, fields)


class Refusal(RuleViolation):
    """A step of a timeline walk that the funnel refused, and which step it was."""

    def __init__(self, name: str, fields: dict[str, Any], at: Any, reason: str) -> None:
        super().__init__(reason)
        self.key = move_key(name, fields)
        self.at = at


def _order(step: Step) -> tuple[Any, int, int]:
    """A step's place: when it happened, then the funnel's order at one instant
    (``TIE_ORDER``), then its stream version."""
    return step[0], TIE_RANK.get(move_key(step[2], step[3]), len(TIE_RANK)), step[1]


class Lead(Stream, Funnel):
    KIND: ClassVar[str] = "lead"

    class Fact(Stream.Fact):
        pass

    class TouchRecorded(Stream.Touched, Fact):
        NAME = "touch"
        class_version = 2

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            """v2 added the keyword, the online/offline kind and the anonymous id."""
            rename_v1_lead_key(state)
            state.update(keyword=None, kind="online", anonymous_id=None)

    class Identified(Fact):
        NAME = "identify"
        anonymous_id: str

    class Unlinked(Fact):
        NAME = "unlink"
        anonymous_id: str

    class Created(Fact):
        """The lead was created (named for the funnel stage, not the stream)."""

        NAME = "lead_created"
        class_version = 2
        origin: str
        entry_stage: str
        segment: str | None
        industry: str | None
        company_size: int | None
        country: str | None
        icp_fit: bool | None

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            """v2 added the entry stage and the ideal-customer-profile fields."""
            rename_v1_lead_key(state)
            state.update(entry_stage="lead", industry=None, company_size=None, country=None)
            state.update(icp_fit=None)

    class ScoreChanged(Fact):
        NAME = "score_changed"
        score: int
        model: str | None

    class StageChanged(Fact):
        NAME = "stage_changed"
        stage: str

    class Assigned(Fact):
        NAME = "assigned"
        rep: str
        team: str | None

    class MqlAccepted(Fact):
        NAME = "mql_accepted"
        rep: str | None

    class MqlRejected(Fact):
        NAME = "mql_rejected"
        reason: str | None
        note: str | None

    class ContactAttempted(Fact):
        NAME = "contact_attempted"
        method: str
        outcome: str

    class SqlConfirmed(Fact):
        NAME = "sql_confirmed"
        rep: str | None

    class Disqualified(Fact):
        NAME = "disqualified"
        reason: str | None
        note: str | None

    class Recycled(Fact):
        NAME = "recycled"
        reason: str | None
        note: str | None

    class Merged(Fact):
        NAME = "merged"
        into_lead_id: str

    class DealOpened(Fact):
        NAME = "deal_opened"
        deal_id: str
        amount: Decimal | None
        currency: str | None

    class DealWon(Fact):
        NAME = "deal_won"
        class_version = 2
        deal_id: str
        amount: Decimal
        currency: str

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            rename_v1_lead_key(state)

    class DealLost(Fact):
        NAME = "deal_lost"
        deal_id: str
        reason: str
        note: str | None

    class Purchased(Fact):
        NAME = "purchase"
        kind: str
        order_id: str | None
        amount: Decimal
        currency: str

    class Contracted(Fact):
        NAME = "contraction"
        amount: Decimal
        currency: str

    class Churned(Fact):
        NAME = "churned"
        reason: str | None

    def check(self, fact: type[Stream.Fact], fields: dict[str, Any]) -> None:
        """Refuse ``fact`` unless it was legal at its ``occurred_at`` (see the module doc)."""
        super().check(fact, fields)
        at = fields["occurred_at"]
        if fact.NAME in UNTIMED:
            self._touch_allowed(at)
            return
        if fact.NAME == "merged" and self.last_touch_at is not None and at < self.last_touch_at:
            raise RuleViolation(
                f"merged at {at.isoformat()} refused: lead {self.stream_key!r} has a touch at "
                f"{self.last_touch_at.isoformat()}, after it (touches after a merge belong to "
                "the surviving lead)"
            )
        step: Step = [at, self.version + 1, fact.NAME, _kept(fields)]
        if self._is_latest(step):
            self.allows(fact.NAME, fields)
            return
        timeline = sorted([*self.timeline, step], key=_order)
        scratch = Funnel()
        scratch.stream_key = self.stream_key
        try:
            scratch.walk(timeline, judged=timeline.index(step))
        except Refusal as refusal:
            key = move_key(fact.NAME, fields)
            when = fields["occurred_at"].isoformat()
            if refusal.at == fields["occurred_at"] and refusal.key == key:
                raise RuleViolation(f"{refusal.reason} (at its occurred_at {when})") from None
            raise RuleViolation(
                f"{key} at {when} refused: the later {refusal.key} at "
                f"{refusal.at.isoformat()} would then be impossible ({refusal.reason})"
            ) from None

    def _touch_allowed(self, at: Any) -> None:
        """A touch is refused only if it happened after the lead was merged away."""
        merged_at = next((step[0] for step in self.timeline if step[2] == "merged"), None)
        if merged_at is not None and at > merged_at:
            raise RuleViolation(
                f"lead {self.stream_key!r} was merged into {self.merged_into!r} at "
                f"{merged_at.isoformat()} and accepts no later events"
            )

    def _is_latest(self, step: Step) -> bool:
        return not self.timeline or _order(self.timeline[-1]) <= _order(step)

    # Event handlers: the only place state changes.

    def when(self, event: Stream.Event) -> None:
        """Put a funnel fact in its place on the timeline and move the lead's position."""
        super().when(event)
        if isinstance(event, Stream.Opened):
            self.reset()
            self.timeline: list[Step] = []
            self.last_touch_at: Any = None
            return
        assert isinstance(event, Stream.Fact)
        if event.NAME in UNTIMED:
            if self.last_touch_at is None or event.occurred_at > self.last_touch_at:
                self.last_touch_at = event.occurred_at
            return
        fields = vars(event)
        step: Step = [event.occurred_at, event.originator_version, event.NAME, _kept(fields)]
        if self._is_latest(step):
            self.timeline.append(step)
            self.take(event.NAME, fields)
        else:  # a late fact, checked legal in its place: walk the timeline again
            self.timeline.append(step)
            self.timeline.sort(key=_order)
            self.walk(self.timeline)


def _kept(fields: dict[str, Any]) -> dict[str, Any]:
    return {k: fields[k] for k in TIMELINE_FIELDS if k in fields}


def move_key(name: str, fields: dict[str, Any]) -> str:
    """The funnel table's key of a fact: stage changes are keyed by their target stage."""
    return f"stage_changed:{fields.get('stage')}" if name == "stage_changed" else name


# Guards: structural rules that look at more than the stage. Each raises RuleViolation.
# Hand-over policy (reason tags, contact attempts) is judged by the SLA read model instead.

Guard = Callable[[Funnel, dict[str, Any]], None]


def _entry_stage(lead: Funnel, fields: dict[str, Any]) -> None:
    entry = fields.get("entry_stage", "lead")
    if entry == "sql" and fields.get("origin") != "outbound":
        raise RuleViolation(
            f"lead {lead.stream_key!r} may enter at sql only when sales-sourced "
            f"(origin outbound), not {fields.get('origin')}"
        )
    if entry not in ("lead", "sql"):
        raise RuleViolation(f"a lead enters the funnel at lead or sql, not {entry!r}")


def _accept_once(lead: Funnel, _f: dict[str, Any]) -> None:
    if lead.mql_accepted:
        raise RuleViolation(f"the MQL of lead {lead.stream_key!r} was already accepted")


def _confirm_once(lead: Funnel, _f: dict[str, Any]) -> None:
    if lead.sql_confirmed:
        raise RuleViolation(f"the SQL of lead {lead.stream_key!r} was already confirmed")


def _new_deal(lead: Funnel, fields: dict[str, Any]) -> None:
    if fields["deal_id"] in lead.deals:
        raise RuleViolation(
            f"deal {fields['deal_id']!r} of lead {lead.stream_key!r} already exists"
        )


def _close_deal(lead: Funnel, fields: dict[str, Any]) -> None:
    status = lead.deals.get(fields["deal_id"])
    if status in ("won", "lost"):
        raise RuleViolation(
            f"deal {fields['deal_id']!r} of lead {lead.stream_key!r} was already {status}"
        )


def _merge(lead: Funnel, fields: dict[str, Any]) -> None:
    if fields["into_lead_id"] == lead.stream_key:
        raise RuleViolation(f"lead {lead.stream_key!r} cannot be merged into itself")


def _linked(lead: Funnel, fields: dict[str, Any]) -> None:
    if fields["anonymous_id"] not in lead.anonymous_ids:
        raise RuleViolation(
            f"visitor {fields['anonymous_id']!r} is not linked to lead {lead.stream_key!r}"
        )


GUARDS: dict[str, Guard] = {
    "lead_created": _entry_stage,
    "mql_accepted": _accept_once,
    "sql_confirmed": _confirm_once,
    "deal_opened": _new_deal,
    "deal_won": _close_deal,
    "deal_lost": _close_deal,
    "merged": _merge,
    "unlink": _linked,
}


# Handlers: the state each fact changes besides the stage (already moved by the table).

Handler = Callable[[Funnel, dict[str, Any]], None]


def _created(lead: Funnel, fields: dict[str, Any]) -> None:
    lead.origin = fields["origin"]
    if fields["entry_stage"] == "sql":
        lead.stage = Stage.SQL
        lead.entered_at_sql = True


def _to_nurture(lead: Funnel, _: dict[str, Any]) -> None:
    """Back to marketing: a later re-qualification is a new cycle, judged afresh by sales."""
    lead.cycle += 1
    lead.mql_accepted = False
    lead.sql_confirmed = False
    lead.contact_attempts = 0


def _set(attribute: str, value_of: Callable[[dict[str, Any]], Any]) -> Handler:
    return lambda lead, fields: setattr(lead, attribute, value_of(fields))


def _assigned(lead: Funnel, fields: dict[str, Any]) -> None:
    lead.rep, lead.team = fields["rep"], fields["team"]


def _attempted(lead: Funnel, _: dict[str, Any]) -> None:
    lead.contact_attempts += 1


def _deal(status: str) -> Handler:
    return lambda lead, fields: lead.deals.__setitem__(fields["deal_id"], status)


HANDLERS: dict[str, Handler] = {
    "lead_created": _created,
    "mql_rejected": _to_nurture,
    "disqualified": _to_nurture,
    "recycled": _to_nurture,
    "score_changed": _set("score", lambda f: f["score"]),
    "assigned": _assigned,
    "mql_accepted": _set("mql_accepted", lambda f: True),
    "sql_confirmed": _set("sql_confirmed", lambda f: True),
    "contact_attempted": _attempted,
    "identify": lambda lead, f: lead.anonymous_ids.add(f["anonymous_id"]),
    "unlink": lambda lead, f: lead.anonymous_ids.discard(f["anonymous_id"]),
    "merged": _set("merged_into", lambda f: f["into_lead_id"]),
    "deal_opened": _deal("open"),
    "deal_won": _deal("won"),
    "deal_lost": _deal("lost"),
}
