"""Benchmarks of the paths users run, each printed beside a baseline measured in the same run.

    python -m bench [--size tiny|small|full] [--seed 1] [--keep DIR]

One seeded data set (``bench/generator.py``: visitors, leads, hand-overs, deals, customers,
spend and targets, interleaved in time order as production sends them) is written as JSON
Lines and goes through, in this order:

1. embedded ingest: what ``leadledger ingest FILE`` runs (``ingest_file``, then
   ``project_from_store``) into a fresh data directory, beside eventsourcing's recorder
   inserting the very events it stored, ``BATCH_SIZE`` per call, into a fresh store;
2. replay: what ``leadledger replay`` runs (``replay_from_store`` into a new read model)
   on that store of distinct leads, beside paging the same log with
   ``select_notifications`` and parsing each event;
3. attribution: ``attribution_report`` (what ``leadledger report attribution`` calls)
   for every model on the read model's journeys, beside ChannelAttribution's heuristic
   and Markov models on the same paths;
4. Kafka end to end (``bench/kafka.py``): ``leadledger publish`` of the same file into
   ``run ingest``, ``run relay`` and ``run projection`` processes (1, then 2 ingest and
   projection processes) on PostgreSQL, beside kafka-python producing and consuming the
   same lines; then freshness, publish to visible, at a steady 1,000 events/s.

Every figure is measured in a process of its own (its peak memory is that process's max
RSS, interpreter and imports included), except attribution, where peak memory is the
peak of Python allocations traced in a second, untimed run. Kafka end to end runs the
engine's own processes (``leadledger run ...``), timed from outside.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from bench import attribution, embedded, kafka
from bench.generator import generate, write_jsonl
from bench.report import RATIO_RULE, Figure, disk_bytes, in_child, machine
from leadledger.config import Kafka

SIZES = {"tiny": 400, "small": 10_000, "full": 200_000}  # journeys (about 6 events each)
FRESHNESS_SECONDS = {"tiny": 5.0, "small": 30.0, "full": 60.0}  # of steady publishing
# Kafka end to end takes the stream's first records only (None: all of it), so that the
# small run stays within minutes on two cores; the full run takes everything.
KAFKA_RECORDS = {"tiny": None, "small": 20_000, "full": None}
HEURISTIC_BASELINE = "ChannelAttribution heuristic_models (first, last, linear: one call)"
MARKOV_BASELINE = "ChannelAttribution markov_model (order 1, simulated)"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--size", choices=sorted(SIZES), default="small",
        help="tiny: seconds (CI); small: minutes; full: about 1.3 x 10^6 events",
    )  # fmt: skip
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", type=Path, help="Work in DIR and leave the data there.")
    args = parser.parse_args(argv)
    folder = args.keep or Path(tempfile.mkdtemp(prefix="ll-bench-"))
    if args.keep:
        shutil.rmtree(folder, ignore_errors=True)
    began = time.perf_counter()
    try:
        print(machine())
        print(f"size {args.size}: {SIZES[args.size]:,} journeys, seed {args.seed}; {RATIO_RULE}")
        run(folder, SIZES[args.size], args.seed, FRESHNESS_SECONDS[args.size],
            KAFKA_RECORDS[args.size])  # fmt: skip
        print(f"done in {time.perf_counter() - began:.0f} s; {machine()}")
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)
    sys.stdout.flush()


def run(
    folder: Path, journeys: int, seed: int, fresh_seconds: float, kafka_records: int | None
) -> None:
    path = folder / "events.jsonl"
    start = time.perf_counter()
    records, size = write_jsonl(generate(journeys, seed), path)
    print(f"data: {records:,} events ({size / 2**20:,.1f} MiB of JSON Lines) written in "
          f"{time.perf_counter() - start:.1f} s")  # fmt: skip
    data = folder / "data"
    ingest(path, size, data, folder / "raw")
    replay(data)
    attribute(data)
    end_to_end(first_lines(path, kafka_records), folder / "logs", fresh_seconds)


def first_lines(path: Path, count: int | None) -> Path:
    """``path`` itself, or a file of its first ``count`` lines."""
    if count is None:
        return path
    part = path.with_name(f"first-{count}.jsonl")
    with path.open("rb") as source, part.open("wb") as target:
        for number, line in enumerate(source):
            if number == count:
                break
            target.write(line)
    return part


def ingest(path: Path, size: int, data: Path, raw: Path) -> None:
    ours = in_child(embedded.ingest, path, data)
    base = in_child(embedded.raw_insert, data, raw)
    stored, events = ours["stored"], ours["events"]
    print(f"\n1. embedded ingest of {ours['received']:,} records: {stored:,} stored, "
          f"{ours['duplicates']:,} duplicates, {ours['dead_lettered']:,} dead-lettered; "
          f"{events:,} events in the store (facts and stream openings)")  # fmt: skip
    assert base["events"] == events, (base, ours)
    baseline = events / base["seconds"]
    name = "raw insert_events of the same stored events"
    disk = (f"disk {disk_bytes(data) / size:.2f}x input (data dir, with read models) vs "
            f"{disk_bytes(raw) / size:.2f}x (raw store); peak RSS {ours['peak_mib']:.0f} MiB vs "
            f"{base['peak_mib']:.0f} MiB")  # fmt: skip
    rate = events / ours["ingest_s"]
    print(Figure("ingest_file (events stored/s)", rate, name, baseline, "events/s", disk).line())
    command = events / (ours["ingest_s"] + ours["project_s"])
    note = (
        f"projecting took {ours['project_s']:.1f} s of {ours['ingest_s'] + ours['project_s']:.1f}"
    )
    print(Figure("ingest command (ingest_file + project_from_store)", command, name, baseline,
                 "events/s", note).line())  # fmt: skip


def replay(data: Path) -> None:
    ours = in_child(embedded.replay, data, "bench-replay")
    every = in_child(embedded.raw_read, data, False)
    lifecycle = in_child(embedded.raw_read, data, True)
    covered = ours["covered"]
    print(f"\n2. replay of the store ({covered:,} log events; the replay reads the "
          f"{lifecycle['read']:,} of the lifecycle fold's types)")  # fmt: skip
    rate = covered / ours["seconds"]
    memory = (f"peak RSS {ours['peak_mib']:.0f} MiB vs {every['peak_mib']:.0f} MiB; rates in "
              "log events covered/s")  # fmt: skip
    print(Figure("replay_from_store (new read model)", rate,
                 "select_notifications + parse, every event", covered / every["seconds"],
                 "events/s", memory).line())  # fmt: skip
    print(Figure("replay_from_store, same event types", rate,
                 "select_notifications + parse, lifecycle types", covered / lifecycle["seconds"],
                 "events/s").line())  # fmt: skip


def attribute(data: Path) -> None:
    found = in_child(attribution.run, data)
    journeys = found["journeys"]
    print(f"\n3. report attribution on {journeys:,} journeys ({found['converting']:,} converting, "
          f"{found['distinct_paths']:,} distinct paths; {found['conversions']:,} deal_won "
          f"conversions); journeys/s; loading the journeys from SQLite alone: "
          f"{found['load_s']:.2f} s")  # fmt: skip
    for name, (seconds, peak) in found["ours"].items():
        algorithmic = name in attribution.ALGORITHMIC
        base_s, base_peak = found["markov" if algorithmic else "heuristic"]
        note = (
            f"{seconds:.2f} s vs {base_s:.2f} s; peak traced {peak:.0f} MiB vs {base_peak:.0f} MiB"
        )
        print(Figure(f"attribution {name}", journeys / seconds,
                     MARKOV_BASELINE if algorithmic else HEURISTIC_BASELINE, journeys / base_s,
                     "journeys/s", note).line())  # fmt: skip


def end_to_end(path: Path, logs: Path, fresh_seconds: float) -> None:
    servers = kafka.servers()
    partitions = Kafka(servers.bootstrap).partitions
    base = kafka.raw(path, servers.bootstrap, partitions)
    baseline = base["records"] / base["seconds"]
    name = "kafka-python produce + consume of the same lines"
    print(f"\n4. Kafka end to end: {base['records']:,} records published with `leadledger "
          f"publish`, taken in by `run ingest`, `run relay` and `run projection` on "
          f"PostgreSQL ({partitions} partitions per topic); records/s from the first "
          f"publish until every stored event is projected")  # fmt: skip
    for scale in (1, 2):
        ours = kafka.end_to_end(path, servers, logs, scale)
        peaks = ", ".join(f"{name} {mib:.0f}" for name, mib in ours["peak_mib"].items())
        note = (f"{ours['published']:,} records ({ours['events']:,} store events) in "
                f"{ours['seconds']:.1f} s, `leadledger publish` {ours['publish_s']:.1f} s of "
                f"it, vs {base['seconds']:.1f} s; peak RSS per process (MiB): {peaks}")  # fmt: skip
        print(Figure(f"kafka end to end, {scale} ingest + {scale} projection processes",
                     ours["published"] / ours["seconds"], name, baseline, "records/s",
                     note).line())  # fmt: skip
    fresh = kafka.freshness(path, servers, logs, rate=1000.0, seconds=fresh_seconds)
    print(f"\n5. freshness at {fresh['rate']:,.0f} records/s for {fresh_seconds:.0f} s "
          f"({fresh['records']:,} records, one process of each): publish to visible in the "
          f"facts, {fresh['seen']:,} of {fresh['touches']:,} touches timed: p50 "
          f"{fresh['p50'] * 1000:,.0f} ms, p99 {fresh['p99'] * 1000:,.0f} ms (polled every "
          f"{kafka.POLL * 1000:.0f} ms) | load {os.getloadavg()[0]:.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
