"""The funnel's law as data: stages, reason tags, and which fact may follow which stage.

Every rule the Lead aggregate enforces about order lives in :data:`MOVES`; the few rules
that look at more than the stage (a second win of one deal) are named guards in
``lead.py``. Changing the funnel means changing this table, not hunting for ifs.

Only *structure* is law here: histories that cannot have happened are refused. Hand-over
*policy* (a reason tag returned, enough contact attempts, disqualify only after SQL) is
not: a breach happened and is recorded, and the SLA read models judge it under the
definitions file (``projections/lifecycle.py``, :data:`POLICY`).

README.md's "The funnel rules" holds the one table of what is refused and what is stored
and judged.

A fact refused for structure may only be early (the fact it needs has not arrived):
intake parks it and retries it as later facts arrive (``leadledger/intake.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Stage(StrEnum):
    """Where a lead stands. A stream exists before the lead does, to hold early touches."""

    VISITOR = "visitor"
    LEAD = "lead"
    MQL = "mql"
    SQL = "sql"
    OPPORTUNITY = "opportunity"
    WON = "won"
    LOST = "lost"
    NURTURE = "nurture"
    CHURNED = "churned"
    MERGED = "merged"


class Reason(StrEnum):
    """Why sales handed a lead back, or a deal was lost: the tag marketing gets back.

    The one list of known tags. A fact with another tag, or none, is still stored (the
    sales system did reject the lead); the SLA read model reports the tag as given.
    """

    NO_BUDGET = "no_budget"
    NOT_ICP = "not_icp"
    TOO_EARLY = "too_early"
    COMPETITOR_WON = "competitor_won"
    NO_RESPONSE = "no_response"
    OTHER = "other"


_ALL = frozenset(Stage) - {Stage.MERGED}
_CREATED = _ALL - {Stage.VISITOR}
_IN_PLAY = frozenset({Stage.LEAD, Stage.MQL, Stage.SQL, Stage.OPPORTUNITY, Stage.NURTURE})
_SALES = frozenset({Stage.SQL, Stage.OPPORTUNITY})


@dataclass(frozen=True)
class Move:
    """A fact is legal from ``allowed`` stages; ``to`` is the stage it leads to (None: stays)."""

    allowed: frozenset[Stage]
    to: Stage | None = None


MOVES: dict[str, Move] = {
    # Facts any known stream may carry, even before the lead is created.
    "touch": Move(_ALL),
    "identify": Move(_ALL),
    "unlink": Move(_ALL),
    "merged": Move(_ALL, Stage.MERGED),
    # Marketing's part of the funnel. lead_created goes to its entry stage: Lead, or SQL
    # for a sales-sourced (outbound) lead.
    "lead_created": Move(frozenset({Stage.VISITOR}), Stage.LEAD),
    "score_changed": Move(_CREATED),
    "assigned": Move(_CREATED),
    "stage_changed:mql": Move(frozenset({Stage.LEAD, Stage.NURTURE}), Stage.MQL),
    # The hand-over: sales accepts or rejects an MQL; a rejection recycles to nurture.
    "mql_accepted": Move(frozenset({Stage.MQL})),
    "mql_rejected": Move(frozenset({Stage.MQL}), Stage.NURTURE),
    "stage_changed:sql": Move(frozenset({Stage.MQL}), Stage.SQL),
    "sql_confirmed": Move(frozenset({Stage.SQL})),
    "contact_attempted": Move(_IN_PLAY),
    # Disqualifying an MQL breaks hand-over policy (disqualify after SQL), not structure.
    "disqualified": Move(_SALES | {Stage.MQL}, Stage.NURTURE),
    "recycled": Move(_IN_PLAY | {Stage.LOST, Stage.CHURNED}, Stage.NURTURE),
    # Sales' part: deals, and what customers do after.
    "stage_changed:opportunity": Move(frozenset({Stage.SQL}), Stage.OPPORTUNITY),
    "deal_opened": Move(_SALES, Stage.OPPORTUNITY),
    "deal_won": Move(_SALES, Stage.WON),
    "deal_lost": Move(_SALES, Stage.LOST),
    "purchase": Move(frozenset({Stage.WON})),
    "contraction": Move(frozenset({Stage.WON})),
    "churned": Move(frozenset({Stage.WON}), Stage.CHURNED),
}

# Facts at one instant are taken in this order, whatever order they arrived in (then by
# stream version): a CRM often stamps an acceptance and the SQL it led to with one time.
TIE_ORDER = (
    "lead_created", "score_changed", "assigned", "stage_changed:mql", "mql_accepted",
    "mql_rejected", "stage_changed:sql", "sql_confirmed", "contact_attempted",
    "stage_changed:opportunity", "deal_opened", "deal_won", "deal_lost", "disqualified",
    "recycled", "purchase", "contraction", "churned", "identify", "unlink", "touch", "merged",
)  # fmt: skip
TIE_RANK = {key: rank for rank, key in enumerate(TIE_ORDER)}
