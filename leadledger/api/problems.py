"""Every error as ``application/problem+json`` (RFC 9457): a client sees a status, a title
and a detail naming what to change, never a traceback."""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

import sqlalchemy as sa
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException

from leadledger.app.errors import Refused
from leadledger.config import BrokerUnavailable
from leadledger.readmodels import ReadModelError

MEDIA_TYPE = "application/problem+json"
log = logging.getLogger("leadledger.api")


class Problem(BaseModel):
    """RFC 9457 problem details; ``errors`` lists each invalid parameter of a 422."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    errors: list[dict[str, Any]] | None = None


def problem(status: int, detail: str | None, instance: str | None = None,
            **extra: Any) -> JSONResponse:  # fmt: skip
    headers = extra.pop("headers", None)
    body = Problem(title=HTTPStatus(status).phrase, status=status, detail=detail,
                   instance=instance, **extra)  # fmt: skip
    return JSONResponse(body.model_dump(exclude_none=True), status_code=status,
                        media_type=MEDIA_TYPE, headers=headers)  # fmt: skip


def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries of the problems a route may answer, so clients (and schemathesis)
    know them."""
    ref = {"schema": {"$ref": "#/components/schemas/Problem"}}
    return {
        status: {
            "model": Problem,
            "description": HTTPStatus(status).phrase,
            "content": {MEDIA_TYPE: ref},
        }
        for status in statuses
    }


def install(app: FastAPI) -> None:
    """Answer every error the app knows as a problem; anything else is a 500 problem, logged
    with its traceback on the server's side only."""

    async def http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, HTTPException)
        return problem(exc.status_code, str(exc.detail), request.url.path,
                       headers=getattr(exc, "headers", None))  # fmt: skip

    async def invalid(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        errors = [
            {
                "loc": [str(p) for p in e.get("loc", ())],
                "msg": str(e.get("msg", "")),
                "type": str(e.get("type", "")),
            }
            for e in exc.errors()
        ]
        detail = "; ".join(f"{'.'.join(e['loc'])}: {e['msg']}" for e in errors)
        return problem(422, detail, request.url.path, errors=errors)

    def answer(status: int) -> Any:
        async def handler(request: Request, exc: Exception) -> JSONResponse:
            return problem(status, str(exc), request.url.path)

        return handler

    async def refused(request: Request, exc: Exception) -> JSONResponse:
        """A use case declined (``app.errors``): its status says how (404, 409, 422)."""
        status = exc.status if isinstance(exc, Refused) else 400
        return problem(status, str(exc), request.url.path)

    async def unreachable(request: Request, exc: Exception) -> JSONResponse:
        log.warning("the database did not answer %s %s: %s", request.method, request.url.path,
                    str(exc).splitlines()[0] if str(exc) else type(exc).__name__)  # fmt: skip
        return problem(503, "the database does not answer; nothing committed is lost: try "
                       "again once it does", request.url.path)  # fmt: skip

    async def internal(request: Request, exc: Exception) -> JSONResponse:
        log.exception("internal error answering %s %s", request.method, request.url.path)
        return problem(500, f"internal error: {type(exc).__name__}", request.url.path)

    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(RequestValidationError, invalid)
    app.add_exception_handler(Refused, refused)
    app.add_exception_handler(ReadModelError, answer(409))
    app.add_exception_handler(BrokerUnavailable, answer(503))
    app.add_exception_handler(sa.exc.OperationalError, unreachable)
    app.add_exception_handler(Exception, internal)
