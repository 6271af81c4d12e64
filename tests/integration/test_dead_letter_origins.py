"""One dead letter per origin (issue 11, point 4b), on SQLite and PostgreSQL.

Re-ingesting a file used to add its dead letters again: one bad line ingested four times
listed four rows while ``reconcile`` counted one record.
"""

import sqlalchemy as sa

from leadledger.config import Database
from leadledger.ledgerdb import DeadLetter, LedgerDB, dead_letters


def letters(ledger: LedgerDB) -> list[tuple[int, str, str, bytes]]:
    rows = ledger.select(dead_letters)
    return sorted((r.id, r.origin, r.reason, bytes(r.payload)) for r in rows)


def test_the_same_record_dead_lettered_again_keeps_one_row(database: Database) -> None:
    ledger = LedgerDB(database.ledger_url())
    try:
        bad = DeadLetter("/in.jsonl:3", "undecodable: not JSON", b"{oops")
        for _ in range(4):
            ledger.add_dead_letters([bad, DeadLetter("/in.jsonl:5", "invalid: x", b"{}")])
        ledger.add_dead_letters([bad, bad])  # twice in one batch too
        assert [(o, r) for _, o, r, _ in letters(ledger)] == [
            ("/in.jsonl:3", "undecodable: not JSON"),
            ("/in.jsonl:5", "invalid: x"),
        ]
    finally:
        ledger.close()


def test_a_different_record_at_an_origin_replaces_the_row_and_keeps_its_id(
    database: Database,
) -> None:
    ledger = LedgerDB(database.ledger_url())
    try:
        ledger.add_dead_letters([DeadLetter("/in.jsonl:3", "undecodable: not JSON", b"{oops")])
        [(letter_id, *_)] = letters(ledger)
        ledger.mark_replayed(letter_id)
        ledger.add_dead_letters([DeadLetter("/in.jsonl:3", "invalid: edited", b'{"a": 1}')])
        assert letters(ledger) == [(letter_id, "/in.jsonl:3", "invalid: edited", b'{"a": 1}')]
        row = ledger.dead_letter(letter_id)
        assert row is not None
        assert row.replayed_at is None  # a new record at that origin is not replayed yet
    finally:
        ledger.close()


def test_a_ledger_made_before_the_unique_origins_is_deduplicated(database: Database) -> None:
    engine = sa.create_engine(database.ledger_url())
    legacy = sa.MetaData()
    sa.Table(
        "ll_dead_letters", legacy,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("origin", sa.String(500), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("payload", sa.LargeBinary, nullable=False),
        sa.Column("dead_lettered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("replayed_at", sa.DateTime(timezone=True)),
    )  # fmt: skip
    legacy.create_all(engine)
    with engine.begin() as conn:
        for origin in ("a:1", "a:1", "a:2", "a:1"):
            conn.execute(
                sa.text(
                    "INSERT INTO ll_dead_letters (origin, reason, payload, dead_lettered_at) "
                    "VALUES (:o, 'r', :p, CURRENT_TIMESTAMP)"
                ),
                {"o": origin, "p": b"x"},
            )
    engine.dispose()
    ledger = LedgerDB(database.ledger_url())
    try:
        assert [(i, o) for i, o, _, _ in letters(ledger)] == [(1, "a:1"), (3, "a:2")]
        ledger.add_dead_letters([DeadLetter("a:1", "r", b"x")])
        assert len(letters(ledger)) == 2
    finally:
        ledger.close()
