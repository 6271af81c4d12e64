"""HTTP intake: ``POST /api/v1/records`` with a JSON array of records, each answered with its
idempotency key and fate (see ``leadledger.app.intake``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from leadledger.api.guards import WRITE
from leadledger.api.paging import known_query
from leadledger.api.problems import responses
from leadledger.api.routes_reports import ReadModelRef
from leadledger.api.services import services
from leadledger.app import intake
from leadledger.app.readmodels import choose, position
from leadledger.limits import MAX_BATCH_BYTES, MAX_BATCH_RECORDS

router = APIRouter(prefix="/api/v1", tags=["intake"], dependencies=[*WRITE, Depends(known_query)],
                   responses=responses(401, 403, 413, 422, 503))  # fmt: skip

EXAMPLE = [
    {"type": "touch", "event_id": "t-1", "lead_id": "L1", "occurred_at": "2026-01-01T10:00:00Z",
     "source_system": "google_ads", "channel": "paid_search"},
    {"type": "lead_created", "event_id": "c-1", "lead_id": "L1",
     "occurred_at": "2026-01-02T09:30:00Z", "source_system": "crm", "origin": "inbound"},
]  # fmt: skip
BODY = {
    "required": True,
    "content": {"application/json": {
        "schema": {"type": "array", "maxItems": MAX_BATCH_RECORDS,
                   "description": "Records in the JSON Lines shape of docs/events.md; an item "
                                  "that is not a valid record is answered dead-lettered "
                                  "(embedded) or invalid (Kafka), never the batch's end."},
        "example": EXAMPLE,
    }},
}  # fmt: skip


class RecordAnswer(BaseModel):
    index: int
    source_system: str | None
    event_id: str | None
    origin: str | None
    fate: str
    reason: str | None


class IntakeAnswer(BaseModel):
    """Each record's fate: embedded mode ``stored``, ``duplicate``, ``parked`` or
    ``dead_letter`` (with the reason); Kafka mode ``accepted`` onto the ingest topic,
    ``invalid`` (not sent) or ``failed`` (the broker's error)."""

    read_model: ReadModelRef
    mode: str
    received: int
    records: list[RecordAnswer]


async def _body(request: Request) -> bytes:
    """The request's bytes, refused (413) as soon as they pass ``MAX_BATCH_BYTES``."""
    too_large = HTTPException(
        413, f"the body is over the limit of {MAX_BATCH_BYTES} bytes; send smaller batches"
    )
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BATCH_BYTES:
        raise too_large
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BATCH_BYTES:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)


@router.post(
    "/records", response_model=IntakeAnswer, openapi_extra={"requestBody": BODY},
    description=f"Take a batch of records: a JSON array of at most {MAX_BATCH_RECORDS} records "
    f"and {MAX_BATCH_BYTES} bytes (422 above the records, 413 above the bytes). Each is "
    "answered with its idempotency key and fate; an invalid record is dead-lettered "
    "(embedded) or not sent (Kafka), never the batch's end.",
)  # fmt: skip
async def take_records(request: Request) -> Any:
    """Answer each record of the batch with its fate (see the description)."""
    body = await _body(request)
    found = services(request)
    records = intake.parse(body)
    if found.kafka is not None:
        answers = await run_in_threadpool(intake.publish, records, found.publisher)
        mode = "kafka"
    else:

        def settle() -> list[intake.Answer]:
            with found.writing:  # one writer: the store, then the projection following it
                return intake.store(records, found.store, found.ledger)

        answers = await run_in_threadpool(settle)
        mode = "embedded"
    ledger = found.ledger
    served = await run_in_threadpool(lambda: position(ledger, choose(ledger, None)))
    return {"read_model": served.to_json(), "mode": mode, "received": len(answers),
            "records": [a.to_json() for a in answers]}  # fmt: skip
