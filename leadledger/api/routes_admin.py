"""Admin: replay definitions as a new read model, promote or drop one, and replay a dead
letter; the same use cases as the CLI's ``replay``, ``promote``, ``drop`` and
``deadletters replay`` (``leadledger.app``), behind the ``admin`` role.

A replay runs inside its request: right for the definitions a team tries on a store of
demo or test size; a replay of millions of events belongs to ``leadledger replay``,
which shows its progress and resumes where an interrupted run stopped.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Body, Depends, Path, Response
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from leadledger.api.guards import ADMIN
from leadledger.api.paging import known_query
from leadledger.api.problems import responses
from leadledger.api.routes_reports import ReadModelRef
from leadledger.api.services import Services, services
from leadledger.app import admin, deadletters
from leadledger.app.readmodels import choose, position
from leadledger.limits import MAX_DEFINITIONS_BYTES
from leadledger.projections.definitions import parse

router = APIRouter(prefix="/api/v1", tags=["admin"], dependencies=[*ADMIN, Depends(known_query)],
                   responses=responses(400, 401, 403, 404, 409, 422))  # fmt: skip
Served = Annotated[Services, Depends(services)]
ModelName = Path(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$")


class ReplayAsked(BaseModel):
    """Definitions (the TOML of a definitions file) to build a read model under. An unknown
    field (``asof`` for ``as_of``) is refused, not ignored: it would build another model."""

    model_config = ConfigDict(extra="forbid")

    definitions: str = Field(max_length=MAX_DEFINITIONS_BYTES, description="TOML text")
    name: str | None = Field(
        None, min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$",
        description="The new read model's name (default: the definitions' hash).",
    )  # fmt: skip
    as_of: AwareDatetime | None = Field(
        None, description="Only facts the engine had recorded by then (what it knew)."
    )
    occurred_before: AwareDatetime | None = Field(
        None, description="Only facts that happened before then."
    )


class Replayed(BaseModel):
    read_model: ReadModelRef
    covered: int = Field(description="Log positions (or Kafka records) folded by this run.")
    served: str = Field(description="The read model served meanwhile, to compare against.")


@router.post("/read-models", response_model=Replayed, status_code=201)
def replay(asked: ReplayAsked, found: Served) -> Any:
    """Build a read model under new definitions from the start of the log, beside the
    served one (from the domain-events topic in Kafka mode)."""
    definitions = parse(asked.definitions, "the request's definitions")
    done = admin.replay(
        found.ledger, found.database, definitions, asked.name,
        _utc(asked.as_of), _utc(asked.occurred_before), kafka=found.kafka,
    )  # fmt: skip
    return {"read_model": position(found.ledger, done.model).to_json(),
            "covered": done.covered, "served": done.served}  # fmt: skip


class Promoted(BaseModel):
    served: str
    before: str


@router.post("/read-models/{name}/promote", response_model=Promoted)
def promote(name: Annotated[str, ModelName], found: Served) -> Any:
    """Serve read model ``name`` from now on (reports without a read model read it)."""
    choose(found.ledger, name)  # an unknown name is a 404, not a refusal
    now, before = admin.promote(found.ledger, name)
    return {"served": now.name, "before": before.name}


@router.delete("/read-models/{name}", status_code=204)
def drop(name: Annotated[str, ModelName], found: Served) -> Response:
    """Delete read model ``name`` and its rows; the served one is refused (409)."""
    choose(found.ledger, name)  # an unknown name is a 404, not a refusal
    admin.drop(found.ledger, name)
    return Response(status_code=204)


class LetterReplayed(BaseModel):
    """Where the re-submitted record went (one of the counts is 1)."""

    stored: int
    duplicates: int
    dead_lettered: int
    parked: int
    reasons: dict[str, int]


@router.post("/dead-letters/{letter_id}/replay", response_model=LetterReplayed)
def replay_letter(
    letter_id: Annotated[int, Path(ge=1, le=2**62)],
    found: Served,
    corrected: Annotated[dict[str, Any] | None, Body(
        description="The record corrected (one JSON object); none: the original again."
    )] = None,
) -> Any:  # fmt: skip
    """Re-submit a dead letter through intake and the projections; it is marked replayed
    once its record is stored or found a duplicate."""
    raw = None if corrected is None else orjson.dumps(corrected)
    with found.writing:
        tally = deadletters.replay_letter(found.store, found.ledger, letter_id, raw)
    return {"stored": tally.stored, "duplicates": tally.duplicates,
            "dead_lettered": tally.dead_lettered, "parked": tally.parked,
            "reasons": tally.reasons}  # fmt: skip


def _utc(moment: datetime | None) -> datetime | None:
    """An instant in UTC, as the CLI's ``--as-of`` gives it."""
    return None if moment is None else moment.astimezone(UTC)
