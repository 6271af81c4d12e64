"""Front-end assets installed from npm by ``scripts/setup.sh`` (``npm ci --prefix web``) and
served by the app itself: pages never fetch anything from a CDN at run time."""

from __future__ import annotations

import os
from pathlib import Path

WEB_ENV = "LEADLEDGER_WEB_DIR"


def node_modules() -> Path:
    """``web/node_modules`` of the checkout leadledger runs from (or ``$LEADLEDGER_WEB_DIR``'s
    ``node_modules``)."""
    web = os.environ.get(WEB_ENV)
    root = Path(web) if web else Path(__file__).resolve().parents[2] / "web"
    return root / "node_modules"


def package(name: str) -> Path | None:
    """The folder of npm package ``name``, or None when setup has not installed it."""
    folder = node_modules() / name
    return folder if folder.is_dir() else None
