"""Schema evolution: every current schema must read data written with every released one.

``schemas/history/<type>/vN.avsc`` keeps each released version of an event type; the
current ``schemas/<type>.avsc`` is the reader. The check uses Apache Avro's own
compatibility checker (fastavro has none). Run it with ``python -m leadledger.compat``;
the unit tests run it on every change, so an incompatible change fails CI naming the field.
"""

from __future__ import annotations

import sys
from pathlib import Path

import avro.schema
from avro.compatibility import ReaderWriterCompatibilityChecker, SchemaCompatibilityType


def problems(folder: Path) -> list[str]:
    """One sentence per (current, released) pair the current schema cannot read."""
    checker = ReaderWriterCompatibilityChecker()  # type: ignore[no-untyped-call]
    found = []
    for current in sorted(folder.glob("*.avsc")):
        reader = avro.schema.parse(current.read_text(encoding="utf-8"))
        released = sorted((folder / "history" / current.stem).glob("v*.avsc"))
        if not released:
            found.append(
                f"{current.name} has no released version: copy it to "
                f"history/{current.stem}/v1.avsc when it is first released"
            )
        for old in released:
            writer = avro.schema.parse(old.read_text(encoding="utf-8"))
            result = checker.get_compatibility(reader, writer)
            if result.compatibility is not SchemaCompatibilityType.compatible:
                kinds = ", ".join(sorted(i.value for i in result.incompatibilities))
                fields = ", ".join(sorted(str(m) for m in result.messages))
                where = ", ".join(sorted(result.locations))
                found.append(
                    f"{current.name} cannot read data written with history/{current.stem}/"
                    f"{old.name}: {kinds}: {fields} (at {where})"
                )
    for history in sorted((folder / "history").glob("*")):
        if not (folder / f"{history.name}.avsc").exists():
            found.append(f"event type {history.name} was released but its schema is gone")
    return found


if __name__ == "__main__":
    folder = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent / "schemas"
    report = problems(folder)
    for line in report:
        print(line, file=sys.stderr)
    print(f"{len(list(folder.glob('*.avsc')))} schemas checked, {len(report)} problem(s)")
    sys.exit(1 if report else 0)
