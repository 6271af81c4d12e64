"""Conditional requests: an answer's ``ETag`` is derived from the read model's position, so
a client polling a dashboard gets ``304 Not Modified`` until the read model moves."""

from __future__ import annotations

from fastapi import Request, Response

from leadledger.app.readmodels import Position

NOT_MODIFIED: dict[int | str, dict[str, str]] = {
    304: {"description": "Not Modified: the read model has not moved since the given ETag"}
}


def unchanged(request: Request, response: Response, at: Position) -> Response | None:
    """A 304 answer if the client holds the current representation; else None, with the
    ETag set on ``response``."""
    etag = at.etag
    wanted = request.headers.get("if-none-match", "")
    held = {tag.strip().removeprefix("W/") for tag in wanted.split(",")}
    if "*" in held or etag.removeprefix("W/") in held:
        return Response(status_code=304, headers={"ETag": etag})
    response.headers["ETag"] = etag
    return None
