"""Read models by name: each built under one set of definitions, beside the others.

The served read model answers reports unless another is named. ``replay`` builds a new
one from the start of the log; ``promote`` points the served slot at it in one statement.
A live read model follows the log as it grows; one bounded "as of" a recorded time (or by
a source time) is a fixed picture of what was known then, and is never followed.
"""

from __future__ import annotations

import gc
import re
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from pydantic import ValidationError

from leadledger.domain.stream import as_utc
from leadledger.ledgerdb import DeadLetter, LedgerDB, lead_states, read_models
from leadledger.projections import lifecycle
from leadledger.projections.definitions import DEFAULTS, Definitions, one_line
from leadledger.projections.lifecycle import LIFECYCLE_TYPES, LeadState
from leadledger.wire import WireEvent

DEFAULT_NAME = "default"
PROJECTION_ORIGIN = "projection:"  # dead letters of events a read model could not fold
FACTS = "facts"  # the checkpoint name of the facts shared by all read models
STORE_STREAM = "store"  # a checkpoint's position in the event store's log
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
CACHE_SIZE = 50_000  # lead states kept in memory between pages; the rest are in the database


class ReadModelError(ValueError):
    """A read model that does not exist, clashes, or cannot be served."""


@dataclass(frozen=True)
class ReadModel:
    name: str
    definitions: Definitions
    as_of: datetime | None = None
    occurred_before: datetime | None = None
    status: str = "ready"
    problem: str | None = None
    """Why a broken read model's stored definitions no longer load (status "broken"); its
    ``definitions`` are then the defaults, a placeholder never reported from."""

    @property
    def live(self) -> bool:
        return self.as_of is None and self.occurred_before is None

    @property
    def checkpoint(self) -> str:
        return f"model:{self.name}"

    def admits(self, record: dict[str, Any]) -> bool:
        """Whether an event belongs in this read model: recorded and happened by its bounds."""
        if self.as_of is not None and record["recorded_at"] > self.as_of:
            return False
        return self.occurred_before is None or record["occurred_at"] <= self.occurred_before

    def bounds(self) -> str:
        found = []
        if self.as_of is not None:
            found.append(f"as of {self.as_of.isoformat()}")
        if self.occurred_before is not None:
            found.append(f"events by {self.occurred_before.isoformat()}")
        return ", ".join(found) or "live"

    def describe(self) -> str:
        return f"{self.name} ({self.bounds()}, {self.definitions.hash})"


def _from_row(row: Any) -> ReadModel:
    """The read model of a row; one whose definitions no longer load (stored before a check
    existed) comes back broken, so it blocks nothing: live following skips it, reports
    refuse it, ``models`` shows why, and ``drop`` removes it."""
    status, problem = row.status, None
    try:
        definitions = Definitions.model_validate_json(row.definitions)
    except ValidationError as exc:
        definitions, status = DEFAULTS, "broken"
        problem = f"{row.definitions_hash} no longer load: {one_line(exc)}"
    return ReadModel(
        name=row.name,
        definitions=definitions,
        as_of=None if row.as_of is None else as_utc(row.as_of),
        occurred_before=None if row.occurred_before is None else as_utc(row.occurred_before),
        status=status,
        problem=problem,
    )


def _usable(model: ReadModel) -> ReadModel:
    if model.problem is not None:
        raise ReadModelError(
            f"read model {model.name!r} cannot be used: its definitions {model.problem}; "
            f"drop it (leadledger drop {model.name}) and replay fixed definitions"
        )
    return model


def get(ledger: LedgerDB, name: str) -> ReadModel:
    row = ledger.read_model_row(name)
    if row is None:
        known = ", ".join(sorted(r.name for r in ledger.select(read_models))) or "none yet"
        raise ReadModelError(f"no read model named {name!r} (known: {known})")
    return _from_row(row)


def served(ledger: LedgerDB) -> ReadModel:
    """The served read model; on a new ledger, the default definitions' read model."""
    name = ledger.served_name()
    if name is None:
        if ledger.read_model_row(DEFAULT_NAME) is None:
            create(ledger, DEFAULT_NAME, DEFAULTS, status="ready")
        ledger.serve(DEFAULT_NAME)
        name = DEFAULT_NAME
    return get(ledger, name)


def chosen(ledger: LedgerDB, name: str | None) -> ReadModel:
    """The read model a report names, or the served one; refused if broken."""
    return _usable(served(ledger) if name is None else get(ledger, name))


def create(
    ledger: LedgerDB,
    name: str,
    definitions: Definitions,
    as_of: datetime | None = None,
    occurred_before: datetime | None = None,
    status: str = "building",
) -> ReadModel:
    """Register a read model, or return the one of that name if it is the same (so an
    interrupted replay resumes); a different one of that name is refused."""
    if not NAME_PATTERN.match(name):
        raise ReadModelError(
            f"read model name {name!r}: use letters, digits, '.', '_' or '-' (at most 100)"
        )
    wanted = ReadModel(name, definitions, as_of, occurred_before, status)
    if ledger.read_model_row(name) is not None:
        found = _usable(get(ledger, name))
        same = (found.definitions.hash, found.as_of, found.occurred_before) == (
            definitions.hash, as_of, occurred_before)  # fmt: skip
        if not same:
            raise ReadModelError(
                f"a different read model is already named {name!r}: {found.describe()}; "
                f"choose another --name, or drop it first (leadledger drop {name})"
            )
        return found
    ledger.add_read_model({
        "name": name, "definitions": definitions.model_dump_json(),
        "definitions_hash": definitions.hash, "as_of": as_of,
        "occurred_before": occurred_before, "status": status, "created_at": datetime.now(UTC),
    })  # fmt: skip
    return wanted


def promote(ledger: LedgerDB, name: str) -> ReadModel:
    model = _usable(get(ledger, name))
    if model.status != "ready":
        raise ReadModelError(f"read model {name!r} is still being built; finish its replay first")
    if not model.live:
        raise ReadModelError(
            f"read model {name!r} is bounded ({model.describe()}) and does not follow new "
            "events; only a live read model can be served"
        )
    ledger.serve(name)
    return model


def live_models(ledger: LedgerDB) -> list[ReadModel]:
    """The read models that follow the log: the served one, and every ready live one
    (never a broken one)."""
    served(ledger)
    return [m for m in all_models(ledger) if m.live and m.status == "ready"]


def all_models(ledger: LedgerDB) -> list[ReadModel]:
    return [_from_row(row) for row in ledger.select(read_models)]


@contextmanager
def fewer_collections() -> Iterator[None]:
    """Run the cyclic garbage collector less often while folding.

    A replay keeps up to ``CACHE_SIZE`` lead states alive and allocates many short-lived
    objects per event; at Python's default threshold (700 allocations) the collector keeps
    re-examining the cache, which cost half the replay time on ten million events. Garbage
    is still collected, every 100,000 allocations instead.
    """
    before = gc.get_threshold()
    gc.set_threshold(100_000, 50, 100)
    try:
        yield
    finally:
        gc.set_threshold(*before)


def states(ledger: LedgerDB, model: ReadModel) -> Iterator[LeadState]:
    """Every lead's lifecycle state in ``model``, in lead order."""
    rows = ledger.select(lead_states, lead_states.c.model == model.name)
    for row in sorted(rows, key=lambda r: str(r.lead_id)):
        yield lifecycle.load(row.state)


class Projector:
    """Folds pages of domain events into one read model: each lead's lifecycle state,
    written with the page's log position in one transaction. SLA clocks, KPI measures and
    conversions are read off the states under the read model's definitions.

    Lead states of recent pages stay in memory (at most ``cache_size``); others are read
    back from the database when their lead appears again, so memory stays bounded however
    long the log is, and a restarted replay picks up exactly where its checkpoint says.
    """

    def __init__(self, ledger: LedgerDB, model: ReadModel, cache_size: int = CACHE_SIZE) -> None:
        self.ledger = ledger
        self.model = model
        # An OrderedDict, not a dict: dropping a dict's oldest key again and again makes
        # finding the next oldest scan every slot freed before it.
        self.cache: OrderedDict[str, LeadState] = OrderedDict()
        self.cache_size = cache_size
        self.positions = ledger.positions(model.checkpoint)  # what the database holds

    def _letter(self, record: dict[str, Any], reason: str) -> DeadLetter:
        """The dead letter of an event this read model could not fold (see
        ``lifecycle.fold_isolated``): listed by ``deadletters list``, counted by
        ``reconcile``; the read model goes on without it."""
        origin = f"{PROJECTION_ORIGIN}{self.model.name}/{record.get('source_system')}/" + str(
            record.get("event_id")
        )
        return DeadLetter(origin, reason, orjson.dumps(record, default=str))

    def forget(self) -> None:
        """Drop the cached lead states and read the checkpoint again: after a rebalance of
        a projection group, another process may have folded leads this one holds in memory,
        and moved the checkpoint rows of their partitions."""
        self.cache.clear()
        self.positions = self.ledger.positions(self.model.checkpoint)

    def apply(self, events: Sequence[WireEvent], positions: dict[str, int]) -> int:
        """Fold ``events`` and commit them with ``positions``; return how many were folded."""
        wanted = [
            (kind, record)
            for kind, record in events
            if kind in LIFECYCLE_TYPES and self.model.admits(record)
        ]
        # Not ``set - cache.keys()``: that walks the whole cache on every page.
        missing = {r["lead_id"] for _, r in wanted if r["lead_id"] not in self.cache}
        if missing:
            for lead, text in self.ledger.load_states(self.model.name, missing).items():
                self.cache[lead] = lifecycle.load(text)
        dirty: dict[str, LeadState] = {}
        failed: list[DeadLetter] = []
        definitions = self.model.definitions
        for kind, record in wanted:
            lead = record["lead_id"]
            state = self.cache.get(lead)
            if state is None:
                state = self.cache[lead] = LeadState(lead_id=lead)
            else:
                self.cache.move_to_end(lead)  # most recently used last
            if reason := lifecycle.fold_isolated(state, kind, record, definitions):
                failed.append(self._letter(record, reason))
            dirty[lead] = state
        self.ledger.add_dead_letters(failed)  # one per event and read model: idempotent
        rows = {lead: lifecycle.dump(state) for lead, state in dirty.items()}
        self.ledger.commit_model(self.model.name, rows, positions, self.positions)
        self.positions = self.positions | positions
        while len(self.cache) > self.cache_size:
            self.cache.popitem(last=False)
        return len(wanted)
