"""Stored states deflated with a preset dictionary: lossless, and readable forever."""

import hashlib

from leadledger.compression import DICTIONARY_V1, V1, StateCompressor, inflate

STATE = (
    b'{"timestamp":{"_type_":"datetime_iso","_data_":"2026-11-30T06:03:40.273222+00:00"},'
    b'"stream_key":"L1","event_id":"t-1","occurred_at":{"_type_":"datetime_iso","_data_":'
    b'"2026-01-01T10:00:00+00:00"},"source_system":"google_ads","channel":"paid_search",'
    b'"source":null,"medium":null,"campaign":"\xc3\xa9t\xc3\xa9","content":null,"keyword":null,'
    b'"cost":{"_type_":"decimal_str","_data_":"0.10"},"kind":"online","anonymous_id":null}'
)


def test_a_state_deflates_to_less_and_inflates_to_the_same_bytes() -> None:
    packed = StateCompressor().compress(STATE)
    assert packed.startswith(V1)
    assert len(packed) < len(STATE) / 2
    assert inflate(packed) == STATE
    assert StateCompressor().decompress(packed) == STATE


def test_plain_json_states_pass_through() -> None:
    """Stores written before compression hold JSON, which starts with '{'."""
    assert inflate(STATE) == STATE
    assert inflate(b"{}") == b"{}"


def test_the_v1_dictionary_never_changes() -> None:
    """States written with it must inflate forever: a new dictionary needs a new format
    byte, not an edit of this one."""
    digest = hashlib.sha256(DICTIONARY_V1).hexdigest()
    assert digest == "3af1376bce6ae6ef3721c127e9c2f74ee65d347dfcb6abecf537f93d29f580df"
