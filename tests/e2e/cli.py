"""Running the installed ``leadledger`` command as a user would."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

LEADLEDGER = str(Path(sys.executable).parent / "leadledger")


def leadledger(
    *args: str, env: dict[str, str] | None = None, check: bool = True, timeout: float = 180
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [LEADLEDGER, *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=timeout,
        check=False,
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"leadledger {' '.join(args)} exited {result.returncode}\n"
            f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
        )
    return result


def report_json(*args: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    result = leadledger(
        *args, "report", "attribution", "--model", "first_touch", "--format", "json", env=env
    )
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def line(kind: str, event_id: str, lead: str, day: int, **fields: Any) -> str:
    """One JSON Lines record from the CRM, on day ``day`` of January 2026."""
    record = {
        "type": kind,
        "event_id": event_id,
        "lead_id": lead,
        "occurred_at": f"2026-01-{day:02d}T10:00:00Z",
        "source_system": "crm",
        **fields,
    }
    return json.dumps(record) + "\n"


def eventually(
    what: str, condition: Callable[[], bool], within: float, why: Callable[[], str] = str
) -> None:
    """Wait for ``condition``; fail naming ``what`` (and ``why()``) if it does not hold in time."""
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {within:.0f} s: {what}\n{why()}")
        time.sleep(0.3)
