"""``leadledger demo`` then ``leadledger serve`` as a user runs them: the demo names the
address, and the served API answers on it with a key made by ``leadledger keys create``."""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path

import httpx

from tests.e2e.cli import LEADLEDGER, leadledger


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def test_demo_names_the_address_and_serve_answers_on_it(tmp_path: Path) -> None:
    demo = leadledger("--data-dir", str(tmp_path), "demo", "--leads", "40")
    assert "leadledger --data-dir" in demo.stdout
    assert demo.stdout.rstrip().endswith("(the API's documentation: /api/docs)")
    assert "serve, then http://127.0.0.1:8000/" in demo.stdout
    data = ("--data-dir", str(tmp_path / "demo"))
    token = leadledger(*data, "keys", "create", "--name", "e2e", "--role", "read").stdout.strip()
    port = free_port()
    server = subprocess.Popen(
        [LEADLEDGER, *data, "serve", "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}/api/v1/reports/attribution"
        headers = {"Authorization": f"Bearer {token}"}
        deadline = time.monotonic() + 60
        while True:
            try:
                answer = httpx.get(url, headers=headers, timeout=10)
                break
            except httpx.TransportError:
                assert server.poll() is None, server.communicate()[1]
                assert time.monotonic() < deadline, "leadledger serve did not answer in 60 s"
                time.sleep(0.3)
        assert answer.status_code == 200, answer.text
        assert answer.json()["read_model"]["name"] == "default"
        assert httpx.get(url, timeout=10).status_code == 401
    finally:
        server.terminate()
        _, stderr = server.communicate(timeout=30)
    assert f"serving SQLite in {tmp_path / 'demo'} (embedded mode) on http://127.0.0.1:{port}/" in (
        stderr
    )
