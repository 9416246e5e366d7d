"""Every route's success response is described in the OpenAPI schema, so clients and reviewers
see what comes back (a response model, or a declared non-JSON body such as TwiML or FHIR)."""

from __future__ import annotations

from typing import Any

import pytest

from console_api.app import create_app


def _typed_schema(schema: dict[str, Any]) -> bool:
    """A named model, a list of them, or a scalar: anything but an anonymous object."""
    if "$ref" in schema:
        return True
    if schema.get("type") == "array":
        return _typed_schema(schema.get("items", {}))
    if "anyOf" in schema or "oneOf" in schema:
        return all(_typed_schema(s) for s in schema.get("anyOf", schema.get("oneOf", [])))
    return schema.get("type") in {"string", "integer", "number", "boolean", "null"}


def _typed(operation: dict[str, Any]) -> bool:
    for code, response in operation.get("responses", {}).items():
        if not code.startswith("2"):
            continue
        content = response.get("content")
        if content is None:  # 204 and friends: no body to describe
            return True
        for media_type, body in content.items():
            if media_type != "application/json" and body.get("schema"):
                return True  # TwiML, EDXL-HAVE XML, FHIR JSON, Prometheus text: named formats
            if _typed_schema(body.get("schema", {})):
                return True
    return False


@pytest.fixture(scope="module")
def operations() -> dict[str, dict[str, Any]]:
    schema = create_app().openapi()
    return {
        f"{method.upper()} {path}": operation
        for path, methods in schema["paths"].items()
        for method, operation in methods.items()
    }


def test_every_route_describes_its_success_response(operations):
    untyped = sorted(key for key, operation in operations.items() if not _typed(operation))
    assert not untyped, f"give a response model: {untyped}"
