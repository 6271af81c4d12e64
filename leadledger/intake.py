"""Intake: every received record ends stored, duplicate, dead-lettered or parked, on record.

Both modes hand their records here. Valid ones go to the :class:`Ingestor`; what it refuses
for a funnel rule is *parked*, not dead-lettered at once, because the fact it depends on
may still be on its way (events arrive late and out of order). The policy, in full:

- a parked fact is retried whenever its stream accepts another fact;
- one still parked ``max_wait`` after it arrived is dead-lettered with its last reason
  (a file ingest ends with one last retry, then dead-letters what is left);
- every record's fate is written to the intake table under its origin (file and line, or
  topic, partition and offset), which ``leadledger reconcile`` counts.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from leadledger.catalogue import ROUTES
from leadledger.ingest import Ingestor, Outcome, Tally
from leadledger.ledgerdb import DeadLetter, LedgerDB, Parked
from leadledger.messages import IngestEvent, parse_event

WAITED = "(parked until the fact it needs arrived; it never did)"


@dataclass(frozen=True)
class Received:
    """One record as it arrived: where from, its bytes, and the event or why it is invalid."""

    origin: str
    raw: bytes
    message: IngestEvent | None
    error: str | None = None


def slot_of(message: IngestEvent) -> str:
    route = ROUTES[message.type].of(message)
    return f"{route.stream.KIND}:{route.key(message)}"


class Intake:
    def __init__(self, ingestor: Ingestor, ledger: LedgerDB, max_wait: timedelta) -> None:
        self.ingestor = ingestor
        self.ledger = ledger
        self.max_wait = max_wait

    def take(self, batch: Sequence[Received], tally: Tally) -> list[DeadLetter]:
        """Settle a batch; return the dead letters it made (already recorded in the table)."""
        letters = [
            DeadLetter(r.origin, r.error or "invalid", r.raw) for r in batch if not r.message
        ]
        valid = [r for r in batch if r.message is not None]
        outcomes = self.ingestor.apply([r.message for r in valid if r.message is not None])
        fates: dict[str, tuple[str, str | None]] = {
            d.origin: ("dead_letter", d.reason) for d in letters
        }
        to_park: list[Parked] = []
        accepted_slots: set[str] = set()
        now = datetime.now(UTC)
        for record, outcome in zip(valid, outcomes, strict=True):
            assert record.message is not None
            if outcome.status == "refused":
                event_json = record.message.model_dump_json()
                slot = slot_of(record.message)
                why = outcome.reason or ""
                to_park.append(Parked(record.origin, slot, record.raw, event_json, why, now))
                fates[record.origin] = ("parked", outcome.reason)
            else:
                fates[record.origin] = (outcome.status, None)
                if outcome.status == "stored":
                    accepted_slots.add(slot_of(record.message))
        self.ledger.park(to_park)
        fates |= self._retry(accepted_slots)
        expired = self.ledger.expire_parked(now - self.max_wait)
        letters.extend(self._dead(expired))
        fates |= {p.origin: ("dead_letter", p.reason + " " + WAITED) for p in expired}
        self.ledger.add_dead_letters(letters)
        self.ledger.record_intake(fates)
        arrived = {r.origin for r in batch}
        for origin, (status, because) in fates.items():
            if origin in arrived:
                tally.add(status, because)
            else:  # a record parked earlier has now been settled
                tally.settle_parked(status, because)
        return letters

    def finish(self, tally: Tally) -> list[DeadLetter]:
        """End of input (a file): retry what is parked once more, dead-letter the rest."""
        fates = self._retry(set(self.ledger.parked_slots()))
        expired = self.ledger.expire_parked(datetime.now(UTC) + timedelta(days=1))
        letters = self._dead(expired)
        fates |= {p.origin: ("dead_letter", p.reason + " " + WAITED) for p in expired}
        self.ledger.add_dead_letters(letters)
        self.ledger.record_intake(fates)
        for status, reason in fates.values():
            tally.settle_parked(status, reason)
        return letters

    def _retry(self, slots: set[str]) -> dict[str, tuple[str, str | None]]:
        """Retry the parked facts of streams that moved, until nothing more is accepted."""
        fates: dict[str, tuple[str, str | None]] = {}
        while slots:
            waiting = self.ledger.parked_in(slots)
            if not waiting:
                break
            outcomes: list[Outcome] = self.ingestor.apply(
                [parse_event_json(p.event_json) for p in waiting]
            )
            done = [p for p, o in zip(waiting, outcomes, strict=True) if o.status != "refused"]
            for parked, outcome in zip(waiting, outcomes, strict=True):
                if outcome.status != "refused":
                    fates[parked.origin] = (outcome.status, None)
            self.ledger.unpark([p.origin for p in done])
            slots = {p.slot for p, o in zip(waiting, outcomes, strict=True) if o.status == "stored"}
            slots &= {p.slot for p in self.ledger.parked_in(slots)}
        return fates

    @staticmethod
    def _dead(expired: Sequence[Parked]) -> list[DeadLetter]:
        return [DeadLetter(p.origin, f"{p.reason} {WAITED}", p.raw) for p in expired]


def parse_event_json(text: str) -> IngestEvent:
    return parse_event(json.loads(text))
