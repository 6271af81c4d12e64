"""Which read model answers, and where it stands: every answer names both."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from leadledger import readmodels
from leadledger.app.errors import NotFound
from leadledger.ledgerdb import LedgerDB
from leadledger.readmodels import FACTS, ReadModel


@dataclass(frozen=True)
class Position:
    """A read model's name, definitions hash and position (log position per stream), and
    the position of the facts it reads beside its own rows."""

    name: str
    definitions: str
    position: dict[str, int]
    facts: dict[str, int]

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "definitions": self.definitions, "position": self.position}

    @property
    def etag(self) -> str:
        """A weak entity tag that changes whenever the read model or its facts move: the
        same position gives the same answer (SLA answers judged at "now" aside, hence weak)."""
        text = repr((self.name, self.definitions, sorted(self.position.items()),
                     sorted(self.facts.items())))  # fmt: skip
        return f'W/"{hashlib.sha256(text.encode()).hexdigest()[:32]}"'


def choose(ledger: LedgerDB, name: str | None) -> ReadModel:
    """The read model a request names, or the served one; an unknown name is ``NotFound``."""
    if name is not None and ledger.read_model_row(name) is None:
        known = ", ".join(sorted(m.name for m in readmodels.all_models(ledger))) or "none yet"
        raise NotFound(f"no read model named {name!r} (known: {known})")
    return readmodels.chosen(ledger, name)


def position(ledger: LedgerDB, model: ReadModel) -> Position:
    return Position(model.name, model.definitions.hash, ledger.positions(model.checkpoint),
                    ledger.positions(FACTS))  # fmt: skip


@dataclass(frozen=True)
class Listed:
    """One read model as ``leadledger models`` and ``GET /read-models`` show it."""

    name: str
    served: bool
    status: str
    bounds: str
    definitions: str | None
    position: dict[str, int]
    problem: str | None

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "served": self.served, "status": self.status,
                "bounds": self.bounds, "definitions": self.definitions,
                "position": self.position, "problem": self.problem}  # fmt: skip


def listing(ledger: LedgerDB) -> list[Listed]:
    """Every read model: which is served, its status, bounds, definitions hash (none when
    its stored definitions no longer load, with why) and position."""
    serving = readmodels.served(ledger).name
    return [
        Listed(
            m.name,
            m.name == serving,
            m.status,
            m.bounds(),
            None if m.problem else m.definitions.hash,
            ledger.positions(m.checkpoint),
            m.problem,
        )
        for m in readmodels.all_models(ledger)
    ]
