"""A real ``leadledger serve`` on a free port, and Debian's chromium to point at it."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.conftest import ROOT, unavailable
from tests.e2e.cli import LEADLEDGER

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
def serving(*args: str, log: Path, timeout: float = 60) -> Iterator[str]:
    """Run ``leadledger ARGS serve`` on a free port until the block ends; yields its base
    URL. The server's output goes to ``log``, shown when it does not answer."""
    port = free_port()
    with log.open("w") as out:
        server = subprocess.Popen(
            [LEADLEDGER, *args, "serve", "--host", "127.0.0.1", "--port", str(port)],
            stdout=out, stderr=subprocess.STDOUT, env=os.environ.copy(),
        )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if server.poll() is not None:
                raise AssertionError(f"leadledger serve exited {server.returncode}:\n"
                                     f"{log.read_text()[-3000:]}")  # fmt: skip
            try:
                httpx.get(f"{base}/dashboard", timeout=2)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise AssertionError(f"leadledger serve did not answer in {timeout} s:\n"
                                         f"{log.read_text()[-3000:]}") from None  # fmt: skip
                time.sleep(0.2)
        yield base
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
