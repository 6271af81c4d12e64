"""`leadledger keys` as an operator runs it: a key printed once and never again, listed
without its secret, revoked by id; wrong input refused in one line, no traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from leadledger.apikeys import KeyStore
from tests.e2e.cli import leadledger


def test_create_list_revoke(tmp_path: Path) -> None:
    data = ["--data-dir", str(tmp_path / "data")]
    made = leadledger(*data, "keys", "create", "--name", "grafana", "--role", "read",
                      "--role", "audit")  # fmt: skip
    token = made.stdout.strip()
    assert token.startswith("ll_")
    assert len(made.stdout.splitlines()) == 1
    assert "will not be shown again" in made.stderr
    listed = json.loads(leadledger(*data, "keys", "list", "--format", "json").stdout)
    assert [(k["name"], k["roles"], k["revoked_at"]) for k in listed] == [
        ("grafana", ["audit", "read"], None)
    ]
    key_id = listed[0]["id"]
    assert token.startswith(f"ll_{key_id}_")
    table = leadledger(*data, "keys", "list").stdout
    assert key_id in table
    assert "grafana" in table
    assert "audit, read" in table
    secret = token.split("_", 2)[2]  # the secret itself may hold "_" (URL-safe base64)
    for shown in (table, json.dumps(listed)):
        assert secret not in shown

    store = KeyStore(f"sqlite:///{tmp_path / 'data' / 'ledger.db'}")
    try:
        assert store.authenticate(token) is not None
        revoked = leadledger(*data, "keys", "revoke", key_id)
        assert revoked.stdout.strip() == f"revoked API key {key_id} (grafana)"
        assert store.authenticate(token) is None
    finally:
        store.close()
    after = json.loads(leadledger(*data, "keys", "list", "--format", "json").stdout)
    assert after[0]["revoked_at"] is not None


def test_refusals_are_one_line(tmp_path: Path) -> None:
    data = ["--data-dir", str(tmp_path / "data")]
    nothing_here = leadledger(*data, "keys", "list", check=False)
    assert nothing_here.returncode == 1
    assert "no leadledger data in SQLite in" in nothing_here.stderr
    assert not (tmp_path / "data").exists()

    bad_role = leadledger(*data, "keys", "create", "--name", "x", "--role", "owner", check=False)
    assert bad_role.returncode == 2
    assert "'owner' is not one of 'read', 'write', 'audit', 'admin'" in bad_role.stderr

    no_role = leadledger(*data, "keys", "create", "--name", "x", check=False)
    assert no_role.returncode == 2
    assert "Missing option '--role'" in no_role.stderr

    leadledger(*data, "keys", "create", "--name", "x", "--role", "write")
    unknown = leadledger(*data, "keys", "revoke", "nosuch", check=False)
    assert unknown.returncode == 1
    assert unknown.stderr.strip() == (
        "error: no API key with id 'nosuch' (see `leadledger keys list`)"
    )
    key_id = json.loads(leadledger(*data, "keys", "list", "--format", "json").stdout)[0]["id"]
    leadledger(*data, "keys", "revoke", key_id)
    twice = leadledger(*data, "keys", "revoke", key_id, check=False)
    assert twice.returncode == 1
    assert f"error: API key '{key_id}' was already revoked at " in twice.stderr
    for result in (nothing_here, bad_role, no_role, unknown, twice):
        assert "Traceback" not in result.stderr


@pytest.mark.postgres
def test_keys_on_postgresql_before_any_data(postgres_url: str) -> None:
    """Keys may be made before anything is ingested: the database then holds only them,
    and listing and revoking find them there."""
    env = {"LEADLEDGER_DATABASE_URL": postgres_url}
    token = leadledger("keys", "create", "--name", "ops", "--role", "admin", env=env).stdout
    [listed] = json.loads(leadledger("keys", "list", "--format", "json", env=env).stdout)
    assert token.startswith(f"ll_{listed['id']}_")
    assert listed["roles"] == ["admin"]
    leadledger("keys", "revoke", listed["id"], env=env)
    [after] = json.loads(leadledger("keys", "list", "--format", "json", env=env).stdout)
    assert after["revoked_at"] is not None
    refused = leadledger("report", "attribution", env=env, check=False)
    assert "no leadledger data in PostgreSQL" in refused.stderr  # keys are not engine data
