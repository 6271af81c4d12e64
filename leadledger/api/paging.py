"""Bounded pages of a list, and the query parameters that choose a value from a set."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Annotated, Any

from fastapi import Query, Request
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute

MAX_LIMIT = 1000
MAX_OFFSET = 10_000_000

Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Items per page.")]
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET, description="Items to skip.")]
ReadModelName = Annotated[
    str | None,
    Query(max_length=100, description="Read model to answer from (default: the served one)."),
]


def page(data: dict[str, Any], key: str, limit: int, offset: int) -> dict[str, Any]:
    """``data`` with its list ``key`` cut to one page, and where that page lies."""
    items = data[key]
    return {**data, key: items[offset : offset + limit],
            "page": {"limit": limit, "offset": offset, "total": len(items)}}  # fmt: skip


def one_of(values: Iterable[str]) -> Callable[[str], str]:
    """A validator refusing (422) a value outside ``values``, naming them."""
    allowed = tuple(values)

    def check(value: str) -> str:
        if value not in allowed:
            raise ValueError(f"{value!r} is not one of: {', '.join(allowed)}")
        return value

    return check


def listed(values: Iterable[str], description: str) -> Any:
    """A query parameter's declaration whose OpenAPI schema lists ``values`` (pair it with
    ``AfterValidator(one_of(values))``, which refuses the rest)."""
    return Query(description=description, json_schema_extra={"enum": sorted(values)})


def known_query(request: Request) -> None:
    """Refuse (422) a query parameter the route does not take: a mistyped filter would
    otherwise be ignored silently and the answer look filtered when it is not."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):
        return
    known = _query_names(route.dependant)
    unknown = sorted(set(request.query_params) - known)
    if unknown:
        listed_ = ", ".join(sorted(known)) or "none"
        raise RequestValidationError([
            {"loc": ("query", name), "type": "extra_forbidden",
             "msg": f"unknown query parameter (this endpoint takes: {listed_})"}
            for name in unknown
        ])  # fmt: skip


def _query_names(dependant: Dependant) -> set[str]:
    names = {p.alias for p in dependant.query_params}
    for sub in dependant.dependencies:
        names |= _query_names(sub)
    return names
