"""The read models: which is served, each one's definitions hash, bounds and position."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel

from leadledger.api.caching import NOT_MODIFIED, tag_of, unchanged
from leadledger.api.guards import READ
from leadledger.api.paging import Limit, Offset, known_query
from leadledger.api.problems import responses
from leadledger.api.routes_reports import PageRef, ReadModelRef
from leadledger.api.services import ledger
from leadledger.app.readmodels import choose, listing, position
from leadledger.ledgerdb import LedgerDB

router = APIRouter(
    prefix="/api/v1", tags=["read models"], dependencies=[*READ, Depends(known_query)],
    responses={**NOT_MODIFIED, **responses(401, 403, 422)},
)  # fmt: skip


class ListedModel(BaseModel):
    name: str
    served: bool
    status: str
    bounds: str
    definitions: str | None
    position: dict[str, int]
    problem: str | None


class ReadModels(BaseModel):
    """The read models, and the served one (``read_model``)."""

    read_model: ReadModelRef
    read_models: list[ListedModel]
    page: PageRef


@router.get("/read-models", response_model=ReadModels)
def read_models(
    request: Request, response: Response, ledger: Annotated[LedgerDB, Depends(ledger)],
    limit: Limit = 100, offset: Offset = 0,
    status: Annotated[str | None, Query(max_length=20,
                                        description="Only read models of this status.")] = None,
) -> Any:  # fmt: skip
    """Every read model: served or not, status (building, ready, broken), bounds (live, or
    as of a time), definitions hash and position in the event store's log."""
    served = position(ledger, choose(ledger, None))
    every = [m.to_json() for m in listing(ledger)]
    if cached := unchanged(request, response, tag_of([served.etag, every])):
        return cached
    found = [m for m in every if status is None or m["status"] == status]
    return {"read_model": served.to_json(), "read_models": found[offset : offset + limit],
            "page": {"limit": limit, "offset": offset, "total": len(found)}}  # fmt: skip
