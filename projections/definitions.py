"""Definitions: the settings read models are built under, from a TOML file, named by hash.

Two reports with the same hash were computed under the same definitions; the hash is of the
validated, normalised settings (defaults filled in), so reformatting a file does not change
it but changing any number does. Every report prints it.
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from collections.abc import Callable, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from leadledger.projections.attribution import MODELS, Conversion, TouchPoint, as_utc

PATH_TRANSFORMS = ("unique", "exposure", "first", "remove_if_not_all", "remove_if_last_and_not_all")


class DefinitionsError(ValueError):
    """A definitions file that cannot be used; the message names the file and the entry."""


class Channels(BaseModel):
    model_config = ConfigDict(extra="forbid")
    include: list[str] = Field(default_factory=list, description="Only these, if any listed.")
    exclude: list[str] = Field(default_factory=list)


class Attribution(BaseModel):
    model_config = ConfigDict(extra="forbid")
    conversion: str = Field("deal_won", description="The conversion kind reports credit.")
    lookback_days: float | None = Field(
        None, description="Touches this many days before the conversion or older are ignored."
    )
    conversion_windows: dict[str, float] = Field(
        default_factory=dict, description="Per channel: days a touch may precede a conversion."
    )
    direct_channel: str = "direct"
    exclude_direct_unless_all: bool = True
    dedupe_same_time: bool = Field(
        True, description="Touches of one channel at the same instant count once (two systems)."
    )
    channels: Channels = Field(default_factory=Channels)
    path_transforms: dict[str, list[str] | None] = Field(default_factory=dict)
    models: dict[str, dict[str, Any]] = Field(default_factory=dict)

    @field_validator("path_transforms")
    @classmethod
    def _known_transforms(cls, value: dict[str, Any]) -> dict[str, Any]:
        for name in value:
            if name not in PATH_TRANSFORMS:
                raise ValueError(f"unknown path transform {name!r}; allowed: {PATH_TRANSFORMS}")
        return value

    @field_validator("models")
    @classmethod
    def _known_models(cls, value: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        for name, params in value.items():
            if name not in MODELS:
                raise ValueError(f"unknown model {name!r}; known: {', '.join(sorted(MODELS))}")
            unknown = set(params) - set(MODELS[name].defaults)
            if unknown:
                raise ValueError(f"model {name!r} has no parameter {sorted(unknown)[0]!r}")
        return value


class Definitions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    attribution: Attribution = Field(default_factory=Attribution)

    @property
    def hash(self) -> str:
        canonical = json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
        return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()[:16]

    def model_params(self, model: str) -> dict[str, Any]:
        return dict(self.attribution.models.get(model, {}))


DEFAULTS = Definitions()


def load(path: Path | None) -> Definitions:
    """The definitions in ``path``, or the defaults when no file is given."""
    if path is None:
        return DEFAULTS
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise DefinitionsError(f"{path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise DefinitionsError(f"{path}: not valid TOML: {exc}") from None
    try:
        return Definitions.model_validate(data)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in first["loc"])
        raise DefinitionsError(f"{path}: {where}: {first['msg']}") from None


# Path transforms (named as in Snowplow's attribution package): each keeps TouchPoints, so
# the credit of a kept touch still points at its event.

Path_ = list[TouchPoint]


def _once_per_instant(path: Path_) -> Path_:
    """An offline or CRM touch reported by two systems counts once: same channel, same time."""
    seen: set[tuple[str, Any]] = set()
    kept = []
    for touch in path:
        if (touch.channel, touch.occurred_at) not in seen:
            seen.add((touch.channel, touch.occurred_at))
            kept.append(touch)
    return kept


def _exposure(path: Path_, _: list[str] | None) -> Path_:
    """Collapse runs of one channel to their first touch: A A B A -> A B A."""
    return [t for i, t in enumerate(path) if i == 0 or path[i - 1].channel != t.channel]


def _first(path: Path_, _: list[str] | None) -> Path_:
    """Keep each channel's first touch: A B A C -> A B C."""
    seen: set[str] = set()
    kept = []
    for touch in path:
        if touch.channel not in seen:
            seen.add(touch.channel)
            kept.append(touch)
    return kept


def _remove_if_not_all(path: Path_, targets: list[str] | None) -> Path_:
    """Drop the target channels, unless that would empty the path."""
    kept = [t for t in path if t.channel not in set(targets or ())]
    return kept or path


def _remove_if_last_and_not_all(path: Path_, targets: list[str] | None) -> Path_:
    """Drop target channels from the end of the path, unless that would empty it."""
    end = len(path)
    while end > 0 and path[end - 1].channel in set(targets or ()):
        end -= 1
    return path[:end] or path


TRANSFORMS: dict[str, Callable[[Path_, list[str] | None], Path_]] = {
    "unique": lambda path, _: path,
    "exposure": _exposure,
    "first": _first,
    "remove_if_not_all": _remove_if_not_all,
    "remove_if_last_and_not_all": _remove_if_last_and_not_all,
}


def path_function(
    definitions: Definitions,
) -> Callable[[Conversion, Sequence[TouchPoint]], list[TouchPoint]]:
    """The windows, channel filters and transforms of ``definitions`` as one function."""
    spec = definitions.attribution
    lookback = None if spec.lookback_days is None else timedelta(days=spec.lookback_days)
    windows = {k: timedelta(days=v) for k, v in spec.conversion_windows.items()}

    def path_of(conversion: Conversion, path: Sequence[TouchPoint]) -> list[TouchPoint]:
        at = as_utc(conversion.occurred_at)
        kept = [
            t
            for t in path
            if (lookback is None or at - t.occurred_at <= lookback)
            and (t.channel not in windows or at - t.occurred_at <= windows[t.channel])
            and (not spec.channels.include or t.channel in spec.channels.include)
            and t.channel not in spec.channels.exclude
        ]
        if spec.dedupe_same_time:
            kept = _once_per_instant(kept)
        for name, parameter in spec.path_transforms.items():
            kept = TRANSFORMS[name](kept, parameter)
        if spec.exclude_direct_unless_all:
            kept = _remove_if_not_all(kept, [spec.direct_channel])
        return kept

    return path_of
