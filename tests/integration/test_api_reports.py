"""The report endpoints on demo data in SQLite: the CLI's JSON under a read-model envelope,
pages, filters, ETag and 304, problems for bad parameters, roles, local API docs."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from leadledger import readmodels
from leadledger.apikeys import Role
from leadledger.config import Database
from leadledger.ledgerdb import LedgerDB
from leadledger.projections.definitions import DEFAULTS
from tests.e2e.cli import leadledger
from tests.integration.api import client, fill_with_demo, key, problem

RECORD = {"type": "touch", "event_id": "api-t-1", "lead_id": "lead-00001",
          "occurred_at": "2026-01-01T10:00:00Z", "source_system": "api-test",
          "channel": "paid_search"}  # fmt: skip


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("demo")
    fill_with_demo(Database.from_settings(data_dir=folder), folder)
    return folder


@pytest.fixture
def api(data_dir: Path) -> Iterator[TestClient]:
    with client(Database.from_settings(data_dir=data_dir)) as found:
        yield found


def without_envelope(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k not in ("read_model", "page")}


def test_attribution_is_the_cli_json_naming_read_model_hash_and_position(
    api: TestClient, data_dir: Path
) -> None:
    answer = api.get("/api/v1/reports/attribution", params={"model": "linear", "by": "campaign"})
    assert answer.status_code == 200
    body = answer.json()
    cli = leadledger("--data-dir", str(data_dir), "report", "attribution", "--model", "linear",
                     "--by", "campaign", "--format", "json")  # fmt: skip
    assert without_envelope(body) == json.loads(cli.stdout)
    served = body["read_model"]
    assert served["name"] == "default"
    assert served["definitions"] == body["definitions"]
    assert served["position"]["store"] > 0
    assert body["page"] == {"limit": 100, "offset": 0, "total": len(body["credits"])}
    assert all(isinstance(c["value"], str) and c["currency"] for c in body["credits"])
    assert isinstance(body["conversions"], int)


def test_every_report_names_the_same_read_model(api: TestClient) -> None:
    paths = ["/reports/attribution", "/reports/spend", "/credits", "/reports/sla",
             "/reports/sla/breaches", "/reports/sla/at-risk", "/reports/kpi", "/read-models",
             "/dead-letters", "/reconcile"]  # fmt: skip
    named = {p: api.get(f"/api/v1{p}").json()["read_model"] for p in paths}
    assert len({json.dumps(n, sort_keys=True) for n in named.values()}) == 1, named


def test_pages_cut_the_list_and_say_where_they_are(api: TestClient) -> None:
    whole = api.get("/api/v1/credits", params={"limit": 1000}).json()["rows"]
    assert len(whole) > 3
    second = api.get("/api/v1/credits", params={"limit": 2, "offset": 2}).json()
    assert second["rows"] == whole[2:4]
    assert second["page"] == {"limit": 2, "offset": 2, "total": len(whole)}
    problem(api.get("/api/v1/credits", params={"limit": 0}), 422, "query.limit")
    problem(api.get("/api/v1/credits", params={"limit": 1001}), 422, "query.limit")
    problem(api.get("/api/v1/credits", params={"offset": -1}), 422, "query.offset")


def test_filters_keep_only_the_rows_asked_for(api: TestClient) -> None:
    breaches = api.get("/api/v1/reports/sla/breaches", params={"limit": 1000}).json()["breaches"]
    clocks = {b["clock"] for b in breaches}
    assert len(clocks) > 1
    clock = sorted(clocks)[0]
    only = api.get("/api/v1/reports/sla/breaches", params={"clock": clock, "limit": 1000})
    assert only.json()["breaches"] == [b for b in breaches if b["clock"] == clock]
    rows = api.get("/api/v1/reports/kpi").json()["rows"]
    first = rows[0]["period"]
    assert [r["period"] for r in api.get(
        "/api/v1/reports/kpi", params={"in_period": first}).json()["rows"]] == [first]  # fmt: skip
    listed = api.get("/api/v1/read-models", params={"status": "ready"}).json()["read_models"]
    assert [(m["name"], m["served"]) for m in listed] == [("default", True)]


def test_attribution_by_period_splits_the_conversions(api: TestClient) -> None:
    whole = api.get("/api/v1/reports/attribution").json()
    months = [r["period"] for r in api.get("/api/v1/reports/kpi").json()["rows"]]
    per_month = [api.get("/api/v1/reports/attribution", params={"in_period": m}).json()
                 for m in months]  # fmt: skip
    assert {p["period"] for p in per_month} == set(months)
    assert sum(p["conversions"] for p in per_month) == whole["conversions"] > 0
    quarters = {f"{m[:4]}-Q{(int(m[5:]) - 1) // 3 + 1}" for m in months}
    by_quarter = [api.get("/api/v1/reports/attribution", params={"in_period": q}).json()
                  for q in quarters]  # fmt: skip
    assert sum(q["conversions"] for q in by_quarter) == whole["conversions"]
    problem(api.get("/api/v1/reports/attribution", params={"in_period": "2026-13"}), 422,
            "query.in_period")  # fmt: skip


def test_an_sla_judged_at_the_wall_clock_has_no_etag_one_judged_at_a_time_has(
    api: TestClient,
) -> None:
    """Open clocks breach as time passes with no new event: an answer judged "now" must not
    be revalidated by the read model's position alone."""
    for path in ("/api/v1/reports/sla", "/api/v1/reports/sla/breaches"):
        assert "etag" not in api.get(path).headers
        feb = api.get(path, params={"now": "2026-02-01T00:00:00Z"}).headers["etag"]
        mar = api.get(path, params={"now": "2026-03-01T00:00:00Z"}).headers["etag"]
        assert feb != mar
        again = api.get(path, params={"now": "2026-02-01T00:00:00Z"},
                        headers={"If-None-Match": feb})  # fmt: skip
        assert again.status_code == 304


def test_an_etag_by_position_answers_304_until_the_read_model_moves(api: TestClient) -> None:
    first = api.get("/api/v1/reports/kpi")
    etag = first.headers["etag"]
    again = api.get("/api/v1/reports/kpi", headers={"If-None-Match": etag})
    assert (again.status_code, again.content, again.headers["etag"]) == (304, b"", etag)
    other_query = api.get("/api/v1/reports/kpi?period=quarter", headers={"If-None-Match": etag})
    assert other_query.status_code == 200  # the tag names the position and the request
    other_route = api.get("/api/v1/reports/attribution", headers={"If-None-Match": etag})
    assert other_route.status_code == 200
    taken = api.post("/api/v1/records", json=[RECORD | {"event_id": "etag-move"}])
    assert taken.json()["records"][0]["fate"] == "stored"
    moved = api.get("/api/v1/reports/kpi", headers={"If-None-Match": etag})
    assert moved.status_code == 200
    assert moved.headers["etag"] != etag
    assert moved.json()["read_model"]["position"] != first.json()["read_model"]["position"]


def test_explain_one_conversion_from_the_credit_ledger(api: TestClient) -> None:
    row = api.get("/api/v1/credits").json()["rows"][0]
    body = api.get(f"/api/v1/conversions/{row['conversion_id']}/explain").json()
    assert body["conversion_id"] == row["conversion_id"]
    assert row["touch_event_id"] in {t["touch_event_id"] for t in body["touches"]}
    assert body["read_model"]["definitions"] == body["definitions"]


def test_bad_requests_are_problems_never_server_errors(api: TestClient) -> None:
    bad = problem(api.get("/api/v1/reports/attribution", params={"model": "nope"}), 422,
                  "'nope' is not one of")  # fmt: skip
    assert bad["errors"][0]["loc"] == ["query", "model"]
    problem(api.get("/api/v1/reports/kpi", params={"basis": "x"}), 422, "query.basis")
    problem(api.get("/api/v1/reports/sla", params={"now": "2026-03-01T12:00:00"}), 422,
            "query.now")  # fmt: skip
    problem(api.get("/api/v1/reports/kpi", params={"read_model": "nope"}), 404,
            "no read model named 'nope' (known: default)")  # fmt: skip
    problem(api.get("/api/v1/conversions/deal_won:nope/explain"), 404,
            "no conversion 'deal_won:nope' in the read model")  # fmt: skip
    problem(api.get("/api/v1/nothing-here"), 404, "Not Found")
    mistyped = problem(api.get("/api/v1/reports/attribution", params={"chanel": "x"}), 422,
                       "query.chanel: unknown query parameter")  # fmt: skip
    assert mistyped["errors"][0]["type"] == "extra_forbidden"


def test_each_route_needs_its_role(data_dir: Path, api: TestClient) -> None:
    database = Database.from_settings(data_dir=data_dir)
    reader, writer = key(database, Role.READ), key(database, Role.WRITE)
    auditor = key(database, Role.AUDIT)
    conversion = api.get("/api/v1/credits").json()["rows"][0]["conversion_id"]
    routes = {
        ("GET", "/api/v1/reports/attribution"): reader,
        ("GET", "/api/v1/read-models"): reader,
        ("GET", f"/api/v1/conversions/{conversion}/explain"): auditor,
        ("GET", "/api/v1/records/crm/c-1"): auditor,
        ("GET", "/api/v1/dead-letters"): auditor,
        ("POST", "/api/v1/records"): writer,
    }
    plain = TestClient(api.app)
    for (method, path), allowed in routes.items():
        body = {"json": [RECORD]} if method == "POST" else {}
        problem(plain.request(method, path, **body), 401, "needs an API key")  # type: ignore[arg-type]
        for header in (reader, writer, auditor):
            answer = plain.request(method, path, headers=header, **body)  # type: ignore[arg-type]
            if header is allowed:
                assert answer.status_code in (200, 404), (path, answer.text)
            else:
                problem(answer, 403, "needs role")


def test_api_docs_are_served_from_local_assets(api: TestClient) -> None:
    page = api.get("/api/docs")
    assert page.status_code == 200
    assert "cdn" not in page.text.lower()
    assert "/api/docs/assets/swagger-ui-bundle.js" in page.text
    assert api.get("/api/docs/assets/swagger-ui-bundle.js").status_code == 200
    spec = api.get("/api/v1/openapi.json").json()
    assert spec["openapi"].startswith("3.1")
    assert "/api/v1/records/{source_system}/{event_id}" in spec["paths"]


def test_the_read_model_listing_is_tagged_by_every_read_model(
    api: TestClient, data_dir: Path
) -> None:
    first = api.get("/api/v1/read-models")
    etag = first.headers["etag"]
    assert api.get("/api/v1/read-models", headers={"If-None-Match": etag}).status_code == 304
    ledger = LedgerDB(Database.from_settings(data_dir=data_dir).ledger_url())
    try:
        readmodels.create(ledger, "beside", DEFAULTS)  # a replay begun: the served one stays
    finally:
        ledger.close()
    moved = api.get("/api/v1/read-models", headers={"If-None-Match": etag})
    assert moved.status_code == 200
    assert moved.json()["read_model"] == first.json()["read_model"]
    assert sorted((m["name"], m["status"]) for m in moved.json()["read_models"]) == [
        ("beside", "building"), ("default", "ready")]  # fmt: skip
