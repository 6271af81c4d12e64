"""The role dependency on a tiny FastAPI app with a real key store on SQLite: 401 without a
valid key, 403 without the role, 200 with it; each refusal logged by key id, never the key."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import pytest
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient
from httpx import Response

from leadledger.api.auth import PROBLEM_JSON, Problem, Role, problem_response, requires
from leadledger.apikeys import ApiKey, KeyStore


@pytest.fixture
def keys(tmp_path: Path) -> Iterator[KeyStore]:
    store = KeyStore(f"sqlite:///{tmp_path / 'ledger.db'}")
    yield store
    store.close()


@pytest.fixture
def client(keys: KeyStore) -> TestClient:
    app = FastAPI()
    app.state.keys = keys
    app.add_exception_handler(Problem, problem_response)

    @app.get("/credits")
    def credits(key: Annotated[ApiKey, Depends(requires(Role.READ))]) -> dict[str, str]:
        return {"caller": key.id}

    @app.post("/replay")
    def replay(key: Annotated[ApiKey, Depends(requires(Role.ADMIN))]) -> dict[str, str]:
        return {"caller": key.id}

    return TestClient(app)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def assert_problem(response: Response, status: int, detail: str) -> None:
    assert response.status_code == status
    assert response.headers["content-type"] == PROBLEM_JSON
    body = response.json()
    assert body["status"] == status
    assert body["type"] == "about:blank"
    assert body["title"] == {401: "Unauthorized", 403: "Forbidden"}[status]
    assert detail in body["detail"]
    if status == 401:
        assert response.headers["www-authenticate"] == "Bearer"


def test_the_right_role_is_admitted(client: TestClient, keys: KeyStore) -> None:
    key, token = keys.create("dashboard", [Role.READ])
    response = client.get("/credits", headers=bearer(token))
    assert response.status_code == 200
    assert response.json() == {"caller": key.id}


def test_a_key_may_hold_several_roles(client: TestClient, keys: KeyStore) -> None:
    _, token = keys.create("operator", [Role.READ, Role.ADMIN])
    assert client.get("/credits", headers=bearer(token)).status_code == 200
    assert client.post("/replay", headers=bearer(token)).status_code == 200


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": ""}, {"Authorization": "Bearer "}, {"Authorization": "Basic dTpw"}],
)
def test_a_missing_key_gets_401(
    client: TestClient, headers: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="leadledger.api"):
        response = client.get("/credits", headers=headers)
    assert_problem(response, 401, "needs an API key")
    assert "refused GET /credits: no bearer API key" in caplog.messages


def test_an_unknown_key_gets_401_and_is_never_logged(
    client: TestClient, keys: KeyStore, caplog: pytest.LogCaptureFixture
) -> None:
    key, token = keys.create("real", [Role.READ])
    wrong = f"ll_{key.id}_{'A' * 43}"
    with caplog.at_level(logging.WARNING, logger="leadledger.api"):
        under_real_id = client.get("/credits", headers=bearer(wrong))
        not_ours = client.get("/credits", headers=bearer("sk-secret-value"))
    assert_problem(under_real_id, 401, "unknown or revoked")
    assert_problem(not_ours, 401, "unknown or revoked")
    assert caplog.messages == [
        f"refused GET /credits: key id {key.id} is unknown or revoked",
        "refused GET /credits: a key not in leadledger's format is unknown or revoked",
    ]
    assert not any(secret in caplog.text for secret in (wrong, token, "sk-secret-value", "AAAA"))


def test_a_revoked_key_gets_401(
    client: TestClient, keys: KeyStore, caplog: pytest.LogCaptureFixture
) -> None:
    key, token = keys.create("leaver", [Role.READ])
    assert client.get("/credits", headers=bearer(token)).status_code == 200
    keys.revoke(key.id)
    with caplog.at_level(logging.WARNING, logger="leadledger.api"):
        response = client.get("/credits", headers=bearer(token))
    assert_problem(response, 401, "unknown or revoked")
    assert caplog.messages == [f"refused GET /credits: key id {key.id} is unknown or revoked"]
    assert token not in caplog.text


def test_a_key_without_the_role_gets_403(
    client: TestClient, keys: KeyStore, caplog: pytest.LogCaptureFixture
) -> None:
    """Roles are independent: admin does not imply read, read does not reach admin routes."""
    admin, admin_token = keys.create("ops", [Role.ADMIN])
    reader, reader_token = keys.create("dashboard", [Role.READ, Role.AUDIT])
    with caplog.at_level(logging.WARNING, logger="leadledger.api"):
        admin_reads = client.get("/credits", headers=bearer(admin_token))
        reader_replays = client.post("/replay", headers=bearer(reader_token))
    assert_problem(admin_reads, 403, "needs role 'read'; the key holds admin")
    assert_problem(reader_replays, 403, "needs role 'admin'; the key holds audit, read")
    assert "www-authenticate" not in admin_reads.headers
    assert caplog.messages == [
        f"refused GET /credits: key id {admin.id} lacks role read (holds admin)",
        f"refused POST /replay: key id {reader.id} lacks role admin (holds audit, read)",
    ]
    assert admin_token not in caplog.text
    assert reader_token not in caplog.text


def test_the_openapi_document_declares_the_bearer_scheme(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert spec["components"]["securitySchemes"]["ApiKey"]["scheme"] == "bearer"
    assert spec["paths"]["/credits"]["get"]["security"] == [{"ApiKey": []}]
