"""The ``leadledger`` command: a thin layer that turns options into calls and prints results."""

from __future__ import annotations

import csv
import io
import json
import logging
import os
import shutil
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from leadledger.codec import DecodeError
from leadledger.config import (
    BOOTSTRAP_ENV,
    DATA_DIR_ENV,
    DATABASE_URL_ENV,
    BrokerUnavailable,
    ConfigError,
    Database,
    Kafka,
    default_data_dir,
)
from leadledger.ledgerdb import LedgerDB
from leadledger.projections.attribution import MODELS
from leadledger.projections.definitions import DefinitionsError
from leadledger.projections.definitions import load as load_definitions
from leadledger.projections.journeys import CONVERSION_KINDS
from leadledger.store import EventStore, open_store

if TYPE_CHECKING:
    from leadledger.ingest import Tally

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
]


def with_kafka(fn: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed(kafka_options):
        fn = option(fn)
    return fn


@click.group()
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    envvar=DATA_DIR_ENV,
    help=f"Embedded mode's data directory (env {DATA_DIR_ENV}; default {default_data_dir()}).",
)
@click.option(
    "--database-url",
    envvar=DATABASE_URL_ENV,
    help=f"postgresql:// URL to use PostgreSQL instead of SQLite (env {DATABASE_URL_ENV}).",
)
@click.option("-v", "--verbose", is_flag=True, help="Log progress of the Kafka processes.")
@click.version_option(package_name="leadledger")
@click.pass_context
def cli(ctx: click.Context, data_dir: Path | None, database_url: str | None, verbose: bool) -> None:
    """leadledger: one shared, replayable record of every touch, stage change and sale."""
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(name)s %(message)s",
        stream=sys.stderr,
    )
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
    from leadledger.pipeline import ingest_file, project_from_store
    from leadledger.reports import attribution_report, summary

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
        report = attribution_report(ledger, "first_touch", load_definitions(None))
        counts = summary(ledger)
    out.print(f"[bold]leadledger demo[/bold]: {leads} synthetic leads (seed {seed}) from {path}")
    _print_tally(tally)
    out.print(
        f"event store: {events} events | leads created: {counts['leads']} | "
        f"touches: {counts['touches']} | deals won: {counts['deals_won']}"
    )
    _print_attribution(report, "table")
    out.print(f"data directory: {folder}  (try: leadledger --data-dir {folder} report attribution)")


@cli.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@pass_context
def ingest(context: Context, file: Path) -> None:
    """Embedded mode: store the events of a JSON Lines or CSV FILE and update the read models."""
    from leadledger.pipeline import ingest_file, project_from_store

    with context.open() as (database, store, ledger):
        tally = _with_progress(
            "ingesting", _count_lines(file), lambda p: ingest_file(file, store, ledger, p)
        )
        behind = store.max_position() - (ledger.position("journeys", "store") or 0)
        _with_progress("projecting", behind, lambda p: project_from_store(store, ledger, p))
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

    kafka = Kafka.from_settings(bootstrap_servers, topic_prefix)
    records = list(read_records(file))
    invalid = [r for r in records if r.message is None]
    for record in invalid:
        err.print(f"[red]not sent[/red] {record.origin}: {record.error}")
    valid = [r.message for r in records if r.message is not None]
    with Publisher(kafka) as publisher:
        report = _with_progress(
            "publishing", len(valid), lambda step: publisher.publish(valid, progress=step)
        )
    for event_id, reason in report.failed:
        err.print(f"[red]failed[/red] {event_id}: {reason}")
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
    help="Stop after SECONDS without new input (for catch-up runs and tests).",
)


@run.command("ingest")
@with_kafka
@until_idle_option
@click.option("--park-seconds", type=float, default=300, show_default=True,
              help="How long a fact refused for now waits for the fact it depends on.")  # fmt: skip
@pass_context
def run_ingest(
    context: Context,
    bootstrap_servers: str,
    topic_prefix: str,
    until_idle: float | None,
    park_seconds: float,
) -> None:
    """Consume the ingest topic into the event store."""
    from leadledger.consumers.ingest import run_ingest as run
    from leadledger.consumers.runloop import RunLoop

    kafka = Kafka.from_settings(bootstrap_servers, topic_prefix)
    wait = timedelta(seconds=park_seconds)
    with context.open() as (_, store, ledger):
        tally = run(kafka, store, ledger, RunLoop(until_idle), max_wait=wait)
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

    kafka = Kafka.from_settings(bootstrap_servers, topic_prefix)
    with context.open() as (_, store, ledger):
        sent = run(kafka, store, ledger, RunLoop(until_idle), page_size=page_size)
    out.print(f"relayed {sent} events to {kafka.domain_topic}")


@run.command("projection")
@with_kafka
@until_idle_option
@pass_context
def run_projection(
    context: Context, bootstrap_servers: str, topic_prefix: str, until_idle: float | None
) -> None:
    """Build the read models from the domain-events topic."""
    from leadledger.consumers.projection import run_projection as run
    from leadledger.consumers.runloop import RunLoop

    kafka = Kafka.from_settings(bootstrap_servers, topic_prefix)
    with context.ledger() as ledger:
        count = run(kafka, ledger, RunLoop(until_idle))
    out.print(f"projected {count} events from {kafka.domain_topic}")


@cli.group()
def report() -> None:
    """Print a report from the read models."""


definitions_option = click.option(
    "--definitions", "definitions_file", type=click.Path(dir_okay=False, path_type=Path),
    help="A TOML definitions file (windows, transforms, model parameters); default: built in.",
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
@format_option
@pass_context
def report_attribution(
    context: Context, model: str, by: str, conversion: str | None,
    definitions_file: Path | None, fmt: str,
) -> None:  # fmt: skip
    """Credit per channel, campaign or source for one kind of conversion."""
    from leadledger.reports import attribution_report

    with context.ledger() as ledger:
        data = attribution_report(ledger, model, load_definitions(definitions_file), by, conversion)
    _print_attribution(data, fmt)


@report.command("spend")
@model_option
@click.option("--by", type=click.Choice(["channel", "campaign"]), default="channel",
              show_default=True)  # fmt: skip
@definitions_option
@format_option
@pass_context
def report_spend(
    context: Context, model: str, by: str, definitions_file: Path | None, fmt: str
) -> None:
    """Spend against attributed leads, MQLs and deals: CPL, cost per MQL and deal, ROAS."""
    from leadledger.reports import spend_report

    with context.ledger() as ledger:
        data = spend_report(ledger, model, load_definitions(definitions_file), by)
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
@pass_context
def credits(
    context: Context, model: str, conversion: str | None, definitions_file: Path | None
) -> None:
    """Print the credit ledger as CSV: one row per credit, with model and definitions hash."""
    from leadledger.reports import credits_for, ledger_rows

    definitions = load_definitions(definitions_file)
    with context.ledger() as ledger:
        found, _ = credits_for(ledger, model, definitions, conversion)
    _echo_csv(LEDGER_COLUMNS, ledger_rows(found, model, definitions))


@cli.command("explain")
@click.argument("conversion_id")
@model_option
@definitions_option
@pass_context
def explain_command(
    context: Context, conversion_id: str, model: str, definitions_file: Path | None
) -> None:
    """Show one conversion's path, each touch's credit, and why (JSON)."""
    from leadledger.reports import explain

    with context.ledger() as ledger:
        data = explain(ledger, conversion_id, model, load_definitions(definitions_file))
    click.echo(json.dumps(data, indent=2))


@cli.group()
def deadletters() -> None:
    """Inspect and re-submit records the engine could not store."""


@deadletters.command("list")
@click.option(
    "--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True
)
@pass_context
def deadletters_list(context: Context, fmt: str) -> None:
    """List dead letters: where each came from and why."""
    from leadledger.ledgerdb import dead_letters

    ledger = LedgerDB(context.database().ledger_url())
    try:
        rows = ledger.select(dead_letters)
    finally:
        ledger.close()
    if fmt == "json":
        listing = [{"id": r.id, "origin": r.origin, "reason": r.reason} for r in rows]
        click.echo(json.dumps(listing, indent=2))
        return
    table = Table("id", "origin", "reason")
    for row in rows:
        table.add_row(str(row.id), row.origin, row.reason)
    out.print(table)


@deadletters.command("show")
@click.argument("letter_id", type=int)
@pass_context
def deadletters_show(context: Context, letter_id: int) -> None:
    """Show one dead letter: origin, reason, and the original bytes (text, or hex)."""
    with context.ledger() as ledger:
        letter = ledger.dead_letter(letter_id)
    if letter is None:
        raise click.ClickException(f"no dead letter {letter_id}")
    try:
        payload: dict[str, str] = {"text": letter.payload.decode("utf-8")}
    except UnicodeDecodeError:
        payload = {"hex": letter.payload.hex()}
    shown = {"id": letter.id, "origin": letter.origin, "reason": letter.reason,
             "dead_lettered_at": str(letter.dead_lettered_at),
             "replayed_at": str(letter.replayed_at) if letter.replayed_at else None,
             "payload": payload}  # fmt: skip
    click.echo(json.dumps(shown, indent=2))


@deadletters.command("replay")
@click.argument("letter_id", type=int)
@click.option("--with", "corrected", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A file holding the corrected record (one JSON object); default: the "
                   "original record again, e.g. after the fact it waited for arrived.")  # fmt: skip
@pass_context
def deadletters_replay(context: Context, letter_id: int, corrected: Path | None) -> None:
    """Re-submit a dead letter (corrected, or as it was) through ingest and the projections."""
    from leadledger.codec import registry
    from leadledger.ingest import Ingestor, Tally
    from leadledger.intake import Intake, Received
    from leadledger.messages import InvalidEvent, from_record, parse_event
    from leadledger.pipeline import project_from_store

    with context.open() as (_, store, ledger):
        letter = ledger.dead_letter(letter_id)
        if letter is None:
            raise click.ClickException(f"no dead letter {letter_id}")
        raw = corrected.read_bytes().strip() if corrected else bytes(letter.payload)
        try:
            if raw[:2] == b"\xc3\x01":  # Avro, as it came from a Kafka topic
                message = from_record(*registry().decode(raw))
            else:
                message = parse_event(json.loads(raw))
        except (ValueError, InvalidEvent, DecodeError) as exc:
            raise click.ClickException(f"the record still does not parse: {exc}") from None
        tally = Tally()
        intake = Intake(Ingestor(store), ledger, max_wait=timedelta(days=365))
        intake.take([Received(f"replay:{letter_id}:{letter.origin}", raw, message)], tally)
        intake.finish(tally)
        if tally.stored or tally.duplicates:
            ledger.mark_replayed(letter_id)
        project_from_store(store, ledger)
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
    if file is not None:
        from leadledger.files import read_records

        received = sum(1 for _ in read_records(file))
        prefix = f"{file.resolve()}:"
        what = str(file)
    elif topic:
        from leadledger.kafka import topic_size

        kafka = Kafka.from_settings(bootstrap_servers, topic_prefix)
        received = topic_size(kafka, kafka.ingest_topic)
        prefix = f"{kafka.ingest_topic}/"
        what = f"topic {kafka.ingest_topic}"
    else:
        raise click.UsageError("give a FILE or --topic")
    with context.ledger() as ledger:
        counts = ledger.intake_counts(prefix)
    accounted = sum(counts.values())
    parts = ["stored", "duplicate", "dead_letter", "parked"]
    line = " + ".join(f"{counts.get(p, 0)} {p.replace('_', '-')}" for p in parts)
    unaccounted = received - accounted
    out.print(f"{what}: received {received} = {line}; unaccounted {unaccounted}")
    if unaccounted:
        raise SystemExit(1)


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
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    click.echo(buffer.getvalue(), nl=False)


def _count_lines(path: Path) -> int:
    with path.open("rb") as handle:
        return sum(1 for line in handle if line.strip())


def _with_progress(label: str, total: int, work: Callable[[Callable[[int], None]], Any]) -> Any:
    """Run ``work`` with a progress bar on stderr (shown only on a terminal)."""
    columns = (TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=err, transient=True, disable=not err.is_terminal) as progress:
        task = progress.add_task(label, total=total)
        return work(lambda n: progress.advance(task, n))


KNOWN_ERRORS = (ConfigError, BrokerUnavailable, DecodeError, DefinitionsError, ValueError, OSError)


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
    except KNOWN_ERRORS as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise SystemExit(1) from None
    except Exception as exc:  # a bug: say so in one line; the traceback is opt-in
        if os.environ.get("LEADLEDGER_DEBUG"):
            raise
        err.print(
            f"[red]internal error:[/red] {type(exc).__name__}: {exc} "
            "(set LEADLEDGER_DEBUG=1 for the traceback, and please report it)"
        )
        raise SystemExit(70) from None


if __name__ == "__main__":
    main()
