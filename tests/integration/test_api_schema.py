"""schemathesis against the app's own OpenAPI spec, in process, on demo data: generated
requests to every operation, valid ones and invalid ones, never get a server error, and
every answer conforms to the spec (status code, content type, headers, body schema)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.core.parameters import ParameterLocation
from schemathesis.core.result import Ok

from leadledger.api.app import create_app
from leadledger.config import Database
from tests.integration.api import fill_with_demo, key

EXAMPLES = 8  # per operation and mode: about 15 operations x 2 modes, well under a minute


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_the_api_keeps_its_spec(mode: GenerationMode, tmp_path: Path) -> None:
    database = Database.from_settings(data_dir=tmp_path)
    fill_with_demo(database, tmp_path, leads=30)
    headers = key(database)
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", create_app(database))
    operations = [r.ok() for r in schema.get_all_operations() if isinstance(r, Ok)]
    assert len(operations) >= 12

    for operation in operations:

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=EXAMPLES, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))  # fmt: skip
        def keeps_spec(case: Any) -> None:
            # The key, unless schemathesis negated the headers: then 401 is the answer due.
            negated = case.meta.components[ParameterLocation.HEADER].mode.is_negative
            case.call_and_validate(headers=None if negated else headers)

        keeps_spec()
