"""The API's documentation page: Swagger UI from the locally installed ``swagger-ui-dist``."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from leadledger.api.assets import package

ASSETS = "/api/docs/assets"


def install(app: FastAPI) -> None:
    """Serve ``/api/docs`` and its assets; without the assets installed the page says how to
    install them (``scripts/setup.sh``) instead of reaching for a CDN."""
    folder = package("swagger-ui-dist")
    router = APIRouter(include_in_schema=False)

    @router.get("/api/docs")
    def swagger() -> HTMLResponse:
        if folder is None:
            return HTMLResponse(
                "<p>Swagger UI is not installed: run scripts/setup.sh (npm ci --prefix web). "
                'The spec is at <a href="/api/v1/openapi.json">/api/v1/openapi.json</a>.</p>',
                status_code=503,
            )
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "", title="leadledger API",
            swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS}/favicon-32x32.png",
        )  # fmt: skip

    app.include_router(router)
    if folder is not None:
        app.mount(ASSETS, StaticFiles(directory=folder), name="swagger-ui-assets")
