"""The OpenAPI schema as served: JSON at `/api/v1/schema` (and `/api/v1/schema/openapi.json`),
and a browsable page at `/api/v1/schema/docs`, rendered on the server from the same schema (no
script from elsewhere, so the portal's content security policy holds)."""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.enums import MediaType
from litestar.openapi.plugins import JsonRenderPlugin, OpenAPIRenderPlugin

METHODS = ("get", "put", "post", "patch", "delete")


class SchemaJson(JsonRenderPlugin):
    def __init__(self) -> None:
        super().__init__(path=["/", "/openapi.json"])


def _schema_name(schema: dict[str, Any] | None) -> str:
    if not schema:
        return ""
    if ref := schema.get("$ref"):
        return str(ref).rsplit("/", 1)[-1]
    if schema.get("type") == "array":
        return f"list of {_schema_name(schema.get('items'))}"
    return str(schema.get("type", ""))


def _content_schema(content: dict[str, Any]) -> str:
    """The schema's name of the first media type of a body or an answer."""
    first: dict[str, Any] = next(iter(content.values()), {})
    return _schema_name(first.get("schema"))


def operations(openapi: dict[str, Any]) -> list[dict[str, Any]]:
    """Each operation with what a reader needs: method, path, summary, parameters, body, answers."""
    found = []
    for path, item in sorted(openapi.get("paths", {}).items()):
        for method in METHODS:
            if (operation := item.get(method)) is None:
                continue
            body = operation.get("requestBody", {}).get("content", {})
            found.append(
                {
                    "method": method.upper(),
                    "path": path,
                    "summary": operation.get("summary", ""),
                    "description": operation.get("description", ""),
                    "parameters": [
                        {
                            "name": p.get("name"),
                            "in": p.get("in"),
                            "required": p.get("required", False),
                            "type": _schema_name(p.get("schema")),
                            "description": p.get("description", ""),
                        }
                        for p in operation.get("parameters", [])
                    ],
                    "body": _content_schema(body),
                    "responses": [
                        {
                            "status": status,
                            "description": answer.get("description", ""),
                            "schema": _content_schema(answer.get("content", {})),
                        }
                        for status, answer in sorted(operation.get("responses", {}).items())
                    ],
                }
            )
    return found


def schemas(openapi: dict[str, Any]) -> list[dict[str, Any]]:
    found = []
    for name, schema in sorted(openapi.get("components", {}).get("schemas", {}).items()):
        required = set(schema.get("required", []))
        found.append(
            {
                "name": name,
                "description": schema.get("description", ""),
                "properties": [
                    {
                        "name": prop,
                        "type": _schema_name(spec) or " | ".join(_schema_name(one) for one in spec.get("oneOf", [])),
                        "required": prop in required,
                        "constraints": {
                            key: spec[key]
                            for key in ("pattern", "minLength", "maxLength", "minimum", "maximum", "enum")
                            if key in spec
                        },
                        "description": spec.get("description", ""),
                    }
                    for prop, spec in schema.get("properties", {}).items()
                ],
            }
        )
    return found


class DocsPage(OpenAPIRenderPlugin):
    def __init__(self) -> None:
        super().__init__(path="/docs", media_type=MediaType.HTML)

    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        template = request.app.template_engine.get_template("api/docs.html")  # type: ignore[union-attr]
        return template.render(
            request=request,
            info=openapi_schema.get("info", {}),
            operations=operations(openapi_schema),
            schemas=schemas(openapi_schema),
            json_path="/api/v1/schema/openapi.json",
        ).encode()
