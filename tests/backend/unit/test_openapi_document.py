"""The API contract: the committed OpenAPI document is the app's, and it types every answer.

`frontend/openapi.json` is what the web app's TypeScript client is generated from; when a route or
schema changes, regenerate it with `make openapi` (`python -m healthledger.openapi_export
frontend/openapi.json`) and commit it with the change.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from healthledger.openapi_export import openapi_document, render

ROOT = Path(__file__).resolve().parents[3]
COMMITTED = ROOT / "frontend" / "openapi.json"
ERROR_SCHEMA = "#/components/schemas/ErrorResponse"


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return openapi_document()


def _operations(document: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [(f"{method.upper()} {path}", op) for path, ops in document["paths"].items() for method, op in ops.items()]


def test_committed_document_is_fresh(document: dict[str, Any]) -> None:
    assert COMMITTED.is_file(), "frontend/openapi.json is missing: run `make openapi`"
    assert COMMITTED.read_text(encoding="utf-8") == render(document), (
        "frontend/openapi.json differs from what the app serves: run `make openapi` and commit it"
    )


def test_render_is_deterministic(document: dict[str, Any]) -> None:
    assert render(document) == render(json.loads(render(openapi_document())))


def test_every_operation_has_a_typed_success_answer(document: dict[str, Any]) -> None:
    for label, op in _operations(document):
        successes = {status: body for status, body in op["responses"].items() if status.startswith("2")}
        assert successes, label
        for status, body in successes.items():
            schemas = [media.get("schema") for media in body.get("content", {}).values()]
            assert schemas and all(schemas), f"{label} {status} has no schema"
            assert all(schema != {} for schema in schemas), f"{label} {status} is untyped"


def test_every_error_answer_uses_the_common_schema_and_names_its_codes(document: dict[str, Any]) -> None:
    for label, op in _operations(document):
        errors = {status: body for status, body in op["responses"].items() if int(status) >= 400}
        assert {"413", "500"} <= set(errors), label
        for status, body in errors.items():
            assert body["content"]["application/json"]["schema"] == {"$ref": ERROR_SCHEMA}, f"{label} {status}"
            assert "`" in body["description"], f"{label} {status} lists no error code"


def test_signed_in_operations_declare_the_bearer_scheme(document: dict[str, Any]) -> None:
    assert document["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    secured = [label for label, op in _operations(document) if op.get("security")]
    assert len(secured) > 20
    for label, op in _operations(document):
        params = {param["name"].lower() for param in op.get("parameters", [])}
        assert "authorization" not in params, f"{label} takes Authorization as a parameter"
        if op.get("security"):
            assert {"401", "403"} <= set(op["responses"]), label
    public = sorted(label for label, op in _operations(document) if not op.get("security"))
    assert public == [
        "GET /api/auth/nonce",
        "GET /api/keys/message",
        "GET /api/signing/key-derivation-message",
        "GET /api/system/config",
        "GET /api/system/live",
        "GET /api/system/ready",
        "GET /api/system/status",
        "GET /api/system/transactions/{tx_hash}",
        "POST /api/auth/login",
        "POST /api/auth/refresh",
    ]
