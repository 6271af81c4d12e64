"""The admin routes on demo data (SQLite and PostgreSQL): replay definitions as a read
model, promote it, drop one; replay a dead letter corrected; each behind the admin role."""

from __future__ import annotations

from pathlib import Path

import pytest

from leadledger.apikeys import Role
from leadledger.config import Database
from tests.integration.api import client, fill_with_demo, key, problem

pytestmark = pytest.mark.integration
DEFINITIONS = '[funnel]\nmql = "stage"\n\n[sla]\nmql_response_hours = 5\n'


def test_a_replay_is_promoted_served_and_the_old_read_model_dropped(
    database: Database, tmp_path: Path
) -> None:
    fill_with_demo(database, tmp_path, leads=60)
    with client(database) as api:
        made = api.post("/api/v1/read-models", json={"definitions": DEFINITIONS, "name": "v2"})
        assert made.status_code == 201, made.text
        body = made.json()
        assert (body["read_model"]["name"], body["served"]) == ("v2", "default")
        assert body["covered"] == body["read_model"]["position"]["store"] > 0
        listed = {m["name"]: m for m in api.get("/api/v1/read-models").json()["read_models"]}
        assert listed["v2"]["status"] == "ready"
        assert listed["v2"]["definitions"] == body["read_model"]["definitions"]

        problem(api.delete("/api/v1/read-models/default"), 409, "'default' is served")
        promoted = api.post("/api/v1/read-models/v2/promote")
        assert promoted.json() == {"served": "v2", "before": "default"}
        report = api.get("/api/v1/reports/sla").json()
        assert report["read_model"]["name"] == "v2"

        assert api.delete("/api/v1/read-models/default").status_code == 204
        names = {m["name"] for m in api.get("/api/v1/read-models").json()["read_models"]}
        assert names == {"v2"}
        problem(api.post("/api/v1/read-models/default/promote"), 404)


def test_definitions_that_do_not_load_are_a_422_naming_why(
    database: Database, tmp_path: Path
) -> None:
    fill_with_demo(database, tmp_path, leads=10)
    with client(database) as api:
        problem(api.post("/api/v1/read-models", json={"definitions": "[funnel"}), 422,
                "the request's definitions: not valid TOML")  # fmt: skip
        problem(api.post("/api/v1/read-models", json={"definitions": '[funnel]\nmql = "x"\n'}),
                422, "funnel.mql")  # fmt: skip


def test_a_dead_letter_replayed_corrected_is_stored_and_marked(
    database: Database, tmp_path: Path
) -> None:
    fill_with_demo(database, tmp_path, leads=10)
    broken = {"type": "touch", "event_id": "adm-t1", "lead_id": "lead-00001",
              "occurred_at": "2026-01-05T10:00:00Z", "source_system": "crm"}  # fmt: skip
    with client(database) as api:
        answer = api.post("/api/v1/records", json=[broken]).json()["records"][0]
        assert answer["fate"] == "dead_letter", answer
        letters = api.get("/api/v1/dead-letters", params={"origin": "http:"}).json()
        (letter,) = letters["dead_letters"]
        again = api.post(f"/api/v1/dead-letters/{letter['id']}/replay")  # unchanged
        problem(again, 422, "the record still does not parse: touch.channel: Field required")
        fixed = api.post(f"/api/v1/dead-letters/{letter['id']}/replay",
                         json={**broken, "channel": "email"})  # fmt: skip
        assert fixed.status_code == 200, fixed.text
        assert (fixed.json()["stored"], fixed.json()["dead_lettered"]) == (1, 0)
        assert api.get("/api/v1/records/crm/adm-t1").json()["fate"] == "stored"
        shown = api.get("/api/v1/dead-letters", params={"origin": "http:"}).json()
        assert shown["dead_letters"][0]["replayed_at"] is not None
        problem(api.post("/api/v1/dead-letters/999999/replay"), 404, "no dead letter 999999")


def test_admin_routes_need_the_admin_role(database: Database, tmp_path: Path) -> None:
    fill_with_demo(database, tmp_path, leads=10)
    others = key(database, Role.READ, Role.WRITE, Role.AUDIT)
    with client(database) as api:
        for method, path in [("POST", "/api/v1/read-models/default/promote"),
                             ("DELETE", "/api/v1/read-models/x"),
                             ("POST", "/api/v1/dead-letters/1/replay")]:  # fmt: skip
            problem(api.request(method, path, headers=others), 403)
            problem(api.request(method, path, headers={"Authorization": "Bearer nope"}), 401)
        refused = api.post("/api/v1/read-models", json={"definitions": ""}, headers=others)
        problem(refused, 403)
