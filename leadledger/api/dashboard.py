"""The dashboard page: static HTML and small JS files that read the JSON API from the browser.

The page holds no data and no secret, so serving it needs no key; every number it shows comes
from a ``/api/v1`` call made with the read key the user types in (kept in the tab's
sessionStorage, never in the page or a cookie). ECharts is installed from npm by
``scripts/setup.sh`` into ``web/node_modules`` and served from here, never fetched from a
CDN, never committed. When it is missing, the page and the asset answer 503 with a message
naming the setup script, and one log line says the same.
"""

from __future__ import annotations

import logging
from html import escape
from pathlib import Path

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse, HTMLResponse, PlainTextResponse, Response

from leadledger.api.assets import node_modules

log = logging.getLogger(__name__)

STATIC = Path(__file__).resolve().parent / "static"
ECHARTS = Path("echarts/dist/echarts.min.js")
MEDIA_TYPES = {".js": "text/javascript", ".css": "text/css"}
# Scripts only from this origin; ECharts sets inline styles on the elements it draws.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'"
)
HEADERS = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff"}


def missing_assets_message(path: Path) -> str:
    return (
        f"the dashboard's chart library is not installed ({path} is missing): "
        "run scripts/setup.sh (it runs npm ci --prefix web)"
    )


def dashboard_router(web_modules: Path | None = None, static: Path = STATIC) -> APIRouter:
    """Routes for the page at ``/`` and ``/dashboard`` and its assets under ``/assets/``.

    Only the files present in ``static`` when the router is built are served, by name, so
    no request path ever reaches the file system.
    """
    router = APIRouter(include_in_schema=False)
    assets = {
        path.relative_to(static).as_posix(): path
        for path in static.rglob("*")
        if path.suffix in MEDIA_TYPES
    }
    warned = False

    def echarts() -> Path:
        """Looked up per request: ``scripts/setup.sh`` may run while the server does."""
        return (web_modules or node_modules()) / ECHARTS

    def installed() -> bool:
        nonlocal warned
        if echarts().is_file():
            return True
        if not warned:
            log.error("%s", missing_assets_message(echarts()))
            warned = True
        return False

    @router.get("/", response_class=HTMLResponse)
    @router.get("/dashboard", response_class=HTMLResponse)
    def page() -> Response:
        if not installed():
            return HTMLResponse(error_page(missing_assets_message(echarts())), 503, HEADERS)
        return HTMLResponse((static / "index.html").read_text(encoding="utf-8"), 200, HEADERS)

    @router.get("/assets/echarts.min.js")
    def chart_library() -> Response:
        if not installed():
            return PlainTextResponse(missing_assets_message(echarts()), 503)
        return FileResponse(echarts(), media_type="text/javascript")

    @router.get("/assets/{name:path}")
    def asset(name: str) -> Response:
        path = assets.get(name)
        if path is None:
            raise HTTPException(404, f"no dashboard asset {name!r}")
        return FileResponse(path, media_type=MEDIA_TYPES[path.suffix], headers=HEADERS)

    return router


def error_page(message: str) -> str:
    return (
        "<!doctype html><html lang=en><meta charset=utf-8><title>leadledger dashboard</title>"
        f"<h1>The dashboard cannot start</h1><p data-testid=setup-error>{escape(message)}</p>"
    )


router = dashboard_router()
