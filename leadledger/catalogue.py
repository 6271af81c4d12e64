"""The one registry of event types: each ingest type's stream, key and domain fact."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from leadledger.domain.budget import Spend, Target, spend_key, target_key
from leadledger.domain.lead import Lead
from leadledger.domain.stream import Stream
from leadledger.messages import IngestEvent, LeadEvent
from leadledger.messages import PlanTarget as PlanTargetMessage
from leadledger.messages import Spend as SpendMessage


@dataclass(frozen=True)
class Route:
    """Where an ingest event goes: which kind of stream, under which key, as which fact."""

    stream: type[Stream]
    fact: type[Stream.Fact]
    key: Callable[[IngestEvent], str]


def _lead_key(message: IngestEvent) -> str:
    assert isinstance(message, LeadEvent)
    return message.lead_id


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
STREAMS: dict[str, type[Stream]] = {s.KIND: s for s in (Lead, Spend, Target)}
