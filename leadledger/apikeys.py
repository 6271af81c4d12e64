"""API keys: who may call the HTTP API, and in which roles, stored hashed in the ledger database.

A key is shown once, when it is created: ``ll_<id>_<secret>``, the secret 32 random bytes.
Only its SHA-256 is stored, beside the id (shown in listings and logs, never secret), a
name, its roles, and when it was created and revoked. Checking a key looks its id up and
compares the hashes in constant time, so a wrong key teaches a caller nothing.

The table has its own metadata and is created on first use: a database that only ever held
keys is not mistaken for one that holds the engine's data, and the ledger knows nothing of it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

import sqlalchemy as sa

from leadledger.domain.stream import as_utc
from leadledger.ledgerdb import create_tables

PREFIX = "ll_"
SECRET_BYTES = 32

metadata = sa.MetaData()
api_keys = sa.Table(
    "ll_api_keys",
    metadata,
    sa.Column("id", sa.String(16), primary_key=True, comment="shown in listings and logs"),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("roles", sa.String(200), nullable=False, comment="comma-separated, sorted"),
    sa.Column("digest", sa.String(64), nullable=False, comment="sha256 of the whole key, hex"),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("revoked_at", sa.DateTime(timezone=True)),
)


class Role(StrEnum):
    """What a key may do. Roles are independent: ``admin`` does not imply the others, so a
    key for replays cannot read dashboards unless it is also given ``read``."""

    READ = "read"  # dashboards and reports
    WRITE = "write"  # HTTP intake
    AUDIT = "audit"  # explain, diff, record fates
    ADMIN = "admin"  # replay, promote, dead-letter replay


class ApiKeyError(ValueError):
    """A key that does not exist or cannot be changed; the message says which."""


@dataclass(frozen=True)
class ApiKey:
    """A stored key, without its secret."""

    id: str
    name: str
    roles: frozenset[Role]
    created_at: datetime
    revoked_at: datetime | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def key_id(token: str) -> str | None:
    """The id a presented key claims (``ll_<id>_<secret>``), or None if it has not that shape.
    Safe to log: the id is not secret."""
    if not token.startswith(PREFIX):
        return None
    found, sep, secret = token[len(PREFIX) :].partition("_")
    if not sep or not secret or not found.isalnum() or len(found) > 16:
        return None
    return found


class KeyStore:
    """The API keys of one ledger database (SQLite or PostgreSQL)."""

    def __init__(self, url: str) -> None:
        options = {"connect_args": {"timeout": 30}} if url.startswith("sqlite") else {}
        self.engine = sa.create_engine(url, **options)
        create_tables(metadata, self.engine)  # several server processes may start at once

    def close(self) -> None:
        self.engine.dispose()

    def create(self, name: str, roles: Iterable[Role]) -> tuple[ApiKey, str]:
        """Store a new key; returns it and the key itself, which is never stored or shown again."""
        chosen = frozenset(Role(r) for r in roles)
        if not chosen:
            raise ApiKeyError("a key needs at least one role: " + ", ".join(r.value for r in Role))
        if not name.strip():
            raise ApiKeyError("a key needs a name (who or what uses it)")
        new_id = secrets.token_hex(4)
        token = f"{PREFIX}{new_id}_{secrets.token_urlsafe(SECRET_BYTES)}"
        key = ApiKey(new_id, name, chosen, datetime.now(UTC), None)
        with self.engine.begin() as conn:
            conn.execute(
                api_keys.insert(),
                {"id": key.id, "name": name, "roles": _roles_text(chosen),
                 "digest": digest(token), "created_at": key.created_at},
            )  # fmt: skip
        return key, token

    def all(self) -> list[ApiKey]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(api_keys).order_by(api_keys.c.created_at, api_keys.c.id))
            return [_key(row) for row in rows]

    def get(self, wanted: str) -> ApiKey:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(api_keys).where(api_keys.c.id == wanted)).first()
        if row is None:
            raise ApiKeyError(f"no API key with id {wanted!r} (see `leadledger keys list`)")
        return _key(row)

    def revoke(self, wanted: str) -> ApiKey:
        """Revoke key ``wanted`` from now on; revoking one already revoked is refused, so a
        mistyped id is never mistaken for success."""
        key = self.get(wanted)
        if key.revoked_at is not None:
            when = key.revoked_at.isoformat()
            raise ApiKeyError(f"API key {wanted!r} was already revoked at {when}")
        now = datetime.now(UTC)
        with self.engine.begin() as conn:
            conn.execute(
                api_keys.update()
                .where(api_keys.c.id == wanted, api_keys.c.revoked_at.is_(None))
                .values(revoked_at=now)
            )
        return ApiKey(key.id, key.name, key.roles, key.created_at, now)

    def authenticate(self, token: str) -> ApiKey | None:
        """The active key ``token`` is, or None (unknown, malformed, wrong secret, revoked)."""
        claimed = key_id(token)
        if claimed is None:
            return None
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(api_keys).where(api_keys.c.id == claimed)).first()
        if row is None or not hmac.compare_digest(digest(token), row.digest):
            return None
        key = _key(row)
        return key if key.active else None

    @staticmethod
    def holds_keys(url: str) -> bool:
        """Whether the database at ``url`` has the keys table, found without creating it."""
        engine = sa.create_engine(url)
        try:
            return sa.inspect(engine).has_table(api_keys.name)
        finally:
            engine.dispose()


def _roles_text(roles: Iterable[Role]) -> str:
    return ",".join(sorted(r.value for r in roles))


def _key(row: sa.Row[object]) -> ApiKey:
    roles = frozenset(Role(r) for r in str(row.roles).split(",") if r)
    revoked = None if row.revoked_at is None else as_utc(row.revoked_at)
    return ApiKey(row.id, row.name, roles, as_utc(row.created_at), revoked)
