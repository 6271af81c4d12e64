"""The one registry of event types: each ingest type's stream, key and domain fact."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from leadledger.domain.budget import Spend, Target, spend_key, target_key
from leadledger.domain.lead import Lead
from leadledger.domain.stream import Stream
from leadledger.domain.visitor import Visitor
from leadledger.messages import IngestEvent, LeadEvent
from leadledger.messages import PlanTarget as PlanTargetMessage
from leadledger.messages import Spend as SpendMessage
from leadledger.messages import Touch as TouchMessage


@dataclass(frozen=True)
class Route:
    """Where an ingest event goes: which kind of stream, under which key, as which fact."""

    stream: type[Stream]
    fact: type[Stream.Fact]
    key: Callable[[IngestEvent], str]

    def of(self, message: IngestEvent) -> Route:
        """The route of this message: a touch without a lead goes to its visitor."""
        if isinstance(message, TouchMessage) and message.lead_id is None:
            return VISITOR_TOUCH
        return self


def _lead_key(message: IngestEvent) -> str:
    assert isinstance(message, LeadEvent | TouchMessage)
    assert message.lead_id is not None
    return message.lead_id


def _visitor_key(message: IngestEvent) -> str:
    assert isinstance(message, TouchMessage)
    assert message.anonymous_id is not None
    return message.anonymous_id


def _spend_key(message: IngestEvent) -> str:
    assert isinstance(message, SpendMessage)
    return spend_key(message.channel, message.campaign, message.day)


def _target_key(message: IngestEvent) -> str:
    assert isinstance(message, PlanTargetMessage)
    return target_key(message.period, message.team)


ROUTES: dict[str, Route] = {
    fact.NAME: Route(Lead, fact, _lead_key) for fact in Lead.Fact.__subclasses__()
} | {
    "spend": Route(Spend, Spend.Reported, _spend_key),
    "plan_target": Route(Target, Target.Set, _target_key),
}
VISITOR_TOUCH = Route(Visitor, Visitor.TouchRecorded, _visitor_key)
STREAMS: dict[str, type[Stream]] = {s.KIND: s for s in (Lead, Visitor, Spend, Target)}
