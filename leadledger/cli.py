"""The ``leadledger`` command: a thin layer that turns options into calls and prints results."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from leadledger import logs
from leadledger.apikeys import ApiKey, KeyStore, Role
from leadledger.app import admin
from leadledger.app import deadletters as deadletters_app
from leadledger.app.errors import Refused
from leadledger.codec import DecodeError
from leadledger.config import (
    BOOTSTRAP_ENV,
    DATA_DIR_ENV,
    DATABASE_URL_ENV,
    DEFAULT_KAFKA_TIMEOUT,
    DEFAULT_PARTITIONS,
    DEFAULT_REPLICATION_FACTOR,
    KAFKA_TIMEOUT_ENV,
    PARTITIONS_ENV,
    REPLICATION_ENV,
    BrokerUnavailable,
    ConfigError,
    Database,
    Kafka,
    default_data_dir,
)
from leadledger.kpi_report import GROUPS as KPI_GROUPS
from leadledger.ledgerdb import CheckpointMoved, LedgerDB
from leadledger.output import SafeTable as Table  # source values shown as text, never obeyed
from leadledger.output import csv_text, safe_markup
from leadledger.projections.attribution import MODELS
from leadledger.projections.definitions import DefinitionsError
from leadledger.projections.definitions import load as load_definitions
from leadledger.projections.lifecycle import CONVERSION_KINDS
from leadledger.sla_report import CLOCK_ROW
from leadledger.sla_report import GROUPS as SLA_GROUPS
from leadledger.store import EventStore, open_store

if TYPE_CHECKING:
    from leadledger.ingest import Tally
    from leadledger.projections.definitions import Definitions
    from leadledger.readmodels import ReadModel

LEDGER_COLUMNS = [
    "conversion_id", "touch_event_id", "channel", "campaign", "model", "definitions",
    "weight", "value", "currency",
]  # fmt: skip

# soft_wrap: a long message stays one line in logs and pipes; tables still fit the width.
out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)


class Context:
    def __init__(self, data_dir: Path | None, database_url: str | None) -> None:
        self.data_dir = data_dir
        self.database_url = database_url

    def database(self) -> Database:
        return Database.from_settings(self.data_dir, self.database_url)

    def require_data(self) -> None:
        """First call of every command that only reads: no data here is an error, and
        nothing is created (see ``Database.require_data``)."""
        self.database().require_data(LedgerDB.holds_engine_tables)

    @contextmanager
    def ledger(self) -> Iterator[LedgerDB]:
        ledger = LedgerDB(self.database().ledger_url())
        try:
            yield ledger
        finally:
            ledger.close()

    @contextmanager
    def open(
        self, database: Database | None = None
    ) -> Iterator[tuple[Database, EventStore, LedgerDB]]:
        database = database or self.database()
        store = open_store(database)
        ledger = LedgerDB(database.ledger_url())
        try:
            yield database, store, ledger
        finally:
            ledger.close()
            store.close()


pass_context = click.make_pass_decorator(Context)
kafka_options = [
    click.option(
        "--bootstrap-servers",
        envvar=BOOTSTRAP_ENV,
        default="127.0.0.1:9092",
        show_default=True,
        help=f"Kafka bootstrap servers (env {BOOTSTRAP_ENV}).",
    ),
    click.option(
        "--topic-prefix",
        envvar="LEADLEDGER_TOPIC_PREFIX",
        default="leadledger",
        show_default=True,
        help="Prefix of leadledger's topic names.",
    ),
    click.option(
        "--kafka-timeout", type=click.FloatRange(min=0, min_open=True), envvar=KAFKA_TIMEOUT_ENV,
        default=DEFAULT_KAFKA_TIMEOUT, show_default=True, metavar="SECONDS",
        expose_value=False, callback=lambda ctx, _, value: _keep(ctx, timeout=value),
        help=f"How long to wait for a broker to answer before saying none does "
             f"(env {KAFKA_TIMEOUT_ENV}).",
    ),
    click.option(
        "--partitions", type=click.IntRange(min=1), envvar=PARTITIONS_ENV,
        default=DEFAULT_PARTITIONS, show_default=True, expose_value=False,
        callback=lambda ctx, _, value: _keep(ctx, partitions=value),
        help=f"Partitions of each topic leadledger creates (env {PARTITIONS_ENV}).",
    ),
    click.option(
        "--replication-factor", type=click.IntRange(min=1), envvar=REPLICATION_ENV,
        default=DEFAULT_REPLICATION_FACTOR, show_default=True, expose_value=False,
        callback=lambda ctx, _, value: _keep(ctx, replication_factor=value),
        help=f"Replicas of each topic leadledger creates; 3 on a production cluster "
             f"(env {REPLICATION_ENV}).",
    ),
]  # fmt: skip


def with_kafka(fn: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed(kafka_options):
        fn = option(fn)
    return fn


def _keep(ctx: click.Context, **settings: Any) -> None:
    """Hold a Kafka option for ``_kafka``, so commands need not take each as a parameter."""
    ctx.meta.setdefault("leadledger.kafka", {}).update(settings)


def _kafka(bootstrap_servers: str, topic_prefix: str) -> Kafka:
    """The Kafka settings of the running command: its options, the environment, defaults."""
    kept = click.get_current_context().meta.get("leadledger.kafka", {})
    return Kafka.from_settings(bootstrap_servers, topic_prefix, **kept)


@click.group()
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    envvar=DATA_DIR_ENV,
    help=f"Embedded mode's data directory (env {DATA_DIR_ENV}; default {default_data_dir()}). "
    "Commands that only read refuse one that holds no leadledger data.",
)
@click.option(
    "--database-url",
    envvar=DATABASE_URL_ENV,
    help=f"postgresql:// URL to use PostgreSQL instead of SQLite (env {DATABASE_URL_ENV}).",
)
@click.option("-v", "--verbose", count=True,
              help="Log the Kafka processes' throughput and lag; -vv adds kafka-python's "
                   "own debug lines.")  # fmt: skip
@click.version_option(package_name="leadledger")
@click.pass_context
def cli(ctx: click.Context, data_dir: Path | None, database_url: str | None, verbose: int) -> None:
    """leadledger: one shared, replayable record of every touch, stage change and sale."""
    logs.configure(verbose)
    ctx.obj = Context(data_dir, database_url)


@cli.command()
@click.option("--leads", default=200, show_default=True, help="How many synthetic leads.")
@click.option("--seed", default=7, show_default=True, help="Random seed: same seed, same data.")
@pass_context
def demo(context: Context, leads: int, seed: int) -> None:
    """Generate a seeded data set, run it through the embedded pipeline, print a summary.

    The demo works in DATA_DIR/demo, which it recreates on every run.
    """
    from leadledger import demo as demo_data
    from leadledger import readmodels
    from leadledger.app import reports
    from leadledger.pipeline import ingest_file, project_from_store
    from leadledger.reports import summary

    folder = (context.data_dir or default_data_dir()) / "demo"
    shutil.rmtree(folder, ignore_errors=True)
    path = demo_data.write_jsonl(demo_data.generate(leads, seed), folder / "demo.jsonl")
    # Always SQLite in its own folder, whatever LEADLEDGER_DATABASE_URL says.
    with context.open(Database(url="sqlite", data_dir=folder)) as (_, store, ledger):
        tally = _with_progress(
            "ingesting", _count_lines(path), lambda p: ingest_file(path, store, ledger, p)
        )
        events = store.max_position()
        _with_progress("projecting", events, lambda p: project_from_store(store, ledger, p))
        served = readmodels.served(ledger)
        report = reports.attribution(ledger, "first_touch").data
        counts = summary(ledger, served)
        sla = reports.sla(ledger).data
    out.print(f"[bold]leadledger demo[/bold]: {leads} synthetic leads (seed {seed}) from {path}")
    _print_tally(tally)
    out.print(
        f"event store: {events} events ({tally.stored} stored facts and {events - tally.stored} "
        f"stream openings) | leads created: {counts['leads']} | touches: {counts['touches']} | "
        f"deals won: {counts['deals_won']}"
    )
    _print_attribution(report, "table")
    overall = next(row for row in sla["compliance"] if row["clock"] == "all")
    share = "-" if overall["compliance"] is None else f"{float(overall['compliance']):.1%}"
    out.print(
        f"SLA compliance {share} ({overall['met']} met, {overall['breached']} breached; "
        f"policy checks included) under read model {served.name}"
    )
    out.print(
        f"data directory: {folder}\n"
        f"try: leadledger --data-dir {folder} report attribution | report sla | report kpi"
    )
    out.print(
        f"open it in a browser: leadledger --data-dir {folder} keys create --name me "
        f"--role read (the page asks for that key), leadledger --data-dir {folder} serve, "
        f"then http://{SERVE_HOST}:{SERVE_PORT}/ (the API's documentation: /api/docs)"
    )


SERVE_HOST, SERVE_PORT = "127.0.0.1", 8000


@cli.command()
@click.option("--host", default=SERVE_HOST, show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(1, 65535), default=SERVE_PORT, show_default=True)
@click.option("--bootstrap-servers", envvar=BOOTSTRAP_ENV, default=None,
              help=f"Kafka mode: HTTP intake publishes to the ingest topic of these servers "
                   f"(env {BOOTSTRAP_ENV}); without them it stores records itself.")  # fmt: skip
@click.option("--topic-prefix", envvar="LEADLEDGER_TOPIC_PREFIX", default="leadledger",
              show_default=True, help="Prefix of leadledger's topic names.")  # fmt: skip
@pass_context
def serve(
    context: Context, host: str, port: int, bootstrap_servers: str | None, topic_prefix: str
) -> None:
    """Serve the query API (/api/v1, documented at /api/docs) and HTTP intake over the data
    directory or database, until interrupted."""
    import uvicorn

    from leadledger.api.app import create_app

    database = context.database()
    kafka = Kafka.from_settings(bootstrap_servers, topic_prefix) if bootstrap_servers else None
    mode = f"Kafka mode, intake to {kafka.ingest_topic}" if kafka else "embedded mode"
    err.print(f"serving {database.describe()} ({mode}) on http://{host}:{port}/")
    uvicorn.run(create_app(database, kafka), host=host, port=port, log_level="info")


@cli.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@pass_context
def ingest(context: Context, file: Path) -> None:
    """Embedded mode: store the events of a JSON Lines or CSV FILE and update the read models."""
    from leadledger.pipeline import behind, ingest_file, project_from_store

    with context.open() as (database, store, ledger):
        tally = _with_progress(
            "ingesting", _count_lines(file), lambda p: ingest_file(file, store, ledger, p)
        )
        lag = behind(store, ledger)
        _with_progress("projecting", lag, lambda p: project_from_store(store, ledger, p))
    err.print(f"stored in {database.describe()}")
    _print_tally(tally)
    if not tally.reconciles:
        raise SystemExit(1)


@cli.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@with_kafka
def publish(file: Path, bootstrap_servers: str, topic_prefix: str) -> None:
    """Kafka mode: validate a JSON Lines or CSV FILE and publish its events to the ingest
    topic. Invalid lines are reported and not sent."""
    from leadledger.files import read_records
    from leadledger.publisher import Publisher

    kafka = _kafka(bootstrap_servers, topic_prefix)
    records = list(read_records(file))
    invalid = [r for r in records if r.message is None]
    for record in invalid:
        err.print(f"[red]not sent[/red] {safe_markup(f'{record.origin}: {record.error}')}")
    valid = [r.message for r in records if r.message is not None]
    with Publisher(kafka) as publisher:
        report = _with_progress(
            "publishing", len(valid), lambda step: publisher.publish(valid, progress=step)
        )
    for event_id, reason in report.failed:
        err.print(f"[red]failed[/red] {safe_markup(f'{event_id}: {reason}')}")
    out.print(
        f"published {report.sent} events to {kafka.ingest_topic} "
        f"({len(invalid)} invalid lines not sent, {len(report.failed)} failed)"
    )
    if invalid or report.failed:
        raise SystemExit(1)


@cli.group()
def run() -> None:
    """Kafka mode: run one of the engine's long-lived processes."""


until_idle_option = click.option(
    "--until-idle",
    type=float,
    default=None,
    metavar="SECONDS",
    help="Stop after SECONDS without new input (for catch-up runs and tests); time spent "
    "waiting for a broker that went away does not count.",
)


def instance_id_option(envvar: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """``--instance-id``: Kafka static group membership for a consumer process."""
    return click.option(
        "--instance-id",
        envvar=envvar,
        default=None,
        help="A name for this process that outlives a restart (one per process, e.g. the "
        "container's): restarted after a crash, it takes its partitions back at once instead "
        f"of after the group's 45 s session timeout (env {envvar}).",
    )


@run.command("ingest")
@with_kafka
@until_idle_option
@click.option("--park-seconds", type=float, default=300, show_default=True,
              help="How long a fact refused for now waits for the fact it depends on.")  # fmt: skip
@instance_id_option("LEADLEDGER_INGEST_INSTANCE_ID")
@pass_context
def run_ingest(
    context: Context,
    bootstrap_servers: str,
    topic_prefix: str,
    until_idle: float | None,
    park_seconds: float,
    instance_id: str | None,
) -> None:
    """Consume the ingest topic into the event store."""
    from leadledger.consumers.ingest import run_ingest as run
    from leadledger.consumers.runloop import RunLoop

    kafka = _kafka(bootstrap_servers, topic_prefix)
    wait = timedelta(seconds=park_seconds)
    with context.open() as (_, store, ledger):
        tally = run(kafka, store, ledger, RunLoop.serving(kafka, until_idle), max_wait=wait,
                    instance_id=instance_id)  # fmt: skip
    _print_tally(tally)


@run.command("relay")
@with_kafka
@until_idle_option
@click.option("--page-size", default=1000, show_default=True,
              help="Events published per flush and checkpoint.")  # fmt: skip
@pass_context
def run_relay(
    context: Context,
    bootstrap_servers: str,
    topic_prefix: str,
    until_idle: float | None,
    page_size: int,
) -> None:
    """Publish the event store's ordered log to the domain-events topic."""
    from leadledger.consumers.relay import run_relay as run
    from leadledger.consumers.runloop import RunLoop

    kafka = _kafka(bootstrap_servers, topic_prefix)
    with context.open() as (_, store, ledger):
        sent = run(kafka, store, ledger, RunLoop.serving(kafka, until_idle), page_size=page_size)
    out.print(f"relayed {sent} events to {kafka.domain_topic}")


@run.command("projection")
@with_kafka
@until_idle_option
@click.option("--group", default=None, metavar="NAME",
              help="Consumer group; processes of one group share the partitions "
                   "[default: PREFIX-projection].")  # fmt: skip
@instance_id_option("LEADLEDGER_PROJECTION_INSTANCE_ID")
@pass_context
def run_projection(
    context: Context,
    bootstrap_servers: str,
    topic_prefix: str,
    until_idle: float | None,
    group: str,
    instance_id: str | None,
) -> None:
    """Build the read models from the domain-events topic (run several to share its
    partitions)."""
    from leadledger.consumers.projection import run_projection as run
    from leadledger.consumers.runloop import RunLoop

    kafka = _kafka(bootstrap_servers, topic_prefix)
    with context.ledger() as ledger:
        count = run(kafka, ledger, RunLoop.serving(kafka, until_idle), group=group,
                    instance_id=instance_id)  # fmt: skip
    out.print(f"projected {count} events from {kafka.domain_topic}")


@cli.group()
def report() -> None:
    """Print a report from the read models (refused where no data was ever stored)."""


definitions_option = click.option(
    "--definitions", "definitions_file", type=click.Path(dir_okay=False, path_type=Path),
    help="A TOML definitions file whose attribution settings to use instead of the read "
         "model's (its other sections must match; replay a file that changes them).",
)  # fmt: skip
read_model_option = click.option(
    "--read-model", "read_model_name", metavar="NAME",
    help="Report from this read model (default: the served one; see 'leadledger models').",
)  # fmt: skip
model_option = click.option(
    "--model", default="first_touch", show_default=True,
    help="Attribution model: " + ", ".join(sorted(MODELS)) + ".",
)  # fmt: skip
format_option = click.option(
    "--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table",
    show_default=True,
)  # fmt: skip


@report.command("attribution")
@model_option
@click.option("--by", type=click.Choice(["channel", "campaign", "source", "medium"]),
              default="channel",
              show_default=True)  # fmt: skip
@click.option("--conversion", type=click.Choice(CONVERSION_KINDS), default=None,
              help="Which conversions earn credit (default: the definitions' choice).")  # fmt: skip
@definitions_option
@read_model_option
@format_option
@pass_context
def report_attribution(
    context: Context, model: str, by: str, conversion: str | None,
    definitions_file: Path | None, read_model_name: str | None, fmt: str,
) -> None:  # fmt: skip
    """Credit per channel, campaign or source for one kind of conversion."""
    context.require_data()
    from leadledger.app import reports

    with context.ledger() as ledger:
        _, definitions = _read_model(ledger, read_model_name, definitions_file)
        answer = reports.attribution(ledger, model, by, conversion, read_model_name,
                                     definitions)  # fmt: skip
    _print_attribution(answer.data, fmt)


@report.command("spend")
@model_option
@click.option("--by", type=click.Choice(["channel", "campaign"]), default="channel",
              show_default=True)  # fmt: skip
@definitions_option
@read_model_option
@format_option
@pass_context
def report_spend(
    context: Context, model: str, by: str, definitions_file: Path | None,
    read_model_name: str | None, fmt: str,
) -> None:  # fmt: skip
    """Spend against attributed leads, MQLs and deals: CPL, cost per MQL and deal, ROAS."""
    context.require_data()
    from leadledger.app import reports

    with context.ledger() as ledger:
        _, definitions = _read_model(ledger, read_model_name, definitions_file)
        data = reports.spend(ledger, model, by, read_model_name, definitions).data
    if fmt == "json":
        click.echo(json.dumps(data, indent=2, sort_keys=True))
        return
    columns = list(data["rows"][0]) if data["rows"] else [by, "spend"]
    if fmt == "csv":
        _echo_csv(columns, data["rows"])
        return
    table = Table(*columns, title=f"spend and {model} credit",
                  caption=f"definitions {data['definitions']}")  # fmt: skip
    for row in data["rows"]:
        table.add_row(*(str(row[c]) if row[c] is not None else "-" for c in columns))
    out.print(table)


@cli.command()
@model_option
@click.option("--conversion", type=click.Choice(CONVERSION_KINDS), default=None)
@definitions_option
@read_model_option
@pass_context
def credits(
    context: Context, model: str, conversion: str | None, definitions_file: Path | None,
    read_model_name: str | None,
) -> None:  # fmt: skip
    """Print the credit ledger as CSV: one row per credit, with model and definitions hash."""
    context.require_data()
    from leadledger.app import reports

    with context.ledger() as ledger:
        _, definitions = _read_model(ledger, read_model_name, definitions_file)
        answer = reports.credits(ledger, model, conversion, read_model_name, definitions)
    _echo_csv(LEDGER_COLUMNS, answer.data["rows"])


@cli.command("explain")
@click.argument("conversion_id")
@model_option
@definitions_option
@read_model_option
@pass_context
def explain_command(
    context: Context, conversion_id: str, model: str, definitions_file: Path | None,
    read_model_name: str | None,
) -> None:  # fmt: skip
    """Show one conversion's path, each touch's credit, and why (JSON)."""
    context.require_data()
    from leadledger.app import reports

    with context.ledger() as ledger:
        _, definitions = _read_model(ledger, read_model_name, definitions_file)
        answer = reports.explain(ledger, conversion_id, model, read_model_name, definitions)
    click.echo(json.dumps(answer.data, indent=2))


def _instant(ctx: click.Context, param: click.Parameter, value: str | None) -> datetime | None:
    """An ISO 8601 time with its offset: 2026-03-01T12:00:00Z or 2026-03-01T13:00+01:00."""
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not an ISO 8601 time (e.g. 2026-03-01T12:00:00Z)"
        ) from None
    if moment.tzinfo is None:
        raise click.BadParameter(f"{value!r} has no time zone; add Z or an offset like +01:00")
    return moment.astimezone(UTC)


@report.command("sla")
@click.option("--by", type=click.Choice(SLA_GROUPS),
              default="clock", show_default=True)  # fmt: skip
@click.option("--period", type=click.Choice(["month", "quarter"]), default="month",
              show_default=True, help="Period of a clock: when it started.")  # fmt: skip
@click.option("--now", metavar="TIME", callback=_instant,
              help="The SLA as it stood at this time: facts that happened later are left "
                   "out, and open clocks are judged at it (default: now).")  # fmt: skip
@read_model_option
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table",
              show_default=True, help="csv: the per-clock rows (--by clock-row).")  # fmt: skip
@pass_context
def report_sla(
    context: Context, by: str, period: str, now: datetime | None,
    read_model_name: str | None, fmt: str,
) -> None:  # fmt: skip
    """SLA compliance (MQL response, first contact, SQL confirmation; and the hand-over
    policy: reason tag returned, contact attempts before a no_response disqualification,
    disqualified only after SQL), each breach with its lead and rep, and the open clocks
    at risk. --by clock-row lists every clock: lead, cycle, clock, started, due, ended,
    working seconds, verdict."""
    context.require_data()
    from leadledger.app import reports

    with context.ledger() as ledger:
        data = reports.sla(ledger, by, period, now, read_model_name).data
    if fmt == "json":
        click.echo(json.dumps(data, indent=2, sort_keys=True))
        return
    if fmt == "csv":
        if by != "clock-row":
            raise click.UsageError("--format csv lists clock rows: add --by clock-row")
        _echo_csv(list(CLOCK_ROW), data["clocks"])
        return
    if by == "clock-row":
        listing = Table(*CLOCK_ROW, title=f"SLA clocks ({len(data['clocks'])})",
                        caption=f"definitions {data['definitions']}")  # fmt: skip
        for row in data["clocks"]:
            listing.add_row(*("-" if row[c] is None else str(row[c]) for c in CLOCK_ROW))
        out.print(listing)
        return
    columns = list(data["compliance"][0]) if data["compliance"] else [by]
    table = Table(*columns, title=f"SLA compliance by {by}",
                  caption=f"definitions {data['definitions']}")  # fmt: skip
    for row in data["compliance"]:
        table.add_row(*("-" if row[c] is None else str(row[c]) for c in columns))
    out.print(table)
    shown = (
        ("breaches", data["breaches"], ("lead_id", "clock", "cycle", "rep", "team", "deadline",
                                        "measured", "limit")),
        ("at risk now", data["at_risk"], ("lead_id", "clock", "cycle", "rep", "team", "deadline",
                                          "used_hours", "limit_hours")),
    )  # fmt: skip
    for title, rows, fields in shown:
        if rows:
            listing = Table(*fields, title=f"{title} ({len(rows)})")
            for row in rows[:50]:
                listing.add_row(*("-" if row[f] is None else str(row[f]) for f in fields))
            out.print(listing)
            if len(rows) > 50:
                out.print(f"... and {len(rows) - 50} more (--format json lists all)")
    reasons = ", ".join(f"{k} {v}" for k, v in data["rejection_reasons"].items()) or "none"
    out.print(f"reason tags returned to marketing: {reasons}")


@report.command("kpi")
@click.option("--by", type=click.Choice(KPI_GROUPS),
              default="all", show_default=True)  # fmt: skip
@click.option("--period", type=click.Choice(["month", "quarter"]), default="month",
              show_default=True)  # fmt: skip
@click.option("--basis", type=click.Choice(["cohort", "activity"]), default="cohort",
              show_default=True,
              help="cohort: a lead's steps count in the period it was created; activity: "
                   "in the period each step happened.")  # fmt: skip
@read_model_option
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table",
              show_default=True)  # fmt: skip
@pass_context
def report_kpi(
    context: Context, by: str, period: str, basis: str, read_model_name: str | None, fmt: str
) -> None:
    """Funnel counts, conversion rates, win rate, ACV, cycle length, CPL, CAC, LTV, ROMI,
    NRR, plan attainment and more: the definitions' formulas per period and group."""
    context.require_data()
    from leadledger.app import reports
    from leadledger.readmodels import chosen

    with context.ledger() as ledger:
        data = reports.kpi(ledger, by, period, basis, read_model_name).data
        names = list(chosen(ledger, read_model_name).definitions.kpi.formulas)
    if fmt == "json":
        click.echo(json.dumps(data, indent=2, sort_keys=True))
        return
    flat = [{"period": r["period"], by: r[by], **r["kpis"]} for r in data["rows"]]
    if fmt == "csv":
        _echo_csv(["period", by, *names], flat)
        return
    heads = [r["period"] if by == "all" else f"{r['period']} {r[by]}" for r in data["rows"]]
    table = Table("kpi", *heads, title=f"KPIs by {by} and {period} ({basis} basis)",
                  caption=f"definitions {data['definitions']}")  # fmt: skip
    for name in names:
        values = (row["kpis"].get(name) for row in data["rows"])
        table.add_row(name, *("-" if v is None else v for v in values))
    out.print(table)
    left = [f"{r['period']} {r[by]}: {o['count']} {o['kind']} "
            + (o["currency"] if o["amount"] is None else f"{o['amount']} {o['currency']}")
            for r in data["rows"] for o in r["left_out"]]  # fmt: skip
    if left:
        out.print(f"{data['currency_rule']}:", *left, sep="\n  ")


@cli.command()
@click.option("--definitions", "definitions_file", required=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="The TOML definitions to build the read model under (checked when "
                   "loaded: a value that means nothing is refused, naming its key).")  # fmt: skip
@click.option("--name", help="Name of the new read model (default: the definitions' hash).")
@click.option("--as-of", metavar="TIME", callback=_instant,
              help="Only events the engine had recorded by TIME (its recorded time).")  # fmt: skip
@click.option("--occurred-before", metavar="TIME", callback=_instant,
              help="Only events that happened by TIME (the source's event time).")  # fmt: skip
@click.option("--from-kafka", is_flag=True,
              help="Read the domain-events topic instead of the embedded store.")  # fmt: skip
@click.option("--page-size", default=1000, show_default=True,
              help="From the embedded store: events per transaction (lead states and "
                   "checkpoint together). Kafka replays commit once per poll.")  # fmt: skip
@with_kafka
@pass_context
def replay(
    context: Context, definitions_file: Path, name: str | None, as_of: datetime | None,
    occurred_before: datetime | None, from_kafka: bool, page_size: int,
    bootstrap_servers: str, topic_prefix: str,
) -> None:  # fmt: skip
    """Build a read model under new definitions, beside the served one, from the start of
    the log. An interrupted replay resumes from its checkpoint when run again."""
    definitions = load_definitions(definitions_file)
    kafka = _kafka(bootstrap_servers, topic_prefix) if from_kafka else None
    with context.ledger() as ledger:
        done = admin.replay(ledger, context.database(), definitions, name, as_of,
                            occurred_before, kafka, page_size, _with_progress)  # fmt: skip
    model, covered, served, name = done.model, done.covered, done.served, done.model.name
    out.print(f"read model {model.describe()}: ready, {covered} log positions replayed")
    out.print(f"report from it with --read-model {name}; compare: leadledger diff {served} {name}")
    # Suggest only what works: promote refuses a bounded read model.
    if model.live:
        out.print(f"serve it with: leadledger promote {name}")
    else:
        out.print("it is bounded: it does not follow new events and cannot be served")


@cli.command()
@click.argument("name")
@pass_context
def promote(context: Context, name: str) -> None:
    """Serve read model NAME: reports without --read-model answer from it from now on."""
    with context.ledger() as ledger:
        model, before = admin.promote(ledger, name)
    out.print(f"serving {model.describe()} (was {before.name})")


@cli.command()
@click.argument("name")
@pass_context
def drop(context: Context, name: str) -> None:
    """Delete read model NAME and its rows (never the served one)."""
    with context.ledger() as ledger:
        admin.drop(ledger, name)
    out.print(f"dropped read model {name}")


@cli.command()
@pass_context
def models(context: Context) -> None:
    """List the read models: which is served, their definitions, bounds and progress. A
    read model whose stored definitions no longer load is listed as broken, with why."""
    context.require_data()
    from leadledger.app.readmodels import listing

    with context.ledger() as ledger:
        found = listing(ledger)
    table = Table("name", "served", "status", "bounds", "definitions", "position")
    for model in found:
        table.add_row(model.name, "*" if model.served else "", model.status, model.bounds,
                      model.definitions or "-",
                      ", ".join(f"{k} {v}" for k, v in sorted(model.position.items())))  # fmt: skip
    out.print(table)
    for model in found:
        if model.problem:
            out.print(f"{model.name} is broken: its definitions {model.problem}; drop it "
                      f"(leadledger drop {model.name}) and replay fixed ones")  # fmt: skip


@cli.command("diff")
@click.argument("a")
@click.argument("b")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table",
              show_default=True)  # fmt: skip
@pass_context
def diff_command(context: Context, a: str, b: str, fmt: str) -> None:
    """What changed from read model A to read model B: per conversion, lead and KPI."""
    context.require_data()
    with context.ledger() as ledger:
        data = admin.diff(ledger, a, b)
    if fmt == "json":
        click.echo(json.dumps(data, indent=2, sort_keys=True))
        return
    out.print(f"[bold]a[/bold] {data['a']}\n[bold]b[/bold] {data['b']}")
    conv = data["conversions"]
    out.print(f"conversions: {len(conv['only_in_a'])} only in a, {len(conv['only_in_b'])} "
              f"only in b, {len(conv['changed'])} changed")  # fmt: skip
    sections = (
        ("conversions only in a", conv["only_in_a"]),
        ("conversions only in b", conv["only_in_b"]),
        ("conversions changed", conv["changed"]),
        ("leads", data["leads"]),
        ("KPIs", data["kpis"]),
    )
    for title, rows in sections:
        if not rows:
            continue
        table = Table(*rows[0], title=f"{title} ({len(rows)})")
        for row in rows[:100]:
            table.add_row(*("-" if v is None else str(v) for v in row.values()))
        out.print(table)
        if len(rows) > 100:
            out.print(f"... and {len(rows) - 100} more (--format json lists all)")


@cli.group()
def deadletters() -> None:
    """Inspect and re-submit records the engine could not store."""


@deadletters.command("list")
@click.option(
    "--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True
)
@pass_context
def deadletters_list(context: Context, fmt: str) -> None:
    """List dead letters: where each came from, why, when, and whether a corrected record
    was re-submitted (times in UTC)."""
    context.require_data()
    with context.ledger() as ledger:
        letters = deadletters_app.list_letters(ledger)
    if fmt == "json":
        click.echo(json.dumps([letter.summary() for letter in letters], indent=2))
        return
    from rich.table import Column

    # Times are never cut short on a narrow terminal; origin and reason wrap instead.
    stamp = len("2026-01-01T00:00:00+00:00")
    wide = stamp if any(r.replayed_at for r in letters) else None
    table = Table("id", Column("origin", overflow="fold"), "reason",
                  Column("dead-lettered at", no_wrap=True, min_width=stamp),
                  Column("replayed", no_wrap=True, min_width=wide))  # fmt: skip
    for row in letters:
        table.add_row(str(row.id), row.origin, row.reason, _utc(row.dead_lettered_at, "seconds"),
                      _utc(row.replayed_at, "seconds") or "-")  # fmt: skip
    out.print(table)


def _utc(moment: datetime | None, timespec: str = "auto") -> str | None:
    """ISO 8601 in UTC with its offset: SQLite hands stored times back without a zone."""
    from leadledger.domain.stream import as_utc

    return None if moment is None else as_utc(moment).isoformat(timespec=timespec)


@deadletters.command("show")
@click.argument("letter_id", type=int)
@pass_context
def deadletters_show(context: Context, letter_id: int) -> None:
    """Show one dead letter: origin, reason, and the original bytes (text, or hex)."""
    context.require_data()
    with context.ledger() as ledger:
        letter = deadletters_app.get_letter(ledger, letter_id)
    click.echo(json.dumps(letter.detail(), indent=2))


@deadletters.command("replay")
@click.argument("letter_id", type=int)
@click.option("--with", "corrected", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A file holding the corrected record (one JSON object); default: the "
                   "original record again, e.g. after the fact it waited for arrived.")  # fmt: skip
@pass_context
def deadletters_replay(context: Context, letter_id: int, corrected: Path | None) -> None:
    """Re-submit a dead letter (corrected, or as it was) through ingest and the projections."""
    with context.open() as (_, store, ledger):
        fixed = None if corrected is None else corrected.read_bytes()
        tally = deadletters_app.replay_letter(store, ledger, letter_id, fixed)
    _print_tally(tally)
    if not (tally.stored or tally.duplicates):
        raise SystemExit(1)


@cli.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
                required=False)  # fmt: skip
@click.option("--topic", is_flag=True, help="Reconcile the Kafka ingest topic instead of a file.")
@with_kafka
@pass_context
def reconcile(
    context: Context, file: Path | None, topic: bool, bootstrap_servers: str, topic_prefix: str
) -> None:
    """Show received = stored + duplicates + dead-lettered (+ parked) for a file or the
    ingest topic; exit 1 if any record is unaccounted for."""
    context.require_data()
    if file is None and not topic:
        raise click.UsageError("give a FILE or --topic")
    source = file if file is not None else _kafka(bootstrap_servers, topic_prefix)
    with context.ledger() as ledger:
        done = deadletters_app.reconcile(ledger, source)
    line = " + ".join(f"{done.counts.get(p, 0)} {p.replace('_', '-')}"
                      for p in deadletters_app.ACCOUNTS)  # fmt: skip
    out.print(f"{done.source}: received {done.received} = {line}; unaccounted {done.unaccounted}")
    if file is not None and done.received and not done.accounted:
        # Published records are accounted for under the topic, not the file they came from.
        err.print(safe_markup(
            f"nothing from {file} was ingested from the file; if you published it to Kafka, "
            "run `leadledger reconcile --topic`"
        ))  # fmt: skip
    if done.unfolded:
        err.print(
            f"{done.unfolded} stored event(s) could not be folded into a read model and were left "
            "out of it (origins projection:...; see `leadledger deadletters list`)"
        )
    if done.unaccounted:
        raise SystemExit(1)


@cli.group()
def keys() -> None:
    """API keys for `leadledger serve`: create, list, revoke. Roles are independent (admin
    does not imply read): read for dashboards and reports, write for HTTP intake, audit
    for explain, diff and record fates, admin for replay, promote and dead-letter replay."""


@contextmanager
def _key_store(context: Context, *, create: bool) -> Iterator[KeyStore]:
    """The keys of the ledger database; commands that only read or revoke refuse a place
    where no key and no engine data were ever stored, as other read commands do."""
    database = context.database()
    if not create:
        database.require_data(
            lambda url: KeyStore.holds_keys(url) or LedgerDB.holds_engine_tables(url)
        )
    store = KeyStore(database.ledger_url())
    try:
        yield store
    finally:
        store.close()


@keys.command("create")
@click.option("--name", required=True, help="Who or what uses the key (shown in listings).")
@click.option("--role", "roles", required=True, multiple=True,
              type=click.Choice([r.value for r in Role]),
              help="A role the key holds; repeat for several.")  # fmt: skip
@pass_context
def keys_create(context: Context, name: str, roles: tuple[str, ...]) -> None:
    """Create an API key and print it once: only its hash is stored."""
    with _key_store(context, create=True) as store:
        key, token = store.create(name, (Role(r) for r in roles))
    click.echo(token)
    err.print(
        f"created API key {key.id} ({safe_markup(key.name)}; roles {_roles(key)}): the key is "
        "printed above and will not be shown again; store it now"
    )


@keys.command("list")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table",
              show_default=True)  # fmt: skip
@pass_context
def keys_list(context: Context, fmt: str) -> None:
    """List the API keys: id, name, roles, created and revoked (never the keys themselves)."""
    with _key_store(context, create=False) as store:
        found = store.all()
    if fmt == "json":
        listing = [{"id": k.id, "name": k.name, "roles": sorted(r.value for r in k.roles),
                    "created_at": _utc(k.created_at), "revoked_at": _utc(k.revoked_at)}
                   for k in found]  # fmt: skip
        click.echo(json.dumps(listing, indent=2))
        return
    from rich.table import Column

    stamp = len("2026-01-01 00:00:00")  # times are never cut short; names and roles wrap
    wide = stamp if any(k.revoked_at for k in found) else None
    table = Table(Column("id", no_wrap=True, min_width=8), Column("name", overflow="fold"),
                  Column("roles", overflow="fold"),
                  Column("created (UTC)", no_wrap=True, min_width=stamp),
                  Column("revoked (UTC)", no_wrap=True, min_width=wide),
                  title=f"API keys ({len(found)})")  # fmt: skip
    for k in found:
        table.add_row(k.id, k.name, _roles(k), _utc_seconds(k.created_at),
                      _utc_seconds(k.revoked_at))  # fmt: skip
    out.print(table)


@keys.command("revoke")
@click.argument("key_id")
@pass_context
def keys_revoke(context: Context, key_id: str) -> None:
    """Revoke API key KEY_ID (see `leadledger keys list`): refused from now on."""
    with _key_store(context, create=False) as store:
        key = store.revoke(key_id)
    out.print(f"revoked API key {key.id} ({safe_markup(key.name)})")


def _utc_seconds(moment: datetime | None) -> str:
    return "-" if moment is None else moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def _roles(key: ApiKey) -> str:
    return ", ".join(sorted(r.value for r in key.roles))


def _read_model(
    ledger: LedgerDB, name: str | None, definitions_file: Path | None
) -> tuple[ReadModel, Definitions]:
    """The read model a report reads, and the definitions it reports under: the read
    model's own, or a file's attribution settings, which apply at report time. A file that
    also changes what the read model was built under (funnel, SLA, KPI) needs a replay."""
    definitions = None if definitions_file is None else load_definitions(definitions_file)
    try:
        return admin.read_model_under(ledger, name, definitions)
    except admin.DefinitionsMismatch as exc:
        raise click.ClickException(
            f"{definitions_file}: its [{exc.section}] section differs from read model "
            f"{exc.model!r}'s; replay it first (leadledger replay --definitions "
            f"{definitions_file} --name NAME) and report with --read-model NAME"
        ) from None


def _print_tally(tally: Tally) -> None:
    mark = "[green]reconciles[/green]" if tally.reconciles else "[red]DOES NOT RECONCILE[/red]"
    parked = f" + parked {tally.parked}" if tally.parked else ""
    out.print(
        f"received {tally.received} = stored {tally.stored} + duplicates {tally.duplicates} "
        f"+ dead-lettered {tally.dead_lettered}{parked}: {mark}"
    )
    if tally.reasons:
        out.print(
            "dead letters by reason: "
            + ", ".join(f"{k} {v}" for k, v in sorted(tally.reasons.items()))
        )


def _print_attribution(data: dict[str, Any], fmt: str) -> None:
    if fmt == "json":
        click.echo(json.dumps(data, indent=2, sort_keys=True))
        return
    columns = [data["by"], "conversions", "value", "currency"]
    if fmt == "csv":
        _echo_csv(columns, data["credits"])
        return
    table = Table(
        *columns,
        title=f"{data['model']} credit for {data['conversion']} "
        f"({data['conversions']} conversions)",
        caption=f"definitions {data['definitions']}",
    )
    for row in data["credits"]:
        table.add_row(*(row[c] for c in columns))
    out.print(table)


def _echo_csv(columns: list[str], rows: list[dict[str, Any]]) -> None:
    click.echo(csv_text(columns, rows), nl=False)


def _count_lines(path: Path) -> int:
    with path.open("rb") as handle:
        return sum(1 for line in handle if line.strip())


def _with_progress(label: str, total: int, work: Callable[[Callable[[int], None]], Any]) -> Any:
    """Run ``work`` with a progress bar on stderr (shown only on a terminal)."""
    columns = (TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=err, transient=True, disable=not err.is_terminal) as progress:
        task = progress.add_task(label, total=total)
        return work(lambda n: progress.advance(task, n))


KNOWN_ERRORS = (
    ConfigError, BrokerUnavailable, DecodeError, DefinitionsError, CheckpointMoved, ValueError,
    OSError,
)  # fmt: skip


def _connection_lost(exc: BaseException) -> str | None:
    """The PostgreSQL driver's error behind ``exc`` when the connection broke (a server
    restart, a terminated backend), whichever layer wrapped it; else None."""
    import psycopg

    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        if isinstance(cause, psycopg.OperationalError | psycopg.InterfaceError):
            text = str(cause).strip()
            return text.splitlines()[0] if text else type(cause).__name__
        cause = getattr(cause, "orig", None) or cause.__cause__ or cause.__context__
    return None


def main() -> None:
    """Entry point: known errors print one precise line, never a traceback."""
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        err.print("aborted")
        raise SystemExit(130) from None
    except click.ClickException as exc:
        exc.show()
        raise SystemExit(exc.exit_code) from None
    except Refused as exc:  # a use case declined: shown as the commands always showed it
        click.ClickException(str(exc)).show()
        raise SystemExit(1) from None
    except KNOWN_ERRORS as exc:
        err.print(f"[red]error:[/red] {safe_markup(str(exc))}")
        raise SystemExit(1) from None
    except Exception as exc:  # a bug: say so in one line; the traceback is opt-in
        if os.environ.get("LEADLEDGER_DEBUG"):
            raise
        if lost := _connection_lost(exc):  # the database went away: a fault, not a bug
            err.print(
                f"[red]error:[/red] lost the connection to the database ({safe_markup(lost)}); "
                "nothing committed is lost: run the command again once it answers"
            )
            raise SystemExit(75) from None
        err.print(
            f"[red]internal error:[/red] {type(exc).__name__}: {safe_markup(str(exc))} "
            "(set LEADLEDGER_DEBUG=1 for the traceback, and please report it)"
        )
        raise SystemExit(70) from None


if __name__ == "__main__":
    main()
