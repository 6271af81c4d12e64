"""The dashboard router on its own: the page and its assets, served by name only, and a
missing chart library answered with the setup command to run, never a traceback."""

import logging
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from leadledger.api.assets import node_modules
from leadledger.api.dashboard import ECHARTS, dashboard_router


def client(web_modules: Path | None = None) -> TestClient:
    app = FastAPI()
    app.include_router(dashboard_router(web_modules))
    return TestClient(app)


@pytest.mark.parametrize("path", ["/", "/dashboard"])
def test_the_page_is_served_with_a_policy_that_allows_only_its_own_scripts(path: str) -> None:
    response = client().get(path)
    assert response.status_code == 200
    assert 'data-testid="attribution-model"' in response.text
    assert "script-src 'self';" in response.headers["content-security-policy"]


def test_the_chart_library_and_the_page_scripts_come_from_the_same_process() -> None:
    http = client()
    echarts = http.get("/assets/echarts.min.js")
    assert echarts.status_code == 200
    assert echarts.headers["content-type"].startswith("text/javascript")
    assert echarts.content == (node_modules() / ECHARTS).read_bytes()
    script = http.get("/assets/js/main.js")
    assert script.headers["content-type"].startswith("text/javascript")
    assert "/api/v1" in script.text
    assert http.get("/assets/dashboard.css").headers["content-type"].startswith("text/css")


@pytest.mark.parametrize("path", ["/assets/index.html", "/assets/../dashboard.py", "/assets/x.js"])
def test_only_the_named_assets_are_served(path: str) -> None:
    assert client().get(path).status_code == 404


def test_a_missing_chart_library_names_the_setup_script(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    http = client(web_modules=tmp_path)
    with caplog.at_level(logging.ERROR, logger="leadledger.api.dashboard"):
        page = http.get("/")
        asset = http.get("/assets/echarts.min.js")
        http.get("/dashboard")
    assert page.status_code == 503
    assert "run scripts/setup.sh" in page.text
    assert "Traceback" not in page.text
    assert asset.status_code == 503
    assert "run scripts/setup.sh (it runs npm ci --prefix web)" in asset.text
    [line] = [r.getMessage() for r in caplog.records]  # logged once, not per request
    assert f"{tmp_path / ECHARTS} is missing" in line
