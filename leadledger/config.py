"""Where leadledger keeps its data and finds its servers, from options or environment."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar
from urllib.parse import unquote, urlsplit

DATA_DIR_ENV = "LEADLEDGER_DATA_DIR"
DATABASE_URL_ENV = "LEADLEDGER_DATABASE_URL"
BOOTSTRAP_ENV = "LEADLEDGER_KAFKA_BOOTSTRAP_SERVERS"
TOPIC_PREFIX_ENV = "LEADLEDGER_TOPIC_PREFIX"
LEDGER_FILE = "ledger.db"  # in the data directory: read models, checkpoints, dead letters
KAFKA_TIMEOUT_ENV = "LEADLEDGER_KAFKA_TIMEOUT"
PARTITIONS_ENV = "LEADLEDGER_KAFKA_PARTITIONS"
REPLICATION_ENV = "LEADLEDGER_KAFKA_REPLICATION_FACTOR"
# Long enough for a broker across a network to answer, short enough that a command
# pointed at no broker says so well within ten seconds.
DEFAULT_KAFKA_TIMEOUT = 5.0
DEFAULT_PARTITIONS = 6
# One replica suits the single-node broker of development and docker-compose; a
# production cluster wants 3 (set it before the topics are first created).
DEFAULT_REPLICATION_FACTOR = 1


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
    """A Kafka cluster, the names of leadledger's topics on it, and how to treat it.

    ``timeout`` (seconds) bounds the wait for a first answer from the bootstrap servers;
    ``partitions`` and ``replication_factor`` apply when leadledger creates its topics,
    never to topics that exist already.
    """

    bootstrap_servers: str
    topic_prefix: str = "leadledger"
    timeout: float = DEFAULT_KAFKA_TIMEOUT
    partitions: int = DEFAULT_PARTITIONS
    replication_factor: int = DEFAULT_REPLICATION_FACTOR

    def __post_init__(self) -> None:
        if not self.timeout > 0:
            raise ConfigError(f"the Kafka timeout must be above 0 seconds, got {self.timeout}")
        for name, value in (("partitions", self.partitions),
                            ("replication factor", self.replication_factor)):  # fmt: skip
            if value < 1:
                raise ConfigError(f"the topics' {name} must be at least 1, got {value}")

    @classmethod
    def from_settings(
        cls,
        bootstrap: str | None = None,
        prefix: str | None = None,
        timeout: float | None = None,
        partitions: int | None = None,
        replication_factor: int | None = None,
    ) -> Kafka:
        """Options first, then the environment, then the defaults."""
        return cls(
            bootstrap_servers=bootstrap or os.environ.get(BOOTSTRAP_ENV, "127.0.0.1:9092"),
            topic_prefix=prefix or os.environ.get(TOPIC_PREFIX_ENV, "leadledger"),
            timeout=timeout or _number(KAFKA_TIMEOUT_ENV, float, DEFAULT_KAFKA_TIMEOUT),
            partitions=partitions or _number(PARTITIONS_ENV, int, DEFAULT_PARTITIONS),
            replication_factor=replication_factor
            or _number(REPLICATION_ENV, int, DEFAULT_REPLICATION_FACTOR),
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

    # Consumer groups are named after the prefix too, so deployments sharing a cluster
    # never rebalance each other's consumers.
    @property
    def ingest_group(self) -> str:
        return f"{self.topic_prefix}-ingest"

    @property
    def projection_group(self) -> str:
        return f"{self.topic_prefix}-projection"


_N = TypeVar("_N", int, float)


def _number(env: str, kind: Callable[[str], _N], default: _N) -> _N:
    """A number from the environment, with an error that names the variable."""
    raw = os.environ.get(env)
    if not raw:
        return default
    try:
        return kind(raw)
    except ValueError:
        raise ConfigError(f"{env} must be a number, got {raw!r}") from None
