"""Hypothesis strategies for the fuzz suite (issue 11, point 4): ingest records as a
producer might send them, valid and hostile, in the three encodings intake reads.

Every generated record carries what the engine must do with it:

- ``VALID``: a well-formed event. Its fate may be stored, duplicate, or a dead letter for a
  funnel rule or a key conflict (the generator reuses leads and event ids on purpose), but
  never a dead letter saying the record itself is invalid.
- ``BAD``: not an ingest event (truncated, wrong types, out-of-range values...). It must be
  dead-lettered, with a reason.
- ``ANY``: the engine may go either way (e.g. a bit flip that happens to leave a record
  readable); only the global properties apply: accounted for, no crash.

One hypothesis example is a batch (see :func:`batches`): a few dozen records drawn through
hypothesis itself, then a thousand from a generator it seeds, making the same kinds of
records (hypothesis caps one example's entropy, and draws a record in milliseconds). The
tests join a few examples into one file or one topic, so that one ``leadledger ingest``
process checks thousands of records.

Reproducible: hypothesis is derandomized, so the same command draws the same records on
every run (the tests print the file's digest). Hypothesis also mixes constants from the
loaded modules into its choices, so running one test file alone draws a different set of
the same size than the whole suite does.
"""

from __future__ import annotations

import csv
import io
import json
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, ClassVar, Literal, Protocol, TypeVar

import fastavro
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from leadledger.codec import HEADER_SIZE, MAGIC, registry
from leadledger.ledgerdb import LedgerDB, dead_letters, intake
from leadledger.limits import MAX_RECORD_BYTES
from leadledger.messages import EARLIEST, LATEST, MAX_UTC_OFFSET, InvalidEvent, parse_event

T = TypeVar("T")
Expect = Literal["valid", "bad", "any"]
VALID: Expect = "valid"
BAD: Expect = "bad"
ANY: Expect = "any"
#: Dead-letter reasons a valid record may still get: a funnel rule, or its key taken.
VALID_REFUSALS = ("funnel rule:", "conflict:")


@dataclass(frozen=True)
class Case:
    """One generated record: its bytes (a JSON line, or an Avro value), what it must
    become, and how it was made (printed when a check fails)."""

    raw: bytes
    expect: Expect
    how: str


@dataclass(frozen=True)
class Row:
    """One generated CSV row: its cells (``None`` for a cell left empty)."""

    cells: dict[str, str]
    extra: tuple[str, ...]
    expect: Expect
    how: str


# ---------------------------------------------------------------------------------------
# Where choices come from: hypothesis (a shrinkable example) or a seeded generator (bulk).


class Pick(Protocol):
    """The choices a generator makes; both sources give the same kinds of values."""

    def one(self, options: Sequence[T]) -> T: ...
    def number(self, low: int, high: int) -> int: ...
    def flag(self) -> bool: ...
    def text(self, max_size: int) -> str: ...
    def binary(self, max_size: int) -> bytes: ...
    def naive(self, low: datetime, high: datetime) -> datetime: ...


class DrawPick:
    """Choices drawn by hypothesis, which biases them toward edge cases."""

    # Every script, and C0/C1 control characters other than NUL: a source may send them,
    # and they are stored as given (reports escape them).
    TEXT = st.characters(codec="utf-8", exclude_characters="\x00")

    def __init__(self, draw: st.DrawFn) -> None:
        self.draw = draw

    def one(self, options: Sequence[T]) -> T:
        return self.draw(st.sampled_from(options))

    def number(self, low: int, high: int) -> int:
        return self.draw(st.integers(low, high))

    def flag(self) -> bool:
        return self.draw(st.booleans())

    def text(self, max_size: int) -> str:
        return self.draw(st.text(self.TEXT, min_size=1, max_size=max_size))

    def binary(self, max_size: int) -> bytes:
        return self.draw(st.binary(min_size=1, max_size=max_size))

    def naive(self, low: datetime, high: datetime) -> datetime:
        return self.draw(st.datetimes(low, high))


class SeededPick:
    """Choices of a seeded generator: the same seed, the same records, thousands a second."""

    # Code points from every plane and category hypothesis would give, NUL and lone
    # surrogates excepted (those are hostile values of their own).
    RANGES: ClassVar[list[tuple[int, int]]] = [
        (0x01, 0x7F), (0x80, 0x9F), (0xA0, 0x17F), (0x370, 0x52F), (0x4E00, 0x4FFF),
        (0xE000, 0xE0FF), (0xFE00, 0xFFFF), (0x1F300, 0x1F6FF), (0x10FF00, 0x10FFFF),
    ]  # fmt: skip

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)

    def one(self, options: Sequence[T]) -> T:
        return options[self.rng.randrange(len(options))]

    def number(self, low: int, high: int) -> int:
        return self.rng.randint(low, high)

    def flag(self) -> bool:
        return self.rng.random() < 0.5

    def text(self, max_size: int) -> str:
        size = self.rng.randint(1, max_size)
        return "".join(chr(self.rng.randint(*self.one(self.RANGES))) for _ in range(size))

    def binary(self, max_size: int) -> bytes:
        return self.rng.randbytes(self.rng.randint(1, max_size))

    def naive(self, low: datetime, high: datetime) -> datetime:
        span = int((high - low).total_seconds())
        return low + timedelta(seconds=self.rng.randint(0, span),
                               microseconds=self.one([0, 0, 1, 999999]))  # fmt: skip


# ---------------------------------------------------------------------------------------
# Valid events of every type.

LEADS = [f"fz-L{i}" for i in range(300)]
VISITORS = ["fz-V1", "fz-V2", "fz-V3"]
DEALS = ["fz-D1", "fz-D2"]
WORDS = ["email", "paid_search", "direct", "ana", "smb", "Q1 brand", "ünïcode ✓", "🚀"]
TAGS = ["no_budget", "not_icp", "too_early", "competitor_won", "no_response", "other"]
VALID_OFFSETS = [timedelta(0), timedelta(hours=2), timedelta(hours=-5), timedelta(hours=5.5),
                 MAX_UTC_OFFSET, -MAX_UTC_OFFSET]  # fmt: skip
Gen = Callable[[Pick], Any]


def event_id(p: Pick) -> str:
    # A small pool of ids: re-sends (duplicates) and reused ids with new content (conflicts).
    return f"fz-{p.number(0, 3000)}"


def word(p: Pick) -> str:
    return p.one(WORDS) if p.flag() else p.text(12)


def money(p: Pick) -> str:
    kind = p.number(0, 2)
    if kind == 0:
        return p.one(["0", "0.0001", "1000", "2500.50", "9999999999999999.9999", "-0"])
    if kind == 1:
        return f"{p.number(0, 10**9)}.{p.number(0, 99):02d}"
    return str(p.number(0, 10**6))


def moment(p: Pick) -> str:
    """A valid instant near now, in one of several zones (the extremes +-14:00 included)."""
    at = p.naive(datetime(2025, 6, 1), datetime(2026, 6, 1))
    return at.replace(tzinfo=timezone(p.one(VALID_OFFSETS))).isoformat()


def _of(options: Sequence[Any]) -> Gen:
    return lambda p: p.one(options)


def valid_event(p: Pick) -> dict[str, Any]:
    """A well-formed event of any of the 22 ingest types."""
    kind = p.one(KINDS)
    event: dict[str, Any] = {
        "type": kind,
        "event_id": event_id(p),
        "occurred_at": moment(p),
        "source_system": p.one(["fz-crm", "fz-web", "fz-ads"]),
    }
    if kind not in ("spend", "plan_target"):
        event["lead_id"] = p.one(LEADS)
    for name, (gen, required) in FIELDS[kind].items():
        if required or p.flag():
            event[name] = gen(p)
    if kind == "touch" and p.flag():
        del event["lead_id"]
        event["anonymous_id"] = p.one(VISITORS)
    if kind == "lead_created" and event["origin"] == "inbound":
        event.pop("entry_stage", None)
    return event


F = dict[str, tuple[Gen, bool]]
_reason = (lambda p: p.one(TAGS) if p.flag() else word(p), False)
_money = (money, True)
_currency = (_of(["EUR", "USD", "JPY"]), True)
FIELDS: dict[str, F] = {
    "touch": {"channel": (word, True), "source": (word, False), "campaign": (word, False),
              "cost": (money, False), "kind": (_of(["online", "call", "webinar"]), False)},
    "identify": {"anonymous_id": (_of(VISITORS), True)},
    "unlink": {"anonymous_id": (_of(VISITORS), True)},
    "lead_created": {"origin": (_of(["inbound", "outbound"]), True),
                     "entry_stage": (_of(["lead", "sql"]), False), "segment": (word, False),
                     "company_size": (lambda p: p.number(0, 10**6), False),
                     "country": (_of(["DE", "US"]), False), "icp_fit": (_of([True, False]), False)},
    "score_changed": {"score": (lambda p: p.number(-(2**63), 2**63 - 1), True),
                      "model": (word, False)},
    "stage_changed": {"stage": (_of(["mql", "sql", "opportunity"]), True)},
    "assigned": {"rep": (word, True), "team": (word, False)},
    "mql_accepted": {"rep": (word, False)},
    "mql_rejected": {"reason": _reason, "note": (word, False)},
    "contact_attempted": {"method": (_of(["call", "email", "messenger"]), True),
                          "outcome": (_of(["connected", "no_answer", "bounced"]), True)},
    "sql_confirmed": {"rep": (word, False)},
    "disqualified": {"reason": _reason, "note": (word, False)},
    "recycled": {"reason": _reason},
    "merged": {"into_lead_id": (_of(LEADS), True)},
    "deal_opened": {"deal_id": (_of(DEALS), True), "amount": (money, False)},
    "deal_won": {"deal_id": (_of(DEALS), True), "amount": _money, "currency": _currency},
    "deal_lost": {"deal_id": (_of(DEALS), True), "reason": (_reason[0], True),
                  "note": (word, False)},
    "purchase": {"kind": (_of(["repeat", "upsell", "renewal"]), True), "order_id": (word, False),
                 "amount": _money, "currency": _currency},
    "contraction": {"amount": _money, "currency": _currency},
    "churned": {"reason": (word, False)},
    "spend": {"channel": (word, True), "campaign": (word, False),
              "day": (lambda p: p.naive(EARLIEST.replace(tzinfo=None),
                                        LATEST.replace(tzinfo=None)).date().isoformat(), True),
              "amount": _money, "currency": _currency},
    "plan_target": {"period": (_of(["2026", "2026-Q1", "2026-03"]), True), "team": (word, False),
                    "amount": _money, "currency": _currency},
}  # fmt: skip
KINDS = sorted(FIELDS)
REQUIRED = {"type", "event_id", "occurred_at", "source_system"}
TEXT_FIELDS = {"event_id", "source_system", "lead_id", "channel", "rep", "deal_id", "campaign"}


# ---------------------------------------------------------------------------------------
# Hostile values, each with what it must become. A value is judged by the rules the README
# states (times within +-14:00 and 1970..2999, money finite, >= 0, 4 places, 20 digits),
# computed here independently of the engine's validators.

IMPOSSIBLE_TIMES = [
    "2026-02-30T10:00:00Z", "2026-02-29T10:00:00Z", "2026-13-01T00:00:00Z",
    "2026-04-31T12:00:00Z", "2026-00-10T12:00:00Z", "2026-01-01T25:00:00Z",
    "2026-01-01T10:60:00Z", "2026-01-01T10:00:00", "2026-01-01", "10:00:00Z", "",
    "2026-01-01T10:00:00+24:00", "2026-01-01T10:00:00+1400x", "yesterday", "1767225600",
    "0000-01-01T00:00:00Z", "99999-01-01T00:00:00Z", "-2026-01-01T00:00:00Z",
]  # fmt: skip
BAD_DAYS = ["2026-02-30", "2026-02-29", "0001-01-01", "9999-12-31", "1969-12-31",
            "3000-01-01", "20260101", "2026-1-1", ""]  # fmt: skip
EDGE_DAYS = ["1970-01-01", "2999-12-31", "2028-02-29"]


def _judge_time(local: datetime) -> Expect:
    offset = local.utcoffset()
    assert offset is not None
    if abs(offset) > MAX_UTC_OFFSET or not EARLIEST.year <= local.year <= LATEST.year:
        return BAD
    try:
        return VALID if EARLIEST <= local.astimezone(UTC) <= LATEST else BAD
    except OverflowError:
        return BAD


def edge_time(p: Pick) -> tuple[str, Expect]:
    """Any instant from year 1 to 9999 at any offset up to +-23:59, or the range's edges."""
    if p.flag():
        local = p.one([datetime(1, 1, 1), datetime(9999, 12, 31, 23, 59, 59, 999999),
                       datetime(1970, 1, 1), datetime(1969, 12, 31, 23, 59, 59),
                       datetime(2999, 12, 31, 23, 59, 59), datetime(3000, 1, 1)])  # fmt: skip
    else:
        local = p.naive(datetime.min, datetime.max)
    if p.flag():
        minutes = p.one([0, 14 * 60, -14 * 60, 14 * 60 + 1, -(14 * 60 + 1), 15 * 60])
    else:
        minutes = p.number(-(24 * 60 - 1), 24 * 60 - 1)
    at = local.replace(tzinfo=timezone(timedelta(minutes=minutes)))
    return at.isoformat(), _judge_time(at)


BAD_AMOUNTS: list[Any] = [
    "NaN", "nan", "sNaN", "Infinity", "-Infinity", "inf", 1e308, "1e308", -1e308, 1e-300,
    "-0.01", -5, "1.00001", "0.00001", 10**25, "12345678901234567.0", "1e21", "", " ",
    "1,000", "€5", True, [], {"v": 1},
]  # fmt: skip
RAW_AMOUNTS = [b"NaN", b"Infinity", b"-Infinity", b"1e400", b"-1e400", b"1" + b"0" * 400]


def wrong_type(p: Pick) -> Any:
    return p.one([[], [1, 2], {"a": 1}, [["nested"]], {"": None}, [None]])


# ---------------------------------------------------------------------------------------
# JSON Lines.


def dumps(event: dict[str, Any]) -> bytes:
    return json.dumps(event, ensure_ascii=False).encode("utf-8", errors="surrogatepass")


def json_case(p: Pick) -> Case:
    """One JSON line: a valid event (about a third), or one hostile mutation of one."""
    event = valid_event(p)
    how = p.one(sorted(JSON_MUTATIONS) + ["valid"] * 8)
    if how == "valid":
        return Case(dumps(event), VALID, "valid")
    return JSON_MUTATIONS[how](p, event)


def _field(p: Pick, event: dict[str, Any], pool: set[str] | None = None) -> str:
    names = sorted(set(event) & pool) if pool else sorted(event)
    return p.one(names)


def _m_truncated(p: Pick, event: dict[str, Any]) -> Case:
    line = dumps(event)
    cut = p.number(1, len(line) - 1)
    return Case(line[:cut], BAD, f"truncated at {cut}")


def _m_missing(p: Pick, event: dict[str, Any]) -> Case:
    name = p.one(sorted(REQUIRED | _required(event)))
    event.pop(name, None)
    return Case(dumps(event), BAD, f"missing {name}")


def _required(event: dict[str, Any]) -> set[str]:
    return {n for n, (_, required) in FIELDS[event["type"]].items() if required}


def _m_wrong_type(p: Pick, event: dict[str, Any]) -> Case:
    name = _field(p, event)
    event[name] = wrong_type(p)
    return Case(dumps(event), BAD, f"wrong type in {name}")


def _m_null_required(p: Pick, event: dict[str, Any]) -> Case:
    name = p.one(sorted(REQUIRED | _required(event)))
    event[name] = None
    return Case(dumps(event), BAD, f"null {name}")


def _m_huge(p: Pick, event: dict[str, Any]) -> Case:
    name = _field(p, event, TEXT_FIELDS)
    size = p.one([201, 2001, 60_000, MAX_RECORD_BYTES + 1, 3 * MAX_RECORD_BYTES])
    event[name] = p.one("xé✓𝄞") * size
    return Case(dumps(event), BAD, f"huge {name} ({size} chars)")


def _m_empty(p: Pick, event: dict[str, Any]) -> Case:
    name = _field(p, event, REQUIRED & TEXT_FIELDS)
    event[name] = ""
    return Case(dumps(event), BAD, f"empty {name}")


def _m_deep(p: Pick, event: dict[str, Any]) -> Case:
    name = _field(p, event)
    depth = p.number(2, 60) if p.flag() else p.one([5000, 30_000])
    closed = p.flag()
    event[name] = "@@"
    value = b'{"k": ' * (depth // 2) + b"[" * (depth - depth // 2) + b'"x"'
    if closed:
        value += b"]" * (depth - depth // 2) + b"}" * (depth // 2)
    line = dumps(event).replace(b'"@@"', value)
    return Case(line, BAD, f"{name} nested {depth} deep{'' if closed else ', unclosed'}")


def _m_nul(p: Pick, event: dict[str, Any]) -> Case:
    name = _field(p, event, TEXT_FIELDS)
    at = p.number(0, len(event[name]))
    event[name] = event[name][:at] + "\x00" + event[name][at:]
    return Case(dumps(event), BAD, f"NUL in {name}")


def _m_control(p: Pick, event: dict[str, Any]) -> Case:
    name = _field(p, event, TEXT_FIELDS)
    control = p.one(["\x01", "\x07", "\x1b[31m", "\x7f", "\x85", "\u2028",
                                    "\r", "\t", "\x0b", "\ufeff"])  # fmt: skip
    event[name] = control + event[name]
    return Case(dumps(event), VALID, f"control {control!r} in {name}")


def _m_surrogate(p: Pick, event: dict[str, Any]) -> Case:
    name = _field(p, event, TEXT_FIELDS)
    line = dumps(event)
    escaped = json.dumps(event[name])[1:-1].encode()
    surrogate = p.one([b"\\ud800", b"\\udfff", b"\\udc80x"])
    line = line.replace(b'"' + escaped + b'"', b'"' + surrogate + escaped + b'"', 1)
    return Case(line, ANY if escaped not in line else BAD, f"lone surrogate in {name}")


def _m_bad_utf8(p: Pick, event: dict[str, Any]) -> Case:
    line = dumps(event)
    junk = p.one([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\xc0\xaf", b"\x80"])
    at = line.index(b'"source_system": "') + len(b'"source_system": "')
    return Case(line[:at] + junk + line[at:], BAD, f"bad UTF-8 {junk!r}")


def _m_time(p: Pick, event: dict[str, Any]) -> Case:
    if p.flag():
        event["occurred_at"] = p.one(IMPOSSIBLE_TIMES)
        return Case(dumps(event), BAD, f"impossible time {event['occurred_at']!r}")
    event["occurred_at"], expect = edge_time(p)
    return Case(dumps(event), expect, f"edge time {event['occurred_at']!r}")


def _m_number_time(p: Pick, event: dict[str, Any]) -> Case:
    event["occurred_at"] = p.one([0, 1767225600, 1.5e9, -1, 1e308, True])
    return Case(dumps(event), BAD, f"number as time {event['occurred_at']!r}")


def _m_day(p: Pick, event: dict[str, Any]) -> Case:
    event = {k: v for k, v in event.items() if k in REQUIRED} | {
        "type": "spend",
        "channel": "email",
        "amount": "10",
        "currency": "EUR",
    }
    if p.flag():
        event["day"] = p.one(EDGE_DAYS)
        return Case(dumps(event), VALID, f"edge day {event['day']}")
    event["day"] = p.one(BAD_DAYS)
    return Case(dumps(event), BAD, f"bad day {event['day']!r}")


MONEY_TYPES = sorted(t for t, f in FIELDS.items() if "amount" in f)


def _money_event(p: Pick) -> dict[str, Any]:
    event = valid_event(p)
    if "amount" not in FIELDS[event["type"]]:
        event = {**event, "type": "contraction", "amount": "1", "currency": "EUR"}
        event = {k: v for k, v in event.items() if k in REQUIRED | {"lead_id", "amount",
                                                                      "currency"}}  # fmt: skip
        event.setdefault("lead_id", LEADS[0])
    return event


def _m_amount(p: Pick, event: dict[str, Any]) -> Case:
    event = _money_event(p)
    if p.flag():
        event["amount"] = p.one(BAD_AMOUNTS)
        return Case(dumps(event), BAD, f"amount {event['amount']!r}")
    raw = p.one(RAW_AMOUNTS)
    event["amount"] = "@@"
    return Case(dumps(event).replace(b'"@@"', raw), BAD, f"amount {raw[:20]!r}")


def _m_big_int(p: Pick, event: dict[str, Any]) -> Case:
    value = p.one([2**63, -(2**63) - 1, 10**30, -(10**400), 2**64])
    if p.flag():
        event = {k: v for k, v in event.items() if k in REQUIRED | {"lead_id"}}
        event |= {"type": "score_changed", "score": value}
        event.setdefault("lead_id", LEADS[0])
    else:
        event = {k: v for k, v in event.items() if k in REQUIRED | {"lead_id"}}
        event |= {"type": "lead_created", "origin": "inbound", "company_size": abs(value)}
        event.setdefault("lead_id", LEADS[0])
    return Case(dumps(event), BAD, f"integer of {value.bit_length()} bits")


def _m_unknown_type(p: Pick, event: dict[str, Any]) -> Case:
    value = p.one(["fz_unknown", "", "Touch", "touch ", 5, None, ["touch"]])
    if value is None:
        del event["type"]
    else:
        event["type"] = value
    return Case(dumps(event), BAD, f"type {value!r}")


def _m_extra(p: Pick, event: dict[str, Any]) -> Case:
    name = p.one(["extra", "Type", "lead", "\x00", "recorded_at"])
    event[name] = "x"
    if name == "recorded_at":
        event[name] = "2026-01-01T00:00:00Z"
    return Case(dumps(event), BAD, f"unknown field {name!r}")


def _m_not_object(p: Pick, event: dict[str, Any]) -> Case:
    raw = p.one([b"[]", b"[1, 2]", b'"touch"', b"42", b"null", b"true", b"NaN",
                                b"{}", b"{", b"}", b"\x00", b"\x1b[2J", b"\xef\xbb\xbf{}",
                                b'{"type": "touch"} {"type": "touch"}', b"1e400"])  # fmt: skip
    return Case(raw, BAD, f"not an object {raw!r}")


def _m_duplicate_key(p: Pick, event: dict[str, Any]) -> Case:
    line = dumps(event)
    return Case(line[:-1] + b', "type": "fz_unknown"}', BAD, "type repeated, last unknown")


def _m_resent(p: Pick, event: dict[str, Any]) -> Case:
    return Case(dumps(dict(reversed(event.items()))), VALID, "re-sent with fields reordered")


JSON_MUTATIONS: dict[str, Callable[[Pick, dict[str, Any]], Case]] = {
    "truncated": _m_truncated, "missing": _m_missing, "wrong_type": _m_wrong_type,
    "null": _m_null_required, "huge": _m_huge, "empty": _m_empty, "deep": _m_deep,
    "nul": _m_nul, "control": _m_control, "surrogate": _m_surrogate, "utf8": _m_bad_utf8,
    "time": _m_time, "number_time": _m_number_time, "day": _m_day, "amount": _m_amount,
    "big_int": _m_big_int, "unknown_type": _m_unknown_type, "extra": _m_extra,
    "not_object": _m_not_object, "duplicate_key": _m_duplicate_key, "resent": _m_resent,
}  # fmt: skip


# ---------------------------------------------------------------------------------------
# CSV: one header (every field of every type), rows of any type; empty cells are absent.

CSV_COLUMNS = sorted(REQUIRED | {"lead_id"} | {n for f in FIELDS.values() for n in f})


def csv_row(p: Pick) -> Row:
    """One CSV row: a valid event, or a hostile one (ragged, huge cell, bad UTF-8...)."""
    event = valid_event(p)
    cells = {k: v if isinstance(v, str) else json.dumps(v) for k, v in event.items()}
    how = p.one(sorted(CSV_MUTATIONS) + ["valid"] * 6)
    if how == "valid":
        return Row(cells, (), VALID, "valid")
    return CSV_MUTATIONS[how](p, cells)


def _c_ragged(p: Pick, cells: dict[str, str]) -> Row:
    extra = tuple(p.one(["", "x", '"q"']) for _ in range(p.number(1, 3)))
    return Row(cells, extra, BAD, f"{len(extra)} cells more than the header")


def _c_short(p: Pick, cells: dict[str, str]) -> Row:
    # Fewer cells than the header: the missing ones are empty, so the row is judged on
    # what it has; cut before the required columns, it is invalid.
    keep = {k: v for k, v in cells.items() if k in ("event_id",)}
    return Row(keep, (), BAD, "short row")


def _c_quotes(p: Pick, cells: dict[str, str]) -> Row:
    name = p.one(sorted(set(cells) & TEXT_FIELDS - {"event_id"}))
    quoted = p.one(['"', '""', 'a "quoted" word', "a,b", "line\nbreak",
                                   "cr\rlf\r\n", "'"])  # fmt: skip
    return Row(cells | {name: cells[name] + quoted}, (), VALID, f"quotes {quoted!r} in {name}")


def _c_huge(p: Pick, cells: dict[str, str]) -> Row:
    name = p.one(sorted(set(cells) & TEXT_FIELDS))
    size = p.one([201, 5000, MAX_RECORD_BYTES + 10, 140_000])
    return Row(cells | {name: "y" * size}, (), BAD, f"huge cell {name} ({size})")


def _c_bad_utf8(p: Pick, cells: dict[str, str]) -> Row:
    name = p.one(sorted(cells))
    junk = p.one(["\udcff", "\udcc3", "\udced\udca0\udc80"])
    return Row(cells | {name: cells[name] + junk}, (), BAD, f"bad UTF-8 in {name}")


def _c_nul(p: Pick, cells: dict[str, str]) -> Row:
    name = p.one(sorted(set(cells) & TEXT_FIELDS))
    return Row(cells | {name: "\x00" + cells[name]}, (), BAD, f"NUL in {name}")


def _c_value(p: Pick, cells: dict[str, str]) -> Row:
    which = p.one(["time", "amount", "type", "int"])
    if which == "time":
        value, expect = edge_time(p) if p.flag() else (p.one(IMPOSSIBLE_TIMES[:-1]), BAD)
        return Row(cells | {"occurred_at": value}, (), expect, f"time {value!r}")
    if which == "amount":
        amount = p.one(["NaN", "Infinity", "-1", "1e308", "1.00001", "x"])
        row = {k: v for k, v in cells.items() if k in REQUIRED | {"lead_id"}}
        row |= {"type": "contraction", "amount": amount, "currency": "EUR"}
        row.setdefault("lead_id", LEADS[0])
        return Row(row, (), BAD, f"amount {amount!r}")
    if which == "type":
        kind = p.one(["fz_unknown", "TOUCH", "5"])
        return Row(cells | {"type": kind}, (), BAD, f"type {kind!r}")
    row = {k: v for k, v in cells.items() if k in REQUIRED | {"lead_id"}}
    score = p.one(["1.5", "abc", str(2**63), str(-(10**30)), "1e3"])
    row |= {"type": "score_changed", "score": score}
    row.setdefault("lead_id", LEADS[0])
    return Row(row, (), BAD, f"score {score!r}")


CSV_MUTATIONS: dict[str, Callable[[Pick, dict[str, str]], Row]] = {
    "ragged": _c_ragged, "short": _c_short, "quotes": _c_quotes, "huge": _c_huge,
    "utf8": _c_bad_utf8, "nul": _c_nul, "value": _c_value,
}  # fmt: skip


def csv_bytes(rows: list[Row]) -> bytes:
    """A CSV file of ``rows`` under the one header, written by the csv module (so each row is
    exactly one record, whatever its cells hold)."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        writer.writerow([row.cells.get(c, "") for c in CSV_COLUMNS] + list(row.extra))
    return buffer.getvalue().encode("utf-8", errors="surrogateescape")


# Files whose structure itself is hostile, with the records each holds and how many are
# events: (content, received, stored).
HOSTILE_CSV: list[tuple[bytes, int, int]] = [
    (b"", 0, 0),  # no header at all
    # Blank lines before the header, CR and CRLF line ends, a row of empty cells.
    (b"\n\n\ntype,event_id\r\n\r\ntouch,a\rtouch,b\r\n,\n", 3, 0),
    (b'type,event_id,occurred_at\n"touch,"unterminated\nnext,row,here\n', 2, 0),  # a stray quote
    (b'type,type,"event\nid"\ntouch,stage_changed,e1\n', 1, 0),  # a column twice
    (b"\xef\xbb\xbftype,event_id,occurred_at,source_system,lead_id,channel\n"
     b"touch,fz-bom,2026-01-01T00:00:00Z,fz-web,fz-L1,email\n", 1, 1),  # Excel's byte-order mark
    (b"\xff\xfe,\x00\n\x00,\x00\n", 1, 0),  # a header that is not UTF-8, NUL cells
    (b"a" * 200_000 + b"\nx\n", 1, 0),  # a header cell past the csv module's limit
]  # fmt: skip


# ---------------------------------------------------------------------------------------
# Avro values for the Kafka ingest topic.


def encode(event: dict[str, Any]) -> bytes:
    message = parse_event(event)
    return registry().encode(message.type, message.to_record())


def frame(kind: str, record: dict[str, Any]) -> bytes:
    """A frame with ``kind``'s header whose body fastavro writes from ``record`` as given,
    without the engine's validation (so a producer's bad values reach the consumer)."""
    schema = registry().get(kind)
    buffer = io.BytesIO()
    buffer.write(MAGIC + schema.fingerprint)
    fastavro.schemaless_writer(buffer, schema.parsed, record)
    return buffer.getvalue()


def avro_case(p: Pick) -> Case:
    """One Kafka record value: a valid frame of any type, or a damaged or lying one."""
    event = valid_event(p)
    try:
        good = encode(event)
    except InvalidEvent:  # e.g. a text field that pydantic strips to nothing
        return Case(dumps(event), BAD, "JSON where Avro belongs")
    how = p.one(sorted(AVRO_MUTATIONS) + ["valid"] * 6)
    if how == "valid":
        return Case(good, VALID, f"valid {event['type']}")
    return AVRO_MUTATIONS[how](p, event, good)


AvroMutation = Callable[[Pick, dict[str, Any], bytes], Case]


def _a_truncated(p: Pick, event: dict[str, Any], good: bytes) -> Case:
    cut = p.number(0, len(good) - 1)
    return Case(good[:cut], BAD, f"{event['type']} truncated at {cut}")


def _a_trailing(p: Pick, event: dict[str, Any], good: bytes) -> Case:
    junk = p.binary(8)
    return Case(good + junk, BAD, f"{event['type']} with {len(junk)} trailing bytes")


def _a_bit_flip(p: Pick, event: dict[str, Any], good: bytes) -> Case:
    at = p.number(0, len(good) - 1)
    bit = p.number(0, 7)
    flipped = bytearray(good)
    flipped[at] ^= 1 << bit
    expect = BAD if at < HEADER_SIZE else ANY  # a flipped body may still be a record
    return Case(bytes(flipped), expect, f"{event['type']} bit {bit} of byte {at} flipped")


def _a_magic(p: Pick, event: dict[str, Any], good: bytes) -> Case:
    magic = p.one([b"", b"\x00", b"\xc3\x00", b"\x00\x00\x00\x00\x01", b"{"])
    return Case(magic + good[2:], BAD, f"{event['type']} with magic {magic!r}")


def _a_other_schema(p: Pick, event: dict[str, Any], good: bytes) -> Case:
    other = p.one(sorted(set(FIELDS) - {event["type"]}))
    header = MAGIC + registry().get(other).fingerprint
    # The body of one type under another's header: it must not pass as the other type.
    return Case(header + good[HEADER_SIZE:], ANY, f"{event['type']} body, {other} header")


def _a_other_fields(p: Pick, event: dict[str, Any], good: bytes) -> Case:
    """A valid frame of one schema carrying another type's fields, as JSON would mislabel."""
    other = valid_event(p)
    record = dict(parse_event(other).to_record())
    kind = event["type"]
    schema_fields = registry().field_names(kind)
    record = {name: record.get(name, "") for name in schema_fields}
    try:
        return Case(frame(kind, record), ANY, f"{kind} frame with {other['type']}'s fields")
    except (TypeError, ValueError, AttributeError, OverflowError):
        return Case(good[:HEADER_SIZE] + dumps(other), BAD, f"{kind} header on JSON")


def _a_values(p: Pick, event: dict[str, Any], good: bytes) -> Case:
    """Well-formed Avro whose values break the rules: the producer skipped validation."""
    message = parse_event(event)
    record = dict(message.to_record())
    kind = message.type
    what = p.one(["nul", "empty", "huge", "time", "amount"])
    if what == "time":
        micros = p.one([-(2**63), 2**63 - 1, -1, 32503680000 * 10**6,
                                       253402300799 * 10**6])  # fmt: skip
        record["occurred_at"] = micros
        how = f"{kind} occurred_at {micros} micros"
    elif what == "amount" and "amount" in record:
        amount = p.one([Decimal("-1"), Decimal("-0.0001")])
        record["amount"] = amount
        how = f"{kind} amount {amount}"
    else:
        value = {"nul": "a\x00b", "empty": "", "huge": "z" * 5000}.get(what, "")
        record["event_id"] = value
        how = f"{kind} event_id {what}"
    return Case(frame(kind, record), BAD, how)


def _a_not_avro(p: Pick, event: dict[str, Any], good: bytes) -> Case:
    raw = p.one([b"", dumps(event), b"\xc3\x01", MAGIC + b"\x00" * 8,
                                MAGIC + b"\xff" * 8 + b"x", b"\x00" * 64])  # fmt: skip
    return Case(raw, BAD, f"not Avro {raw[:12]!r}")


def _a_huge(p: Pick, event: dict[str, Any], good: bytes) -> Case:
    return Case(good + b"\x00" * MAX_RECORD_BYTES, BAD, f"{event['type']} over the size bound")


AVRO_MUTATIONS: dict[str, AvroMutation] = {
    "truncated": _a_truncated, "trailing": _a_trailing, "bit_flip": _a_bit_flip,
    "magic": _a_magic, "other_schema": _a_other_schema, "other_fields": _a_other_fields,
    "values": _a_values, "not_avro": _a_not_avro, "huge": _a_huge,
}  # fmt: skip


# ---------------------------------------------------------------------------------------
# Batches: a few records chosen by hypothesis itself, and many from a generator it seeds.


@st.composite
def batches(draw: st.DrawFn, make: Callable[[Pick], T], bulk: int) -> list[T]:
    """One example: a few dozen records drawn by hypothesis (its edge-case bias, and a
    failing example it can print), then ``bulk`` records from a generator seeded by it.

    Hypothesis caps one example's entropy at a few hundred records, and draws a record in
    milliseconds; the seeded generator makes the same kinds of records, thousands a
    second, so that one ``ingest`` process checks thousands of them.
    """
    picked = DrawPick(draw)
    drawn = [make(picked) for _ in range(draw(st.integers(10, 40)))]
    seed = draw(st.integers(0, 2**32 - 1))
    seeded = SeededPick(seed)
    return drawn + [make(seeded) for _ in range(bulk)]


FUZZ_SETTINGS = settings(
    derandomize=True,  # the same records on every run: CI is reproducible
    database=None,
    phases=(Phase.explicit, Phase.generate),
    deadline=None,
    suppress_health_check=list(HealthCheck),
)


def draw_batches(strategy: st.SearchStrategy[list[T]], examples: int) -> list[list[T]]:
    """``examples`` batches drawn by hypothesis from ``strategy`` (derandomized)."""
    drawn: list[list[T]] = []

    @settings(FUZZ_SETTINGS, max_examples=examples)
    @given(strategy)
    def collect(batch: list[T]) -> None:
        drawn.append(batch)

    collect()
    return drawn


# ---------------------------------------------------------------------------------------
# Checks on what the engine did with each record.


def wrong_fates(ledger: LedgerDB, expected: Mapping[str, Case | Row]) -> list[str]:
    """Every way the ledger's record of ``expected`` (origin -> generated record) breaks the
    rules: a record without a fate, a bad one not dead-lettered, a valid one refused as
    invalid, a dead letter without a reason or without its intake fate."""
    fates = {row.origin: (row.status, row.reason) for row in ledger.select(intake)}
    letters = {row.origin: row.reason for row in ledger.select(dead_letters)}
    problems: list[str] = []
    for origin, case in expected.items():
        status, reason = fates.get(origin, (None, None))
        if status is None:
            problems.append(f"{origin}: no fate ({case.how})")
        elif status == "parked":
            problems.append(f"{origin}: still parked after the end of input ({case.how})")
        elif case.expect == BAD and status != "dead_letter":
            problems.append(f"{origin}: {status}, but it is not an event ({case.how})")
        elif (
            case.expect == VALID
            and status == "dead_letter"
            and not (reason or "").startswith(VALID_REFUSALS)
        ):
            problems.append(f"{origin}: a valid event refused: {reason} ({case.how})")
        if status == "dead_letter" and not (reason or "").strip():
            problems.append(f"{origin}: dead-lettered without a reason ({case.how})")
        if status == "dead_letter" and not (letters.get(origin) or "").strip():
            problems.append(f"{origin}: no dead letter with a reason ({case.how})")
    for origin, reason in letters.items():
        if fates.get(origin, ("", None))[0] != "dead_letter":
            problems.append(f"{origin}: a dead letter ({reason}) whose fate is not dead_letter")
    return problems
