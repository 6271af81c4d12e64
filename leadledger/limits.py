"""Bounds on one ingest record, whatever its transport (JSON Lines, CSV, Kafka).

A record past a bound is dead-lettered with a reason naming the bound, and ingest goes on.
Without them one record could stop ingest for good: a line of 200,000 ``[`` made the JSON
decoder raise ``RecursionError`` on every run, and a line without an end is read whole into
memory. The bounds are generous: an ingest event is one flat object of short fields (text
at most 200 characters, a note at most 2,000), a few hundred bytes in practice.
"""

from __future__ import annotations

import re

MAX_RECORD_BYTES = 64 * 1024
"""A record (a JSON line without its line end, a CSV row, a Kafka value) of more bytes is
refused; its dead letter keeps the first ``MAX_RECORD_BYTES`` bytes, and the origin names
where the whole record is."""

MAX_BATCH_BYTES = 4 * 1024 * 1024
"""An HTTP intake request (a JSON array of records) of more bytes is refused whole (413):
about 16,000 typical records, so a webhook's burst fits and one request cannot hold the
server's memory."""

MAX_BATCH_RECORDS = 5000
"""An HTTP intake request of more records is refused whole (413): each is answered with its
fate in the response, and stored in one request's time."""

MAX_NESTING = 8
"""JSON nested deeper than this (each ``[`` or ``{`` is a level) is refused before it is
decoded. An ingest event is an object of plain values: one level."""

_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKET = re.compile(rb"[\[\]{}]")


def too_large(size: int) -> str:
    """The dead-letter reason of a record of ``size`` bytes, over the bound."""
    return (
        f"undecodable: record of {size} bytes is over the limit of {MAX_RECORD_BYTES} bytes "
        f"(the dead letter keeps its first {MAX_RECORD_BYTES})"
    )


def too_deep(text: bytes) -> str | None:
    """Why ``text`` (JSON) is nested too deep to decode, or None if it is not.

    Counting brackets is cheap, so most records are passed without a scan; otherwise the
    strings are blanked out (a bracket in a campaign name is not nesting) and the levels
    counted, stopping at the first one past the bound.
    """
    if text.count(b"[") + text.count(b"{") <= MAX_NESTING:
        return None
    depth = 0
    for bracket in _BRACKET.findall(_JSON_STRING.sub(b'""', text)):
        depth += 1 if bracket in (b"[", b"{") else -1
        if depth > MAX_NESTING:
            return f"undecodable: JSON nested deeper than {MAX_NESTING} levels"
    return None
