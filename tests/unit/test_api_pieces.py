"""The API's pure pieces: pages, choices, ISO instants, and ETags by read-model position."""

from __future__ import annotations

import pytest

from leadledger.api.paging import one_of, page
from leadledger.api.routes_reports import iso_instant
from leadledger.app.readmodels import Position


def test_a_page_cuts_the_list_and_says_where_it_lies() -> None:
    data = {"report": "x", "rows": list(range(5))}
    assert page(data, "rows", 2, 3) == {
        "report": "x", "rows": [3, 4], "page": {"limit": 2, "offset": 3, "total": 5}}  # fmt: skip
    assert page(data, "rows", 2, 9)["rows"] == []


def test_a_choice_names_what_it_takes() -> None:
    check = one_of(("a", "b"))
    assert check("a") == "a"
    with pytest.raises(ValueError, match="'c' is not one of: a, b"):
        check("c")


@pytest.mark.parametrize("text", ["2026-03-01T12:00:00Z", "2026-03-01 12:00+01:00"])
def test_iso_instants_pass(text: str) -> None:
    assert iso_instant(text) == text


@pytest.mark.parametrize("value", ["7285", 7285, "1e3", "yesterday"])
def test_anything_else_is_not_an_instant(value: object) -> None:
    with pytest.raises(ValueError, match="is not an ISO 8601 time"):
        iso_instant(value)


def test_the_etag_moves_with_the_read_model_or_its_facts_only() -> None:
    at = Position("default", "sha256:1", {"store": 10}, {"store": 10})
    assert at.etag == Position("default", "sha256:1", {"store": 10}, {"store": 10}).etag
    assert at.etag.startswith('W/"')
    moved = [Position("default", "sha256:1", {"store": 11}, {"store": 10}),
             Position("default", "sha256:1", {"store": 10}, {"store": 11}),
             Position("default", "sha256:2", {"store": 10}, {"store": 10}),
             Position("other", "sha256:1", {"store": 10}, {"store": 10})]  # fmt: skip
    assert len({at.etag, *(m.etag for m in moved)}) == 5
