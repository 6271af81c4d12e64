"""The API app served by uvicorn on a free port, and Debian's chromium to point at it."""

from __future__ import annotations

import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from fastapi import FastAPI

from tests.conftest import ROOT, unavailable

ARTIFACTS = ROOT / ".ci" / "artifacts"


def chromium_executable() -> str:
    """The path of Debian's chromium, installed by ``scripts/chromium-local.sh`` when missing
    (as the PostgreSQL setup installs its server): Playwright drives it by
    ``executable_path``, so ``playwright install`` never downloads a browser."""
    script = ROOT / "scripts" / "chromium-local.sh"
    try:
        found = subprocess.run(
            [str(script)], capture_output=True, text=True, timeout=900, check=False
        )
    except subprocess.TimeoutExpired:
        unavailable("chromium", f"{script} did not finish in 15 minutes")
        raise AssertionError("unreachable") from None
    if found.returncode != 0:
        unavailable("chromium", f"{script} exited {found.returncode}:\n{found.stderr[-3000:]}")
    return found.stdout.strip().splitlines()[-1]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def serving(app: FastAPI, timeout: float = 30) -> Iterator[str]:
    """Serve ``app`` over real HTTP (uvicorn, as ``leadledger serve`` does) in a thread
    until the block ends; yields its base URL."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name="uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise AssertionError(f"uvicorn did not start on 127.0.0.1:{port} in {timeout} s")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)
