"""The reports, the credit ledger and explain: one function per use case, each answering
with the read model it read (name, definitions hash, position) beside the report's data,
which has the shape of the CLI's ``--format json`` output."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from leadledger import kpi_report, reports, sla_report
from leadledger.app import admin
from leadledger.app.errors import NotFound
from leadledger.app.readmodels import Position, choose, position
from leadledger.ledgerdb import LedgerDB
from leadledger.projections.definitions import Definitions
from leadledger.readmodels import ReadModel


@dataclass(frozen=True)
class Answer:
    """A report's data and the read model it came from."""

    read_model: Position
    data: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {"read_model": self.read_model.to_json(), **self.data}


def under(
    ledger: LedgerDB, name: str | None, definitions: Definitions | None = None
) -> tuple[ReadModel, Definitions]:
    """The read model a report reads (``NotFound`` if no read model has that name) and the
    definitions it reports under (see ``admin.read_model_under``)."""
    choose(ledger, name)
    return admin.read_model_under(ledger, name, definitions)


def attribution(
    ledger: LedgerDB, model: str = "first_touch", by: str = "channel",
    conversion: str | None = None, read_model: str | None = None,
    definitions: Definitions | None = None, period: str | None = None,
) -> Answer:  # fmt: skip
    """Credit per channel, campaign, source or medium for one kind of conversion (of one
    month or quarter, if ``period`` names it)."""
    chosen, used = under(ledger, read_model, definitions)
    data = reports.attribution_report(ledger, chosen, model, used, by, conversion, period)
    return Answer(position(ledger, chosen), data)


def spend(
    ledger: LedgerDB, model: str = "first_touch", by: str = "channel",
    read_model: str | None = None, definitions: Definitions | None = None,
) -> Answer:  # fmt: skip
    """Spend against attributed leads, MQLs and deals: CPL, cost per MQL and deal, ROAS."""
    chosen, used = under(ledger, read_model, definitions)
    return Answer(position(ledger, chosen), reports.spend_report(ledger, chosen, model, used, by))


def credits(
    ledger: LedgerDB, model: str = "first_touch", conversion: str | None = None,
    read_model: str | None = None, definitions: Definitions | None = None,
) -> Answer:  # fmt: skip
    """The credit ledger: one row per credit, with the model and the definitions' hash."""
    chosen, used = under(ledger, read_model, definitions)
    found, _ = reports.credits_for(ledger, chosen, model, used, conversion)
    data = {"report": "credits", "model": model, "definitions": used.hash,
            "conversion": conversion or used.attribution.conversion,
            "rows": reports.ledger_rows(found, model, used)}  # fmt: skip
    return Answer(position(ledger, chosen), data)


def explain(
    ledger: LedgerDB, conversion_id: str, model: str = "first_touch",
    read_model: str | None = None, definitions: Definitions | None = None,
) -> Answer:  # fmt: skip
    """One conversion's path, each touch's credit, and why."""
    chosen, used = under(ledger, read_model, definitions)
    try:
        data = reports.explain(ledger, chosen, conversion_id, model, used)
    except reports.UnknownConversion as exc:
        raise NotFound(str(exc)) from None
    return Answer(position(ledger, chosen), data)


def sla(
    ledger: LedgerDB, by: str = "clock", period: str = "month", now: datetime | None = None,
    read_model: str | None = None,
) -> Answer:  # fmt: skip
    """SLA compliance per ``by``, breaches and open clocks at risk, as they stood at ``now``
    (default: the present)."""
    chosen = choose(ledger, read_model)
    data = sla_report.sla_report(ledger, chosen, now or datetime.now(UTC), by, period)
    return Answer(position(ledger, chosen), data)


def kpi(
    ledger: LedgerDB, by: str = "all", period: str = "month", basis: str = "cohort",
    read_model: str | None = None,
) -> Answer:  # fmt: skip
    """The definitions' KPI formulas per period and group."""
    chosen = choose(ledger, read_model)
    data = kpi_report.kpi_report(ledger, chosen, by, period, basis)
    return Answer(position(ledger, chosen), data)
