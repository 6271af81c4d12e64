"""The fate of records: one record's by its idempotency key, the dead letters, and the
reconcile counts (received = stored + duplicate + dead-lettered + parked)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel

from leadledger.api.guards import AUDIT
from leadledger.api.paging import Limit, Offset, known_query
from leadledger.api.problems import responses
from leadledger.api.routes_reports import PageRef, ReadModelRef
from leadledger.api.services import ledger
from leadledger.app import deadletters, records
from leadledger.app.readmodels import choose, position
from leadledger.ledgerdb import LedgerDB

router = APIRouter(prefix="/api/v1", tags=["records"], dependencies=[*AUDIT, Depends(known_query)],
                   responses=responses(401, 403, 404, 422))  # fmt: skip
Ledger = Annotated[LedgerDB, Depends(ledger)]
KeyPart = Path(min_length=1, max_length=200)


class Delivery(BaseModel):
    origin: str
    fate: str
    reason: str | None


class RecordFate(BaseModel):
    """What became of one record: ``stored``, ``parked``, ``dead_letter`` (with the reason)
    or ``pending``; each delivery's own fate (``duplicate`` for a copy sent again)."""

    read_model: ReadModelRef
    source_system: str
    event_id: str
    fate: str
    reason: str | None
    deliveries: list[Delivery]


@router.get("/records/{source_system}/{event_id:path}", response_model=RecordFate)
def record_fate(
    ledger: Ledger,
    source_system: Annotated[str, KeyPart],
    event_id: Annotated[str, KeyPart],
) -> Any:
    """The fate of the record with idempotency key ``(source_system, event_id)``. An
    ``event_id`` may hold ``/`` (the rest of the path is the id); a ``source_system`` may
    not."""
    served = position(ledger, choose(ledger, None))
    return {
        "read_model": served.to_json(),
        **records.fate(ledger, source_system, event_id).to_json(),
    }


class Letter(BaseModel):
    id: int
    origin: str
    reason: str
    dead_lettered_at: str
    replayed_at: str | None


class Letters(BaseModel):
    read_model: ReadModelRef
    dead_letters: list[Letter]
    page: PageRef


@router.get("/dead-letters", response_model=Letters)
def dead_letters(
    ledger: Ledger, limit: Limit = 100, offset: Offset = 0,
    origin: Annotated[str | None, Query(max_length=500,
                                        description="Only origins starting with this.")] = None,
    replayed: Annotated[bool | None, Query(description="Only (not) re-submitted ones.")] = None,
) -> Any:  # fmt: skip
    """Records the engine could not store (and stored events a read model could not fold,
    origins ``projection:...``): where each came from, why, when, whether re-submitted."""
    found = [
        letter for letter in deadletters.list_letters(ledger)
        if (origin is None or letter.origin.startswith(origin))
        and (replayed is None or (letter.replayed_at is not None) == replayed)
    ]  # fmt: skip
    served = position(ledger, choose(ledger, None))
    return {"read_model": served.to_json(),
            "dead_letters": [r.summary() for r in found[offset : offset + limit]],
            "page": {"limit": limit, "offset": offset, "total": len(found)}}  # fmt: skip


class Counts(BaseModel):
    read_model: ReadModelRef
    prefix: str
    stored: int
    duplicate: int
    dead_letter: int
    parked: int
    accounted: int
    unfolded: int


@router.get("/reconcile", response_model=Counts)
def reconcile(
    ledger: Ledger,
    prefix: Annotated[str, Query(max_length=500, description=(
        "Origins counted: a file's absolute path and ':', a topic and '/', 'http:' for HTTP "
        "intake; empty for every record."))] = "",
) -> Any:  # fmt: skip
    """How the records from one origin prefix were accounted for, and how many stored
    events no read model could fold (``unfolded``)."""
    served = position(ledger, choose(ledger, None))
    return {"read_model": served.to_json(), **records.counts(ledger, prefix).to_json()}
