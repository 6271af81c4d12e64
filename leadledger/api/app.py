"""The API application: ``create_app`` wires the routers (each a small module) to one
ledger and, in Kafka mode, to the ingest topic."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI
from fastapi.responses import RedirectResponse

from leadledger.api import (
    dashboard,
    docs,
    problems,
    routes_admin,
    routes_intake,
    routes_readmodels,
    routes_records,
    routes_reports,
)
from leadledger.api.auth import Problem, problem_response
from leadledger.api.services import Services
from leadledger.apikeys import KeyStore
from leadledger.config import Database, Kafka

ROUTERS: Sequence[APIRouter] = (
    routes_reports.router,
    routes_readmodels.router,
    routes_records.router,
    routes_intake.router,
    routes_admin.router,
    dashboard.router,
)
"""Every router the app serves; a new face (the dashboard) is one more entry."""


def create_app(
    database: Database, kafka: Kafka | None = None, routers: Sequence[APIRouter] = ROUTERS
) -> FastAPI:
    """The API over ``database``; with ``kafka`` (bootstrap servers set) HTTP intake
    publishes to the ingest topic instead of storing records itself."""
    services = Services(database, kafka)
    keys = KeyStore(database.ledger_url())

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        services.close()
        keys.close()

    app = FastAPI(
        title="leadledger",
        summary="Reports, read models and the fate of every record; HTTP intake.",
        version="1",
        openapi_url="/api/v1/openapi.json",
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.services = services
    app.state.keys = keys  # read by auth.requires: API keys and their roles
    problems.install(app)
    app.add_exception_handler(Problem, problem_response)  # 401 and 403 with their own type
    for router in routers:
        app.include_router(router)
    docs.install(app)

    @app.get("/api", include_in_schema=False)
    def index() -> RedirectResponse:
        return RedirectResponse("/api/docs")

    return app
