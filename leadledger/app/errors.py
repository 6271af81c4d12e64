"""Errors of the use cases, by what went wrong, so each face can answer them in its own way
(the CLI with one line, the API with a problem of the right status)."""

from __future__ import annotations


class NotFound(LookupError):
    """What was asked for does not exist: a read model, a conversion, a record."""


class Refused(ValueError):
    """A request that cannot be answered as asked; the message says what to change."""
