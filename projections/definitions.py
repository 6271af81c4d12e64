"""Definitions: the settings a read model is built under, named by their content hash.

Two reports with the same hash were computed under the same definitions; the hash is
printed with every report so that an auditor can tell.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

DEFAULTS: dict[str, Any] = {
    "attribution": {"conversion": "deal_won", "models": ["first_touch"]},
}


def definitions_hash(definitions: dict[str, Any]) -> str:
    canonical = json.dumps(definitions, sort_keys=True, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()[:16]
