"""Schema evolution: current schemas read every released version; breaks name the field."""

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from leadledger.codec import SchemaRegistry, load_schema
from leadledger.compat import problems

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"


def record(name: str, *fields: dict[str, Any]) -> str:
    return json.dumps({"type": "record", "name": name, "namespace": "leadledger.events",
                       "fields": list(fields)})  # fmt: skip


def test_every_current_schema_reads_every_released_version() -> None:
    assert problems(SCHEMAS) == []


def test_an_incompatible_change_is_refused_naming_the_field(tmp_path: Path) -> None:
    (tmp_path / "history" / "spend").mkdir(parents=True)
    (tmp_path / "history" / "spend" / "v1.avsc").write_text(
        record("spend", {"name": "amount", "type": "string"})
    )
    (tmp_path / "spend.avsc").write_text(
        record("spend", {"name": "amount", "type": "string"}, {"name": "day", "type": "int"})
    )
    [problem] = problems(tmp_path)
    assert problem.startswith("spend.avsc cannot read data written with history/spend/v1.avsc")
    assert "reader_field_missing_default_value: day" in problem


def test_a_compatible_change_passes_and_old_bytes_still_decode(tmp_path: Path) -> None:
    shutil.copytree(SCHEMAS, tmp_path / "schemas")
    current = json.loads((SCHEMAS / "churned.avsc").read_text())
    current["fields"].append({"name": "churn_note", "type": ["null", "string"], "default": None})
    evolved = tmp_path / "schemas" / "churned.avsc"
    evolved.write_text(json.dumps(current))
    assert problems(tmp_path / "schemas") == []

    old = load_schema((SCHEMAS / "churned.avsc").read_text())
    new = load_schema(evolved.read_text())
    writer = SchemaRegistry([old])
    data = writer.encode("churned", {"event_id": "x", "lead_id": "L1", "occurred_at":
                                     datetime(2026, 1, 1, tzinfo=UTC), "recorded_at": None,
                                     "source_system": "crm", "reason": None})  # fmt: skip
    reader = SchemaRegistry([new], writers=[old])
    assert reader.decode(data)[1]["churn_note"] is None
