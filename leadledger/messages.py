"""The ingest event types that backend teams publish, as pydantic models.

These models are the producer SDK's contract and the ingest consumer's validator: a record
that fails them is dead-lettered with pydantic's field-by-field reason. The Avro schemas in
``schemas/`` are generated from them (``python -m leadledger.avrogen``), and a test keeps
the two identical, so each event type is defined once.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    model_validator,
)
from pydantic_core import PydanticCustomError

from leadledger.domain.funnel import Reason

# Times a source may report. Outside them a time is a typo or a sentinel (0001-01-01,
# 9999-12-31), and at the extremes its UTC instant does not exist: such a record used to be
# stored and then stop the projection with OverflowError. Real zones lie within +-14:00.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)
MAX_UTC_OFFSET = timedelta(hours=14)
_NUMBER = re.compile(r"\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*")


def _not_a_number(what: str, example: str) -> BeforeValidator:
    """Refuse a number (or a string of digits) where a time or day belongs: pydantic would
    read it as Unix seconds in UTC, a zone the source never stated."""

    def refuse(value: Any) -> Any:
        if isinstance(value, int | float | Decimal) or (
            isinstance(value, str) and _NUMBER.fullmatch(value)
        ):
            raise PydanticCustomError(
                "not_a_number", "a number is not a {what}: send ISO 8601 text, e.g. {example}",
                {"what": what, "example": example},
            )  # fmt: skip
        return value

    return BeforeValidator(refuse)


def _time_in_range(value: datetime) -> datetime:
    offset = value.utcoffset()
    if offset is not None and abs(offset) > MAX_UTC_OFFSET:
        raise PydanticCustomError(
            "time_offset",
            "UTC offset {offset} is outside -14:00..+14:00",
            {"offset": utc_offset_text(offset)},
        )
    # The local year first: converting year 1 or 9999 to UTC may itself overflow.
    if not EARLIEST.year <= value.year <= LATEST.year or not EARLIEST <= value <= LATEST:
        raise PydanticCustomError(
            "time_range",
            "{time} is outside the accepted times, 1970-01-01T00:00:00Z to 2999-12-31T23:59:59Z",
            {"time": value.isoformat()},
        )
    return value


def _day_in_range(value: date) -> date:
    if not EARLIEST.year <= value.year <= LATEST.year:
        raise PydanticCustomError(
            "day_range",
            "{day} is outside the accepted days, 1970-01-01 to 2999-12-31",
            {"day": value.isoformat()},
        )
    return value


def utc_offset_text(offset: timedelta) -> str:
    """``+05:30`` for five and a half hours east of UTC."""
    minutes = int(offset.total_seconds()) // 60
    sign = "-" if minutes < 0 else "+"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


Moment = Annotated[
    AwareDatetime,
    _not_a_number("time", "2026-03-01T12:00:00Z (a time carries its zone)"),
    AfterValidator(_time_in_range),
]
"""An instant with its zone, from 1970 to 2999 UTC and an offset within +-14:00."""
Day = Annotated[date, _not_a_number("day", "2026-03-01"), AfterValidator(_day_in_range)]
"""A calendar day from 1970-01-01 to 2999-12-31."""


# Integers fit Avro's long (64 bits), as every store and the domain-events topic need: a
# 65-bit score used to pass validation and then stop ingest when the record was hashed.
Long = Annotated[int, Field(ge=-(2**63), le=2**63 - 1)]


def _storable(value: str) -> str:
    """Refuse NUL in text: PostgreSQL cannot store it, so such a record used to pass
    validation and then stop ingest on that backend. Other control characters are stored
    as given (reports escape them); lone surrogates pydantic refuses itself."""
    if "\x00" in value:
        raise PydanticCustomError("nul_character", "text may not contain NUL (\\u0000)")
    return value


Text = Annotated[str, Field(min_length=1, max_length=200), AfterValidator(_storable)]
Note = Annotated[str, Field(max_length=2000), AfterValidator(_storable)]
Money = Annotated[Decimal, Field(ge=0, max_digits=20, decimal_places=4)]
Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$", description="ISO 4217 code, e.g. EUR.")]
_TAGS = ", ".join(Reason)
HandOverReason = Annotated[
    Text | None,
    Field(
        description=f"The reason tag returned to marketing: {_TAGS}. Stored as given, even "
        "if missing or unknown: the SLA report shows such a rejection as a breach."
    ),
]


class IngestEvent(BaseModel):
    """Fields every ingest event carries."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    type: str

    event_id: Text = Field(
        description="With source_system, the producer's idempotency key, unique across all "
        "streams: a re-sent fact keeps it; the same key with other content is a conflict."
    )
    occurred_at: Moment = Field(description="When it happened at the source.")
    source_system: Text = Field(
        description="The reporting system, e.g. google_ads, hubspot; part of the idempotency key."
    )

    def fields(self) -> dict[str, Any]:
        """The event's own fields, as the domain records them."""
        return self.model_dump(exclude={"type", "lead_id"})

    def to_record(self) -> dict[str, Any]:
        """The Avro record of this event (``recorded_at`` is set only by the engine)."""
        record = self.model_dump(exclude={"type"})
        record["occurred_at"] = self.occurred_at.astimezone(UTC)
        record["recorded_at"] = None
        return record


class LeadEvent(IngestEvent):
    lead_id: Text = Field(description="The lead, as the source system names it.")


class Touch(IngestEvent):
    """A marketing or sales touch: an ad click, a visit, an email, a call, a meeting. It names
    the lead, or the anonymous visitor (cookie, device) until ``identify`` links them."""

    type: Literal["touch"] = "touch"
    lead_id: Text | None = Field(None, description="The lead, if the source knows it.")
    channel: Text = Field(description="Channel grouping, e.g. paid_search, email, direct.")
    source: Text | None = Field(None, description="utm_source or the system's source name.")
    medium: Text | None = Field(None, description="utm_medium.")
    campaign: Text | None = Field(None, description="utm_campaign.")
    content: Text | None = Field(None, description="utm_content.")
    keyword: Text | None = Field(None, description="utm_term or the search keyword.")
    cost: Money | None = Field(None, description="What this single touch cost, if known.")
    kind: Literal["online", "call", "meeting", "trade_show", "webinar", "offline_other"] = Field(
        "online", description="Online, or the kind of offline touch."
    )
    anonymous_id: Text | None = Field(None, description="The visitor's cookie or device id.")

    @model_validator(mode="after")
    def _names_someone(self) -> Touch:
        if self.lead_id is None and self.anonymous_id is None:
            raise ValueError("a touch names a lead_id, an anonymous_id, or both")
        return self


class Identify(LeadEvent):
    """A visitor (anonymous id) turned out to be this lead."""

    type: Literal["identify"] = "identify"
    anonymous_id: Text


class Unlink(LeadEvent):
    """A visitor was wrongly linked to this lead."""

    type: Literal["unlink"] = "unlink"
    anonymous_id: Text


class LeadCreated(LeadEvent):
    """A person or account became a lead; sales-sourced leads may enter at SQL."""

    type: Literal["lead_created"] = "lead_created"
    origin: Literal["inbound", "outbound"] = Field(description="Marketing- or sales-sourced.")
    entry_stage: Literal["lead", "sql"] = Field("lead", description="sql only when outbound.")
    segment: Text | None = Field(None, description="e.g. smb, mid_market, enterprise.")
    industry: Text | None = None
    company_size: Annotated[Long, Field(ge=0)] | None = Field(None, description="Employees.")
    country: Annotated[str, Field(pattern=r"^[A-Z]{2}$")] | None = Field(
        None, description="ISO 3166 alpha-2 code."
    )
    icp_fit: bool | None = Field(None, description="Matches the ideal customer profile.")


class ScoreChanged(LeadEvent):
    """The lead's score changed (marketing automation, or a scoring model)."""

    type: Literal["score_changed"] = "score_changed"
    score: Long
    model: Text | None = Field(None, description="The scoring model's name.")


class StageChanged(LeadEvent):
    """The lead moved to MQL, SQL or Opportunity (Lead is entered by lead_created)."""

    type: Literal["stage_changed"] = "stage_changed"
    stage: Literal["mql", "sql", "opportunity"]


class Assigned(LeadEvent):
    """The lead was assigned to a sales rep (and team)."""

    type: Literal["assigned"] = "assigned"
    rep: Text
    team: Text | None = None


class MqlAccepted(LeadEvent):
    """Sales accepted the MQL (the SLA clock for acceptance stops here)."""

    type: Literal["mql_accepted"] = "mql_accepted"
    rep: Text | None = None


class MqlRejected(LeadEvent):
    """Sales rejected the MQL: it returns to marketing nurture with a reason tag."""

    type: Literal["mql_rejected"] = "mql_rejected"
    reason: HandOverReason = None
    note: Note | None = None


class ContactAttempted(LeadEvent):
    """Sales tried to reach the lead; three attempts come before a no_response verdict."""

    type: Literal["contact_attempted"] = "contact_attempted"
    method: Literal["call", "email", "messenger"]
    outcome: Literal["connected", "no_answer", "voicemail", "replied", "bounced", "other"]


class SqlConfirmed(LeadEvent):
    """Sales confirmed the SQL."""

    type: Literal["sql_confirmed"] = "sql_confirmed"
    rep: Text | None = None


class Disqualified(LeadEvent):
    """Sales disqualified the lead (an SQL, or an MQL against policy): back to nurture."""

    type: Literal["disqualified"] = "disqualified"
    reason: HandOverReason = None
    note: Note | None = None


class Recycled(LeadEvent):
    """The lead went back to marketing nurture (from any stage in play, lost or churned)."""

    type: Literal["recycled"] = "recycled"
    reason: HandOverReason = None
    note: Note | None = None


class Merged(LeadEvent):
    """This lead was a duplicate of another; its history stays, referenced by the survivor."""

    type: Literal["merged"] = "merged"
    into_lead_id: Text


class DealOpened(LeadEvent):
    """A deal (opportunity) was opened; its amount, if known, is pipeline."""

    type: Literal["deal_opened"] = "deal_opened"
    deal_id: Text
    amount: Money | None = None
    currency: Currency | None = None


class DealWon(LeadEvent):
    """A deal was won: revenue, credited by attribution."""

    type: Literal["deal_won"] = "deal_won"
    deal_id: Text
    amount: Money = Field(description="Deal value, at most 4 decimal places.")
    currency: Currency


class DealLost(LeadEvent):
    """A deal was lost, with the reason tag (e.g. competitor_won)."""

    type: Literal["deal_lost"] = "deal_lost"
    deal_id: Text
    reason: Text = Field(
        description=f"Why the deal was lost, as a reason tag ({_TAGS}) or free text."
    )
    note: Note | None = None


class Purchase(LeadEvent):
    """A later purchase by a customer: repeat, upsell, cross-sell or renewal."""

    type: Literal["purchase"] = "purchase"
    kind: Literal["repeat", "upsell", "cross_sell", "renewal"]
    order_id: Text | None = None
    amount: Money
    currency: Currency


class Contraction(LeadEvent):
    """A customer's recurring revenue shrank."""

    type: Literal["contraction"] = "contraction"
    amount: Money = Field(description="Recurring revenue lost, as a positive amount.")
    currency: Currency


class Churned(LeadEvent):
    """A customer left."""

    type: Literal["churned"] = "churned"
    reason: Text | None = None


class Spend(IngestEvent):
    """Marketing spend of one channel (and campaign) on one day; a re-report corrects it."""

    type: Literal["spend"] = "spend"
    channel: Text
    campaign: Text | None = None
    day: Day
    amount: Money
    currency: Currency


class PlanTarget(IngestEvent):
    """A revenue target for a period (2026-Q1, 2026-03) and team."""

    type: Literal["plan_target"] = "plan_target"
    period: Annotated[str, Field(pattern=r"^\d{4}(-Q[1-4]|-\d{2})?$")]
    team: Text | None = None
    amount: Money
    currency: Currency


MODELS: tuple[type[IngestEvent], ...] = (
    Touch, Identify, Unlink, LeadCreated, ScoreChanged, StageChanged, Assigned, MqlAccepted,
    MqlRejected, ContactAttempted, SqlConfirmed, Disqualified, Recycled, Merged, DealOpened,
    DealWon, DealLost, Purchase, Contraction, Churned, Spend, PlanTarget,
)  # fmt: skip
AnyIngestEvent = Annotated[
    Touch | Identify | Unlink | LeadCreated | ScoreChanged | StageChanged | Assigned
    | MqlAccepted | MqlRejected | ContactAttempted | SqlConfirmed | Disqualified | Recycled
    | Merged | DealOpened | DealWon | DealLost | Purchase | Contraction | Churned | Spend
    | PlanTarget,
    Field(discriminator="type"),
]  # fmt: skip
_adapter: TypeAdapter[IngestEvent] = TypeAdapter(AnyIngestEvent)
INGEST_TYPES = tuple(m.model_fields["type"].default for m in MODELS)


class InvalidEvent(ValueError):
    """A record that is not a valid ingest event; the message says which field and why."""


def parse_event(data: Any) -> IngestEvent:
    """Validate one decoded record (a dict with a ``type`` key).

    Raises :class:`InvalidEvent` with a one-line reason per failing field.
    """
    try:
        return _adapter.validate_python(data)
    except ValidationError as exc:
        raise InvalidEvent(describe(exc)) from None


def from_record(event_type: str, record: dict[str, Any]) -> IngestEvent:
    """Validate an Avro-decoded ingest record of ``event_type``."""
    data = {k: v for k, v in record.items() if k != "recorded_at"}
    data["type"] = event_type
    return parse_event(data)


def describe(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors(include_url=False):
        where = ".".join(str(p) for p in error["loc"]) or "record"
        parts.append(f"{where}: {error['msg']}")
    return printable("; ".join(parts))


def printable(text: str) -> str:
    """``text`` (a dead-letter reason, which may quote a record's field names) with NUL and
    lone surrogates escaped, so that every store can write it."""
    if "\x00" not in text and text.isascii():
        return text
    text = text.replace("\x00", "\\x00")
    return text.encode("utf-8", errors="backslashreplace").decode("utf-8")
