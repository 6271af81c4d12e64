"""Roles on the HTTP API: ``Depends(requires(Role.READ))`` guards a route with an API key.

The app factory puts a :class:`~leadledger.apikeys.KeyStore` on ``app.state.keys``; that one
attribute is how the dependency reaches the database. A request without
``Authorization: Bearer <key>``, or with a key that is unknown, malformed or revoked, gets
401 with ``WWW-Authenticate: Bearer``; a valid key without the role gets 403. Roles are
independent (``admin`` does not imply ``read``); a key may hold several. Each refusal is
logged on ``leadledger.api`` with the key's id, never the key.

Refusals are raised as :class:`Problem`, an ``HTTPException``: the app factory registers
:func:`problem_response` for it (``app.add_exception_handler(Problem, problem_response)``)
so the body is ``application/problem+json`` (RFC 9457); a handler written for any
``HTTPException`` serves it as well.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from http import HTTPStatus
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from leadledger.apikeys import ApiKey, KeyStore, Role, key_id

__all__ = ["Problem", "Role", "problem_response", "requires"]

log = logging.getLogger("leadledger.api")
PROBLEM_JSON = "application/problem+json"
# Declares the bearer scheme in the OpenAPI document (Swagger UI's "Authorize"); the
# refusals are ours, so it never answers by itself.
bearer = HTTPBearer(
    auto_error=False,
    scheme_name="ApiKey",
    description="leadledger keys create --name ... --role ...",
)
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]


class Problem(HTTPException):
    """An HTTP error carrying an RFC 9457 problem: ``type`` names the kind, ``title`` is its
    fixed summary (the status phrase unless given), ``detail`` says what happened here."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        type: str = "about:blank",
        title: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(status_code=status, detail=detail, headers=headers)
        self.type = type
        self.title = title or HTTPStatus(status).phrase

    def body(self) -> dict[str, object]:
        return {"type": self.type, "title": self.title, "status": self.status_code,
                "detail": self.detail}  # fmt: skip


async def problem_response(_request: Request, exc: Exception) -> JSONResponse:
    """The exception handler for :class:`Problem`: its problem document as the body."""
    if not isinstance(exc, Problem):  # registered for Problem only; never reached otherwise
        raise exc
    return JSONResponse(exc.body(), status_code=exc.status_code, headers=exc.headers,
                        media_type=PROBLEM_JSON)  # fmt: skip


def requires(role: Role) -> Callable[[Request, HTTPAuthorizationCredentials | None], ApiKey]:
    """A FastAPI dependency that admits a request whose bearer key holds ``role`` and
    returns that key (its id and name, for the route to record who acted)."""

    def check(request: Request, credentials: Credentials) -> ApiKey:
        keys: KeyStore = request.app.state.keys
        where = f"{request.method} {request.url.path}"
        if credentials is None:
            log.warning("refused %s: no bearer API key", where)
            raise _unauthorized("this endpoint needs an API key: Authorization: Bearer <key>")
        token = credentials.credentials
        key = keys.authenticate(token)
        if key is None:
            claimed = key_id(token)
            shown = f"key id {claimed}" if claimed else "a key not in leadledger's format"
            log.warning("refused %s: %s is unknown or revoked", where, shown)
            raise _unauthorized("the API key is unknown or revoked")
        if role not in key.roles:
            held = ", ".join(sorted(r.value for r in key.roles))
            log.warning("refused %s: key id %s lacks role %s (holds %s)", where, key.id,
                        role.value, held)  # fmt: skip
            raise Problem(403, f"this endpoint needs role {role.value!r}; the key holds {held}")
        return key

    return check


def _unauthorized(detail: str) -> Problem:
    return Problem(401, detail, headers={"WWW-Authenticate": "Bearer"})
