"""The ingest event types that backend teams publish, as pydantic models.

These models are the producer SDK's contract and the ingest consumer's validator: a
record that fails them is dead-lettered with pydantic's field-by-field reason. Each
model maps one-to-one onto the Avro schema of the same name in ``schemas/``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

Text = Annotated[str, Field(min_length=1, max_length=200)]
OptionalText = Annotated[str | None, Field(default=None, max_length=200)]
Money = Annotated[Decimal, Field(ge=0, max_digits=20, decimal_places=4)]


class IngestEvent(BaseModel):
    """Fields every ingest event carries."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    event_id: Text
    lead_id: Text
    occurred_at: AwareDatetime
    source_system: Text

    def to_record(self) -> dict[str, Any]:
        """The Avro record of this event (``recorded_at`` is set only by the engine)."""
        record = self.model_dump(exclude={"type"})
        record["occurred_at"] = self.occurred_at.astimezone(UTC)
        record["recorded_at"] = None
        return record


class Touch(IngestEvent):
    type: Literal["touch"] = "touch"
    channel: Text
    source: OptionalText = None
    medium: OptionalText = None
    campaign: OptionalText = None
    content: OptionalText = None
    cost: Money | None = None


class LeadCreated(IngestEvent):
    type: Literal["lead_created"] = "lead_created"
    origin: Literal["inbound", "outbound"]
    segment: OptionalText = None


class DealWon(IngestEvent):
    type: Literal["deal_won"] = "deal_won"
    deal_id: Text
    amount: Money
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")]


AnyIngestEvent = Annotated[Touch | LeadCreated | DealWon, Field(discriminator="type")]
_adapter: TypeAdapter[Touch | LeadCreated | DealWon] = TypeAdapter(AnyIngestEvent)
INGEST_TYPES = ("touch", "lead_created", "deal_won")


def parse_event(data: Any) -> Touch | LeadCreated | DealWon:
    """Validate one decoded record (a dict with a ``type`` key).

    Raises :class:`InvalidEvent` with a one-line reason per failing field.
    """
    try:
        return _adapter.validate_python(data)
    except ValidationError as exc:
        raise InvalidEvent(describe(exc)) from None


def from_record(event_type: str, record: dict[str, Any]) -> Touch | LeadCreated | DealWon:
    """Validate an Avro-decoded ingest record of ``event_type``."""
    data = {k: v for k, v in record.items() if k != "recorded_at"}
    data["type"] = event_type
    return parse_event(data)


class InvalidEvent(ValueError):
    """A record that is not a valid ingest event; the message says which field and why."""


def describe(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors(include_url=False):
        where = ".".join(str(p) for p in error["loc"]) or "record"
        parts.append(f"{where}: {error['msg']}")
    return "; ".join(parts)


def utcnow() -> datetime:
    return datetime.now(UTC)
