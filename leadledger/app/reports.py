"""The reports, the credit ledger and explain: one function per use case, each answering
with the read model it read (name, definitions hash, position) beside the report's data,
which has the shape of the CLI's ``--format json`` output."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from leadledger import kpi_report, reports, sla_report
from leadledger.app.errors import NotFound, Refused
from leadledger.app.readmodels import Position, choose, position
from leadledger.ledgerdb import LedgerDB
from leadledger.projections.definitions import Definitions
from leadledger.projections.definitions import load as load_definitions
from leadledger.readmodels import ReadModel


@dataclass(frozen=True)
class Answer:
    """A report's data and the read model it came from."""

    read_model: Position
    data: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {"read_model": self.read_model.to_json(), **self.data}


def under(
    ledger: LedgerDB, name: str | None, definitions_file: Path | None = None
) -> tuple[ReadModel, Definitions]:
    """The read model a report reads, and the definitions it reports under: the read
    model's own, or a file's attribution settings, which apply at report time. A file that
    also changes what the read model was built under (funnel, SLA, KPI) needs a replay."""
    chosen = choose(ledger, name)
    if definitions_file is None:
        return chosen, chosen.definitions
    definitions = load_definitions(definitions_file)
    for section in ("funnel", "sla", "kpi"):
        if getattr(definitions, section) != getattr(chosen.definitions, section):
            raise Refused(
                f"{definitions_file}: its [{section}] section differs from read model "
                f"{chosen.name!r}'s; replay it first (leadledger replay --definitions "
                f"{definitions_file} --name NAME) and report with --read-model NAME"
            )
    return chosen, definitions


def attribution(
    ledger: LedgerDB, model: str = "first_touch", by: str = "channel",
    conversion: str | None = None, read_model: str | None = None,
    definitions_file: Path | None = None, period: str | None = None,
) -> Answer:  # fmt: skip
    """Credit per channel, campaign, source or medium for one kind of conversion (of one
    month or quarter, if ``period`` names it)."""
    chosen, definitions = under(ledger, read_model, definitions_file)
    data = reports.attribution_report(ledger, chosen, model, definitions, by, conversion,
                                      period)  # fmt: skip
    return Answer(position(ledger, chosen), data)


def spend(
    ledger: LedgerDB, model: str = "first_touch", by: str = "channel",
    read_model: str | None = None, definitions_file: Path | None = None,
) -> Answer:  # fmt: skip
    """Spend against attributed leads, MQLs and deals: CPL, cost per MQL and deal, ROAS."""
    chosen, definitions = under(ledger, read_model, definitions_file)
    data = reports.spend_report(ledger, chosen, model, definitions, by)
    return Answer(position(ledger, chosen), data)


def credits(
    ledger: LedgerDB, model: str = "first_touch", conversion: str | None = None,
    read_model: str | None = None, definitions_file: Path | None = None,
) -> Answer:  # fmt: skip
    """The credit ledger: one row per credit, with the model and the definitions' hash."""
    chosen, definitions = under(ledger, read_model, definitions_file)
    found, _ = reports.credits_for(ledger, chosen, model, definitions, conversion)
    data = {"report": "credits", "model": model, "definitions": definitions.hash,
            "conversion": conversion or definitions.attribution.conversion,
            "rows": reports.ledger_rows(found, model, definitions)}  # fmt: skip
    return Answer(position(ledger, chosen), data)


def explain(
    ledger: LedgerDB, conversion_id: str, model: str = "first_touch",
    read_model: str | None = None, definitions_file: Path | None = None,
) -> Answer:  # fmt: skip
    """One conversion's path, each touch's credit, and why."""
    chosen, definitions = under(ledger, read_model, definitions_file)
    try:
        data = reports.explain(ledger, chosen, conversion_id, model, definitions)
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
