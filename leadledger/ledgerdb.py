"""The ledger database: read models, checkpoints and dead letters, via SQLAlchemy Core.

One schema for SQLite and PostgreSQL. Read-model rows and the checkpoint that says
which event they reflect are written in one transaction, so a crash never counts twice.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from leadledger.domain.stream import as_utc
from leadledger.projections.facts import Row

metadata = sa.MetaData()
Timestamp = sa.DateTime(timezone=True)
Money = sa.Numeric(24, 4)
CHUNK = 500  # ids per IN (...) list: well inside SQLite's and PostgreSQL's limits

checkpoints = sa.Table(
    "ll_checkpoints",
    metadata,
    sa.Column("name", sa.String(100), primary_key=True),
    sa.Column("stream", sa.String(300), primary_key=True),
    sa.Column("position", sa.BigInteger, nullable=False),
)

# Facts rows are keyed by the producer's idempotency key, (source_system, event_id), the
# same key intake keeps unique (ll_keys): a re-sent event adds nothing, two sources'
# events never collide.
_journey_columns = (
    sa.Column("source_system", sa.String(200), primary_key=True),
    sa.Column("event_id", sa.String(200), primary_key=True),
    sa.Column("lead_id", sa.String(200), nullable=False, index=True),
    sa.Column("occurred_at", Timestamp, nullable=False),
    sa.Column("recorded_at", Timestamp),
)

leads = sa.Table(
    "ll_leads",
    metadata,
    *(c._copy() for c in _journey_columns),
    sa.Column("origin", sa.String(20), nullable=False),
    sa.Column("segment", sa.String(200)),
)

touches = sa.Table(
    "ll_touches",
    metadata,
    sa.Column("source_system", sa.String(200), primary_key=True),
    sa.Column("event_id", sa.String(200), primary_key=True),
    sa.Column("lead_id", sa.String(200), index=True, comment="null: an anonymous touch"),
    sa.Column("anonymous_id", sa.String(200), index=True),
    sa.Column("occurred_at", Timestamp, nullable=False),
    sa.Column("recorded_at", Timestamp),
    sa.Column("channel", sa.String(200), nullable=False),
    sa.Column("source", sa.String(200)),
    sa.Column("medium", sa.String(200)),
    sa.Column("campaign", sa.String(200)),
    sa.Column("content", sa.String(200)),
    sa.Column("cost", Money),
)


links = sa.Table(
    "ll_links",
    metadata,
    *(c._copy() for c in _journey_columns),
    sa.Column("anonymous_id", sa.String(200), nullable=False, index=True),
    sa.Column("linked", sa.Boolean, nullable=False, comment="identify: true; unlink: false"),
)

merges = sa.Table(
    "ll_merges",
    metadata,
    *(c._copy() for c in _journey_columns),
    sa.Column("into_lead_id", sa.String(200), nullable=False),
)

spend = sa.Table(
    "ll_spend",
    metadata,
    sa.Column("source_system", sa.String(200), primary_key=True),
    sa.Column("event_id", sa.String(200), primary_key=True),
    sa.Column("occurred_at", Timestamp, nullable=False),
    sa.Column("recorded_at", Timestamp),
    sa.Column("channel", sa.String(200), nullable=False),
    sa.Column("campaign", sa.String(200)),
    sa.Column("day", sa.Date, nullable=False),
    sa.Column("amount", Money, nullable=False),
    sa.Column("currency", sa.String(8), nullable=False),
)

targets = sa.Table(
    "ll_targets",
    metadata,
    sa.Column("source_system", sa.String(200), primary_key=True),
    sa.Column("event_id", sa.String(200), primary_key=True),
    sa.Column("occurred_at", Timestamp, nullable=False),
    sa.Column("recorded_at", Timestamp),
    sa.Column("period", sa.String(20), nullable=False),
    sa.Column("team", sa.String(200)),
    sa.Column("amount", Money, nullable=False),
    sa.Column("currency", sa.String(8), nullable=False),
)

# Read models built under definitions, by name. Facts above are the same whatever the
# definitions; these are not, so each read model has its own rows and checkpoint.

read_models = sa.Table(
    "ll_read_models",
    metadata,
    sa.Column("name", sa.String(100), primary_key=True),
    sa.Column("definitions", sa.Text, nullable=False, comment="validated, as JSON"),
    sa.Column("definitions_hash", sa.String(40), nullable=False),
    sa.Column("as_of", Timestamp, comment="only events recorded by then"),
    sa.Column("occurred_before", Timestamp, comment="only events that happened by then"),
    sa.Column("status", sa.String(20), nullable=False, comment="building or ready"),
    sa.Column("created_at", Timestamp, nullable=False),
)

served = sa.Table(
    "ll_served",
    metadata,
    sa.Column("slot", sa.String(20), primary_key=True, comment="always 'served'"),
    sa.Column("name", sa.String(100), nullable=False),
)

lead_states = sa.Table(
    "ll_lead_states",
    metadata,
    sa.Column("model", sa.String(100), primary_key=True),
    sa.Column("lead_id", sa.String(200), primary_key=True),
    sa.Column("state", sa.Text, nullable=False, comment="the lifecycle fold's state, JSON"),
    comment="One row per lead and read model: SLA clocks, KPI measures and conversions are "
    "read off it under the read model's definitions.",
)

dead_letters = sa.Table(
    "ll_dead_letters",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("origin", sa.String(500), nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("payload", sa.LargeBinary, nullable=False),
    sa.Column("dead_lettered_at", Timestamp, nullable=False),
    sa.Column("replayed_at", Timestamp, comment="set when a corrected record was re-submitted"),
    # One dead letter per origin (file:line, topic/partition/offset): re-ingesting a file
    # or re-delivering an offset must not list a record twice.
    sa.Index("ll_dead_letters_origin", "origin", unique=True),
)

parked = sa.Table(
    "ll_parked",
    metadata,
    sa.Column("origin", sa.String(500), primary_key=True),
    sa.Column("slot", sa.String(500), nullable=False, index=True, comment="stream kind:key"),
    sa.Column("payload", sa.LargeBinary, nullable=False),
    sa.Column("event_json", sa.Text, nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("parked_at", Timestamp, nullable=False),
)

keys = sa.Table(
    "ll_keys",
    metadata,
    sa.Column("key", sa.String(500), primary_key=True, comment='["source_system", "event_id"]'),
    sa.Column(
        "digest",
        sa.String(64),
        nullable=False,
        comment="sha256 of the record's content, its first 32 hex digits (64 before)",
    ),
    sa.Column("origin", sa.String(500), nullable=False, comment="the record that claimed it"),
    comment="Idempotency keys, unique across all streams: the first record to claim a key "
    "owns it; a later one with the same content is a duplicate, with other content a conflict.",
    # One row per ingested record here and in ll_intake, looked up by the primary key only:
    # SQLite keeps such a table as its key's B-tree alone, not a table and an index.
    sqlite_with_rowid=False,
)

intake = sa.Table(
    "ll_intake",
    metadata,
    sa.Column("origin", sa.String(500), primary_key=True),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("reason", sa.Text),
    sqlite_with_rowid=False,
)

TABLES: dict[str, sa.Table] = {
    "leads": leads, "touches": touches, "spend": spend, "targets": targets,
    "links": links, "merges": merges,
}  # fmt: skip


class CheckpointMoved(RuntimeError):
    """Another process advanced a read model while this one was folding into it."""

    def __init__(self, model: str) -> None:
        super().__init__(
            f"read model {model!r} was advanced by another process while this one was "
            "writing it (one writer per read model); run the command again to resume"
        )


@dataclass(frozen=True)
class Parked:
    """A fact refused for now: it waits for the fact it depends on."""

    origin: str
    slot: str
    raw: bytes
    event_json: str
    reason: str
    parked_at: datetime


@dataclass(frozen=True)
class DeadLetter:
    """A record the engine could not store: where it came from, why, and its bytes."""

    origin: str
    reason: str
    payload: bytes

    @property
    def fate(self) -> tuple[str, str | None]:
        """Its fate in the intake table."""
        return "dead_letter", self.reason


class LedgerDB:
    """Read-model and checkpoint storage on one SQLAlchemy engine."""

    def __init__(self, url: str) -> None:
        # Several processes may share a SQLite ledger (scaled-out consumers): wait for the
        # write lock rather than fail.
        options = {"connect_args": {"timeout": 30}} if url.startswith("sqlite") else {}
        self.engine = sa.create_engine(url, **options)
        if self.engine.dialect.name == "sqlite":
            sa.event.listen(self.engine, "connect", _sqlite_pragmas)
        create_tables(metadata, self.engine)
        _unique_dead_letter_origins(self.engine)

    def close(self) -> None:
        self.engine.dispose()

    def position(self, name: str, stream: str) -> int | None:
        with self.engine.connect() as conn:
            value = conn.scalar(
                sa.select(checkpoints.c.position).where(
                    checkpoints.c.name == name, checkpoints.c.stream == stream
                )
            )
        return None if value is None else int(value)

    def positions(self, name: str) -> dict[str, int]:
        with self.engine.connect() as conn:
            result = conn.execute(
                sa.select(checkpoints.c.stream, checkpoints.c.position).where(
                    checkpoints.c.name == name
                )
            )
            return {stream: int(pos) for stream, pos in result}

    def commit(self, rows: Iterable[Row], name: str, positions: dict[str, int]) -> None:
        """Write ``rows`` (ignoring ones already present) and move the checkpoints, atomically."""
        by_table: dict[str, list[dict[str, Any]]] = {}
        for target, row in rows:
            by_table.setdefault(target, []).append(row)
        with self.engine.begin() as conn:
            for name_of_table, batch in by_table.items():
                conn.execute(self._insert_ignore(TABLES[name_of_table]), batch)
            for stream, position in positions.items():
                conn.execute(
                    self._upsert_checkpoint(),
                    {"name": name, "stream": stream, "position": position},
                )

    def set_position(self, name: str, stream: str, position: int) -> None:
        self.commit((), name, {stream: position})

    def add_dead_letters(self, letters: Sequence[DeadLetter]) -> None:
        """Record dead letters, one per origin: the same record dead-lettered again (a file
        ingested twice, an offset re-delivered) leaves one row; a different record or
        reason at that origin (the file was edited) replaces what the row says."""
        if letters:
            with self.engine.begin() as conn:
                self._add_dead_letters(conn, letters)

    def _add_dead_letters(self, conn: sa.Connection, letters: Sequence[DeadLetter]) -> None:
        now = datetime.now(UTC)
        by_origin = {d.origin: d for d in letters}  # one row per origin, even within a batch
        dialect = postgresql if self.engine.dialect.name == "postgresql" else sqlite
        stmt = dialect.insert(dead_letters)
        stmt = stmt.on_conflict_do_update(
            index_elements=[dead_letters.c.origin],
            set_={"reason": stmt.excluded.reason, "payload": stmt.excluded.payload,
                  "dead_lettered_at": stmt.excluded.dead_lettered_at, "replayed_at": None},
            where=(dead_letters.c.reason != stmt.excluded.reason)
            | (dead_letters.c.payload != stmt.excluded.payload),
        )  # fmt: skip
        rows = [
            {"origin": d.origin, "reason": d.reason, "payload": d.payload, "dead_lettered_at": now}
            for d in by_origin.values()
        ]
        conn.execute(stmt, rows)

    def settle(
        self,
        letters: Sequence[DeadLetter],
        fates: dict[str, tuple[str, str | None]],
        expire_before: datetime,
        expired_fate: Callable[[Parked], tuple[str, DeadLetter]],
        also: Collection[str] = (),
    ) -> list[Parked]:
        """In one transaction: take out the facts parked before ``expire_before`` (and those
        of the origins ``also``, however recent) and dead-letter them (``expired_fate``
        gives each its key to free and its letter), add ``letters``, write ``fates``, and
        mark resolved the dead letters of origins now stored. One transaction, so a crash
        never leaves a record neither parked nor dead-lettered. Returns the expired facts."""
        with self.engine.begin() as conn:
            rows = list(conn.execute(sa.select(parked).where(parked.c.parked_at < expire_before)))
            wanted = sorted(set(also) - {row.origin for row in rows})
            for start in range(0, len(wanted), CHUNK):
                chunk = wanted[start : start + CHUNK]
                rows += conn.execute(sa.select(parked).where(parked.c.origin.in_(chunk))).all()
            expired = [_parked(row) for row in rows]
            if expired:
                conn.execute(
                    parked.delete().where(parked.c.origin.in_([p.origin for p in expired]))
                )
                freed = []
                for fact in expired:
                    key, letter = expired_fate(fact)
                    freed.append(key)
                    letters = [*letters, letter]
                    fates = fates | {fact.origin: ("dead_letter", letter.reason)}
                for start in range(0, len(freed), CHUNK):
                    conn.execute(keys.delete().where(keys.c.key.in_(freed[start : start + CHUNK])))
            if letters:
                self._add_dead_letters(conn, letters)
            if fates:
                self._record_intake(conn, fates)
                resolved = [o for o, (st, _) in fates.items() if st in ("stored", "duplicate")]
                waiting = sa.select(dead_letters.c.id).where(dead_letters.c.replayed_at.is_(None))
                if resolved and conn.scalar(waiting.limit(1)) is None:
                    resolved = []  # no dead letter waits to be resolved: skip the lookups
                for start in range(0, len(resolved), CHUNK):
                    conn.execute(
                        dead_letters.update()
                        .where(dead_letters.c.origin.in_(resolved[start : start + CHUNK]),
                               dead_letters.c.replayed_at.is_(None))
                        .values(replayed_at=datetime.now(UTC))
                    )  # fmt: skip
        return expired

    def park(self, waiting: Sequence[Parked]) -> None:
        if not waiting:
            return
        rows = [
            {"origin": p.origin, "slot": p.slot, "payload": p.raw, "event_json": p.event_json,
             "reason": p.reason, "parked_at": p.parked_at}
            for p in waiting
        ]  # fmt: skip
        with self.engine.begin() as conn:
            conn.execute(self._insert_ignore(parked), rows)

    def parked_slots(self) -> list[str]:
        with self.engine.connect() as conn:
            return list(conn.scalars(sa.select(parked.c.slot).distinct()))

    def parked_in(self, slots: Iterable[str]) -> list[Parked]:
        with self.engine.connect() as conn:
            result = conn.execute(
                sa.select(parked).where(parked.c.slot.in_(list(slots))).order_by(parked.c.origin)
            )
            return [_parked(row) for row in result]

    def unpark(self, origins: Sequence[str]) -> None:
        if origins:
            with self.engine.begin() as conn:
                conn.execute(parked.delete().where(parked.c.origin.in_(list(origins))))

    def record_intake(self, fates: dict[str, tuple[str, str | None]]) -> None:
        """Write each origin's fate; a later fate (parked, then stored) replaces the earlier,
        but stored is final: the same offset delivered again (at least once) is not
        re-labelled a duplicate of itself."""
        if fates:
            with self.engine.begin() as conn:
                self._record_intake(conn, fates)

    def _record_intake(self, conn: sa.Connection, fates: dict[str, tuple[str, str | None]]) -> None:
        """One upsert per fate through the DB-API's ``executemany``: SQLAlchemy's per-row
        parameter handling cost more than the statement (this runs for every record)."""
        mark = self._mark()
        upsert = (
            f"INSERT INTO {intake.name} (origin, status, reason) VALUES ({mark}, {mark}, {mark}) "
            "ON CONFLICT (origin) DO UPDATE SET status = excluded.status, "
            f"reason = excluded.reason WHERE {intake.name}.status != 'stored'"
        )
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        cursor.executemany(upsert, [(o, s, r) for o, (s, r) in fates.items()])

    def _mark(self) -> str:
        """The DB-API parameter marker of the engine's driver."""
        return "?" if self.engine.dialect.name == "sqlite" else "%s"

    def _select_in(
        self, conn: sa.Connection, columns: str, table: sa.Table, column: str, values: list[str]
    ) -> list[tuple[Any, ...]]:
        """Rows of ``table`` whose ``column`` is one of ``values``, CHUNK at a time, through
        the DB-API (SQLAlchemy's expanding IN parameters cost more than the query)."""
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        found: list[tuple[Any, ...]] = []
        for start in range(0, len(values), CHUNK):
            chunk = values[start : start + CHUNK]
            marks = ", ".join([self._mark()] * len(chunk))
            cursor.execute(f"SELECT {columns} FROM {table.name} WHERE {column} IN ({marks})", chunk)
            found.extend(tuple(row) for row in cursor.fetchall())
        return found

    def claim_keys(self, claims: dict[str, tuple[str, str]]) -> dict[str, tuple[str, str]]:
        """Claim each idempotency key (``domain.stream.idempotency_key``) for its (digest,
        origin) unless already claimed, and return every key's owner: one statement decides
        a race between two consumers. Plain DB-API ``executemany``: this runs for every
        record ingested, and SQLAlchemy's per-row parameter handling cost more than the
        insert itself. When the insert took every key (its row count says so: the sum over
        the rows, or for a single row its own), the owners are the claims themselves."""
        if not claims:
            return {}
        rows = [(k, d, o) for k, (d, o) in claims.items()]
        mark = self._mark()
        insert = (
            f'INSERT INTO {keys.name} ("key", digest, origin) VALUES ({mark}, {mark}, {mark}) '
            'ON CONFLICT ("key") DO NOTHING'
        )
        with self.engine.begin() as conn:
            cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
            cursor.executemany(insert, rows)
            if cursor.rowcount == len(rows):  # every key was free: each claim owns its key
                return dict(claims)
            found = self._select_in(conn, '"key", digest, origin', keys, '"key"', list(claims))
        return {k: (d, o) for k, d, o in found}

    def take_over(self, key: str, old: str, new: str) -> bool:
        """Give ``key`` to origin ``new`` if ``old`` still owns it (compare and set): the
        owner's run ended before its record had a fate, so another copy may settle it."""
        with self.engine.begin() as conn:
            moved = conn.execute(
                keys.update().where(keys.c.key == key, keys.c.origin == old).values(origin=new)
            )
        return moved.rowcount == 1

    def intake_statuses(self, origins: Iterable[str]) -> dict[str, str]:
        with self.engine.connect() as conn:
            found = self._select_in(conn, "origin, status", intake, "origin", list(origins))
        return {str(origin): str(status) for origin, status in found}

    def count_dead_letters(self, prefix: str) -> int:
        """Dead letters whose origin starts with ``prefix``."""
        with self.engine.connect() as conn:
            return int(
                conn.scalar(
                    sa.select(sa.func.count())
                    .select_from(dead_letters)
                    .where(dead_letters.c.origin.startswith(prefix, autoescape=True))
                )
                or 0
            )

    def intake_counts(self, prefix: str) -> dict[str, int]:
        with self.engine.connect() as conn:
            result = conn.execute(
                sa.select(intake.c.status, sa.func.count())
                .where(intake.c.origin.startswith(prefix, autoescape=True))
                .group_by(intake.c.status)
            )
            return {status: int(count) for status, count in result}

    def dead_letter(self, letter_id: int) -> sa.Row[Any] | None:
        with self.engine.connect() as conn:
            return conn.execute(
                sa.select(dead_letters).where(dead_letters.c.id == letter_id)
            ).first()

    def mark_replayed(self, letter_id: int) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                dead_letters.update()
                .where(dead_letters.c.id == letter_id)
                .values(replayed_at=datetime.now(UTC))
            )

    def select(self, table: sa.Table, *where: Any) -> list[sa.Row[Any]]:
        with self.engine.connect() as conn:
            return list(conn.execute(sa.select(table).where(*where)))

    # Read models by name: registry, serving, and their rows.

    def add_read_model(self, row: dict[str, Any]) -> None:
        with self.engine.begin() as conn:
            conn.execute(read_models.insert(), row)

    def read_model_row(self, name: str) -> sa.Row[Any] | None:
        found = self.select(read_models, read_models.c.name == name)
        return found[0] if found else None

    def set_read_model_status(self, name: str, status: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                read_models.update().where(read_models.c.name == name).values(status=status)
            )

    def served_name(self) -> str | None:
        with self.engine.connect() as conn:
            return conn.scalar(sa.select(served.c.name).where(served.c.slot == "served"))

    def serve(self, name: str) -> None:
        """Point the served slot at ``name``: one row, one statement, so readers see the
        old read model or the new one, never a mix."""
        dialect = postgresql if self.engine.dialect.name == "postgresql" else sqlite
        stmt = dialect.insert(served).values(slot="served", name=name)
        stmt = stmt.on_conflict_do_update(index_elements=[served.c.slot], set_={"name": name})
        with self.engine.begin() as conn:
            conn.execute(stmt)

    def drop_read_model(self, name: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(lead_states.delete().where(lead_states.c.model == name))
            conn.execute(checkpoints.delete().where(checkpoints.c.name == f"model:{name}"))
            conn.execute(read_models.delete().where(read_models.c.name == name))

    def load_states(self, model: str, lead_ids: Iterable[str]) -> dict[str, str]:
        """The stored lifecycle states of ``lead_ids`` (those that have one), as JSON."""
        found: dict[str, str] = {}
        ids = list(lead_ids)
        with self.engine.connect() as conn:
            for start in range(0, len(ids), CHUNK):
                result = conn.execute(
                    sa.select(lead_states.c.lead_id, lead_states.c.state).where(
                        lead_states.c.model == model,
                        lead_states.c.lead_id.in_(ids[start : start + CHUNK]),
                    )
                )
                found.update((lead, state) for lead, state in result)
        return found

    def commit_model(
        self,
        model: str,
        states: dict[str, str],
        positions: dict[str, int],
        expected: dict[str, int],
    ) -> None:
        """Write the lifecycle states in ``states`` (replacing earlier ones) and move the read
        model's checkpoint from ``expected`` to ``positions``: one transaction, so a crash
        never counts an event twice or loses one. If another process moved the checkpoint
        meanwhile (two writers of one read model), nothing is written and
        :class:`CheckpointMoved` is raised: the states it holds would be stale."""
        dialect = postgresql if self.engine.dialect.name == "postgresql" else sqlite
        upsert = dialect.insert(lead_states)
        upsert = upsert.on_conflict_do_update(
            index_elements=[lead_states.c.model, lead_states.c.lead_id],
            set_={"state": upsert.excluded.state},
        )
        name = f"model:{model}"
        try:
            with self.engine.begin() as conn:
                for stream, position in positions.items():
                    if stream not in expected:  # a rival's first row fails the insert
                        conn.execute(
                            checkpoints.insert(),
                            {"name": name, "stream": stream, "position": position},
                        )
                        continue
                    moved = conn.execute(  # compare and set: the write lock is taken here
                        checkpoints.update()
                        .where(
                            checkpoints.c.name == name,
                            checkpoints.c.stream == stream,
                            checkpoints.c.position == expected[stream],
                        )
                        .values(position=position)
                    )
                    if moved.rowcount != 1:
                        raise CheckpointMoved(model)
                if states:
                    rows = [{"model": model, "lead_id": k, "state": v} for k, v in states.items()]
                    conn.execute(upsert, rows)
        except sa.exc.IntegrityError:
            raise CheckpointMoved(model) from None

    def count(self, table: sa.Table) -> int:
        with self.engine.connect() as conn:
            return int(conn.scalar(sa.select(sa.func.count()).select_from(table)) or 0)

    def _insert_ignore(self, table: sa.Table) -> Any:
        if self.engine.dialect.name == "postgresql":
            return postgresql.insert(table).on_conflict_do_nothing()
        return sqlite.insert(table).on_conflict_do_nothing()

    def _upsert_checkpoint(self) -> Any:
        dialect = postgresql if self.engine.dialect.name == "postgresql" else sqlite
        stmt = dialect.insert(checkpoints)
        return stmt.on_conflict_do_update(
            index_elements=[checkpoints.c.name, checkpoints.c.stream],
            set_={"position": stmt.excluded.position},
        )

    @staticmethod
    def holds_engine_tables(url: str) -> bool:
        """Whether the database at ``url`` has any of the ledger's tables, found without
        creating them (as opening a LedgerDB would): commands that only read refuse a
        database the engine never wrote to."""
        engine = sa.create_engine(url)
        try:
            return bool(set(sa.inspect(engine).get_table_names()) & set(metadata.tables))
        finally:
            engine.dispose()


def create_tables(tables: sa.MetaData, engine: sa.Engine) -> None:
    """Create the ``tables`` that do not exist yet. Processes started together race to
    create them; the loser waits and checks again (create_all skips the tables that
    exist by then)."""
    for attempt in range(10):
        try:
            tables.create_all(engine)
            return
        except sa.exc.DatabaseError:
            if attempt == 9:
                raise
            time.sleep(0.05 * (attempt + 1))


def _unique_dead_letter_origins(engine: sa.Engine) -> None:
    """Give a ledger made before dead letters were unique per origin its unique index,
    keeping the first (lowest id) of each origin's repeated rows."""
    found = sa.inspect(engine).get_indexes(dead_letters.name)
    if any(index["name"] == "ll_dead_letters_origin" for index in found):
        return
    first = sa.select(sa.func.min(dead_letters.c.id)).group_by(dead_letters.c.origin)
    with engine.begin() as conn:
        conn.execute(dead_letters.delete().where(dead_letters.c.id.not_in(first)))
        conn.execute(sa.text(
            f"CREATE UNIQUE INDEX IF NOT EXISTS ll_dead_letters_origin ON {dead_letters.name} "
            "(origin)"
        ))  # fmt: skip


def _parked(row: Any) -> Parked:
    return Parked(row.origin, row.slot, row.payload, row.event_json, row.reason,
                  as_utc(row.parked_at))  # fmt: skip


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """WAL lets a report read while a projection writes; NORMAL sync is safe under WAL. A
    64 MiB page cache keeps a replay's index pages in memory on ledgers of millions of leads
    (SQLite's default is 2 MiB)."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA cache_size=-65536")
    cursor.close()
