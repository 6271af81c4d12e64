"""Where leadledger keeps its data and finds its servers, from options or environment."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

DATA_DIR_ENV = "LEADLEDGER_DATA_DIR"
DATABASE_URL_ENV = "LEADLEDGER_DATABASE_URL"
BOOTSTRAP_ENV = "LEADLEDGER_KAFKA_BOOTSTRAP_SERVERS"
TOPIC_PREFIX_ENV = "LEADLEDGER_TOPIC_PREFIX"
LEDGER_FILE = "ledger.db"  # in the data directory: read models, checkpoints, dead letters


class ConfigError(ValueError):
    """A setting that cannot work; the message says which and why."""


class BrokerUnavailable(RuntimeError):
    """No Kafka broker answered at the configured address."""


def default_data_dir() -> Path:
    """``$LEADLEDGER_DATA_DIR``, else ``$XDG_DATA_HOME/leadledger`` (``~/.local/share``)."""
    if env := os.environ.get(DATA_DIR_ENV):
        return Path(env)
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "leadledger"


@dataclass(frozen=True)
class Database:
    """Where the event store and the ledger tables (read models, checkpoints) live.

    SQLite keeps them in two files in the data directory so that the projection's
    writes never wait on the event store's lock; PostgreSQL keeps both in one database.
    """

    url: str
    data_dir: Path | None = None

    @classmethod
    def from_settings(cls, data_dir: Path | None = None, url: str | None = None) -> Database:
        url = url or os.environ.get(DATABASE_URL_ENV)
        if url:
            if not url.startswith(("postgresql://", "postgres://")):
                raise ConfigError(
                    f"{DATABASE_URL_ENV} must be a postgresql:// URL (SQLite is chosen "
                    f"with --data-dir), got {url.split('://')[0]}://..."
                )
            return cls(url=url)
        return cls(url="sqlite", data_dir=data_dir or default_data_dir())

    @property
    def is_postgres(self) -> bool:
        return self.data_dir is None

    def describe(self) -> str:
        if self.data_dir is not None:
            return f"SQLite in {self.data_dir}"
        parts = urlsplit(self.url)
        return f"PostgreSQL {parts.hostname}:{parts.port or 5432}{parts.path}"

    def event_store_env(self) -> dict[str, str]:
        """The environment eventsourcing reads to choose and open its recorder."""
        if self.data_dir is not None:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            return {
                "PERSISTENCE_MODULE": "eventsourcing.sqlite",
                "SQLITE_DBNAME": str(self.data_dir / "events.db"),
                "SQLITE_LOCK_TIMEOUT": "30",
            }
        parts = urlsplit(self.url)
        return {
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "POSTGRES_DBNAME": parts.path.lstrip("/"),
            "POSTGRES_HOST": parts.hostname or "127.0.0.1",
            "POSTGRES_PORT": str(parts.port or 5432),
            "POSTGRES_USER": unquote(parts.username or ""),
            "POSTGRES_PASSWORD": unquote(parts.password or ""),
        }

    def ledger_url(self) -> str:
        """SQLAlchemy URL of the ledger tables."""
        if self.data_dir is not None:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            return f"sqlite:///{self.data_dir / LEDGER_FILE}"
        return "postgresql+psycopg://" + self.url.split("://", 1)[1]

    def require_data(self, holds_tables: Callable[[str], bool]) -> None:
        """Raise ConfigError unless the engine has written here, creating nothing: commands
        that only read refuse a mistyped --data-dir or database instead of answering from
        a new, empty one. ``holds_tables(url)`` asks a PostgreSQL database for the ledger's
        tables (the ledger knows their names)."""
        if self.data_dir is not None:
            held = (self.data_dir / LEDGER_FILE).is_file()
        else:
            held = holds_tables(self.ledger_url())
        if not held:
            raise ConfigError(
                f"no leadledger data in {self.describe()}: check --data-dir or --database-url "
                f"({DATA_DIR_ENV}, {DATABASE_URL_ENV}), or ingest into it first"
            )


@dataclass(frozen=True)
class Kafka:
    """A Kafka cluster and the names of leadledger's topics on it."""

    bootstrap_servers: str
    topic_prefix: str = "leadledger"

    @classmethod
    def from_settings(cls, bootstrap: str | None = None, prefix: str | None = None) -> Kafka:
        return cls(
            bootstrap_servers=bootstrap or os.environ.get(BOOTSTRAP_ENV, "127.0.0.1:9092"),
            topic_prefix=prefix or os.environ.get(TOPIC_PREFIX_ENV, "leadledger"),
        )

    @property
    def ingest_topic(self) -> str:
        return f"{self.topic_prefix}.ingest"

    @property
    def domain_topic(self) -> str:
        return f"{self.topic_prefix}.domain-events"

    @property
    def dead_letter_topic(self) -> str:
        return f"{self.topic_prefix}.dead-letters"
