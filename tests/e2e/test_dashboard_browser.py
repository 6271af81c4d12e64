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
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo's data directory, filled by ``leadledger demo``."""
    root = tmp_path_factory.mktemp("dashboard")
    leadledger("demo", env={"LEADLEDGER_DATA_DIR": str(root)})
    return root / "demo"


@pytest.fixture(scope="module")
def server(demo: Path) -> Iterator[str]:
    with serving("--data-dir", str(demo), log=demo.parent / "serve.log") as base:
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
    """The API's answers, fetched over HTTP with the same key the page uses."""

    def __init__(self, base: str, token: str) -> None:
        headers = {"Authorization": f"Bearer {token}"}
        self.http = httpx.Client(base_url=base, headers=headers, timeout=60)

    def get(self, path: str, **params: str | int) -> Any:
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


AT_RISK_MOMENT = "2026-02-10T00:00:00Z"  # when one of the demo's clocks is open and at risk
SETTLED = "body[data-state=ready], body[data-state=needs-key], body[data-state=error]"


def open_dashboard(page: Page, base: str, data: Path) -> str:
    """Open the page as a user would and return the key it was given: the API refuses a
    request without a read key, so the page asks for one, shows the API's reason for a
    wrong one, loads with a key made by ``leadledger keys create``, and keeps it for the
    tab's life (a reload does not ask again)."""
    page.goto(f"{base}/")
    page.wait_for_selector(SETTLED)
    assert page.locator("body").get_attribute("data-state") == "needs-key"
    page.get_by_test_id("key-input").fill("ll_wrong_key")
    page.get_by_test_id("key-submit").click()
    page.wait_for_selector(SETTLED)
    assert "unknown or revoked" in page.get_by_test_id("key-error").inner_text()
    assert page.evaluate("sessionStorage.length") == 0  # a refused key is not kept
    token = leadledger("--data-dir", str(data), "keys", "create", "--name", "dashboard test",
                       "--role", "read").stdout.strip()  # fmt: skip
    page.get_by_test_id("key-input").fill(token)
    page.get_by_test_id("key-submit").click()
    page.wait_for_selector(SETTLED)
    page.reload()
    page.wait_for_selector(SETTLED)
    assert page.locator("body").get_attribute("data-state") == "ready", page.get_by_test_id(
        "load-error"
    ).inner_text()
    assert page.get_by_test_id("key-form").is_hidden()
    return token


def check_sla_judged_at(page: Page, api: Api, moment: str) -> None:
    """The SLA as it stood at ``moment`` (typed as UTC into the page): its open clocks at
    risk and its breaches are the API's for the same ``now``."""
    page.get_by_test_id("sla-now").fill(moment.removesuffix(":00Z"))
    page.wait_for_selector(
        f'body[data-state=ready] [data-testid=sla-judged-at][data-value^="{moment[:19]}"]'
    )
    at_risk = api.get("/reports/sla/at-risk", limit=20, now=moment)
    assert at_risk["at_risk"], f"{moment}: the demo has an open clock at risk then"
    assert table(page, "sla-at-risk-row", "sla-used-hours", "sla-limit-hours") == {
        f"{r['lead_id']} {r['clock']} {r['cycle']}": (r["used_hours"], r["limit_hours"])
        for r in at_risk["at_risk"]
    }
    assert value(page, "sla-at-risk-count") == str(at_risk["page"]["total"])
    breaches = api.get("/reports/sla/breaches", limit=20, now=moment)
    assert value(page, "sla-breach-count") == str(breaches["page"]["total"])
    sla = api.get("/reports/sla", limit=1000, now=moment)
    assert table(page, "sla-row", "sla-met", "sla-breached", "sla-compliance") == {
        r["clock"]: (str(r["met"]), str(r["breached"]), r["compliance"] or "")
        for r in sla["compliance"]
    }


def check_attribution(page: Page, api: Api, model: str) -> None:
    page.wait_for_selector(
        f'body[data-state=ready] [data-testid=attribution-table][data-model="{model}"]'
    )
    answer = api.get("/reports/attribution", model=model, limit=1000)
    assert answer["credits"], f"{model}: the demo has credits to show"
    assert answer["page"]["total"] == len(answer["credits"])
    expected = {c["channel"]: (c["conversions"], c["value"]) for c in answer["credits"]}
    shown = table(page, "attribution-row", "attribution-conversions", "attribution-value")
    assert shown == expected, model
    assert value(page, "attribution-summary") == str(answer["conversions"])


@pytest.mark.timeout(900)  # a machine without chromium installs it first (apt, minutes)
def test_the_dashboard_shows_the_apis_numbers_and_follows_the_model_switch(
    demo: Path, server: str, browser: Browser
) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on("console", lambda m: problems.append(m.text) if refused(m.type, m.text) else None)
    api = Api(server, open_dashboard(page, server, demo))

    kpi = api.get("/reports/kpi", limit=1000)
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
    assert all(row["kpis"][t] for t in TILES), f"{period}: the default period fills every tile"
    assert {t: value(page, f"kpi-{t}") for t in TILES} == {t: row["kpis"][t] for t in TILES}
    for measure, rate in FUNNEL.items():
        cells = page.get_by_test_id(f"funnel-{measure}").locator("td")
        assert cells.nth(1).get_attribute("data-value") == row["measures"].get(measure, "0")
        if rate:
            assert cells.nth(2).get_attribute("data-value") == (row["kpis"][rate] or "")

    sla = api.get("/reports/sla", limit=1000)
    assert table(page, "sla-row", "sla-met", "sla-breached", "sla-compliance") == {
        r["clock"]: (str(r["met"]), str(r["breached"]), r["compliance"] or "")
        for r in sla["compliance"]
    }
    breaches = api.get("/reports/sla/breaches", limit=20)
    assert value(page, "sla-breach-count") == str(breaches["page"]["total"])
    assert breaches["page"]["total"] > 20  # the demo's SLA has breaches: the page shows 20
    assert [r.get_attribute("data-key") for r in page.get_by_test_id("sla-breach").all()] == [
        f"{b['lead_id']} {b['clock']} {b['cycle']}" for b in breaches["breaches"]
    ]
    at_risk = api.get("/reports/sla/at-risk", limit=20)
    assert value(page, "sla-at-risk-count") == str(at_risk["page"]["total"])
    check_sla_judged_at(page, api, AT_RISK_MOMENT)

    spec = api.http.get(f"{API}/openapi.json").json()
    [model] = [
        p for p in spec["paths"][f"{API}/reports/attribution"]["get"]["parameters"]
        if p["name"] == "model"
    ]  # fmt: skip
    options = page.locator("[data-testid=attribution-model] option").all()
    assert [o.get_attribute("value") for o in options] == model["schema"]["enum"]
    assert page.get_by_test_id("attribution-model").input_value() == "first_touch"
    check_attribution(page, api, "first_touch")
    for switched in ("linear", "time_decay", "markov"):
        page.get_by_test_id("attribution-model").select_option(switched)
        check_attribution(page, api, switched)

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=ARTIFACTS / "dashboard.png", full_page=True)
    assert problems == []

    page.get_by_test_id("forget-key").click()  # the key leaves the tab: the page asks again
    page.wait_for_selector(SETTLED)
    assert page.locator("body").get_attribute("data-state") == "needs-key"
    assert page.evaluate("sessionStorage.length") == 0
