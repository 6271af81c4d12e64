"""Definitions: the settings read models are built under, from a TOML file, named by hash.

Two reports with the same hash were computed under the same definitions; the hash is of the
validated, normalised settings (defaults filled in), so reformatting a file does not change
it but changing any number does. Every report prints it.
"""

from __future__ import annotations

import ast
import hashlib
import json
import tomllib
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from fractions import Fraction
from graphlib import CycleError, TopologicalSorter
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from leadledger.domain.stream import as_utc
from leadledger.projections.attribution import CONVENTIONS, MODELS, Conversion, TouchPoint
from leadledger.projections.calendar import AROUND_THE_CLOCK, Calendar
from leadledger.projections.kpi import DEFAULT_CONSTANTS, DEFAULT_FORMULAS, MEASURES
from leadledger.projections.kpi import check as check_formula
from leadledger.projections.kpi import parse as parse_formula
from leadledger.projections.lifecycle import CONVERSION_KINDS

PATH_TRANSFORMS = ("unique", "exposure", "first", "remove_if_not_all", "remove_if_last_and_not_all")
MAX_DAYS = 36_525
"""Windows and half-lives are at most a century: longer ones mean nothing, and overflow."""
MAX_SLA_HOURS = 8_784
"""An SLA limit is at most a (leap) year of clock hours."""
# Every section refuses unknown keys, and nan or inf where a number is expected: stored
# as JSON, a non-finite number comes back as null and the read model no longer loads.
SECTION = ConfigDict(extra="forbid", allow_inf_nan=False)
Days = Annotated[float, Field(gt=0, le=MAX_DAYS)]


class DefinitionsError(ValueError):
    """A definitions file that cannot be used; the message names the file and the entry."""


# Attribution model parameters, by name: checked as the models read them (exactly, from
# numbers or numeric strings), so a report never meets one that means nothing.


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:36] + "...]"


def _fraction(value: object) -> Fraction:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(f"{_shown(value)} is not a number")
    try:
        return Fraction(str(value))
    except (ValueError, ZeroDivisionError):
        raise ValueError(f"{_shown(value)} is not a finite number") from None


def _days(value: object) -> None:
    days = _fraction(value)
    try:
        float(str(value))  # as time_decay reads it
    except ValueError:
        raise ValueError(f"{value!r} is not a number of days") from None
    if not 0 < days <= MAX_DAYS:
        raise ValueError(f"{value!r} is not a number of days above 0 and at most {MAX_DAYS}")


def _share(value: object) -> None:
    if not 0 <= _fraction(value) <= 1:
        raise ValueError(f"{value!r} is not a share from 0 to 1")


def _weight(value: object) -> None:
    if _fraction(value) < 0:
        raise ValueError(f"{value!r} is negative; a weight is 0 or more")


def _weights(value: object) -> None:
    if not isinstance(value, list | dict) or not value:
        raise ValueError(f"{_shown(value)} is not a list or table of weights")
    for weight in value.values() if isinstance(value, dict) else value:
        _weight(weight)


def _whole(least: int | None) -> Callable[[object], None]:
    def check(value: object) -> None:
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise ValueError(f"{_shown(value)} is not a whole number")
        try:
            number = int(value)
        except ValueError:
            raise ValueError(f"{_shown(value)} is not a whole number") from None
        if least is not None and number < least:
            raise ValueError(f"{value!r} is less than {least}")

    return check


def _check_param(param: str, given: object) -> None:
    """A scalar, or a flat list or table of scalars, as its rule (if any) wants."""
    inner = list(given.values()) if isinstance(given, dict) else given
    if isinstance(inner, list) and any(isinstance(v, list | dict) for v in inner):
        raise ValueError("nested lists or tables mean nothing here")
    if param in PARAM_RULES:
        PARAM_RULES[param](given)


PARAM_RULES: dict[str, Callable[[object], None]] = {
    "half_life_days": _days, "first": _share, "last": _share, "milestone_share": _share,
    "weights": _weights, "default": _weight, "order": _whole(1), "exact_up_to": _whole(0),
    "samples": _whole(1), "seed": _whole(None),
}  # fmt: skip


def _probe(name: str, params: dict[str, Any]) -> None:
    """Refuse parameters under which a model gives a touch a negative share (first + last
    above one; milestone shares above what the milestones leave), found by running the
    model on a sample path: the rule stays with the model in ``MODELS``, not here."""
    spec = MODELS[name]
    for param, given in params.items():
        kind = type(spec.defaults.get(param))
        if kind in (list, dict) and not isinstance(given, kind):
            raise ValueError(
                f"model {name!r} parameter {param!r}: {_shown(given)} is not a {kind.__name__}"
            )
    if spec.fit is not None:
        return  # fitted models weigh by scores, which are never negative
    start = datetime(2026, 1, 1, tzinfo=UTC)
    path = [TouchPoint(start + timedelta(days=i), f"probe-{i}", f"probe-{i}") for i in range(6)]
    milestones = {"lead": start + timedelta(days=1), "opportunity": start + timedelta(days=3)}
    conversion = Conversion("probe", "probe", start + timedelta(days=6), Decimal(1), "EUR",
                            milestones=milestones)  # fmt: skip
    try:
        weights = spec.fn(path, conversion, {**spec.defaults, **params})
    except ArithmeticError:
        raise ValueError(
            f"model {name!r}: its parameters give no weight to any touch of a sample path "
            "(six touches a day apart)"
        ) from None
    except (ValueError, TypeError, LookupError) as exc:
        raise ValueError(f"model {name!r}: its parameters do not work: {exc}") from None
    if any(weight < 0 for weight in weights):
        raise ValueError(f"model {name!r}: its parameters give a touch a negative share")


class Channels(BaseModel):
    model_config = SECTION
    include: list[str] = Field(default_factory=list, description="Only these, if any listed.")
    exclude: list[str] = Field(default_factory=list)


class Attribution(BaseModel):
    model_config = SECTION
    conversion: str = Field("deal_won", description="The conversion kind reports credit.")
    lookback_days: Days | None = Field(
        None, description="Touches this many days before the conversion or older are ignored."
    )
    conversion_windows: dict[str, Days] = Field(
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

    @field_validator("conversion")
    @classmethod
    def _known_conversion(cls, value: str) -> str:
        if value not in CONVERSION_KINDS:
            known = ", ".join(CONVERSION_KINDS)
            raise ValueError(f"unknown conversion {_shown(value)}; known: {known}")
        return value

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
            if params.get("convention", CONVENTIONS[0]) not in CONVENTIONS:
                raise ValueError(
                    f"model {name!r} parameter 'convention' must be one of "
                    f"{', '.join(CONVENTIONS)}, not {params['convention']!r}"
                )
        return value

    @field_validator("models")
    @classmethod
    def _params_mean_something(cls, value: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        for name, params in value.items():
            for param, given in params.items():
                try:
                    _check_param(param, given)
                except ValueError as exc:
                    raise ValueError(f"model {name!r} parameter {param!r}: {exc}") from None
            _probe(name, params)
        return value


class Funnel(BaseModel):
    model_config = SECTION
    mql: Literal["stage", "score"] = Field(
        "stage",
        description="What makes a lead an MQL: the CRM's stage change to mql, or its score.",
    )
    mql_score: int = Field(
        60, description="With mql = score: the first score at or above this, in a cycle."
    )


Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class Holidays:
    """A country's public holidays (the ``holidays`` package) plus listed extra dates."""

    def __init__(self, country: str | None, subdivision: str | None, extra: list[date]) -> None:
        self.extra = frozenset(extra)
        self.public = holidays.country_holidays(country, subdiv=subdivision) if country else {}

    def __contains__(self, day: object) -> bool:
        return day in self.extra or day in self.public


class CalendarSpec(BaseModel):
    model_config = SECTION
    hours: Literal["around_the_clock", "business"] = "around_the_clock"
    time_zone: str = "UTC"
    working_days: list[Weekday] = Field(default_factory=lambda: list(WEEKDAYS[:5]))
    opens: time = time(9)
    closes: time = time(17)
    holidays_country: str | None = Field(None, description="ISO 3166 code, e.g. DE, AU.")
    holidays_subdivision: str | None = Field(None, description="e.g. BE (Berlin), NSW.")
    extra_holidays: list[date] = Field(default_factory=list)

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {value!r} (an IANA name, e.g. Europe/Berlin)"
            ) from None
        return value

    @field_validator("holidays_country")
    @classmethod
    def _known_country(cls, value: str | None) -> str | None:
        if value is not None and value not in holidays.list_supported_countries():
            raise ValueError(f"no public holidays known for country {value!r}")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> CalendarSpec:
        if self.closes <= self.opens:
            raise ValueError("closes must be after opens")
        if self.holidays_subdivision is not None:
            if self.holidays_country is None:
                raise ValueError("holidays_subdivision needs holidays_country")
            try:
                holidays.country_holidays(self.holidays_country, subdiv=self.holidays_subdivision)
            except NotImplementedError as exc:
                raise ValueError(str(exc)) from None
        return self

    def calendar(self) -> Calendar:
        if self.hours == "around_the_clock":
            return AROUND_THE_CLOCK
        days = Holidays(self.holidays_country, self.holidays_subdivision, self.extra_holidays)
        return Calendar(
            zone=ZoneInfo(self.time_zone),
            working_days=frozenset(WEEKDAYS.index(d) for d in self.working_days),
            opens=self.opens,
            closes=self.closes,
            holidays=days,
        )


class Sla(BaseModel):
    """The service levels between marketing and sales; hours are clock hours (see calendar)."""

    model_config = SECTION
    mql_response_hours: float = Field(
        8, gt=0, le=MAX_SLA_HOURS, description="Accept or reject an MQL."
    )
    sql_confirm_hours: float = Field(4, gt=0, le=MAX_SLA_HOURS, description="Confirm an SQL.")
    first_contact_hours: float = Field(
        24, gt=0, le=MAX_SLA_HOURS, description="First contact after hand-over."
    )
    min_contact_attempts: int = Field(3, ge=0, description="Before a no_response rejection.")
    at_risk_share: float = Field(
        0.75, gt=0, le=1, description="An open clock this far to its limit is at risk."
    )
    calendar: CalendarSpec = Field(default_factory=CalendarSpec)


class Kpi(BaseModel):
    """KPI formulas over measures (see ``kpi.MEASURES``), and the constants they use."""

    model_config = SECTION
    currency: str = Field("EUR", description="Money in other currencies is left out.")
    brand_channels: list[str] = Field(default_factory=lambda: ["direct", "brand_search"])
    sales_cost_channels: list[str] = Field(
        default_factory=lambda: ["sales"], description="Spend on these is sales cost."
    )
    constants: dict[str, float] = Field(default_factory=dict, validate_default=True)
    formulas: dict[str, str] = Field(default_factory=dict, validate_default=True)
    _order: list[str] = PrivateAttr(default_factory=list)

    @field_validator("constants")
    @classmethod
    def _with_default_constants(cls, value: dict[str, float]) -> dict[str, float]:
        clash = set(value) & set(MEASURES)
        if clash:
            raise ValueError(f"constant {sorted(clash)[0]!r} has the name of a measure")
        return DEFAULT_CONSTANTS | value

    @field_validator("formulas")
    @classmethod
    def _with_default_formulas(cls, value: dict[str, str]) -> dict[str, str]:
        return DEFAULT_FORMULAS | value

    @model_validator(mode="after")
    def _formulas_resolve(self) -> Kpi:
        """Every name a formula uses is a measure, a constant or another formula, and no
        formula depends on itself: checked here, so a report never fails half-way."""
        known = set(MEASURES) | set(self.constants)
        graph: dict[str, set[str]] = {}
        for name, text in self.formulas.items():
            if name in known:
                raise ValueError(f"formula {name!r} has the name of a measure or constant")
            try:
                tree = parse_formula(text)
            except ValueError as exc:
                raise ValueError(f"formula {name!r} {exc}") from None
            names = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
            unknown = sorted(names - known - set(self.formulas))
            if unknown:
                raise ValueError(f"formula {name!r} uses unknown name {unknown[0]!r}")
            graph[name] = names & set(self.formulas)
            try:
                check_formula(text, known | set(self.formulas))
            except ValueError as exc:
                raise ValueError(f"formula {name!r}: {exc}") from None
        try:
            self._order = list(TopologicalSorter(graph).static_order())
        except CycleError as exc:
            raise ValueError(f"formulas depend on each other in a circle: {exc.args[1]}") from None
        return self

    @property
    def formula_order(self) -> list[str]:
        """Formulas in an order where each comes after the formulas it uses."""
        return self._order


class Definitions(BaseModel):
    model_config = SECTION
    attribution: Attribution = Field(default_factory=Attribution)
    funnel: Funnel = Field(default_factory=Funnel)
    sla: Sla = Field(default_factory=Sla)
    kpi: Kpi = Field(default_factory=Kpi)

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
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise DefinitionsError(f"{path}: {exc.strerror}") from None
    return parse(text, str(path))


def parse(text: str, where: str = "definitions") -> Definitions:
    """The definitions written in ``text`` (TOML); errors name ``where`` they came from."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise DefinitionsError(f"{where}: not valid TOML: {exc}") from None
    except RecursionError:
        raise DefinitionsError(f"{where}: not valid TOML: nested too deeply") from None
    try:
        definitions = Definitions.model_validate(data)
    except ValidationError as exc:
        raise DefinitionsError(f"{where}: {one_line(exc)}") from None
    except RecursionError:
        raise DefinitionsError(f"{where}: values nested too deeply") from None
    try:
        definitions.hash  # noqa: B018 (serialises every value: refuse here what would not)
    except (ValueError, RecursionError):
        raise DefinitionsError(f"{where}: values nested too deeply") from None
    return definitions


def one_line(exc: ValidationError) -> str:
    """The first error of a validation, on one line: where (the key) and why."""
    first = exc.errors(include_url=False)[0]
    where = ".".join(str(p) for p in first["loc"])
    why = " ".join(str(first["msg"]).removeprefix("Value error, ").split())
    return f"{where}: {why}" if where else why


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
