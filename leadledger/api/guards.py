"""Which role each group of routes needs (``auth.requires``), in one place."""

from __future__ import annotations

from typing import Any

from fastapi import Depends

from leadledger.api.auth import Role, requires

READ: list[Any] = [Depends(requires(Role.READ))]  # reports, read models
WRITE: list[Any] = [Depends(requires(Role.WRITE))]  # HTTP intake
AUDIT: list[Any] = [Depends(requires(Role.AUDIT))]  # explain, record fates, dead letters
