"""A broken database connection is told apart from a bug, however it was wrapped."""

from __future__ import annotations

import psycopg
import sqlalchemy.exc
from eventsourcing import persistence

from leadledger.cli import _connection_lost


def test_a_terminated_backend_is_a_lost_connection_through_every_wrapper() -> None:
    driver = psycopg.OperationalError("terminating connection due to administrator command")
    wrapped = sqlalchemy.exc.OperationalError("SELECT 1", {}, driver)
    assert _connection_lost(wrapped) == "terminating connection due to administrator command"
    outer = persistence.OperationalError(str(driver))
    outer.__cause__ = driver  # as ``raise ... from`` leaves it
    assert _connection_lost(outer) == "terminating connection due to administrator command"


def test_other_errors_are_not_lost_connections() -> None:
    assert _connection_lost(ValueError("a bug")) is None
    assert (
        _connection_lost(sqlalchemy.exc.OperationalError("x", {}, ValueError("no table"))) is None
    )
