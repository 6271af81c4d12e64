"""The Lead aggregate: a lead's whole journey, and the funnel rules it must follow.

Which fact may follow which stage is the table in ``funnel.py``; the rules that need more
than the stage are the guards below, each named for the rule it enforces.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any, ClassVar

from leadledger.domain.errors import RuleViolation
from leadledger.domain.funnel import MOVES, FunnelRules, Reason, Stage
from leadledger.domain.stream import Stream, rename_v1_lead_key


class Lead(Stream):
    KIND: ClassVar[str] = "lead"

    class Fact(Stream.Fact):
        pass

    class TouchRecorded(Fact):
        NAME = "touch"
        class_version = 2
        channel: str
        source: str | None
        medium: str | None
        campaign: str | None
        content: str | None
        keyword: str | None
        cost: Decimal | None
        kind: str
        anonymous_id: str | None

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
        reason: str
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
        reason: str
        note: str | None

    class Recycled(Fact):
        NAME = "recycled"
        reason: str
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

    def check(self, fact: type[Stream.Fact], fields: dict[str, Any], rules: FunnelRules) -> None:
        """Refuse ``fact`` unless the funnel table allows it here and its guard agrees."""
        super().check(fact, fields, rules)
        if self.stage == Stage.MERGED:
            raise RuleViolation(
                f"lead {self.stream_key!r} was merged into {self.merged_into!r} and accepts no "
                f"further events"
            )
        key = move_key(fact.NAME, fields)
        move = MOVES.get(key)
        if move is None:
            raise RuleViolation(f"{key} is not a funnel move; known moves: {', '.join(MOVES)}")
        if self.stage not in move.allowed:
            allowed = ", ".join(sorted(move.allowed))
            raise RuleViolation(
                f"{key} refused: lead {self.stream_key!r} is at stage {self.stage}; "
                f"{key} is allowed at: {allowed}"
            )
        guard = GUARDS.get(fact.NAME)
        if guard is not None:
            guard(self, fields, rules)

    # Event handlers: the only place state changes.

    def when(self, event: Stream.Event) -> None:
        """Apply the funnel table's stage move, then the event's own state change."""
        super().when(event)
        if isinstance(event, Stream.Opened):
            self._open()
            return
        assert isinstance(event, Stream.Fact)
        move = MOVES[move_key(event.NAME, vars(event))]
        if move.to is not None:
            self.stage = move.to
        handler = HANDLERS.get(type(event))
        if handler is not None:
            handler(self, event)

    def _open(self) -> None:
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


def move_key(name: str, fields: dict[str, Any]) -> str:
    """The funnel table's key of a fact: stage changes are keyed by their target stage."""
    return f"stage_changed:{fields.get('stage')}" if name == "stage_changed" else name


# Guards: rules that look at more than the stage. Each raises RuleViolation with a reason.

Guard = Callable[[Lead, dict[str, Any], FunnelRules], None]


def _entry_stage(lead: Lead, fields: dict[str, Any], _: FunnelRules) -> None:
    entry = fields.get("entry_stage", "lead")
    if entry == "sql" and fields.get("origin") != "outbound":
        raise RuleViolation(
            f"lead {lead.stream_key!r} may enter at sql only when sales-sourced "
            f"(origin outbound), not {fields.get('origin')}"
        )
    if entry not in ("lead", "sql"):
        raise RuleViolation(f"a lead enters the funnel at lead or sql, not {entry!r}")


def _reason_tag(lead: Lead, fields: dict[str, Any], _: FunnelRules) -> None:
    if fields.get("reason") not in set(Reason):
        tags = ", ".join(Reason)
        raise RuleViolation(f"reason {fields.get('reason')!r} is not a reason tag ({tags})")


def _accept_once(lead: Lead, _f: dict[str, Any], _r: FunnelRules) -> None:
    if lead.mql_accepted:
        raise RuleViolation(f"the MQL of lead {lead.stream_key!r} was already accepted")


def _confirm_once(lead: Lead, _f: dict[str, Any], _r: FunnelRules) -> None:
    if lead.sql_confirmed:
        raise RuleViolation(f"the SQL of lead {lead.stream_key!r} was already confirmed")


def _disqualify(lead: Lead, fields: dict[str, Any], rules: FunnelRules) -> None:
    _reason_tag(lead, fields, rules)
    needed = rules.min_contact_attempts
    if fields["reason"] == Reason.NO_RESPONSE and lead.contact_attempts < needed:
        raise RuleViolation(
            f"lead {lead.stream_key!r} cannot be disqualified for no_response after "
            f"{lead.contact_attempts} contact attempt(s); at least {needed} are required"
        )


def _new_deal(lead: Lead, fields: dict[str, Any], _: FunnelRules) -> None:
    if fields["deal_id"] in lead.deals:
        raise RuleViolation(
            f"deal {fields['deal_id']!r} of lead {lead.stream_key!r} already exists"
        )


def _close_deal(lead: Lead, fields: dict[str, Any], rules: FunnelRules) -> None:
    status = lead.deals.get(fields["deal_id"])
    if status in ("won", "lost"):
        raise RuleViolation(
            f"deal {fields['deal_id']!r} of lead {lead.stream_key!r} was already {status}"
        )
    if "reason" in fields:
        _reason_tag(lead, fields, rules)


def _merge(lead: Lead, fields: dict[str, Any], _: FunnelRules) -> None:
    if fields["into_lead_id"] == lead.stream_key:
        raise RuleViolation(f"lead {lead.stream_key!r} cannot be merged into itself")


def _linked(lead: Lead, fields: dict[str, Any], _: FunnelRules) -> None:
    if fields["anonymous_id"] not in lead.anonymous_ids:
        raise RuleViolation(
            f"visitor {fields['anonymous_id']!r} is not linked to lead {lead.stream_key!r}"
        )


GUARDS: dict[str, Guard] = {
    "lead_created": _entry_stage,
    "mql_rejected": _reason_tag,
    "recycled": _reason_tag,
    "mql_accepted": _accept_once,
    "sql_confirmed": _confirm_once,
    "disqualified": _disqualify,
    "deal_opened": _new_deal,
    "deal_won": _close_deal,
    "deal_lost": _close_deal,
    "merged": _merge,
    "unlink": _linked,
}


# Handlers: the state each event changes besides the stage (already moved by the table).


def _created(lead: Lead, event: Any) -> None:
    lead.origin = event.origin
    if event.entry_stage == "sql":
        lead.stage = Stage.SQL
        lead.entered_at_sql = True


def _to_nurture(lead: Lead, _: Any) -> None:
    """Back to marketing: a later re-qualification is a new cycle, judged afresh by sales."""
    lead.cycle += 1
    lead.mql_accepted = False
    lead.sql_confirmed = False
    lead.contact_attempts = 0


def _set(attribute: str, value_of: Callable[[Any], Any]) -> Callable[[Lead, Any], None]:
    return lambda lead, event: setattr(lead, attribute, value_of(event))


def _assigned(lead: Lead, event: Any) -> None:
    lead.rep, lead.team = event.rep, event.team


def _attempted(lead: Lead, _: Any) -> None:
    lead.contact_attempts += 1


def _deal(status: str) -> Callable[[Lead, Any], None]:
    return lambda lead, event: lead.deals.__setitem__(event.deal_id, status)


HANDLERS: dict[type[Stream.Fact], Callable[[Lead, Any], None]] = {
    Lead.Created: _created,
    Lead.MqlRejected: _to_nurture,
    Lead.Disqualified: _to_nurture,
    Lead.Recycled: _to_nurture,
    Lead.ScoreChanged: _set("score", lambda e: e.score),
    Lead.Assigned: _assigned,
    Lead.MqlAccepted: _set("mql_accepted", lambda e: True),
    Lead.SqlConfirmed: _set("sql_confirmed", lambda e: True),
    Lead.ContactAttempted: _attempted,
    Lead.Identified: lambda lead, e: lead.anonymous_ids.add(e.anonymous_id),
    Lead.Unlinked: lambda lead, e: lead.anonymous_ids.discard(e.anonymous_id),
    Lead.Merged: _set("merged_into", lambda e: e.into_lead_id),
    Lead.DealOpened: _deal("open"),
    Lead.DealWon: _deal("won"),
    Lead.DealLost: _deal("lost"),
}
