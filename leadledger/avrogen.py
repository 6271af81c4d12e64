"""Avro schemas generated from the pydantic ingest models, so each type is defined once.

``python -m leadledger.avrogen [FOLDER]`` rewrites ``schemas/*.avsc``; a unit test fails
when the committed files differ from what the models generate. Closed sets of words
(``Literal``) become Avro strings, not enums, so adding a word stays backward compatible.
"""

from __future__ import annotations

import json
import sys
import types
import typing
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from pydantic import AwareDatetime, BaseModel

from leadledger.limits import MAX_NESTING, MAX_RECORD_BYTES
from leadledger.messages import EARLIEST, LATEST, MAX_UTC_OFFSET, MODELS, utc_offset_text

NAMESPACE = "leadledger.events"
TIMESTAMP = {"type": "long", "logicalType": "timestamp-micros"}
PRIMITIVES: dict[Any, Any] = {
    str: "string",
    int: "long",
    bool: "boolean",
    float: "double",
    Decimal: {"type": "bytes", "logicalType": "decimal", "precision": 20, "scale": 4},
    datetime: TIMESTAMP,
    AwareDatetime: TIMESTAMP,
    date: {"type": "int", "logicalType": "date"},
}
RECORDED_AT = {
    "name": "recorded_at",
    "type": ["null", TIMESTAMP],
    "default": None,
    "doc": "When the engine stored it; null on ingest topics, set on the domain-events topic.",
}
# Engine-made event: the first fact naming a key opens its stream.
STREAM_OPENED = {
    "type": "record",
    "name": "stream_opened",
    "namespace": NAMESPACE,
    "doc": "The engine opened the stream of a key, on the first fact that named it.",
    "fields": [
        {"name": "event_id", "type": "string", "doc": "opened:<stream>:<key>, stable."},
        {"name": "stream", "type": "string", "doc": "lead, spend or target."},
        {"name": "key", "type": "string", "doc": "The stream's key, e.g. the lead id."},
        {"name": "occurred_at", "type": TIMESTAMP, "doc": "When the first fact happened."},
        RECORDED_AT,
        {"name": "source_system", "type": "string", "doc": "The first fact's source."},
    ],
}


def avro_type(annotation: Any) -> tuple[Any, bool]:
    """The Avro type of a Python annotation, and whether it is optional."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return avro_type(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        members = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(members) != 1:
            raise TypeError(f"only X | None unions map to Avro here, not {annotation}")
        inner, _ = avro_type(members[0])
        return inner, True
    if origin is typing.Literal:
        return "string", False
    if annotation in PRIMITIVES:
        return PRIMITIVES[annotation], False
    raise TypeError(f"no Avro type for {annotation!r}")


def literal_values(annotation: Any) -> str:
    """The allowed words of a ``Literal`` (possibly optional or annotated) field, or ''."""
    origin = typing.get_origin(annotation)
    if origin is typing.Literal:
        return ", ".join(str(a) for a in typing.get_args(annotation))
    if origin in (typing.Annotated, typing.Union, types.UnionType):
        return next((w for a in typing.get_args(annotation) if (w := literal_values(a))), "")
    return ""


def schema_of(model: type[BaseModel]) -> dict[str, Any]:
    fields: list[dict[str, Any]] = []
    for name, info in model.model_fields.items():
        if name == "type":
            continue
        avro, optional = avro_type(info.annotation)
        field: dict[str, Any] = {"name": name, "type": ["null", avro] if optional else avro}
        if optional:
            field["default"] = None
        elif not info.is_required() and isinstance(info.default, str | int | bool):
            field["default"] = info.default
        words = literal_values(info.annotation)
        doc = " ".join(p for p in (info.description, words and f"One of: {words}.") if p)
        if doc:
            field["doc"] = doc
        fields.append(field)
        if name == "occurred_at":
            fields.append(RECORDED_AT)
    return {
        "type": "record",
        "name": model.model_fields["type"].default,
        "namespace": NAMESPACE,
        "doc": " ".join((model.__doc__ or "").split()),
        "fields": fields,
    }


def all_schemas() -> dict[str, dict[str, Any]]:
    schemas = {str(s["name"]): s for s in (schema_of(m) for m in MODELS)}
    schemas["stream_opened"] = STREAM_OPENED
    return schemas


def render(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2) + "\n"


def _type_text(avro: Any) -> str:
    if isinstance(avro, list):
        return " or ".join(_type_text(a) for a in avro if a != "null")
    if isinstance(avro, dict):
        return str(avro.get("logicalType") or avro["type"])
    return str(avro)


LIMITS = [
    f"Bounds on one record: a record over {MAX_RECORD_BYTES} bytes (a JSON line without its",
    f"line end, a CSV row, a Kafka value), or JSON nested deeper than {MAX_NESTING} levels, is",
    "dead-lettered with a reason naming the bound (the dead letter keeps the record's first",
    f"{MAX_RECORD_BYTES} bytes), and ingest goes on with the next record.",
    "",
    f"Times are accepted from {EARLIEST:%Y-%m-%dT%H:%M:%SZ} to {LATEST:%Y-%m-%dT%H:%M:%SZ}, "
    "with a UTC offset",
    f"within {utc_offset_text(-MAX_UTC_OFFSET)}..{utc_offset_text(MAX_UTC_OFFSET)}, and days from "
    f"{EARLIEST:%Y-%m-%d} to {LATEST:%Y-%m-%d}. A time is ISO 8601",
    "text with its zone (`Z` or an offset); a number (Unix seconds) is refused, because it",
    "states no zone.",
]


def render_docs(schemas: dict[str, dict[str, Any]]) -> str:
    """Markdown documentation of every event type, generated from the schemas."""
    lines = [
        "# Event types",
        "",
        "Generated from `schemas/` by `python -m leadledger.avrogen schemas docs/events.md`;",
        "a test fails when this page and the schemas differ. Timestamps are UTC instants",
        "(send them with a time zone); money is a decimal with at most 4 places.",
        "",
        *LIMITS,
        "",
    ]
    for name, schema in sorted(schemas.items()):
        lines += [
            f"## `{name}`",
            "",
            schema.get("doc", ""),
            "",
            "| field | type | required | about |",
        ]
        lines.append("| --- | --- | --- | --- |")
        for field in schema["fields"]:
            if field["name"] == "recorded_at":
                continue  # set by the engine, never sent
            optional = isinstance(field["type"], list) or "default" in field
            default = field.get("default")
            required = "no" if optional else "yes"
            if optional and default is not None:
                required = f"no (default `{default}`)"
            lines.append(
                f"| `{field['name']}` | {_type_text(field['type'])} | {required} "
                f"| {field.get('doc', '')} |"
            )
        lines.append("")
    return "\n".join(lines)


def write(folder: Path) -> list[Path]:
    written = []
    for name, schema in all_schemas().items():
        path = folder / f"{name}.avsc"
        path.write_text(render(schema), encoding="utf-8")
        written.append(path)
    return written


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent / "schemas"
    for path in write(target):
        print(path)
    if len(sys.argv) > 2:
        Path(sys.argv[2]).write_text(render_docs(all_schemas()), encoding="utf-8")
        print(sys.argv[2])
