"""Conditional requests: an answer's ``ETag`` is derived from the read model's position, so
a client polling a dashboard gets ``304 Not Modified`` until the read model moves."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from fastapi import Request, Response

from leadledger.app.readmodels import Position

NOT_MODIFIED: dict[int | str, dict[str, str]] = {
    304: {"description": "Not Modified: the read model has not moved since the given ETag"}
}


def unchanged(request: Request, response: Response, at: Position | str) -> Response | None:
    """A 304 answer if the client holds the current representation (tagged by the read
    model's position, or by ``at`` itself); else None, with the ETag set on ``response``."""
    etag = at if isinstance(at, str) else at.etag
    wanted = request.headers.get("if-none-match", "")
    held = {tag.strip().removeprefix("W/") for tag in wanted.split(",")}
    if "*" in held or etag.removeprefix("W/") in held:
        return Response(status_code=304, headers={"ETag": etag})
    response.headers["ETag"] = etag
    return None


def tag_of(data: Any) -> str:
    """A weak entity tag of plain data: for answers that cover several read models."""
    text = json.dumps(data, sort_keys=True, default=str).encode()
    return f'W/"{hashlib.sha256(text).hexdigest()[:32]}"'
