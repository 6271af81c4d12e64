"""Refusals of a use case: what was asked cannot be done, for a reason the caller can fix.

Each face shows the message as it is: the CLI as ``Error: <message>`` with exit 1, the API
as a problem document with the refusal's ``status``. Errors of the engine's own modules
(a read model that does not exist, definitions that do not load) keep their types.
"""

from __future__ import annotations


class Refused(Exception):
    """What was asked conflicts with the data as it stands (HTTP 409)."""

    status = 409


class NotFound(Refused):
    """What was asked for does not exist (HTTP 404)."""

    status = 404


class Unprocessable(Refused):
    """What was sent cannot be understood as asked (HTTP 422)."""

    status = 422
