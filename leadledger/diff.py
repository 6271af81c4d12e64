"""What changed between two read models: per conversion, per lead, and per KPI.

An auditor replays new definitions beside the served ones and reads the difference before
promoting them: which conversions appear, vanish or move; which leads' SLA verdicts and
funnel milestones change; which KPI values change, period by period.
"""

from __future__ import annotations

from typing import Any

from leadledger.domain.stream import as_utc
from leadledger.kpi_report import kpi_report
from leadledger.ledgerdb import LedgerDB
from leadledger.projections.lifecycle import LeadState, clocks
from leadledger.readmodels import ReadModel, states
from leadledger.reports import decimal_text


def _conversions(leads: list[LeadState]) -> dict[str, dict[str, str]]:
    return {
        earned.conversion_id: {
            "lead_id": state.lead_id,
            "kind": earned.kind,
            "occurred_at": as_utc(earned.at).isoformat(),
            "value": decimal_text(earned.value),
            "currency": earned.currency,
        }
        for state in leads
        for earned in state.conversions
    }


def _lead_facts(leads: list[LeadState], model: ReadModel) -> dict[str, dict[str, str]]:
    """Per lead, what a diff compares: each SLA verdict and each first-reached milestone."""
    found: dict[str, dict[str, str]] = {}
    sla = model.definitions.sla
    calendar = sla.calendar.calendar()
    for state in leads:
        mine = found.setdefault(state.lead_id, {})
        for row in clocks(state, sla, calendar):
            seq = f" #{row.seq}" if row.cycle == 0 else ""
            mine[f"sla {row.clock} cycle {row.cycle}{seq}"] = row.status
        for step, at in state.first.items():
            mine[f"first {step}"] = as_utc(at).isoformat()
    return found


def diff(ledger: LedgerDB, a: ReadModel, b: ReadModel) -> dict[str, Any]:
    leads_of_a, leads_of_b = list(states(ledger, a)), list(states(ledger, b))
    conv_a, conv_b = _conversions(leads_of_a), _conversions(leads_of_b)
    changed_conversions = [
        {"conversion_id": cid, "field": field, "a": conv_a[cid][field], "b": conv_b[cid][field]}
        for cid in sorted(conv_a.keys() & conv_b.keys())
        for field in conv_a[cid]
        if conv_a[cid][field] != conv_b[cid][field]
    ]
    leads_a, leads_b = _lead_facts(leads_of_a, a), _lead_facts(leads_of_b, b)
    lead_changes = []
    for lead in sorted(leads_a.keys() | leads_b.keys()):
        mine, theirs = leads_a.get(lead, {}), leads_b.get(lead, {})
        for what in sorted(mine.keys() | theirs.keys()):
            if mine.get(what) != theirs.get(what):
                lead_changes.append(
                    {"lead_id": lead, "what": what, "a": mine.get(what), "b": theirs.get(what)}
                )
    kpi_changes = []
    rows_a = {row["period"]: row for row in kpi_report(ledger, a)["rows"]}
    rows_b = {row["period"]: row for row in kpi_report(ledger, b)["rows"]}
    for period in sorted(rows_a.keys() | rows_b.keys()):
        empty: dict[str, Any] = {"kpis": {}, "measures": {}}
        row_a, row_b = rows_a.get(period, empty), rows_b.get(period, empty)
        for part in ("measures", "kpis"):
            for name in sorted(row_a[part].keys() | row_b[part].keys()):
                before, after = row_a[part].get(name), row_b[part].get(name)
                if before != after:
                    kpi_changes.append({"period": period, "name": name, "a": before, "b": after})
    only_a, only_b = sorted(conv_a.keys() - conv_b.keys()), sorted(conv_b.keys() - conv_a.keys())
    return {
        "report": "diff",
        "a": a.describe(),
        "b": b.describe(),
        "conversions": {
            "only_in_a": [dict(conv_a[c], conversion_id=c) for c in only_a],
            "only_in_b": [dict(conv_b[c], conversion_id=c) for c in only_b],
            "changed": changed_conversions,
        },
        "leads": lead_changes,
        "kpis": kpi_changes,
    }
