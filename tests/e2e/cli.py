"""Running the installed ``leadledger`` command as a user would."""

from __future__ import annotations

import json
import os
import subprocess
import sys
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
