"""The SLA report: compliance rates, every breach with its lead and rep, and the leads at
risk now (open clocks near their limit), from the SLA clocks of a read model's leads."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime
from typing import Any

from leadledger.ledgerdb import LedgerDB
from leadledger.projections.lifecycle import as_at, clocks
from leadledger.readmodels import ReadModel, states

GROUPS = ("clock", "rep", "team", "period", "lead", "clock-row")
CLOCK_ROW = ("lead_id", "cycle", "clock", "seq", "started_at", "deadline", "ended_at",
             "working_seconds", "limit", "verdict", "rep", "team", "detail")  # fmt: skip
"""The columns of ``--by clock-row``: one row per clock of a cycle, or policy check."""
COUNTED = ("met", "breached")  # open and cancelled clocks have no verdict yet


def period_of(moment: date, period: str) -> str:
    """``2026-01`` for a month, ``2026-Q1`` for a quarter (of a UTC instant, or a day)."""
    if isinstance(moment, datetime):
        moment = moment.astimezone(UTC)
    if period == "quarter":
        return f"{moment.year}-Q{(moment.month - 1) // 3 + 1}"
    return f"{moment.year}-{moment.month:02d}"


def _text(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).isoformat()


def _hours(seconds: float | None) -> str | None:
    return None if seconds is None else f"{seconds / 3600:.2f}"


def sla_report(
    ledger: LedgerDB,
    read_model: ReadModel,
    now: datetime,
    by: str = "clock",
    period: str = "month",
) -> dict[str, Any]:
    """Compliance per ``by`` (and clock), breaches, and open clocks at risk, as the SLA
    stood at ``now``: facts that happened after it are left out, so a clock still
    running then is open (or at risk), whatever came later."""
    sla = read_model.definitions.sla
    calendar = sla.calendar.calendar()
    rows = [
        row
        for state in states(ledger, read_model)
        for row in sorted(
            clocks(as_at(state, now, read_model.definitions), sla, calendar),
            key=lambda c: (c.cycle, c.clock, c.seq),
        )
    ]
    tallies: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    breaches, at_risk, listing = [], [], []
    reasons: dict[str, int] = defaultdict(int)
    for row in rows:
        started, deadline = row.started_at, row.deadline
        status = row.status
        if status == "open" and deadline is not None and now > deadline:
            status = "breached"  # still open, and already past its deadline
        if by == "clock-row":
            listing.append(dict(zip(CLOCK_ROW, (
                row.lead_id, row.cycle, row.clock, row.seq, _text(started), _text(deadline),
                _text(row.stopped_at), row.measured, row.limit, status, row.rep, row.team,
                row.detail), strict=True)))  # fmt: skip
        group = {"clock": row.clock, "rep": row.rep or "(none)", "team": row.team or "(none)",
                 "period": period_of(started, period), "lead": row.lead_id,
                 "clock-row": row.clock}[by]  # fmt: skip
        keys = {(group, row.clock), (group, "all")} if by not in ("clock", "clock-row") else {
            (row.clock, row.clock), ("all", "all")}  # fmt: skip
        for key in keys:
            tallies[key][status] += 1
        if row.clock == "reason_returned":
            reasons[row.detail or "(none)"] += 1
        if status == "breached":
            breaches.append({
                "lead_id": row.lead_id, "clock": row.clock, "cycle": row.cycle,
                "rep": row.rep, "team": row.team, "started_at": _text(started),
                "deadline": _text(deadline), "stopped_at": _text(row.stopped_at),
                "measured": (_hours(row.measured) if row.clock != "contact_attempts"
                             else str(int(row.measured or 0))),
                "limit": (_hours(row.limit) if row.clock != "contact_attempts"
                          else str(int(row.limit or 0))),
                "detail": row.detail,
            })  # fmt: skip
        elif status == "open" and row.limit:
            used = calendar.working_seconds(started, now)
            if used >= sla.at_risk_share * row.limit:
                at_risk.append({
                    "lead_id": row.lead_id, "clock": row.clock, "cycle": row.cycle,
                    "rep": row.rep, "team": row.team, "started_at": _text(started),
                    "deadline": _text(deadline), "used_hours": _hours(used),
                    "limit_hours": _hours(row.limit), "share": f"{used / row.limit:.2f}",
                })  # fmt: skip
    compliance = []
    for (group, clock), counts in sorted(tallies.items()):
        judged = sum(counts[s] for s in COUNTED)
        compliance.append({
            by: group, **({"clock": clock} if by not in ("clock", "clock-row") else {}),
            "met": counts["met"], "breached": counts["breached"], "open": counts["open"],
            "cancelled": counts["cancelled"],
            "compliance": f"{counts['met'] / judged:.4f}" if judged else None,
        })  # fmt: skip
    return {
        "report": "sla",
        "definitions": read_model.definitions.hash,
        "now": _text(now),
        "by": by,
        "compliance": compliance,
        "breaches": breaches,
        "at_risk": at_risk,
        "rejection_reasons": dict(sorted(reasons.items())),
        **({"clocks": listing} if by == "clock-row" else {}),
    }
