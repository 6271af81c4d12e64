"""The dashboard in a real browser (Debian's chromium, driven by Playwright) on the demo
data: every number it shows equals the API's answer to the same query, before and after
the user switches the attribution model. A screenshot is kept in .ci/artifacts/."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.e2e.cli import leadledger
from tests.e2e.serving import ARTIFACTS, chromium_executable, serving

API = "/api/v1"
TILES = ("cpl", "cac", "ltv_to_cac", "romi_pct", "deal_cycle_days", "nrr_pct")
FUNNEL = {"visits": None, "leads": "visit_to_lead", "mqls": "lead_to_mql",
          "sqls": "mql_to_sql", "opportunities": "sql_to_opportunity",
          "new_customers": "sql_to_deal"}  # fmt: skip


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The demo's data directory and a read key for it."""
    root = tmp_path_factory.mktemp("dashboard")
    leadledger("demo", env={"LEADLEDGER_DATA_DIR": str(root)})
    data = root / "demo"
    token = leadledger("--data-dir", str(data), "keys", "create", "--name", "dashboard test",
                       "--role", "read").stdout.strip()  # fmt: skip
    return data, token


@pytest.fixture(scope="module")
def server(demo: tuple[Path, str]) -> Iterator[str]:
    data, _ = demo
    with serving("--data-dir", str(data), log=data.parent / "serve.log") as base:
        yield base


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    executable = chromium_executable()
    with sync_playwright() as playwright:
        # Chromium's sandbox cannot start as root (the CI container's user).
        args = ["--no-sandbox"] if os.geteuid() == 0 else []
        launched = playwright.chromium.launch(executable_path=executable, args=args)
        yield launched
        launched.close()


class Api:
    """The API's answers, fetched over HTTP with the same read key the page uses."""

    def __init__(self, base: str, token: str) -> None:
        self.http = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"})

    def get(self, path: str, **params: str) -> Any:
        response = self.http.get(f"{API}{path}", params=params)
        assert response.status_code == 200, response.text
        return response.json()


def value(page: Page, testid: str) -> str | None:
    return page.get_by_test_id(testid).get_attribute("data-value")


def table(page: Page, row_testid: str, *cells: str) -> dict[str, tuple[str | None, ...]]:
    """Rows of a table by their data-key: each named cell's exact API value."""
    found = {}
    for row in page.get_by_test_id(row_testid).all():
        key = row.get_attribute("data-key")
        assert key is not None
        found[key] = tuple(row.get_by_test_id(c).get_attribute("data-value") for c in cells)
    return found


def refused(kind: str, text: str) -> bool:
    """A console error other than the browser's note on the 401 the page answers with its
    key form."""
    return kind == "error" and "status of 401" not in text


def open_with_key(page: Page, base: str, token: str) -> None:
    """The page asks for a key when the API refuses it, says why a wrong one failed, and
    loads once given a read key."""
    page.goto(f"{base}/")
    page.wait_for_selector("body[data-state=needs-key]")
    page.get_by_test_id("key-input").fill("ll_wrong_key")
    page.get_by_test_id("key-submit").click()
    page.wait_for_selector("body[data-state=needs-key]")
    assert "unknown or revoked" in page.get_by_test_id("key-error").inner_text()
    page.get_by_test_id("key-input").fill(token)
    page.get_by_test_id("key-submit").click()
    page.wait_for_selector("body[data-state=ready]")


def check_attribution(page: Page, api: Api, model: str) -> None:
    page.wait_for_selector(
        f'body[data-state=ready] [data-testid=attribution-table][data-model="{model}"]'
    )
    answer = api.get("/attribution", model=model)
    assert answer["credits"], f"{model}: the demo has credits to show"
    expected = {c["channel"]: (c["conversions"], c["value"]) for c in answer["credits"]}
    assert table(page, "attribution-row", "attribution-conversions", "attribution-value") == (
        expected
    )
    assert value(page, "attribution-summary") == str(answer["conversions"])


def test_the_dashboard_shows_the_apis_numbers_and_follows_the_model_switch(
    demo: tuple[Path, str], server: str, browser: Browser
) -> None:
    _, token = demo
    api = Api(server, token)
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on("console", lambda m: problems.append(m.text) if refused(m.type, m.text) else None)
    open_with_key(page, server, token)

    kpi = api.get("/kpi")
    at = kpi["read_model"]
    assert value(page, "read-model-name") == at["name"] == "default"
    assert page.get_by_test_id("definitions-hash").inner_text() == at["definitions"]
    assert at["definitions"].startswith("sha256:")
    assert page.get_by_test_id("read-model-position").inner_text() == ", ".join(
        f"{stream} {where}" for stream, where in at["position"].items()
    )

    period = page.get_by_test_id("period-select").input_value()
    assert [o.get_attribute("value") for o in page.locator("#period option").all()] == [
        row["period"] for row in kpi["rows"]
    ]
    [row] = [r for r in kpi["rows"] if r["period"] == period]
    assert {t: value(page, f"kpi-{t}") for t in TILES} == {t: row["kpis"][t] or "" for t in TILES}
    assert any(row["kpis"][t] for t in TILES), "the default period shows some KPI"
    for measure, rate in FUNNEL.items():
        cells = page.get_by_test_id(f"funnel-{measure}").locator("td")
        assert cells.nth(1).get_attribute("data-value") == row["measures"].get(measure, "0")
        if rate:
            assert cells.nth(2).get_attribute("data-value") == (row["kpis"][rate] or "")

    sla = api.get("/sla")
    assert table(page, "sla-row", "sla-met", "sla-breached", "sla-compliance") == {
        r["clock"]: (str(r["met"]), str(r["breached"]), r["compliance"] or "")
        for r in sla["compliance"]
    }
    assert value(page, "sla-breach-count") == str(len(sla["breaches"]))
    assert value(page, "sla-at-risk-count") == str(len(sla["at_risk"]))

    models = api.get("/attribution/models")["models"]
    options = page.locator("[data-testid=attribution-model] option").all()
    assert [o.get_attribute("value") for o in options] == models
    check_attribution(page, api, page.get_by_test_id("attribution-model").input_value())
    for model in ("linear", "time_decay"):
        page.get_by_test_id("attribution-model").select_option(model)
        check_attribution(page, api, model)

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=ARTIFACTS / "dashboard.png", full_page=True)
    assert problems == []
