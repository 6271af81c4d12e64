"""Stored event states, deflated with a dictionary of the schemas' own words.

A stored fact's state is JSON of about 300-450 bytes in which most bytes are field names,
eventsourcing's type tags and timestamps; the event store was most of an ingest's disk
(2.8 times the JSON Lines it came from). Deflate primed with those words (a preset
dictionary, RFC 1950) keeps the state to about a third, at about ten microseconds an
event. Nothing is lost: :func:`inflate` gives back the very JSON.

A compressed state starts with a format byte (``V1``); a JSON state starts with ``{``, so
stores written before compression, or by a deployment that turned it off (set
``COMPRESSOR_TOPIC`` to empty), read the same. ``DICTIONARY_V1`` may never change:
states written with it must inflate forever. A new dictionary gets a new format byte.
"""

from __future__ import annotations

import zlib

from eventsourcing.persistence import Compressor

V1 = b"\x01"
_FIELDS = (
    "amount", "anonymous_id", "campaign", "channel", "class_version", "company_size",
    "content", "cost", "country", "currency", "day", "deal_id", "entry_stage", "event_id",
    "icp_fit", "industry", "into_lead_id", "keyword", "kind", "medium", "method", "model",
    "note", "occurred_at", "order_id", "origin", "originator_topic", "outcome", "period",
    "reason", "rep", "score", "segment", "source", "source_system", "stage", "stream_key",
    "team",
)  # fmt: skip
DICTIONARY_V1 = (
    b"".join(b'"%s":null,"%s":"' % (name.encode(), name.encode()) for name in _FIELDS)
    + b'true,false,{"_type_":"date_iso","_data_":"2026-01-01"},'
    + b'{"_type_":"decimal_str","_data_":"0.00"},'
    + b'"occurred_at":{"_type_":"datetime_iso","_data_":"2026-01-01T00:00:00.000000+00:00"},'
    + b'"event_id":"","source_system":"'
    + b'{"timestamp":{"_type_":"datetime_iso","_data_":"2026-01-01T00:00:00.000000+00:00"},'
    + b'"stream_key":"'
)


class StateCompressor(Compressor):
    """eventsourcing's compressor hook (``COMPRESSOR_TOPIC``): deflate with
    ``DICTIONARY_V1`` on the way in, :func:`inflate` on the way out."""

    def compress(self, data: bytes) -> bytes:
        deflate = zlib.compressobj(6, zlib.DEFLATED, -15, 8, zlib.Z_DEFAULT_STRATEGY,
                                   DICTIONARY_V1)  # fmt: skip
        return V1 + deflate.compress(data) + deflate.flush()

    def decompress(self, data: bytes) -> bytes:
        return inflate(data)


def inflate(state: bytes) -> bytes:
    """The JSON of a stored state, compressed or not."""
    if state[:1] != V1:
        return state
    unpack = zlib.decompressobj(-15, DICTIONARY_V1)
    return unpack.decompress(state[1:]) + unpack.flush()
