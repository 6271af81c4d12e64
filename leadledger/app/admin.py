"""Read models by name: replay new definitions beside the served ones, compare, promote,
drop; and the rule that says which definitions a report may apply to a read model.

Each function is one use case, called alike by the CLI and the HTTP API; it returns what
happened and leaves the wording to the face.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from leadledger import readmodels
from leadledger.config import Database, Kafka
from leadledger.diff import diff as diff_models
from leadledger.ledgerdb import LedgerDB
from leadledger.pipeline import Progress
from leadledger.projections.definitions import Definitions
from leadledger.readmodels import ReadModel

from .errors import Refused

T = TypeVar("T")
Runner = Callable[[str, int, Callable[[Progress], T]], T]
"""How a long task runs: given its label and total steps, it runs the work with a step
callback (the CLI shows a progress bar; the API passes :func:`quietly`)."""

# What a read model was built under; a report may change only its attribution settings.
BUILT_UNDER = ("funnel", "sla", "kpi")


def quietly(_label: str, _total: int, work: Callable[[Progress], T]) -> T:
    return work(lambda _steps: None)


class DefinitionsMismatch(Refused):
    """Report-time definitions that change what the read model was built under."""

    def __init__(self, section: str, model: str) -> None:
        super().__init__(
            f"its [{section}] section differs from read model {model!r}'s; replay them as a "
            "read model of their own first and report from that"
        )
        self.section = section
        self.model = model


def read_model_under(
    ledger: LedgerDB, name: str | None, definitions: Definitions | None = None
) -> tuple[ReadModel, Definitions]:
    """The read model a report reads (``name``, or the served one) and the definitions it
    reports under: the read model's own, or ``definitions``, whose attribution settings
    apply at report time. Definitions that also change what the read model was built
    under (funnel, SLA, KPI) need a replay: refused with :class:`DefinitionsMismatch`."""
    chosen = readmodels.chosen(ledger, name)
    if definitions is None:
        return chosen, chosen.definitions
    for section in BUILT_UNDER:
        if getattr(definitions, section) != getattr(chosen.definitions, section):
            raise DefinitionsMismatch(section, chosen.name)
    return chosen, definitions


@dataclass(frozen=True)
class Replayed:
    model: ReadModel
    covered: int  # log positions (store) or records (Kafka) folded by this run
    served: str  # the read model served meanwhile, to compare against


def replay(
    ledger: LedgerDB,
    database: Database,
    definitions: Definitions,
    name: str | None = None,
    as_of: datetime | None = None,
    occurred_before: datetime | None = None,
    kafka: Kafka | None = None,
    page_size: int = 1000,
    run: Runner[int] = quietly,
) -> Replayed:
    """Build read model ``name`` (default: the definitions' hash) under ``definitions`` from
    the start of the log, beside the served one: from the embedded store in ``database``,
    or from the domain-events topic when ``kafka`` is given. An interrupted replay resumes
    from its checkpoint when asked again with the same definitions and bounds."""
    name = name or definitions.hash.replace(":", "-")
    model = readmodels.create(ledger, name, definitions, as_of, occurred_before)
    if kafka is not None:
        from leadledger.consumers.projection import replay_from_kafka, replay_total

        total, ends = replay_total(kafka, ledger, model)
        covered = run(
            "replaying", total, lambda p: replay_from_kafka(kafka, ledger, model, ends, p)
        )
    else:
        from leadledger.pipeline import replay_from_store
        from leadledger.store import open_store

        store = open_store(database)
        try:
            total = store.max_position() - (ledger.position(model.checkpoint, "store") or 0)
            covered = run(
                "replaying", total, lambda p: replay_from_store(store, ledger, model, page_size, p)
            )
        finally:
            store.close()
    ledger.set_read_model_status(name, "ready")
    return Replayed(model, covered, readmodels.served(ledger).name)


def promote(ledger: LedgerDB, name: str) -> tuple[ReadModel, ReadModel]:
    """Serve read model ``name`` from now on; returns it and the one served before."""
    before = readmodels.served(ledger)
    return readmodels.promote(ledger, name), before


def drop(ledger: LedgerDB, name: str) -> None:
    """Delete read model ``name`` and its rows; the served one is refused."""
    if readmodels.served(ledger).name == name:
        raise Refused(f"{name!r} is served; promote another read model first")
    readmodels.get(ledger, name)
    ledger.drop_read_model(name)


def diff(ledger: LedgerDB, a: str, b: str) -> dict[str, Any]:
    """What changed from read model ``a`` to ``b``: per conversion, lead and KPI."""
    return diff_models(ledger, readmodels.chosen(ledger, a), readmodels.chosen(ledger, b))
