"""Report endpoints: attribution, spend, credits, explain, SLA and KPIs, each answered from a
read model it names with its definitions hash and position (``read_model``), under an
``ETag`` derived from that position."""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from pydantic import AfterValidator, AwareDatetime, BaseModel, BeforeValidator, ConfigDict

from leadledger.api.caching import NOT_MODIFIED, tag_of, unchanged
from leadledger.api.guards import AUDIT, READ
from leadledger.api.paging import Limit, Offset, ReadModelName, known_query, listed, one_of, page
from leadledger.api.problems import responses
from leadledger.api.services import ledger
from leadledger.app import reports
from leadledger.app.readmodels import choose, position
from leadledger.kpi_report import GROUPS as KPI_GROUPS
from leadledger.ledgerdb import LedgerDB
from leadledger.projections.attribution import MODELS
from leadledger.projections.lifecycle import CONVERSION_KINDS
from leadledger.sla_report import GROUPS as SLA_GROUPS

router = APIRouter(
    prefix="/api/v1", tags=["reports"], dependencies=[Depends(known_query)],
    responses={**NOT_MODIFIED, **responses(401, 403, 404, 409, 422)},
)  # fmt: skip

Model = Annotated[
    str, AfterValidator(one_of(MODELS)), listed(MODELS, "Attribution model.")
]  # fmt: skip
Conversion = Annotated[
    str | None,
    AfterValidator(lambda v: v if v is None else one_of(CONVERSION_KINDS)(v)),
    listed(CONVERSION_KINDS, "Which conversions earn credit (default: the definitions')."),
]
Period = Annotated[str, AfterValidator(one_of(("month", "quarter"))),
                   listed(("month", "quarter"), "Period length.")]  # fmt: skip
PeriodLabel = Annotated[
    str | None,
    Query(pattern=r"^\d{4}-(0[1-9]|1[0-2]|Q[1-4])$",
          description="Only this month or quarter, e.g. 2026-01 or 2026-Q1."),
]  # fmt: skip
Ledger = Annotated[LedgerDB, Depends(ledger)]


class ReadModelRef(BaseModel):
    """The read model an answer comes from."""

    name: str
    definitions: str
    position: dict[str, int]


class PageRef(BaseModel):
    limit: int
    offset: int
    total: int


class ReportAnswer(BaseModel):
    """A report as ``leadledger report ... --format json`` prints it, with the read model
    it was read from and, for a list, the page."""

    model_config = ConfigDict(extra="allow")
    read_model: ReadModelRef
    page: PageRef | None = None


def _answer(request: Request, response: Response, ledger: LedgerDB,
            read_model: str | None, clocked: bool = False) -> Response | None:  # fmt: skip
    """304 if the client's ETag still names the read model's position and the same request
    (checked before the report is computed, which is the expensive part). An answer judged
    at the wall clock (``clocked``: an SLA without ``now``) changes while the read model
    stands still, so it gets no ETag."""
    chosen = position(ledger, choose(ledger, read_model))
    if clocked:
        return None
    query = sorted(request.query_params.multi_items())
    return unchanged(request, response, tag_of([chosen.etag, request.url.path, query]))


@router.get("/reports/attribution", response_model=ReportAnswer, dependencies=READ)
def attribution(
    request: Request, response: Response, ledger: Ledger, limit: Limit = 100,
    offset: Offset = 0, model: Model = "first_touch",
    by: Annotated[str, AfterValidator(one_of(("channel", "campaign", "source", "medium"))),
                  listed(("channel", "campaign", "source", "medium"), "Group credit by.")]
    = "channel",
    conversion: Conversion = None, in_period: PeriodLabel = None,
    read_model: ReadModelName = None,
) -> Any:  # fmt: skip
    """Credit per channel, campaign, source or medium for one kind of conversion, of every
    conversion or of those in one month or quarter (``in_period``)."""
    if cached := _answer(request, response, ledger, read_model):
        return cached
    answer = reports.attribution(ledger, model, by, conversion, read_model, period=in_period)
    return page(answer.to_json(), "credits", limit, offset)


@router.get("/reports/spend", response_model=ReportAnswer, dependencies=READ)
def spend(
    request: Request, response: Response, ledger: Ledger, limit: Limit = 100,
    offset: Offset = 0, model: Model = "first_touch",
    by: Annotated[str, AfterValidator(one_of(("channel", "campaign"))),
                  listed(("channel", "campaign"), "Group spend by.")] = "channel",
    read_model: ReadModelName = None,
) -> Any:  # fmt: skip
    """Spend against attributed leads, MQLs and deals: CPL, cost per MQL and deal, ROAS."""
    if cached := _answer(request, response, ledger, read_model):
        return cached
    return page(reports.spend(ledger, model, by, read_model).to_json(), "rows", limit, offset)


@router.get("/credits", response_model=ReportAnswer, dependencies=READ)
def credits(
    request: Request, response: Response, ledger: Ledger, limit: Limit = 100,
    offset: Offset = 0, model: Model = "first_touch", conversion: Conversion = None,
    read_model: ReadModelName = None,
) -> Any:  # fmt: skip
    """The credit ledger: one row per conversion, touch and model, with its weight and value."""
    if cached := _answer(request, response, ledger, read_model):
        return cached
    answer = reports.credits(ledger, model, conversion, read_model)
    return page(answer.to_json(), "rows", limit, offset)


@router.get(
    "/conversions/{conversion_id:path}/explain", response_model=ReportAnswer, dependencies=AUDIT
)
def explain(
    request: Request, response: Response, ledger: Ledger,
    conversion_id: Annotated[str, Path(max_length=500,
                                       description="e.g. deal_won:D1 (see /credits)")],
    model: Model = "first_touch", read_model: ReadModelName = None,
) -> Any:  # fmt: skip
    """One conversion's path, each touch's credit under ``model``, and why."""
    if cached := _answer(request, response, ledger, read_model):
        return cached
    return reports.explain(ledger, conversion_id, model, read_model).to_json()


ISO_INSTANT = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}.*")


def iso_instant(value: Any) -> Any:
    """Only ISO 8601 text: pydantic would read a bare number as seconds since 1970."""
    if value is not None and not (isinstance(value, str) and ISO_INSTANT.fullmatch(value)):
        raise ValueError(f"{value!r} is not an ISO 8601 time (e.g. 2026-03-01T12:00:00Z)")
    return value


Instant = Annotated[
    AwareDatetime | None,
    BeforeValidator(iso_instant),
    Query(description="Judge the SLA as it stood at this time, with its zone (default: now)."),
]
SlaBy = Annotated[str, AfterValidator(one_of(SLA_GROUPS)),
                  listed(SLA_GROUPS, "Group compliance by.")]  # fmt: skip


@router.get("/reports/sla", response_model=ReportAnswer, dependencies=READ)
def sla(
    request: Request, response: Response, ledger: Ledger, limit: Limit = 100,
    offset: Offset = 0, by: SlaBy = "clock", period: Period = "month",
    now: Instant = None, read_model: ReadModelName = None,
) -> Any:  # fmt: skip
    """SLA compliance per group; breaches and open clocks at risk have their own lists
    (``/reports/sla/breaches``, ``/reports/sla/at-risk``). ``by=clock-row`` pages every
    clock (``clocks``)."""
    if cached := _answer(request, response, ledger, read_model, clocked=now is None):
        return cached
    data = reports.sla(ledger, by, period, now, read_model).to_json()
    data.pop("breaches"), data.pop("at_risk")
    return page(data, "clocks" if by == "clock-row" else "compliance", limit, offset)


def _sla_list(
    key: str, request: Request, response: Response, ledger: LedgerDB, limit: int, offset: int,
    now: Any, read_model: str | None, **only: str | None,
) -> Any:  # fmt: skip
    if cached := _answer(request, response, ledger, read_model, clocked=now is None):
        return cached
    data = reports.sla(ledger, "clock", "month", now, read_model).to_json()
    rows = [r for r in data[key] if all(v is None or r[k] == v for k, v in only.items())]
    kept = {k: data[k] for k in ("read_model", "report", "definitions", "now")}
    return page({**kept, key: rows}, key, limit, offset)


@router.get("/reports/sla/breaches", response_model=ReportAnswer, dependencies=READ)
def sla_breaches(
    request: Request, response: Response, ledger: Ledger, limit: Limit = 100,
    offset: Offset = 0, now: Instant = None, clock: str | None = None,
    team: str | None = None, rep: str | None = None, read_model: ReadModelName = None,
) -> Any:  # fmt: skip
    """Each breached clock with its lead, rep and team, as the SLA stood at ``now``."""
    return _sla_list("breaches", request, response, ledger, limit, offset, now, read_model,
                     clock=clock, team=team, rep=rep)  # fmt: skip


@router.get("/reports/sla/at-risk", response_model=ReportAnswer, dependencies=READ)
def sla_at_risk(
    request: Request, response: Response, ledger: Ledger, limit: Limit = 100,
    offset: Offset = 0, now: Instant = None, clock: str | None = None,
    team: str | None = None, rep: str | None = None, read_model: ReadModelName = None,
) -> Any:  # fmt: skip
    """Open clocks that have used the definitions' at-risk share of their limit."""
    return _sla_list("at_risk", request, response, ledger, limit, offset, now, read_model,
                     clock=clock, team=team, rep=rep)  # fmt: skip


@router.get("/reports/kpi", response_model=ReportAnswer, dependencies=READ)
def kpi(
    request: Request, response: Response, ledger: Ledger, limit: Limit = 100,
    offset: Offset = 0,
    by: Annotated[str, AfterValidator(one_of(KPI_GROUPS)), listed(KPI_GROUPS, "Group by.")]
    = "all",
    period: Period = "month",
    basis: Annotated[str, AfterValidator(one_of(("cohort", "activity"))),
                     listed(("cohort", "activity"), "Which period a lead's steps fall in.")]
    = "cohort",
    in_period: PeriodLabel = None,
    read_model: ReadModelName = None,
) -> Any:  # fmt: skip
    """The definitions' KPI formulas per period and group."""
    if cached := _answer(request, response, ledger, read_model):
        return cached
    data = reports.kpi(ledger, by, period, basis, read_model).to_json()
    if in_period is not None:
        data["rows"] = [r for r in data["rows"] if r["period"] == in_period]
    return page(data, "rows", limit, offset)
