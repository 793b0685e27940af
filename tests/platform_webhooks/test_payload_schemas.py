"""The platform webhooks' published shapes: the committed JSON Schemas are the models' own,
and the OpenAPI schema's `webhooks` section documents every type from its model."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from shared.platform_webhooks.payloads import PAYLOADS, SCHEMA_DIR, json_schemas
from shared.settings import get_settings


def test_the_committed_json_schemas_are_what_the_models_generate() -> None:
    expected = {f"{event_type}.json": text for event_type, text in json_schemas().items()}
    committed = {path.name: path.read_text() for path in SCHEMA_DIR.glob("*.json")}
    assert committed == expected, "run `python -m shared.platform_webhooks.payloads`"


def test_the_openapi_schema_documents_every_platform_event_type(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("EXPOSE_DOCS", "true")
    get_settings.cache_clear()
    schema = TestClient(create_app()).get("/openapi.json").json()
    get_settings.cache_clear()
    documented = {
        name: hook["post"]["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        for name, hook in schema["webhooks"].items()
    }
    assert documented == {
        event_type: f"#/components/schemas/{model.__name__}"
        for event_type, model in PAYLOADS.items()
    }
